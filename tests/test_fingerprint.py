"""The bit-identical fingerprint as a test: benchmarks/fingerprint.py's hashes (train digits cell / pcm-only /
ideal, characterize demo.toml --mc 4, power) equal those pinned in tests/fingerprint.txt.

A change that is meant to change results regenerates the file on purpose (``python benchmarks/fingerprint.py
--write``) and commits it with the change; any other difference fails here.  The file records the versions
of numpy, scipy, numba, ngspice and Python it was made with: on a machine with other versions the failure
says so (the last bits of a result may move with a library), and still fails.  About 60-100 s: once per run."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _module():
    spec = importlib.util.spec_from_file_location("pcmspice_fingerprint", ROOT / "benchmarks" / "fingerprint.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _split(line: str) -> tuple[str, str]:
    """``train cell weights.npz HASH`` -> (``train cell weights.npz``, HASH); ``power NAME VALUE`` and
    ``char FILE:ARRAY HASH`` -> their first two words and the rest (a value may hold spaces: a dict)."""
    parts = line.split(" ")
    n = 3 if parts[0] == "train" else 2
    return " ".join(parts[:n]), " ".join(parts[n:])


def _short(value: str, width: int = 90) -> str:
    return value if len(value) <= width else value[:width] + f"... ({len(value)} characters)"


def mismatch_message(pinned: list[str], now: list[str], made: dict[str, str], here: dict[str, str]) -> str:
    """What differs, line by line, and whether the machine's versions differ from the pinned file's."""
    a, b = dict(map(_split, pinned)), dict(map(_split, now))
    diff = [f"  {k}: pinned {_short(a.get(k, '(absent)'))}, now {_short(b.get(k, '(absent)'))}"
            for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    msg = [f"{len(diff)} of {len(a)} fingerprint results differ from tests/fingerprint.txt:", *diff[:20]]
    other = {k: (made.get(k, "?"), here[k]) for k in here if made.get(k) != here[k]}
    if other:
        msg.append("NOTE: this machine's versions differ from those the pinned hashes were made with: "
                   + ", ".join(f"{k} {p} (pinned) vs {h} (here)" for k, (p, h) in other.items())
                   + "; a library version can change the last bits of a result, so this difference may come from "
                     "the machine rather than the code: compare on the pinned versions, or regenerate on purpose")
    else:
        msg.append("the versions are the pinned ones: the code changed a result. If that was intended, regenerate "
                   "with `python benchmarks/fingerprint.py --write` and commit tests/fingerprint.txt with the change")
    return "\n".join(msg)


def test_pinned_file_has_its_header_and_every_result():
    fp = _module()
    made, lines = fp.read_pinned()
    assert set(made) == set(fp.VERSION_KEYS), made
    text = fp.PINNED.read_text()
    assert "python benchmarks/fingerprint.py --write" in text.splitlines()[1]
    kinds = {line.split()[0] for line in lines}
    assert kinds == {"train", "char", "power"}
    assert sum("weights.npz" in line for line in lines) == 4   # cell, pcm-only, ideal, cell-transfers


def test_mismatch_message_names_the_results_and_the_versions():
    here = {"numpy": "2.0", "scipy": "1.0", "numba": "0.6", "ngspice": "39", "python": "3.11"}
    msg = mismatch_message(["train cell weights.npz aaa", "power x 1"], ["train cell weights.npz bbb", "power x 1"],
                           {**here, "numpy": "1.26"}, here)
    assert "1 of 2" in msg and "train cell weights.npz: pinned aaa, now bbb" in msg
    long = "power energy {'adc': 1.0, " + "'x': 2.0, " * 20 + "}"
    msg2 = mismatch_message([long, "train cell accuracy 0.9 baseline 0.91"],
                            [long.replace("1.0", "1.5"), "train cell accuracy 0.8 baseline 0.91"], here, here)
    assert "2 of 2" in msg2 and "power energy: pinned {'adc': 1.0," in msg2 and "characters)" in msg2
    assert "train cell accuracy: pinned 0.9 baseline 0.91, now 0.8 baseline 0.91" in msg2
    assert "numpy 1.26 (pinned) vs 2.0 (here)" in msg
    assert "regenerate" in mismatch_message(["a 1"], ["a 2"], here, here)


def test_results_are_bit_identical_to_the_pinned_fingerprint(tmp_path):
    fp = _module()
    made, pinned = fp.read_pinned()
    now = list(fp.fingerprint(tmp_path / "fp"))
    assert now == pinned, mismatch_message(pinned, now, made, fp.machine_versions())

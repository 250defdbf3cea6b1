"""Fingerprint of pcmspice's results, for refactors that must keep every result bit-identical.

Runs, into OUT (a fresh folder):
  pcmspice train --dataset digits --epochs 2 --seed 0            (cell, plus pcm-only and ideal modes)
  the same cell run with --transfer-every 400                    (cell-transfers: 7 transfers to the PCM;
                                                                  the default interval never transfers on digits)
  pcmspice characterize characterization/demo.toml --mc 4
  pcmspice power on the committed LUTs with the cell training run
and prints one SHA-256 per result: weights.npz, summary.json without versions and timings,
the LUT array checksums, the power summary's numbers.  Compare two checkouts' outputs with diff.

    python benchmarks/fingerprint.py OUT > before.txt

The hashes are pinned in tests/fingerprint.txt (with the versions of numpy, scipy, numba, ngspice and Python
they were made with), and tests/test_fingerprint.py compares a fresh run with it.  After a change that is
meant to change results, regenerate it on purpose and commit it with the change:

    python benchmarks/fingerprint.py --write            # runs into a temporary folder, writes tests/fingerprint.txt
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the committed hashes that tests/test_fingerprint.py compares with
PINNED = ROOT / "tests" / "fingerprint.txt"
#: the libraries whose version can change the last bits of a result
VERSION_KEYS = ("numpy", "scipy", "numba", "ngspice", "python")

DROP = ("versions", "wall_seconds", "examples_per_second", "seconds_wall", "elapsed", "created", "path", "dir",
        "out", "wall", "summary_sha256")


def _clean(o, key=""):
    if isinstance(o, dict):
        return {k: _clean(v, k) for k, v in sorted(o.items()) if not any(d in k for d in DROP)}
    if isinstance(o, list):
        return [_clean(v) for v in o]
    return o


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def fingerprint(out: Path) -> Iterator[str]:
    """Run the fingerprint's commands into ``out`` (a new folder) and yield its lines, one result each."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=False)
    exe = [sys.executable, "-m", "pcmspice.cli"]

    def run(args):   # from the repository root: characterization/demo.toml is the checkout's
        subprocess.run(exe + args, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)

    runs = {}
    for name, mode, extra in (("cell", "cell", []), ("pcm-only", "pcm-only", []), ("ideal", "ideal", []),
                              ("cell-transfers", "cell", ["--transfer-every", "400"])):
        d = out / f"train-{name}"
        run(["train", "--dataset", "digits", "--epochs", "2", "--seed", "0", "--mode", mode, "--quiet",
             *extra, "--out", str(d)])
        runs[name] = d
        s = json.loads((d / "summary.json").read_text())
        yield f"train {name} weights.npz {sha((d / 'weights.npz').read_bytes())}"
        clean = json.dumps(_clean(s), sort_keys=True).replace(str(out), 'OUT')
        yield f"train {name} summary.json(clean) {sha(clean.encode())}"
        yield f"train {name} accuracy {s['analog_test_accuracy']!r} baseline {s.get('baseline_test_accuracy')!r}"
    d = out / "char"
    run(["characterize", "characterization/demo.toml", "--mc", "4", "--jobs", "1", "--quiet", "--out", str(d)])
    import numpy as np
    for f in sorted(d.rglob("*.lut.npz")):
        z = np.load(f, allow_pickle=False)
        for k in sorted(z.files):
            a = z[k]
            if k == "__meta__":   # the metadata JSON without the library versions it records (all of them,
                meta = _clean(json.loads(a.tobytes()))   # pandas' too): a release must not read as a result
                yield f"char {f.parent.name}/{f.name}:{k}(clean) {sha(json.dumps(meta, sort_keys=True).encode())}"
            elif a.dtype.kind in "fiub":
                yield f"char {f.parent.name}/{f.name}:{k} {sha(np.ascontiguousarray(a).tobytes())}"
    s = json.loads((d / "summary.json").read_text())
    yield f"char summary.json(clean) {sha(json.dumps(_clean(s), sort_keys=True).replace(str(out), 'OUT').encode())}"
    d = out / "power"
    run(["power", "--training", str(runs["cell"]), "--no-cpu", "--out", str(d)])
    s = json.loads((d / "summary.json").read_text())
    yield f"power summary.json(clean) {sha(json.dumps(_clean(s), sort_keys=True).replace(str(out), 'OUT').encode())}"
    for k in ("energy_per_example_joules", "gops_per_watt", "tops_per_mm2", "area_mm2"):
        if k in s:
            yield f"power {k} {s[k]!r}"


def machine_versions() -> dict[str, str]:
    """The versions of what can change a result's last bits, as the header of the pinned file records them."""
    import numba

    from pcmspice.core.provenance import versions
    v = {**versions(), "numba": numba.__version__}
    return {k: str(v.get(k, "?")) for k in VERSION_KEYS}


def header(v: dict[str, str]) -> list[str]:
    return ["# the bit-identical fingerprint of pcmspice's results (benchmarks/fingerprint.py), compared by",
            "# tests/test_fingerprint.py. Regenerate on purpose: python benchmarks/fingerprint.py --write",
            "# made with: " + " ".join(f"{k}={v[k]}" for k in VERSION_KEYS)]


def read_pinned(path: Path = PINNED) -> tuple[dict[str, str], list[str]]:
    """The pinned file's versions and its result lines (the lines that are not comments)."""
    made, lines = {}, []
    for line in path.read_text().splitlines():
        if line.startswith("# made with:"):
            made = dict(kv.split("=", 1) for kv in line.removeprefix("# made with:").split())
        elif line.strip() and not line.startswith("#"):
            lines.append(line)
    return made, lines


def write_pinned(path: Path = PINNED) -> Path:
    with tempfile.TemporaryDirectory(prefix="pcmspice-fingerprint-") as tmp:
        lines = list(fingerprint(Path(tmp) / "run"))
    path.write_text("\n".join(header(machine_versions()) + lines) + "\n")
    return path


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--write"]:
        path = write_pinned(Path(args[1]) if len(args) > 1 else PINNED)
        print(f"wrote {path}; check the accuracies in it and commit it with the change that altered the results")
    elif len(args) == 1 and not args[0].startswith("-"):
        for line in fingerprint(Path(args[0])):
            print(line, flush=True)
    else:
        sys.exit("usage: python benchmarks/fingerprint.py OUT | --write [FILE]")


if __name__ == "__main__":
    main()

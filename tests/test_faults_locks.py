"""Fault injection, concurrency: several processes writing one output folder, one cache entry.

A second writer of a folder that is being written is refused in one line naming the first (pid and
command), exit 2, no traceback; the folder ends as one run, never a mix."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pcmspice.core import locks, outputs
from pcmspice.core.errors import OutputError

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "characterization" / "demo.toml")
TRAIN = ["train", "--dataset", "digits", "--network", "64-16-10", "--epochs", "2", "--max-train", "200",
         "--max-test", "50", "--no-figures", "--quiet", "--mode", "ideal"]


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pcmspice.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=kw.get("cwd"))


def _holder_file(out: Path) -> Path:
    return out.parent / f".{out.name}.holder"


def _wait_for(pred, proc, timeout=120):
    deadline = time.monotonic() + timeout      # a guard against a hang, not a speed check
    while not pred():
        assert proc.poll() is None, proc.communicate()
        if time.monotonic() > deadline:
            pytest.fail(f"no progress in {timeout} s")
        time.sleep(0.02)


def _one_line_refusal(err: str, pid: int | None = None) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "another pcmspice process" in lines[0], err
    if pid is not None:
        assert f"pid {pid}" in lines[0], err


def test_second_characterize_into_one_out_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "X"
    first = _cli("characterize", DEMO, "--mc", "8", "--pcm-devices", "4", "--jobs", "1", "--quiet", "--out", str(out))
    _wait_for(lambda: _holder_file(out).exists(), first)
    others = [_cli("characterize", DEMO, "--mc", str(mc), "--pcm-devices", "4", "--jobs", "1", "--quiet", "--force",
                   "--out", str(out)) for mc in (4, 6)]
    for p in others:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 2, err
        _one_line_refusal(err, first.pid)
        assert "characterize" in err      # the holder's command
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    marker = outputs.read_marker(out)
    summary = json.loads((out / "summary.json").read_text())
    assert marker["key"] == summary["sweep_key"] and summary["config"]["n_cells"] == 8   # one run, not a mix
    assert [p.name for p in (out / "batches").iterdir()] == [marker["key"]]
    assert not _holder_file(out).exists()            # released with the run


def test_four_train_force_seeds_into_one_out(tmp_path):
    """Four `train --force` with four seeds into one --out at once: each ends 0 or refused in one line; the
    folder is the whole run of one seed."""
    out = tmp_path / "run"
    procs = [_cli(*TRAIN, "--seed", str(seed), "--force", "--out", str(out)) for seed in range(4)]
    codes = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        codes.append(p.returncode)
        assert "Traceback" not in err, err
        if p.returncode != 0:
            assert p.returncode == 2, err
            _one_line_refusal(err)
    assert 0 in codes
    summary = json.loads((out / "summary.json").read_text())
    config = (out / "config.toml").read_text()
    assert f"seed = {summary['config']['seed']}\n" in config
    assert outputs.read_marker(out)["kind"] == "train"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith((".partial", ".old"))]
    assert leftovers == []


def test_lock_is_refused_in_process_and_free_after_release(tmp_path):
    out = tmp_path / "o"
    code = ("import sys, time; from pcmspice.core import locks; locks.hold(sys.argv[1]); print('held', flush=True); "
            "time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=f"another pcmspice process is writing it \\(pid {p.pid}"):
            outputs.prepare_out_dir(out, "train", "k")
        assert not out.exists()
    finally:
        p.kill()
        p.wait()
    # the holder is gone (killed: the kernel dropped its lock): the folder is free again
    assert outputs.prepare_out_dir(out, "train", "k") == out
    locks.release(out)


def test_orphaned_staging_folders_are_removed_by_the_next_writer(tmp_path):
    out = tmp_path / "o"
    orphan = tmp_path / ".o.abc123.partial"
    orphan.mkdir()
    (orphan / "summary.json").write_text("{}")   # a killed writer's half run
    with outputs.atomic_dir(out, "train", "k") as stage:
        (stage / "summary.json").write_text("{}")
    assert not orphan.exists() and outputs.read_marker(out)["key"] == "k"
    assert not locks.held(out)


def test_cache_entry_waits_for_its_writer(tmp_path):
    """A second process needing a cache entry that another is building waits, then reads the finished entry."""
    entry = tmp_path / "cache" / "key1"
    code = ("import sys, time; from pcmspice.core import locks, outputs\n"
            "with locks.waiting(sys.argv[1]):\n"
            "    print('building', flush=True); time.sleep(1.5)\n"
            "    with outputs.atomic_dir(sys.argv[1], 'cosim-luts', 'k', force=True) as s:\n"
            "        (s / 'table').write_text('done')\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(entry)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "building"
    told = []
    with locks.waiting(entry, on_wait=told.append):
        assert (entry / "table").read_text() == "done"     # never an absent or half entry
    assert p.wait() == 0
    assert told and f"pid {p.pid}" in told[0]
    assert sorted(os.listdir(entry.parent)) == [".key1.lock", "key1"]

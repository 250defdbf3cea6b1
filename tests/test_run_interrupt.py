"""Issue 21 item 8: Ctrl-C at any point of `pcmspice run` prints one line saying what was kept, and
`pcmspice run --resume --out OUT` continues: characterizations from the LUT cache (their finished batches),
finished trainings kept, an interrupted training from its checkpoint."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_SWEEP, TINY_TASK

from pcmspice.train.checkpoint import FILE, resume_dir

# 24 cells in batches of 4: long enough to be interrupted between two batches
SWEEP = TINY_SWEEP.replace("n_cells = 4\n", "n_cells = 24\n")
DESIGN = ('name = "ctrlc"\nluts = "characterize"\n[sweep]\nname = "ctrlc"\n' + SWEEP
          + TINY_TASK.replace("epochs = 1", "epochs = 4").replace("seeds = [0]", "seeds = [0, 1]"))
CLI = [sys.executable, "-m", "pcmspice.cli"]


def _wait_for(pred, proc, timeout=300):
    t0 = time.monotonic()
    while not pred():
        assert proc.poll() is None, proc.communicate()
        if time.monotonic() - t0 > timeout:   # a hang guard, not a speed requirement
            proc.kill()
            pytest.fail(f"waited {timeout} s for the run to reach the point to interrupt it")
        time.sleep(0.05)


def _interrupt(cmd, pred) -> tuple[int, str, str]:
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(pred, p)
    os.killpg(p.pid, signal.SIGINT)          # as a terminal's Ctrl-C: the whole process group
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def _records(out: Path) -> dict:
    rep = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else \
        json.loads((out / "report" / "report.json").read_text())
    return rep["headline"]


@pytest.mark.slow
def test_ctrl_c_while_characterizing_then_resume(tmp_path):
    design = tmp_path / "ctrlc.toml"
    design.write_text(DESIGN)
    out = tmp_path / "OUT"
    cache = Path(os.environ["PCMSPICE_LUT_CACHE"])
    code, _, err = _interrupt([*CLI, "run", str(design), "--out", str(out), "--jobs", "2", "--no-cpu"],
                              lambda: list(cache.glob("*/batches/*/*.npz")))
    assert code == 130, err
    assert len(err.strip().splitlines()) == 1, err                  # one line, no (threading) traceback
    assert "design.toml" in err and str(cache) in err and f"pcmspice run --resume --out {out}" in err, err
    assert (out / "design.toml").is_file()
    kept = len(list(cache.glob("*/batches/*/*.npz")))
    r = subprocess.run([*CLI, "run", "--resume", "--out", str(out), "--jobs", "2", "--no-cpu", "--quiet"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    reused = int(r.stdout.split(" batches reused")[0].rsplit("(", 1)[1])
    assert reused >= kept > 0, r.stdout
    assert (out / "report" / "report.json").is_file()


@pytest.mark.slow
def test_ctrl_c_while_training_then_resume_is_the_uninterrupted_run(tmp_path):
    design = tmp_path / "ctrlc.toml"
    design.write_text(DESIGN)
    whole = tmp_path / "whole"
    r = subprocess.run([*CLI, "run", str(design), "--out", str(whole), "--jobs", "1", "--no-cpu", "--quiet"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "OUT"
    # seed 0 finishes, seed 1 is interrupted after a checkpointed epoch
    code, _, err = _interrupt([*CLI, "run", str(design), "--out", str(out), "--jobs", "1", "--no-cpu", "--quiet"],
                              lambda: (resume_dir(out / "train-seed1") / FILE).exists())
    if code == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert code == 130 and len(err.strip().splitlines()) == 1, err
    assert "training" in err and f"pcmspice run --resume --out {out}" in err, err
    done = (out / "train-seed0" / "summary.json").read_bytes()
    r = subprocess.run([*CLI, "run", "--resume", "--out", str(out), "--jobs", "1", "--no-cpu"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    line = {s: [m for m in r.stdout.splitlines() if f"train-seed{s}:" in m][0] for s in (0, 1)}
    assert "(kept: finished before the interrupt)" in line[0] and "(resumed from its checkpoint)" in line[1], line
    assert (out / "train-seed0" / "summary.json").read_bytes() == done
    for s in ("train-seed0", "train-seed1"):
        assert (out / s / "weights.npz").read_bytes() == (whole / s / "weights.npz").read_bytes()
    assert _records(out / "report") == _records(whole / "report")


def test_resume_needs_a_run_folder(tmp_path):
    r = subprocess.run([*CLI, "run", "--resume", "--out", str(tmp_path / "none")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "nothing to resume" in r.stderr, r.stderr
    r = subprocess.run([*CLI, "run", "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--resume needs --out" in r.stderr, r.stderr
    (tmp_path / "d.toml").write_text(DESIGN)
    r = subprocess.run([*CLI, "run", str(tmp_path / "d.toml"), "--resume", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "drop DESIGN" in r.stderr, r.stderr

"""Fault injection, outputs: an output that is its own input, a symlinked --out, a refused run leaves OUT as it was."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from pcmspice.core import outputs, paths
from pcmspice.core.errors import OutputError

TRAIN = ["train", "--dataset", "digits", "--network", "64-16-10", "--epochs", "1", "--max-train", "200",
         "--max-test", "50", "--no-figures", "--quiet"]


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def _digests(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


def _one_line(p: subprocess.CompletedProcess, *words: str) -> str:
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    line, = p.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(w in line for w in words), line
    return line


@pytest.fixture()
def lut_copy(tmp_path) -> Path:
    import shutil
    d = tmp_path / "L"
    shutil.copytree(paths.default_lut_dir(), d)
    return d


@pytest.mark.parametrize("where", ["same", "inside"])
def test_out_that_is_or_is_inside_the_luts_is_refused(lut_copy, where):
    before = _digests(lut_copy)
    out = lut_copy if where == "same" else lut_copy / "sub"
    _one_line(_cli(*TRAIN, "--luts", str(lut_copy), "--out", str(out), "--force"), "--luts", "input")
    assert _digests(lut_copy) == before            # the input LUT set, untouched
    assert sorted(p.name for p in lut_copy.iterdir()) == sorted(before)


def test_power_out_that_is_or_holds_its_training_run_is_refused(tmp_path):
    run = tmp_path / "runs" / "t"
    p = _cli(*TRAIN, "--mode", "ideal", "--out", str(run))
    assert p.returncode == 0, p.stderr
    before = _digests(run)
    for out in (run, tmp_path / "runs"):         # is the run; holds the run
        _one_line(_cli("power", "--training", str(run), "--no-cpu", "--out", str(out), "--force"),
                  "--training", "input")
        assert _digests(run) == before           # the training run, untouched


def test_out_that_contains_an_input_is_refused(tmp_path):
    holder = tmp_path / "h"
    (holder / "L").mkdir(parents=True)
    with pytest.raises(OutputError, match="contains the run's input"):
        outputs.refuse_overlap(holder, [("--luts", holder / "L")])
    outputs.refuse_overlap(tmp_path / "other", [("--luts", holder / "L"), ("--config", None)])   # unrelated: fine


def test_symlinked_out_stays_a_symlink(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    p = _cli(*TRAIN, "--mode", "ideal", "--out", str(link))
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert (target / "summary.json").is_file() and outputs.read_marker(target)["kind"] == "train"
    p = _cli(*TRAIN, "--mode", "ideal", "--seed", "3", "--force", "--out", str(link))   # replaced: still a link
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and '"seed": 3' in (target / "summary.json").read_text()


def test_a_refused_design_leaves_out_as_it_was(tmp_path):
    from conftest import TINY_SWEEP, TINY_TASK
    bad = tmp_path / "bad.toml"
    design = 'name = "tiny"\nluts = "characterize"\n[sweep]\nname = "tiny"\n' + TINY_SWEEP + TINY_TASK
    bad.write_text(design.replace("[task]\n", '[task]\nnetwork = "64-16-7"\n'))
    out = tmp_path / "OUT"
    _one_line(_cli("run", str(bad), "--out", str(out)), "64-16-7", "10 classes")
    assert not out.exists()

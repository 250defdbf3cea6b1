"""Fault injection, values: every input checked before use (finite, in range, a set without repeats, a data set
that can be learned from, a bounded parse), each refused in one line; none hangs or ends in a traceback."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY_SWEEP, TINY_TASK

from pcmspice.array import ArrayConfig
from pcmspice.characterize.sweep import SweepConfig
from pcmspice.core.errors import ConfigError
from pcmspice.train import TrainConfig

TRAIN = ["train", "--dataset", "digits", "--network", "64-16-10", "--epochs", "1", "--max-train", "60",
         "--max-test", "30", "--quiet", "--no-figures"]


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    # a hang (learning_rate = 1e308 used to run until killed) fails here instead of stalling the suite
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def _one_line(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    line, = p.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(w in line for w in words), line


def test_huge_learning_rate_in_a_design_is_refused(tmp_path):
    design = tmp_path / "d.toml"
    design.write_text('name = "tiny"\nluts = "characterize"\n[sweep]\nname = "tiny"\n' + TINY_SWEEP +
                      TINY_TASK.replace("[task]\n", "[task]\nlearning_rate = 1e308\n"))
    _one_line(_cli("run", str(design), "--out", str(tmp_path / "o")), "learning_rate", "<= 100")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args,words", [
    (["--learning-rate", "1e308"], ["learning_rate"]),
    (["--learning-rate", "nan"], ["nan"]),
    (["--set", "array.gain_f=1e308"], ["gain_f", "<= 1000"]),
    (["--set", "array.leak_scale=1e6"], ["leak_scale"]),
    (["--w-max", "1e308,1"], ["w_max"]),
    (["--epochs", "1.5"], ["1.5"]),
])
def test_out_of_range_values_are_refused(tmp_path, args, words):
    _one_line(_cli(*TRAIN, *args, "--out", str(tmp_path / "o")), *words)
    assert not (tmp_path / "o").exists()


def test_every_number_a_run_computes_with_has_an_upper_bound():
    """1e308 overflowed to inf, then NaN, then a pulse count the kernel looped over for hours: every number
    has an upper bound (max_train / max_test only cut the data set: any size means "all")."""
    import dataclasses

    from pcmspice.core.config import _default
    for cls in (ArrayConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            d = _default(f)
            numeric = (isinstance(d, (int, float)) and not isinstance(d, bool)) or (
                isinstance(d, tuple) and f.metadata.get("gt") is not None)
            if numeric and f.name not in ("max_train", "max_test"):
                assert f.metadata.get("le") is not None or f.metadata.get("lt") is not None, (cls.__name__, f.name)


def test_repeated_set_members_are_simulated_once():
    s = SweepConfig(temps_c=(27, 27.0, -0.0, 0.0), corners=("tt", "tt"))
    assert s.temps_c == (27.0, 0.0) and s.corners == ("tt",) and len(s.combos()) == 2


def test_deeply_nested_toml_is_refused(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("epochs = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        TrainConfig.from_toml(deep)
    _one_line(_cli(*TRAIN, "--config", str(deep), "--out", str(tmp_path / "o")), "nested too deeply")


@pytest.mark.parametrize("kind", ["one-class", "constant"])
def test_data_sets_that_cannot_be_learned_from(tmp_path, kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    if kind == "one-class":
        y = np.zeros(60, int)
    else:
        x = np.ones_like(x)
    f = tmp_path / "f.npz"
    np.savez(f, x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    _one_line(_cli("train", "--dataset", f"features:{f}", "--epochs", "1", "--quiet", "--mode", "ideal",
                   "--out", str(tmp_path / "o")), "f.npz")
    assert not (tmp_path / "o").exists()

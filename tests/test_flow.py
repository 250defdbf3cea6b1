"""One flow: a training run from Python (pcmspice.pipeline.train_run) and from the command line (`pcmspice
train`, by its options or by --config) is the same run, with the same hardware time from the power layer."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from pcmspice.array.config import ArrayConfig
from pcmspice.core.errors import ConfigError
from pcmspice.pipeline.training import build_config, hardware_time, train_run
from pcmspice.train import TrainConfig

# 1 epoch of 300 digits, a transfer every 150 examples: leakage, drift and transfers all act
CFG = TrainConfig(dataset="digits", epochs=1, max_train=300, max_test=100, array=ArrayConfig(transfer_every=150))
OPTS = ["--dataset", "digits", "--epochs", "1", "--max-train", "300", "--max-test", "100", "--transfer-every", "150"]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str) -> None:
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "train", *args, "--quiet", "--no-figures"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr


def test_python_and_cli_give_the_same_run(tmp_path):
    py = train_run(CFG, tmp_path / "py", figures=False)
    (tmp_path / "cfg.toml").write_text(CFG.to_toml())
    _cli("--config", str(tmp_path / "cfg.toml"), "--out", str(tmp_path / "file"))
    _cli(*OPTS, "--out", str(tmp_path / "opts"))
    weights = {_sha(d / "weights.npz") for d in (py.out_dir, tmp_path / "file", tmp_path / "opts")}
    assert len(weights) == 1
    sums = [json.loads((d / "summary.json").read_text()) for d in (py.out_dir, tmp_path / "file", tmp_path / "opts")]
    assert len({s["analog_test_accuracy"] for s in sums}) == 1
    assert len({json.dumps(s["config"], sort_keys=True) for s in sums}) == 1
    # the hardware time is the latency model's (not the bare array's 1 us per example and instant transfers)
    a = sums[0]["config"]["array"]
    assert a["time_per_example_seconds"] != ArrayConfig().time_per_example_seconds and a["transfer_seconds"] > 0
    assert sums[0]["transfer_seconds"] == a["transfer_seconds"]


def test_hardware_time_is_the_latency_models_unless_pinned():
    from pcmspice.power.latency import latency
    from pcmspice.train import resolve_luts
    luts = resolve_luts(None)
    cfg = hardware_time(CFG.replace(network="64-250-10"), luts)
    assert cfg.array.time_per_example_seconds > 1e-6 and cfg.array.transfer_seconds > 1e-4
    # pinned: the time per example is the config's, the transfer time still the latency model's
    pinned = hardware_time(CFG.replace(network="64-250-10", time_per_example_seconds=2e-6), luts)
    assert pinned.array.time_per_example_seconds == 2e-6
    assert pinned.array.transfer_seconds == cfg.array.transfer_seconds
    assert latency("64-250-10").time_per_example_seconds > 0


def test_build_config_precedence(tmp_path):
    f = tmp_path / "lr=0.1" / "config.toml"      # a folder name with '=' is a path, not TOML text
    f.parent.mkdir()
    f.write_text(TrainConfig(learning_rate=0.1, epochs=5).to_toml())
    cfg = build_config(f, {"epochs": 2, "array.transfer_every": 0}, ["array.gain_f=2", "epochs=3"])
    assert (cfg.learning_rate, cfg.epochs, cfg.array.transfer_every, cfg.array.gain_f) == (0.1, 3, 0, 2.0)
    with pytest.raises(ConfigError, match=r"\[array\] has no parameter 'gainf'"):
        build_config(None, None, ["array.gainf=2"])


def test_one_override_mechanism_for_designs_and_run_set():
    from pcmspice.pipeline.design import apply_run_options, apply_sets, default_design
    d = default_design()
    a = apply_sets(d, ["task.epochs=2", "task.array.transfer_every=500", "sweep.n_cells=50", "task.seeds=0,1",
                       "adc.enob_bits=6"])      # a power section alone is a power parameter, as before
    b = d.with_overrides({"task.epochs": 2, "task.array.transfer_every": 500, "sweep.n_cells": 50,
                          "task.seeds": (0, 1), "power.adc.enob_bits": 6.0})
    assert a == b and (a.task.epochs, a.task.array.transfer_every, a.power.adc.enob_bits) == (2, 500, 6.0)
    assert apply_run_options(d, epochs=2, transfer_every=500) == d.with_overrides(["task.epochs=2",
                                                                                     "task.array.transfer_every=500"])
    with pytest.raises(ConfigError, match=r"--set task.array.gainf: \[task.array\] has no parameter 'gainf'"):
        apply_sets(d, ["task.array.gainf=1"])
    with pytest.raises(ConfigError, match="design \\[task\\]: epochs = 0 is invalid"):
        apply_sets(d, ["task.epochs=0"])


@pytest.mark.parametrize("args, want", [(["--epochs", "0"], "design [task]: epochs = 0 is invalid"),
                                        (["--transfer-every", "-1"], "transfer_every = -1 is invalid"),
                                        (["--set", "task.epochz=2"], "[task] has no parameter 'epochz'")])
def test_run_options_are_the_task_fields_checked_by_the_config(tmp_path, capsys, args, want):
    from pcmspice.cli.main import main
    with pytest.raises(SystemExit) as e:
        main(["run", *args, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: ") and want in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()      # refused before anything is written

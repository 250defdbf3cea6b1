"""Bounds on work and memory: every parameter that sets them has a limit, checked before the work starts,
refused with one line that names the limit and how to raise it."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pcmspice.characterize import SweepConfig
from pcmspice.core.errors import ConfigError, SpiceError
from pcmspice.core.limits import MEMORY_ENV, check_memory, max_memory_bytes
from pcmspice.core.network import parse_network
from pcmspice.spice import netlist as nl
from pcmspice.train import TrainConfig
from pcmspice.train.config import check_resources


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def _one_line(p: subprocess.CompletedProcess, want: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert want in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("param,want", [
    ("vdd_volts=1e6", "vdd_volts=1000000.0 V is outside pcmspice's limit for it (-10 to 10 V"),
    ("t_period_seconds=1e3", "t_period_seconds=1000.0 s is outside pcmspice's limit for it (1e-12 to 1e-06 s"),
    ("t_step_seconds=1e-30", "t_step_seconds=1e-30 s is outside"),
])
def test_netlist_parameters_beyond_their_unit_limit_are_refused_before_ngspice(tmp_path, param, want):
    # without the limits these simulations run for hours (the CLI would time out)
    bench = "read_curve" if param.startswith("vdd") else "pulse_train"
    _one_line(_cli("simulate", bench, "--param", param, "--out", str(tmp_path), timeout=60), want)


def test_a_declared_range_replaces_the_unit_limit():
    p = nl.Param("x_seconds", 1e-9, "s", "0..10", "a long time")
    assert p.check(5.0, "t") == 5.0
    with pytest.raises(SpiceError, match="outside pcmspice's limit"):
        nl.Param("x_seconds", 1e-9, "s", ">0", "a time").check(5.0, "t")
    assert nl.Param("drift_t0_seconds", 1.0, "s", ">0", "t0").check(1.0, "t") == 1.0   # named exception


def test_sweep_params_are_checked_before_any_batch():
    with pytest.raises(ConfigError, match=r"\[params\] t_period_seconds: parameter t_period_seconds=1000.0 s is "
                                          "outside pcmspice's limit"):
        SweepConfig(n_cells=2, params={"t_period_seconds": 1e3})   # refused when made, before any work


def test_mc_of_twenty_digits_is_one_line(tmp_path):
    _one_line_click = _cli("characterize", "characterization/demo.toml", "--mc", "99999999999999999999",
                           "--out", str(tmp_path))
    assert _one_line_click.returncode == 2 and "Traceback" not in _one_line_click.stderr
    assert "99999999999999999999 is not in the range 1<=x<=100000" in _one_line_click.stderr


@pytest.mark.parametrize("field,value,want", [
    ("vc_points", 100_000_000, "vc_points = 100000000 is invalid; expected an integer from 3 to 10001"),
    ("n_cells", 1e20, "n_cells = 1e+20 is invalid; expected an integer from 1 to 100000"),
    ("n_cells", 10**20, "n_cells = 100000000000000000000 is invalid"),
    ("seed", 10**20, "seed = 100000000000000000000 is invalid"),
    ("temps_c", (27.0, 1e6), "temps_c = [27.0, 1000000.0] is invalid"),
    ("vdd_volts", (1e6,), "vdd_volts = [1000000.0] is invalid"),
    ("step_points", 10**6, "step_points = 1000000 is invalid"),
    ("pcm_devices", 10**9, "pcm_devices = 1000000000 is invalid"),
])
def test_sweep_fields_that_set_work_have_limits(field, value, want):
    with pytest.raises(ConfigError, match=want.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")):
        SweepConfig(**{field: value})


def test_sweep_memory_is_estimated_before_work(tmp_path, monkeypatch):
    cfg = SweepConfig(name="big", n_cells=100_000, vc_points=10_001, temps_c=tuple(range(0, 100, 10)))
    with pytest.raises(ConfigError, match=f"needs about .* GB of memory, above the limit of 8 GB.*{MEMORY_ENV}"):
        cfg.check_resources()
    toml = tmp_path / "big.toml"
    toml.write_text(cfg.to_toml())
    _one_line(_cli("characterize", str(toml), "--out", str(tmp_path / "out")), MEMORY_ENV)
    assert not (tmp_path / "out" / "batches").exists()                # refused before any batch
    monkeypatch.setenv(MEMORY_ENV, "1e6")
    cfg.check_resources()                                              # the limit raised: accepted


def test_too_many_combinations_are_refused():
    with pytest.raises(ConfigError, match="combinations .* expected at most 1000"):
        SweepConfig(temps_c=tuple(t / 10 for t in range(2000)))


@pytest.mark.parametrize("network,want", [
    ("64-100000000-10", "at most 32 layers of at most 1,000,000 neurons each"),
    ("64-100000000000000000000-10", "at most 32 layers"),
    ("-".join(["10"] * 40), "at most 32 layers"),
])
def test_network_sizes_have_limits(network, want):
    with pytest.raises(ConfigError, match=want):
        parse_network(network)
    with pytest.raises(ConfigError, match=want):
        TrainConfig(network=network)


def test_network_memory_is_estimated_before_anything_is_built(monkeypatch):
    cfg = TrainConfig(network="64-200000-10")
    with pytest.raises(ConfigError, match=r"network 64-200000-10 \(15,000,010 weights, mode cell\) needs about 9"):
        check_resources(cfg)
    check_resources(cfg.replace(array=cfg.array.replace(mode="ideal")))   # 64 B a weight: fits
    monkeypatch.setenv(MEMORY_ENV, "20")
    check_resources(cfg)


def test_train_cli_refuses_a_huge_network_in_one_line(tmp_path):
    _one_line(_cli("train", "--dataset", "digits", "--network", "64-100000000-10", "--epochs", "1", "--quiet",
                   "--out", str(tmp_path)), "at most 1,000,000 neurons")
    _one_line(_cli("train", "--dataset", "digits", "--network", "64-200000-10", "--epochs", "1", "--quiet",
                   "--out", str(tmp_path)), "above the limit of 8 GB")
    _one_line(_cli("train", "--dataset", "digits", "--seed", "99999999999999999999", "--epochs", "1", "--quiet",
                   "--out", str(tmp_path)), "seed = 99999999999999999999 is invalid")


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "nan", "inf"])
def test_a_bad_memory_limit_is_named(monkeypatch, raw):
    monkeypatch.setenv(MEMORY_ENV, raw)
    with pytest.raises(ConfigError, match=f"{MEMORY_ENV} = '{raw}' is invalid"):
        max_memory_bytes()


def test_check_memory_names_the_limit_and_how_to_raise_it(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "2")
    check_memory("x", 1.9e9, "use less")
    with pytest.raises(ConfigError, match=f"x needs about 3 GB of memory, above the limit of 2 GB; use less, or "
                                          f"raise the limit with {MEMORY_ENV}=<GB>"):
        check_memory("x", 3e9, "use less")


def test_train_config_file_that_is_a_fifo_is_refused(tmp_path):
    import os
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    f = tmp_path / "cfg.toml"
    os.mkfifo(f)
    _one_line(_cli("train", "--config", str(f), "--out", str(tmp_path / "o"), timeout=60), "FIFO")
    with pytest.raises(ConfigError, match="FIFO"):
        SweepConfig.from_toml(f)

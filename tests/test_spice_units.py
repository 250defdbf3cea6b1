"""Numbers as a SPICE user writes them (50f, 1.2u, 3meg) on every numeric input, and values in the wrong
unit refused in one line that names the field, the value, the allowed range and the likely intended value."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcmspice.array import ArrayConfig
from pcmspice.core.config import parse_assignments, parse_value
from pcmspice.core.errors import ConfigError
from pcmspice.core.units import did_you_mean, parse_spice_number
from pcmspice.power.config import PowerConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, want", [
    ("50f", 50e-15), ("50F", 50e-15), ("50e-15", 50e-15), ("1.2u", 1.2e-6), ("1.2U", 1.2e-6), (".5n", 0.5e-9),
    ("100p", 100e-12), ("1m", 1e-3), ("1M", 1e-3), ("3meg", 3e6), ("3MEG", 3e6), ("3Meg", 3e6), ("10k", 1e4),
    ("2g", 2e9), ("1t", 1e12), ("-2.5e3k", -2.5e6), ("1e-3u", 1e-9), ("7", 7.0), (" 50f ", 50e-15),
    # SPICE ignores the letters after a scale factor: 50fF is 50f, 1.2uS is 1.2u, 3megohm is 3meg
    ("50fF", 50e-15), ("1.2uS", 1.2e-6), ("3megohm", 3e6), ("20ns", 20e-9), ("1ms", 1e-3)])
def test_spice_suffixes_read_as_spice_reads_them(text, want):
    assert parse_spice_number(text) == want     # exactly the float of the plain decimal text


@pytest.mark.parametrize("text", ["10V", "50fF2", "2mils", "1_0", "abc", "", "\uff11\uff12", "1 f", "meg", "inf",
                                  "nan", "0x10", "1e", "5mil", "1µ"])
def test_anything_else_is_refused_with_the_suffixes_listed(text):
    with pytest.raises(ValueError, match="is not a number .*suffixes: f p n u m k meg g t"):
        parse_spice_number(text)


def test_a_capital_f_is_femto_as_in_spice_not_farad():
    """50F is 50 femto in SPICE (F is the femto scale factor, case-insensitive); ngspice reads it so too."""
    assert parse_spice_number("50F") == parse_spice_number("50fF") == parse_spice_number("50e-15") == 50e-15
    assert parse_assignments(["c_store_farads=50fF"]) == {"c_store_farads": 50e-15}


def test_every_value_parser_takes_the_suffixes():
    assert parse_value("50f", 0.0, "x") == 50e-15 and parse_value("1k", 0, "x") == 1000
    assert parse_assignments(["c_store_farads=50f"]) == {"c_store_farads": 50e-15}
    assert ArrayConfig.from_dict({"pcm_tolerance_siemens": "0.5u"}).pcm_tolerance_siemens == 0.5e-6   # TOML text
    assert ArrayConfig.from_toml_text('transfer_offset_siemens = "2u"\n').transfer_offset_siemens == 2e-6
    p = PowerConfig().with_overrides(["adc.fom_joules_per_step=50f"])
    assert p.adc.fom_joules_per_step == 50e-15


def test_a_value_in_the_wrong_unit_names_field_value_range_and_the_likely_value():
    with pytest.raises(ConfigError) as e:
        ArrayConfig(pcm_tolerance_siemens=0.5)
    msg = str(e.value)
    assert msg == ("array config: pcm_tolerance_siemens = 0.5 is invalid; expected a finite number > 0 and <= "
                   "2.5e-05 S (or none: unset): did you mean 0.5e-6?")
    with pytest.raises(ConfigError, match=r"transfer_offset_siemens = 2 is invalid; .*did you mean 2e-6\?"):
        ArrayConfig(transfer_offset_siemens=2)
    # no guess where no scale fits (a negative value) or the field has no physical unit
    with pytest.raises(ConfigError) as e:
        ArrayConfig(pcm_tolerance_siemens=-1e-6)
    assert "did you mean" not in str(e.value)
    assert did_you_mean(50, lambda v: 0 < v <= 1e-9) == "50e-12" and did_you_mean(-1, lambda v: v > 0) == ""


def _cli(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def test_set_in_the_wrong_unit_is_refused_before_training(tmp_path):
    p = _cli("train", "--dataset", "digits", "--epochs", "1", "--set", "array.pcm_tolerance_siemens=0.5",
             "--out", str(tmp_path / "t"))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and p.stderr.startswith("error: ")
    for word in ("pcm_tolerance_siemens = 0.5", "> 0 and <= 2.5e-05 S", "did you mean 0.5e-6?"):
        assert word in p.stderr, p.stderr
    assert not (tmp_path / "t").exists()


def test_simulate_with_a_spice_suffix_runs_the_same_as_the_plain_number(tmp_path):
    runs = {}
    for value in ("50f", "50e-15"):
        out = tmp_path / value
        p = _cli("simulate", "read_curve", "--param", f"c_store_farads={value}", "--out", str(out))
        assert p.returncode == 0, p.stderr[-1500:]
        runs[value] = json.loads((out / "summary.json").read_text())
        assert (out / "result.csv").is_file()
    a, b = runs["50f"], runs["50e-15"]
    assert a["config"]["params"] == b["config"]["params"] == {"c_store_farads": 5e-14}
    assert a["measures"] == b["measures"]
    assert (tmp_path / "50f" / "result.csv").read_bytes() == (tmp_path / "50e-15" / "result.csv").read_bytes()


def test_a_netlist_parameter_from_a_toml_file_takes_the_suffixes_and_only_numbers_reach_the_netlist():
    from pcmspice.core.errors import SpiceError
    from pcmspice.spice import netlist as nl
    p = nl.Param("c_store_farads", 100e-15, "F", ">0", "storage capacitor")
    assert p.check("50f", "c3t1c") == 50e-15 and p.check(50e-15, "c3t1c") == 50e-15
    for bad in ("50f\n.control", "1;rm", "abc"):
        with pytest.raises(SpiceError, match="is not a number"):
            p.check(bad, "c3t1c")


def test_generated_number_options_take_the_suffixes(tmp_path):
    import click

    from pcmspice.cli.options import SpiceNumber
    assert SpiceNumber().convert("1.16u", None, None) == 1.16e-6 and SpiceNumber(True).convert("8k", None, None) == 8000
    with pytest.raises(click.BadParameter, match="is not a valid integer"):
        SpiceNumber(integer=True).convert("1.5", None, None)
    configs = []
    for tpe, n in (("1.16u", "20"), ("1.16e-6", "2e1")):
        out = tmp_path / tpe
        p = _cli("train", "--dataset", "digits", "--epochs", "1", "--max-train", n, "--max-test", "10", "--no-baseline",
                 "--quiet", "--time-per-example", tpe, "--out", str(out))
        assert p.returncode == 0, p.stderr[-1500:]
        configs.append((out / "config.toml").read_text())
        assert json.loads((out / "summary.json").read_text())["examples_trained"] == 20
    assert configs[0] == configs[1] and "time_per_example_seconds = 1.16e-06" in configs[0]


def test_no_command_line_option_reads_numbers_without_the_suffixes():
    """Every float and integer option of every command (and subcommand) reads numbers the SPICE way."""
    import importlib

    import click

    from pcmspice.cli.main import _COMMANDS
    from pcmspice.cli.options import SpiceNumber

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, f"{path} {name}")
        for p in cmd.params:
            yield path, p

    plain, numbers = [], 0
    for name, (mod, attr) in _COMMANDS.items():
        for path, p in walk(getattr(importlib.import_module(mod), attr), name):
            # (a click.IntRange keeps its own range check; a plain int or float must read suffixes)
            if type(p.type) in (click.types.FloatParamType, click.types.IntParamType):
                plain.append(f"{path} {p.opts[0]}")
            numbers += isinstance(p.type, SpiceNumber)
    assert not plain, f"float options without SPICE suffixes: {plain}"
    assert numbers >= 10

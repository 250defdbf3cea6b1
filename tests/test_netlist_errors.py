"""Bad input is refused with one line that names the bad value and what would be right."""
import subprocess
import sys

import pytest

from pcmspice.circuits import c3t1c as cell
from pcmspice.core.errors import SpiceError
from pcmspice.spice import tech as tech


def test_unknown_technology():
    with pytest.raises(SpiceError, match=r"unknown technology 'tsmc5' \(choose from .*generic65"):
        tech.load("tsmc5")


def test_unknown_corner(g65):
    with pytest.raises(SpiceError,
                       match=r"unknown corner 'xx' for technology generic65 \(choose from tt, ff, ss, fs, sf\)"):
        g65.header("xx", 27)


def test_unknown_parameter(g65):
    with pytest.raises(SpiceError, match=r"unknown parameter 'c_sotre_farads' \(known: .*c_store_farads"):
        cell.cell_params(g65, {"c_sotre_farads": 1e-13})


@pytest.mark.parametrize("name,value,want", [
    ("c_store_farads", -1e-15, "must be greater than 0"),
    ("w_up_um", 0.0, "must be greater than 0"),
    ("t_pulse_seconds", float("nan"), "must be greater than 0"),
])
def test_bad_values(g65, name, value, want):
    with pytest.raises(SpiceError) as e:
        cell.cell_params(g65, {name: value})
    assert name in str(e.value) and want in str(e.value)


def test_width_below_technology_minimum(g65):
    with pytest.raises(SpiceError, match=r"W=0.05 um is invalid for generic65 \(must be at least 0.12 um\)"):
        g65.mos("X", "n", "d", "g", "s", "b", 0.05, 1.0)


def test_temperature_out_of_range(g65):
    with pytest.raises(SpiceError, match=r"temperature 400 degC is out of range"):
        g65.header("tt", 400)


def test_pulse_must_fit_period(run65):
    import dataclasses

    import numpy as np
    run = dataclasses.replace(run65, params={"t_pulse_seconds": 30e-9})
    with pytest.raises(SpiceError, match="does not fit in the period"):
        cell.pulses(run, cell.nominal_mismatch(1), np.array([0.5]), np.array([[1]]))


@pytest.mark.parametrize("args,want", [
    (["simulate", "read_curve", "--param", "c_store_farads=-1e-15"], "c_store_farads=-1e-15 F is invalid"),
    (["simulate", "read_curve", "--corner", "xx"], "unknown corner 'xx'"),
    (["simulate", "read_curve", "--tech", "foo"], "unknown technology 'foo'"),
    (["simulate", "nosuchbench"], "unknown testbench 'nosuchbench'"),
    (["simulate", "read_curve", "--param", "oops"], "--param 'oops' must look like name=value"),
])
def test_cli_errors_are_one_line(tmp_path, args, want):
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", *args, "--out", str(tmp_path)] if args[1] != "nosuchbench"
                       else [sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert want in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1

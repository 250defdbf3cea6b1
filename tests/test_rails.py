"""A 3T1C whose storage node leaves the supply rails (a capacitor too small for a pulse's charge): `simulate`
warns, a characterization refuses it in one line (issue 21 item 5)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pcmspice.circuits.c3t1c import RAIL_MARGIN_VOLTS, rail_excursion
from pcmspice.core import paths


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_rail_excursion_uses_the_stated_margin():
    assert RAIL_MARGIN_VOLTS == 0.1
    assert rail_excursion(np.array([-0.1, 0.5, 1.1]), 1.0) is None          # the margin itself is inside
    assert "peak 1.101 V > VDD + 0.1 V" in rail_excursion(np.array([0.0, 1.101]), 1.0)
    low = rail_excursion(np.array([-0.2837, 0.5]), 1.0)
    assert "lowest -0.2837 V < -0.1 V" in low and "peak" not in low


def test_simulate_warns_when_the_node_leaves_the_rails(tmp_path):
    """`simulate pulse_train` with a 0.1 fF capacitor: Vc peaked at 1.18 V and ended at -0.28 V on a 1 V supply,
    with no warning."""
    small = _cli("simulate", "pulse_train", "--param", "c_store_farads=1e-16", "--out", "s", cwd=tmp_path)
    assert small.returncode == 0, small.stderr
    warn = [ln for ln in small.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warn) == 1 and "leaves the supply rails (0 to 1 V)" in warn[0] and "c_store_farads = 1e-16 F" in warn[0]
    peak = float(small.stdout.split("vc_peak_volts = ")[1].split()[0])
    assert peak > 1.1 and f"peak {peak:.4g} V" in warn[0]
    default = _cli("simulate", "pulse_train", "--out", "d", cwd=tmp_path)
    assert default.returncode == 0 and "warning" not in default.stderr, default.stderr


def test_characterize_refuses_a_cell_that_leaves_the_rails(tmp_path):
    r = _cli("characterize", str(paths.default_sweep("demo")), "--mc", "2", "--pcm-devices", "2", "--quiet",
             "--param", "c_store_farads=1e-16", "--out", "c", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
    assert r.stderr.startswith("error: cell (c_store_farads = 1e-16, vdd_volts = 1;") and r.stderr.count("\n") == 1
    assert "leaves the supply rails (0 to 1 V): lowest" in r.stderr
    assert not (tmp_path / "c" / "luts").exists()


@pytest.mark.parametrize("value", ["50e-15"])
def test_a_normal_small_capacitor_stays_inside(tmp_path, value):
    r = _cli("simulate", "pulse_train", "--param", f"c_store_farads={value}", "--out", "s", cwd=tmp_path)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_a_pulse_train_that_leaves_the_rails_is_refused_where_single_pulses_stay_inside():
    """2 fF on generic65: one pulse from any start voltage lands inside [-0.1, 1.1] V (the single-pulse check
    passes), but 32 pulses in a row drive the node to about 1.11 V and -0.14 V: the train check refuses it."""
    from pcmspice.characterize.tables import TRAIN_PULSES, check_rails, check_train
    from pcmspice.circuits import c3t1c as cellmod
    from pcmspice.core.errors import ConfigError
    from pcmspice.spice import tech as techmod
    run = cellmod.Run(techmod.load("generic65"), "tt", 27.0, {"c_store_farads": 2e-15})
    mm = cellmod.draw_mismatch(run.tech, 2, 1, run.params)
    grid = np.linspace(0.0, 1.0, 11)
    sm = cellmod.step_map(run, mm, grid)
    check_rails(run, grid, sm.dv_up_volts, sm.dv_down_volts)             # single pulses: inside
    with pytest.raises(ConfigError) as e:
        check_train(run, mm, grid, sm.dv_up_volts, sm.dv_down_volts)
    msg = str(e.value)
    assert msg.startswith("cell (c_store_farads = 2e-15, vdd_volts = 1; generic65 tt 27 °C)")
    assert f"a train of {TRAIN_PULSES} up pulses from 0 V or down pulses from 1 V" in msg
    assert "leaves the supply rails (0 to 1 V): peak" in msg and "\n" not in msg
    # the default 50 fF cell passes the same check
    run = cellmod.Run(run.tech, "tt", 27.0, {})
    sm = cellmod.step_map(run, mm, grid)
    check_train(run, mm, grid, sm.dv_up_volts, sm.dv_down_volts)


def test_characterize_refuses_a_cell_whose_pulse_train_leaves_the_rails(tmp_path):
    r = _cli("characterize", str(paths.default_sweep("demo")), "--mc", "2", "--pcm-devices", "2", "--quiet",
             "--param", "c_store_farads=2e-15", "--out", "c", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr[-1500:]
    assert r.stderr.startswith("error: cell (c_store_farads = 2e-15") and "a train of 32 up pulses" in r.stderr
    assert not (tmp_path / "c" / "luts").exists()

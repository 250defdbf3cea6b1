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

"""The full unit cell (2 PCM + 3T1C) and g_shared: the assembled cell reads as the sum of its parts."""
from __future__ import annotations

import numpy as np
import pytest

from pcmspice.circuits import pcm as pcm
from pcmspice.circuits import unit_cell as uc
from pcmspice.circuits.c3t1c import Run
from pcmspice.core.errors import SpiceError
from pcmspice.spice import tech as tech


@pytest.fixture(scope="module")
def run():
    return Run(tech.load("generic65"))


def test_whole_cell_read_equals_sum_of_parts(run):
    pop = uc.draw_population(run, 5, seed=17)
    x_plus = np.array([0.0, 0.3, 0.9, 0.5, 0.2])
    x_minus = np.array([0.6, 0.3, 0.1, 0.0, 0.7])
    vc = np.array([0.3, 0.5, 0.5, 0.7, 0.9])            # on the 10 mV grid of read_parts
    # devices idle for 1 ms or more: a just-programmed one (t0 = 100 ns) would drift within the read itself
    ages = np.array([1e-3, 1.0, 100.0, 1e-3, 10.0])
    whole = uc.read(run, pop, x_plus, x_minus, vc, age_plus=ages, age_minus=ages[::-1])
    parts = uc.read_parts(run, pop, x_plus, x_minus, vc, age_plus=ages, age_minus=ages[::-1])
    for name in ("i_plus_amperes", "i_minus_amperes", "i_g_amperes"):
        np.testing.assert_allclose(getattr(whole, name), getattr(parts, name), rtol=1e-4, atol=1e-12)
    assert whole.i_shared_amperes == pytest.approx(parts.i_shared_amperes, rel=1e-4)
    np.testing.assert_allclose(whole.w_siemens, parts.w_siemens, rtol=1e-4, atol=1e-11)
    # the weight really is F (G+ - G-) + (g - g_shared), with F from the netlist parameters
    p = uc.unit_cell_params(run.tech)
    assert whole.f_gain == p["f_gain"] == 3.0
    expect = (p["f_gain"] * (whole.i_plus_amperes - whole.i_minus_amperes)
              + whole.i_g_amperes - whole.i_shared_amperes) / p["v_read_volts"]
    np.testing.assert_allclose(whole.w_siemens, expect)
    # and spans both signs
    assert whole.w_siemens.min() < 0 < whole.w_siemens.max()


def test_nominal_cell_at_start_voltage_reads_the_pcm_difference(run):
    pop = uc.nominal_population(3)
    p = uc.unit_cell_params(run.tech)
    x_plus, x_minus = np.array([0.5, 0.2, 0.0]), np.array([0.1, 0.2, 0.8])
    r = uc.read(run, pop, x_plus, x_minus, p["v_start_volts"])
    # identical g and g_shared cancel; what is left is F (G+ - G-) through the access transistors
    np.testing.assert_allclose(r.i_g_amperes, r.i_shared_amperes, rtol=1e-6)
    pp = pcm.pcm_params(run.tech)
    g_model = pcm.g_of_state(x_plus, 0.0, pop.pcm_plus, pp) - pcm.g_of_state(x_minus, 0.0, pop.pcm_minus, pp)
    np.testing.assert_allclose(r.w_siemens, p["f_gain"] * g_model, rtol=0.03, atol=2e-8)


def test_population_streams_and_errors(run):
    a = uc.draw_population(run, 4, seed=2)
    b = uc.draw_population(run, 2, seed=2, first=2)
    np.testing.assert_array_equal(a.pcm_plus["gcm"][2:], b.pcm_plus["gcm"])
    np.testing.assert_array_equal(a.mismatch["dvt_rd"][2:], b.mismatch["dvt_rd"])
    # G+ of cell k is PCM device 2k, G- device 2k+1 of the PCM population
    dev = pcm.draw_variation(8, seed=2)
    np.testing.assert_array_equal(a.pcm_minus["krm"], dev["krm"][1::2])
    with pytest.raises(SpiceError, match="0..1"):
        uc.read(run, uc.nominal_population(1), 1.5, 0.0, 0.5)
    with pytest.raises(SpiceError, match="f_gain"):
        uc.read(Run(run.tech, params={"f_gain": -1}), uc.nominal_population(1), 0.5, 0.0, 0.5)

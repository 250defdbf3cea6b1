"""`pcmspice lut stats`: what a LUT set implies, checked against exact values and against sampling."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import ndtr

from pcmspice.cli.main import cli
from pcmspice.core.errors import LutError
from pcmspice.lut.format import LutSet, PcmLut, load_lut_set, save_lut_set
from pcmspice.lut.stats import lut_stats, negative_step_fraction, pcm_step_population
from tests.test_array import synthetic_luts

#: the keys issue 11 asks for, plus the 3T1C and retention ones
REQUIRED = ([f"pcm_dg_mean_siemens_at_{g}us" for g in (2, 5, 10, 15)]
            + [f"pcm_dg_std_siemens_at_{g}us" for g in (2, 5, 10, 15)]
            + ["pcm_negative_step_fraction", "pcm_read_noise_rel_at_5us", "drift_nu_mean_at_1us",
               "drift_nu_mean_at_20us", "cell_dv_up_mean_volts", "cell_dv_up_std_volts", "cell_dv_down_mean_volts",
               "cell_dv_down_std_volts", "cell_retention_10mv_median_seconds"])


def _pcm(mean: np.ndarray, std: np.ndarray, nu: np.ndarray | float = 0.05, read_noise: np.ndarray | float = 0.0):
    n, ng = mean.shape
    return PcmLut(g_grid_siemens=np.linspace(0, 30e-6, ng), set_step_mean_siemens=mean, set_step_std_siemens=std,
                  g_reset_siemens=np.full(n, 0.1e-6), g_max_siemens=np.full(n, 25e-6),
                  drift_nu=nu if np.ndim(nu) else np.full(n, nu), drift_t0_seconds=1e-6, read_noise_rel=read_noise,
                  e_set_joules=np.full(n, 1e-12), e_reset_joules=np.full(n, 5e-12), e_read_joules=np.full(n, 1e-14))


def test_exact_values_of_a_uniform_population():
    # every device steps 1 uS +- 1 uS everywhere: a pulse lowers G with probability Phi(-1) exactly
    p = _pcm(np.full((10, 31), 1e-6), np.full((10, 31), 1e-6))
    assert negative_step_fraction(p) == pytest.approx(ndtr(-1.0), rel=1e-12)
    assert pcm_step_population(p, 5e-6) == pytest.approx((1e-6, 1e-6), rel=1e-12)


def test_g_dependent_tables_are_read_at_the_named_conductance():
    g = np.linspace(0, 30e-6, 31)
    nu = np.tile(0.1 - 0.002 * g * 1e6, (4, 1))             # 0.098 at 1 uS, 0.06 at 20 uS
    rn = 0.1 - 0.003 * g * 1e6                                # 0.085 at 5 uS
    luts = synthetic_luts(n_cells=8, n_devices=4)
    s = lut_stats(LutSet(luts.cell, _pcm(np.full((4, 31), 1e-6), np.full((4, 31), 0.5e-6), nu, rn), name="x"))
    assert s["drift_nu_mean_at_1us"] == pytest.approx(0.098, rel=1e-9)
    assert s["drift_nu_mean_at_20us"] == pytest.approx(0.06, rel=1e-9)
    assert s["pcm_read_noise_rel_at_5us"] == pytest.approx(0.085, rel=1e-9)


def test_population_spread_and_negative_fraction_agree_with_sampling():
    # devices differ in their mean step (device-to-device) and each step has its own spread (pulse to pulse):
    # the population's std and the share of pulses that lower G, drawn as the array draws them
    rng = np.random.default_rng(3)
    n = 400
    g = np.linspace(0, 30e-6, 31)
    mean = (1.5e-6 * rng.lognormal(0, 0.4, n))[:, None] * np.clip(1 - g / 12e-6, -0.1, None)[None, :]
    std = (0.26e-6 + 0.091 * g)[None, :] * rng.lognormal(0, 0.1, n)[:, None]
    p = _pcm(mean, std)
    dev = rng.integers(0, n, 400_000)
    for g0 in (2e-6, 5e-6, 10e-6):
        gs = np.full(dev.size, g0)
        mu = p.set_step(dev, gs)                       # the mean step of each drawn device
        sd = np.array([np.interp(g0, g, std[d]) for d in range(n)])[dev]
        steps = mu + sd * rng.standard_normal(dev.size)
        m, s = pcm_step_population(p, g0)
        assert steps.mean() == pytest.approx(m, rel=0.02, abs=0.005e-6)
        assert steps.std() == pytest.approx(s, rel=0.01)
    gs = rng.uniform(2e-6, 10e-6, dev.size)
    mu = p.set_step(dev, gs)
    sd = np.array([np.interp(gs[k], g, std[dev[k]]) for k in range(20_000)])
    frac = float(np.mean(mu[:20_000] + sd * rng.standard_normal(sd.size) < 0))
    assert frac == pytest.approx(negative_step_fraction(p), abs=0.01)     # 20,000 draws: sampling sd 0.003


def test_cli_json_has_the_documented_keys_for_the_default_luts():
    r = CliRunner().invoke(cli, ["lut", "stats", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert not [k for k in REQUIRED if k not in s]
    assert s["lut"] == "generic65_tt_27C" and s["n_cells"] == 200
    assert s["cell_dv_up_mean_volts"] > 0 > s["cell_dv_down_mean_volts"]
    assert all(np.isfinite(s[k]) for k in REQUIRED)
    # the table form names the same LUT
    t = CliRunner().invoke(cli, ["lut", "stats"])
    assert t.exit_code == 0 and "generic65_tt_27C" in t.output and "pcm_negative_step_fraction" in t.output


def test_cli_on_a_folder_above_the_set_names_the_set(tmp_path):
    save_lut_set(synthetic_luts(n_cells=4, n_devices=4), tmp_path / "luts" / "syn")
    with pytest.raises(LutError, match=r"not a LUT set folder \(no cell.lut.npz\); it holds the set\(s\) luts/syn: "
                                       r"pass one of them"):
        CliRunner().invoke(cli, ["lut", "stats", str(tmp_path)], catch_exceptions=False, standalone_mode=False)
    with pytest.raises(LutError, match=r"it holds the set\(s\) luts/syn"):     # every reader of a set says so
        load_lut_set(tmp_path)
    r = CliRunner().invoke(cli, ["lut", "stats", str(tmp_path / "luts" / "syn"), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["n_pcm_devices"] == 4

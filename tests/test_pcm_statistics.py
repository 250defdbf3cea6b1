"""The PCM compact model against measured statistics (issue 11): SPICE trains vs the reference curves.

Reference: the statistical PCM model of Nandakumar et al., J. Appl. Phys. 124, 152135 (2018), fitted to
measured partial-SET trains of IBM's GST mushroom cells, as re-implemented in public code (Demirag's XBar,
2020).  Per pulse n after a RESET, with memory P_n = exp(-n / 2.6):

    dG ~ N(mu, sigma),  mu = 0.880 - 0.084 G + 1.40 P_n,  sigma = 0.260 + 0.091 G + 2.15 P_n  (uS),
    G clipped to [0.1, 25] uS, RESET to N(0.1, 0.01) uS.

The test runs that model through the same protocol as the SPICE trains (RESET, then N pulses) and bins
both by the G before each pulse, as docs/devices.md tabulates.  Tolerances (per bin):

* mean: 3 standard errors of the SPICE sample (pulses of one device are correlated: n_eff = n / 2) plus
  0.15 uS for the references' own scatter (the two public re-implementations of the same fit differ by up
  to 0.3 uS in the constant of sigma; pcmspice's state-only model cannot reproduce the pulse-number memory
  exactly);
* sigma: 25 % (the standard error of a sample sd with n_eff >= 60 is < 10 %, plus the same scatter);
* negative-step fraction over 2-10 uS: +-0.08 (binomial error ~0.02 x 3, plus 0.02).
"""
from __future__ import annotations

import numpy as np
import pytest

from pcmspice.circuits import pcm
from pcmspice.circuits.c3t1c import Run
from pcmspice.spice import tech

N_DEVICES, N_CYCLES, N_PULSES = 24, 2, 16
BINS_US = ((0.0, 0.5), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0), (8.0, 10.0))


def nandakumar_trains(n: int, n_pulses: int, seed: int = 0, g_max_us: float = 25.0) -> np.ndarray:
    """G (uS) after RESET and after each pulse, shape (n, n_pulses + 1), of the reference statistical model."""
    rng = np.random.default_rng(seed)
    g = np.empty((n, n_pulses + 1))
    g[:, 0] = np.clip(rng.normal(0.1, 0.01, n), 0.01, g_max_us)
    for k in range(n_pulses):
        mem = np.exp(-(k + 1) / 2.6)
        mu = 0.880 - 0.084 * g[:, k] + 1.40 * mem
        sd = 0.260 + 0.091 * g[:, k] + 2.15 * mem
        g[:, k + 1] = np.clip(g[:, k] + mu + sd * rng.standard_normal(n), 0.1, g_max_us)
    return g


def binned(g_us: np.ndarray) -> dict:
    """Mean and sd of dG in each bin of G before the pulse, negative fraction in 2-10 uS, first step."""
    g = g_us.reshape(-1, g_us.shape[-1])
    before, dg = g[:, :-1].ravel(), np.diff(g, axis=1).ravel()
    out = {}
    for lo, hi in BINS_US:
        s = (before >= lo) & (before < hi)
        out[(lo, hi)] = (dg[s].mean(), dg[s].std(), int(s.sum()))
    s = (before >= 2) & (before < 10)
    out["negative"] = float(np.mean(dg[s] < 0))
    out["first"] = float(np.mean(g[:, 1] - g[:, 0]))
    return out


@pytest.fixture(scope="module")
def spice_trains():
    run = Run(tech.load("generic65"))
    var = pcm.draw_variation(N_DEVICES, seed=17)
    g, _, _ = pcm.set_train(run, var, N_PULSES, seed=17, n_cycles=N_CYCLES)
    return run, var, g * 1e6


@pytest.fixture(scope="module")
def reference():
    return binned(nandakumar_trains(100_000, N_PULSES))


def test_reference_model_reproduces_the_published_numbers(reference):
    # the numbers quoted in issue 11 from the same model: first pulse ~1.8 uS, 0.16 uS mean at 8-10 uS,
    # sigma ~1 uS, 18-44 % of the pulses between 2 and 10 uS lower G
    assert 1.7 < reference["first"] < 2.0
    assert abs(reference[(8.0, 10.0)][0] - 0.16) < 0.03
    assert 0.9 < reference[(4.0, 6.0)][1] < 1.0 and 1.05 < reference[(8.0, 10.0)][1] < 1.2
    assert 0.3 < reference["negative"] < 0.37


def test_step_statistics_match_the_reference(spice_trains, reference):
    _, _, g = spice_trains
    got = binned(g)
    for b in BINS_US:
        m, s, n = got[b]
        m_ref, s_ref, _ = reference[b]
        assert n >= 40, (b, n)
        se = s / np.sqrt(n / 2)
        assert abs(m - m_ref) <= 3 * se + 0.15e0, (b, m, m_ref, se)
        assert abs(s - s_ref) <= 0.25 * s_ref, (b, s, s_ref)
    # sigma rises with G over 4-10 uS, and the mean step falls towards zero
    assert got[(8.0, 10.0)][1] > got[(4.0, 6.0)][1]
    assert got[(8.0, 10.0)][0] < got[(4.0, 6.0)][0] < got[(2.0, 4.0)][0]
    assert abs(got["negative"] - reference["negative"]) <= 0.08, got["negative"]
    assert 0.18 <= got["negative"] <= 0.44


def test_first_step_reset_level_and_gmax(spice_trains):
    run, var, g = spice_trains
    first = g[:, :, 1] - g[:, :, 0]
    # first pulse from RESET ~1.8 uS (reference 1.85 +- 1.45 per pulse: 3 SE of 48 pulses ~ 0.6 uS)
    assert abs(first.mean() - 1.85) < 0.6, first.mean()
    # RESET level ~0.1 uS (reference N(0.1, 0.01) uS; pcmspice's quench leaves x ~ 0.005: 0.14 uS)
    assert 0.05 < g[:, :, 0].mean() < 0.2, g[:, :, 0].mean()
    # Gmax of the devices 20-25 uS (full SET), and partial SET saturates far below it
    g_max = pcm.pcm_params(run.tech)["g_cryst_siemens"] * var["gcm"] * 1e6
    assert 20 < np.median(g_max) < 27
    assert np.mean(g[:, :, 1:] > 20) < 0.05


def test_trains_without_noise_saturate_near_10_to_12_us(spice_trains):
    """The mean step reaches zero near 10-12 uS: the current-controlled pulse no longer heats the cell enough."""
    run, _, _ = spice_trains
    x = np.array([0.3, 0.4, 0.5, 0.6])
    r = pcm.run_ops(run, pcm.nominal_variation(x.size), [("set",)], x0=x)
    g0 = pcm.g_of_state(x, 0.0, pcm.nominal_variation(x.size), r.params)
    dg = (r.g0_after_siemens[:, 0] - g0) * 1e6
    assert dg[0] > 0.2 and dg[2] < 0.05 and dg[3] < 0.01, dg

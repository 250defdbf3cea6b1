"""Tests of the array simulator (pcmspice.array.crossbar) on LUTs built here from analytic physics.

``synthetic_luts`` is a test fixture only (test_train.py imports it too):
g = k s softplus((Vc - Vt)/s) (monotonic), up and down steps that shrink
toward the rails with threshold mismatch, leakage toward an equilibrium
with a time constant; PCM SET steps that shrink toward saturation.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pcmspice.array import capacitors as capacitors_module
from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray, Pulses
from pcmspice.array.tables import RowTable, leak_flow_map, leak_time_constant_seconds
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import CellLut, LutSet, PcmLut, _interp_rows

PCM_G_GRID = np.linspace(0, 30e-6, 61)   # the synthetic PCM LUT's conductance grid


def synthetic_luts(n_cells: int = 64, n_devices: int = 64, seed: int = 0, *,
                   k_siemens_per_volt: float = 100e-6, vt_volts: float = 0.42, s_volts: float = 0.045,
                   up_volts: float = 2.4e-3, down_volts: float = 2.2e-3, sigma_vt_volts: float = 0.01,
                   state_dependent: bool = True, leak_tau_seconds: float = 0.014, v_eq_volts: float = 0.546,
                   linear_g: bool = False, pcm_step_siemens: float = 1.0e-6, pcm_std_rel: float = 0.3,
                   pcm_sigma_rel: float = 0.1, read_noise_rel: float = 0.02, drift_nu: float = 0.05,
                   drift_t0_seconds: float = 1.0, v_start_volts: float = 0.5,
                   g_read_noise_rel: float | np.ndarray = 0.0) -> LutSet:
    """``read_noise_rel`` and ``drift_nu`` may be numbers or arrays over the PCM G grid
    (:data:`PCM_G_GRID`; ``drift_nu`` also (device, G)); ``g_read_noise_rel`` a number or a
    (cell, Vc) or (Vc,) array."""
    rng = np.random.default_rng(seed)
    vc = np.linspace(0.0, 1.0, 101)
    dvt = rng.normal(0, sigma_vt_volts, (3, n_cells))
    if linear_g:
        g = k_siemens_per_volt * (vc[None, :] + 0.0 * dvt[0][:, None]) + 1e-6
    else:
        z = (vc[None, :] - vt_volts - dvt[0][:, None]) / s_volts
        g = k_siemens_per_volt * s_volts * np.logaddexp(0.0, z)
    if state_dependent:
        up = np.clip((1 - vc) / 0.5, 0, None) ** 0.7
        dn = np.clip(vc / 0.5, 0, None) ** 0.7
    else:
        up = dn = np.ones_like(vc)
    dv_up = up_volts * np.exp(-dvt[1] / 0.05)[:, None] * up[None, :]
    dv_dn = -down_volts * np.exp(-dvt[2] / 0.05)[:, None] * dn[None, :]
    if np.isfinite(leak_tau_seconds):
        tau = leak_tau_seconds * np.exp(rng.normal(0, 0.2, n_cells))
        veq = v_eq_volts + rng.normal(0, 0.01, n_cells)
        leak = (veq[:, None] - vc[None, :]) / tau[:, None]
    else:
        leak = np.zeros_like(g)
    cell = CellLut(vc_volts=vc, g_siemens=g, dv_up_volts=dv_up, dv_down_volts=dv_dn,
                   leak_volts_per_s=leak, e_up_joules=np.full(n_cells, 2e-15),
                   e_down_joules=np.full(n_cells, 1.5e-15), e_read_joules=np.full(n_cells, 1e-15),
                   v_start_volts=v_start_volts, mismatch={"dvt_rd": dvt[0], "dvt_up": dvt[1], "dvt_dn": dvt[2]},
                   provenance={"synthetic": "tests/test_array.py", "seed": seed},
                   read_noise_rel=np.broadcast_to(g_read_noise_rel, g.shape).copy())
    gg = PCM_G_GRID
    gmax = 25e-6 * (1 + 0.05 * rng.standard_normal(n_devices))
    fac = np.exp(pcm_sigma_rel * rng.standard_normal(n_devices))
    mean = pcm_step_siemens * fac[:, None] * np.clip(1 - gg[None, :] / gmax[:, None], 0, None)
    std = pcm_std_rel * mean
    pcm = PcmLut(g_grid_siemens=gg, set_step_mean_siemens=mean, set_step_std_siemens=std,
                 g_reset_siemens=np.abs(0.1e-6 * (1 + 0.1 * rng.standard_normal(n_devices))),
                 g_max_siemens=gmax, drift_nu=np.broadcast_to(drift_nu, (n_devices, gg.size)).copy(),
                 drift_t0_seconds=drift_t0_seconds, read_noise_rel=read_noise_rel,
                 e_set_joules=np.full(n_devices, 1e-12), e_reset_joules=np.full(n_devices, 5e-12),
                 e_read_joules=np.full(n_devices, 1e-14), provenance={"synthetic": "tests/test_array.py"})
    cell.validate()
    pcm.validate()
    return LutSet(cell=cell, pcm=pcm, name="synthetic")


def _quiet(**kw) -> ArrayConfig:
    """A config without read noise or leakage unless asked, for exact checks."""
    base = dict(read_noise=False, leak_scale=0.0, offset_scheme="none", pcm_drift=False, pcm_max_pulses=500)
    base.update(kw)
    return ArrayConfig(**base)


def _drift_bound(arr) -> np.ndarray:
    """The documented bound on |cached W - exact W| from drift: each device within eps G_cap, so
    the weight within 2 eps F G_cap / spu."""
    b = 2 * arr.config.pcm_drift_refresh_rel * 1.001 * arr.config.gain_f * arr.g_cap / arr.spu
    return np.full(arr.shape, b)


def _fine_pcm_luts(**kw) -> LutSet:
    """Cells as asked, PCM with small precise steps (programming tolerance ~ 0.1 uS)."""
    kw.setdefault("pcm_step_siemens", 0.2e-6)
    kw.setdefault("pcm_std_rel", 0.0)
    kw.setdefault("pcm_sigma_rel", 0.0)
    kw.setdefault("read_noise_rel", 0.0)
    return synthetic_luts(**kw)


# ----------------------------------------------------------------- look-ups
@pytest.mark.parametrize("uniform", [True, False])
def test_row_table_equals_lut_interpolation(uniform):
    rng = np.random.default_rng(3)
    grid = np.linspace(0, 1, 41) if uniform else np.sort(np.r_[0.0, rng.random(39), 1.0])
    table = np.cumsum(rng.random((7, grid.size)), axis=1)
    rows = rng.integers(0, 7, 5000)
    x = rng.uniform(-0.2, 1.2, 5000)          # includes points outside the grid (end values held)
    tab = RowTable(grid, table)
    np.testing.assert_allclose(tab(tab.offsets(rows), x), _interp_rows(grid, table, rows, x), rtol=0, atol=1e-12)
    assert tab(tab.offsets([2]), np.array([grid[-1] + 5]))[0] == pytest.approx(table[2, -1])


def test_leak_time_constant_of_exponential_leak_is_tau():
    luts = synthetic_luts(n_cells=8, leak_tau_seconds=0.02)
    tau_cells = (luts.cell.vc_volts[1] - luts.cell.vc_volts[0]) / np.abs(np.diff(luts.cell.leak_volts_per_s[:, :2]))
    np.testing.assert_allclose(leak_time_constant_seconds(luts.cell), tau_cells[:, 0], rtol=1e-3)


# ------------------------------------------------------------ ideal == SGD
def test_ideal_array_equals_float_sgd_to_numerical_precision():
    rng = np.random.default_rng(0)
    n_in, n_h, n_out = 12, 7, 4
    w1, w2 = rng.normal(0, 0.3, (n_h, n_in + 1)), rng.normal(0, 0.3, (n_out, n_h + 1))
    a1, a2 = AnalogArray(n_h, n_in + 1, config=ArrayConfig(mode="ideal")), \
        AnalogArray(n_out, n_h + 1, config=ArrayConfig(mode="ideal"))
    a1.program(w1)
    a2.program(w2)
    r1, r2 = w1.copy(), w2.copy()                  # reference: plain numpy SGD written out here
    lr = 0.07
    for _ in range(300):
        x = np.r_[rng.random(n_in), 1.0]
        t = rng.integers(n_out)
        # reference
        h = np.tanh(r1 @ x)
        hb = np.r_[h, 1.0]
        z = r2 @ hb
        p = np.exp(z - z.max())
        p /= p.sum()
        p[t] -= 1
        d1 = (r2[:, :-1].T @ p) * (1 - h ** 2)
        r2 -= lr * np.outer(p, hb)
        r1 -= lr * np.outer(d1, x)
        # the arrays, driven operation by operation
        h_a = np.tanh(a1.forward(x))
        hb_a = np.r_[h_a, 1.0]
        z_a = a2.forward(hb_a)
        q = np.exp(z_a - z_a.max())
        q /= q.sum()
        q[t] -= 1
        d1_a = a2.backward(q)[:-1] * (1 - h_a ** 2)
        a2.update(hb_a, q, lr)
        a1.update(x, d1_a, lr)
        a1.advance()
        a2.advance()
    np.testing.assert_allclose(a1.weights(), r1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a2.weights(), r2, rtol=0, atol=1e-12)
    assert a1.counters["pulses_up"] == 0 and a1.examples_seen == 300


# ------------------------------------------------------------------ pulses
def test_each_pulse_is_a_lut_step_at_the_present_vc():
    luts = synthetic_luts(n_cells=16)
    arr = AnalogArray(3, 5, luts, _quiet(), seed=4)
    c = luts.cell
    counts = np.array([[3, 0, -2, 1, 0], [0, -4, 0, 0, 2], [1, 1, 1, -1, 0]])
    vc0 = arr.vc.copy()
    arr.apply_pulses(counts)
    for (i, j), n in np.ndenumerate(counts):
        v = vc0[i, j]
        cell = np.array([arr.cell_idx[i, j]])
        for _ in range(abs(n)):       # polarity +1: weight direction == cell direction
            step = c.step_up(cell, np.array([v])) if n > 0 else c.step_down(cell, np.array([v]))
            v = float(v + step[0])
        assert arr.vc[i, j] == pytest.approx(v, abs=1e-12)
    assert arr.counters["pulses_up"] == 3 + 1 + 2 + 1 + 1 + 1
    assert arr.counters["pulses_down"] == 2 + 4 + 1
    np.testing.assert_allclose(arr.weights(), arr.read_weights(), rtol=0, atol=1e-6)


def test_negative_polarity_turns_weight_increase_into_down_pulses():
    luts = synthetic_luts(n_cells=4)
    arr = AnalogArray(1, 1, luts, _quiet(), seed=0)
    arr.polarity = -1
    arr.cache.invalidate()           # the polarity is array state the cache reads
    w0 = arr.weights()[0, 0]
    arr.apply_pulses(np.array([[2]]))
    assert arr.vc[0, 0] < arr.v_start
    assert arr.counters["pulses_down"] == 2 and arr.counters["pulses_up"] == 0
    assert arr.weights()[0, 0] > w0


def test_pulse_quantization_nearest_and_stochastic():
    luts = synthetic_luts(n_cells=4)
    arr = AnalogArray(6, 9, luts, _quiet(rounding="nearest", max_pulses_per_example=3), seed=1)
    rng = np.random.default_rng(2)
    x = rng.random(9) * (rng.random(9) < 0.7)
    d = rng.normal(0, 1, 6)
    lr = 2.5 * arr.dw_nominal
    want = np.clip(np.rint(-lr * np.outer(d, x) / arr.dw_nominal), -3, 3)
    np.testing.assert_array_equal(arr.pulse_counts(x, d, lr).to_dense((6, 9)), want)
    # stochastic rounding is unbiased and reproducible from the seed
    sto = AnalogArray(6, 9, luts, _quiet(), seed=1)
    a = -0.3 * np.outer(d, x)
    mean = np.mean([sto.pulse_counts(x, d, 0.3 * sto.dw_nominal).to_dense((6, 9)) for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, np.clip(a, -16, 16), atol=0.05)
    s1, s2 = AnalogArray(6, 9, luts, _quiet(), seed=7), AnalogArray(6, 9, luts, _quiet(), seed=7)
    for _ in range(5):
        np.testing.assert_array_equal(s1.pulse_counts(x, d, 0.3 * s1.dw_nominal).to_dense((6, 9)),
                                      s2.pulse_counts(x, d, 0.3 * s2.dw_nominal).to_dense((6, 9)))
    assert np.all(sto.pulse_counts(np.zeros(9), d, 1.0).to_dense((6, 9)) == 0)   # no coincidence, no pulse


# ------------------------------------------------------ asymmetry, polarity
def _asymmetric_drift(polarity_inversion: bool, transfer_every: int) -> tuple[float, float, AnalogArray]:
    """Zero-mean update requests (+1 / -1 pulse, equally often) on cells whose up step is
    1.5x their down step; returns (measured mean drift, predicted drift without inversion)."""
    up, down = 3e-3, 2e-3
    luts = _fine_pcm_luts(n_cells=8, sigma_vt_volts=0.0, state_dependent=False, linear_g=True,
                          up_volts=up, down_volts=down, leak_tau_seconds=np.inf)
    cfg = _quiet(polarity_inversion=polarity_inversion, transfer_every=transfer_every, w_max=1.0)
    arr = AnalogArray(4, 4, luts, cfg, seed=3)
    arr.program(np.full((4, 4), 0.2))
    w0 = arr.weights().copy()
    rng = np.random.default_rng(5)
    n = 200     # net drift 100 x 1 mV: Vc stays inside the grid
    signs = rng.permutation(np.r_[np.ones(n // 2), -np.ones(n // 2)]).astype(int)
    for s in signs:
        arr.apply_pulses(np.full((4, 4), s))
        arr.advance()
    k = luts.cell.g_siemens[0, 1] - luts.cell.g_siemens[0, 0]   # linear g: S per grid step
    slope = k / (luts.cell.vc_volts[1] - luts.cell.vc_volts[0])
    predicted = (n // 2) * (up - down) * slope / arr.spu        # weight units, polarity +1
    return float(np.mean(arr.weights() - w0)), predicted, arr


def test_asymmetric_cell_drifts_in_the_predicted_direction():
    drift, predicted, arr = _asymmetric_drift(False, 0)
    assert predicted > 0
    assert drift == pytest.approx(predicted, rel=0.05)
    assert arr.counters["transfers"] == 0


def test_polarity_inversion_cancels_most_of_the_drift():
    fixed, predicted, _ = _asymmetric_drift(False, 20)
    inverted, _, arr = _asymmetric_drift(True, 20)
    assert arr.counters["transfers"] == 10
    assert fixed == pytest.approx(predicted, rel=0.1)       # transfers alone do not remove drift
    assert abs(inverted) < 0.1 * abs(fixed)                   # alternating the sign of g does


# -------------------------------------------------------------- transfers
def _trained_array(offset_scheme="none", read_noise=False, seed=2):
    luts = _fine_pcm_luts(n_cells=32, n_devices=32)
    arr = AnalogArray(20, 30, luts, _quiet(offset_scheme=offset_scheme, read_noise=read_noise, w_max=1.0),
                      seed=seed)
    rng = np.random.default_rng(seed)
    arr.program(rng.uniform(-0.6, 0.6, (20, 30)))
    for _ in range(40):
        arr.apply_pulses(rng.integers(-3, 4, (20, 30)))
    return arr


def test_transfer_preserves_each_weight_within_the_programming_tolerance():
    arr = _trained_array()
    assert np.any(np.abs(arr.vc - arr.v_start) > 0.02)          # g holds a real part of the weight
    before = arr.weights().copy()
    rep = arr.transfer()
    tol_w = arr.config.gain_f * arr.tol / arr.spu
    assert np.max(np.abs(arr.weights() - before)) <= tol_w * 1.001 + 1e-6
    assert np.max(np.abs(rep.error_siemens)) <= arr.config.gain_f * arr.tol * 1.001
    assert arr.polarity == -1 and np.all(arr.vc == arr.v_start) and np.all(arr.vref == arr.v_start)
    assert rep.not_converged == 0 and rep.set_pulses > 0
    np.testing.assert_allclose(arr.weights(), arr.read_weights(), atol=1e-6)


def test_transfer_offset_moves_weights_by_the_offset():
    arr = _trained_array(offset_scheme="signed")
    before = arr.weights().copy()
    arr.transfer()
    off_w = arr.config.transfer_offset_siemens / arr.spu
    tol_w = arr.config.gain_f * arr.tol / arr.spu
    # next polarity is -1: the PCM target is W + offset, so g corrects by going *up*
    far = np.abs(before) > 2 * off_w
    d = (arr.weights() - before)[far]
    assert np.all(np.abs(d - off_w) <= tol_w * 1.001 + 1e-6)


def test_transfer_lower_target_needs_reset():
    arr = _trained_array()
    resets0 = arr.counters["pcm_reset_pulses"]
    arr.apply_pulses(np.full(arr.shape, -8))        # every weight goes down: G+ targets fall
    arr.transfer()
    assert arr.counters["pcm_reset_pulses"] > resets0
    assert arr.counters["transfers"] == 1 and len(arr.transfer_log) == 1


def test_program_with_read_noise_stays_near_target():
    arr = _trained_array(read_noise=True)
    luts_noise = arr.pcm.read_noise_rel
    assert not arr.pcm.has_read_noise and np.all(luts_noise(arr.gp) == 0)   # none here; a noisy PCM follows
    luts = synthetic_luts(n_cells=8, n_devices=64, read_noise_rel=0.02)
    a = AnalogArray(30, 30, luts, ArrayConfig(leak_scale=0, w_max=1.0), seed=1)
    w = np.random.default_rng(0).uniform(-0.8, 0.8, (30, 30))
    rep = a.program(w)
    err = a.weights() - w
    tol_w = a.config.gain_f * (a.tol + 0.02 * a.g_cap) / a.spu
    assert np.sqrt(np.mean(err ** 2)) < 0.6 * tol_w and np.max(np.abs(err)) < 2 * tol_w
    assert rep.set_pulses > 0 and a.counters["pcm_set_pulses"] == rep.set_pulses


# ----------------------------------------------------------------- leakage
def test_leak_over_t_equals_the_lut_decay():
    luts = synthetic_luts(n_cells=16, leak_tau_seconds=0.02)
    arr = AnalogArray(5, 9, luts, _quiet(leak_scale=1.0), seed=8)
    rng = np.random.default_rng(0)
    arr.apply_pulses(rng.integers(-10, 11, (5, 9)))
    vc0, vr0 = arr.vc.copy(), arr.vref.copy()
    t = 0.013
    arr.leak(t)
    c = luts.cell
    # the fixture leaks exponentially: Vc(t) = veq + (Vc0 - veq) exp(-t / tau), per LUT cell
    tau = 1.0 / (c.leak_volts_per_s[:, 0] - c.leak_volts_per_s[:, 1]) * (c.vc_volts[1] - c.vc_volts[0])
    veq = c.leak_volts_per_s[:, 0] * tau
    for v, v0, idx in ((arr.vc, vc0, arr.cell_idx), (arr.vref, vr0, arr.ref_idx)):
        exact = veq[idx] + (v0 - veq[idx]) * np.exp(-t / tau[idx])
        np.testing.assert_allclose(v, exact, atol=2e-6)
    np.testing.assert_allclose(arr.weights(), arr.read_weights(), atol=1e-6)


def test_training_time_leaks_in_chunks_like_the_lut():
    luts = synthetic_luts(n_cells=16, leak_tau_seconds=0.02)
    cfg = _quiet(leak_scale=3.0, time_per_example_seconds=1e-5, leak_every_examples=50)
    arr = AnalogArray(4, 6, luts, cfg, seed=8)
    arr.apply_pulses(np.random.default_rng(1).integers(-10, 11, (4, 6)))
    vc0 = arr.vc.copy()
    for _ in range(200):
        arr.advance()
    assert arr.time_seconds == pytest.approx(200 * 1e-5)
    want = luts.cell.leak(arr.cell_idx.ravel(), vc0.ravel(), 200 * 1e-5 * 3.0, substeps=200).reshape(4, 6)
    np.testing.assert_allclose(arr.vc, want, atol=1e-5)       # 4 chunks of 50 examples, flow-map look-ups
    assert 1 <= AnalogArray(4, 6, luts, _quiet(leak_scale=1.0), seed=8).leak_every <= 1000


# ----------------------------------------------------------------- pcm-only
def test_pcm_only_pulses_raise_g_plus_or_g_minus():
    luts = synthetic_luts(n_cells=4, n_devices=16, read_noise_rel=0.0)
    arr = AnalogArray(2, 3, luts, _quiet(mode="pcm-only"), seed=0)
    arr.program(np.zeros((2, 3)))
    gp, gm = arr.gp.copy(), arr.gm.copy()
    arr.apply_pulses(np.array([[2, 0, -1], [0, 3, 0]]))
    assert arr.gp[0, 0] > gp[0, 0] and arr.gm[0, 0] == gm[0, 0]
    assert arr.gm[0, 2] > gm[0, 2] and arr.gp[0, 2] == gp[0, 2]
    assert arr.counters["pcm_set_pulses_update"] == 6
    assert arr.weights()[1, 1] > 0 > arr.weights()[0, 2]
    # a pair near saturation is RESET and its weight reprogrammed into one device
    arr.apply_pulses(np.array([[16, 0, 0], [0, 0, 0]]))
    arr.apply_pulses(np.array([[0, 0, 0], [0, 0, 0]]))
    for _ in range(3):
        arr.apply_pulses(np.array([[-16, 0, 0], [0, 0, 0]]))
    w = arr.weights()[0, 0]
    assert max(arr.gp[0, 0], arr.gm[0, 0]) > 0.9 * arr.g_cap
    arr.transfer()
    assert max(arr.gp[0, 0], arr.gm[0, 0]) < 0.9 * arr.g_cap
    assert arr.weights()[0, 0] == pytest.approx(w, abs=arr.config.gain_f * arr.tol / arr.spu * 1.01)


# ------------------------------------------------------- state, noise, config
def test_cached_weights_match_the_device_state_after_everything():
    luts = synthetic_luts(n_cells=32, n_devices=32)
    arr = AnalogArray(10, 17, luts, ArrayConfig(transfer_every=30, leak_every_examples=7,
                                                time_per_example_seconds=1e-4), seed=11)
    rng = np.random.default_rng(0)
    arr.program(rng.normal(0, 0.2, (10, 17)))
    for _ in range(100):
        x, d = rng.random(17), rng.normal(0, 0.5, 10)
        arr.update(x, d, 0.01)
        arr.advance()
    assert arr.counters["transfers"] == 3
    # the cache's drift is stale by at most the refresh bound (see pcmspice.array.pcm_pair)
    assert np.all(np.abs(arr.weights() - arr.read_weights()) <= _drift_bound(arr) + 1e-6)
    st = arr.state()
    assert st["vc_volts"].shape == (10, 17) and st["vref_volts"].shape == (10, 3)
    assert {"g_plus_siemens", "g_minus_siemens", "lut_cell", "polarity", "w"} <= set(st)


def test_read_noise_has_the_predicted_spread():
    luts = synthetic_luts(n_cells=8, n_devices=32, read_noise_rel=0.05)
    arr = AnalogArray(3, 50, luts, ArrayConfig(leak_scale=0), seed=0)
    arr.program(np.random.default_rng(0).uniform(-0.5, 0.5, (3, 50)))
    x = np.random.default_rng(1).random(50)
    ys = np.array([arr.forward(x) for _ in range(3000)])
    exact = arr.forward(x, noise=False)
    F = arr.config.gain_f
    sd = np.sqrt(((0.05 * F / arr.spu) ** 2 * (arr.gp ** 2 + arr.gm ** 2)) @ (x ** 2))
    np.testing.assert_allclose(ys.mean(0), exact, atol=4 * sd.max() / np.sqrt(3000))
    np.testing.assert_allclose(ys.std(0), sd, rtol=0.08)
    yb = np.array([arr.backward(np.array([1.0, 0, 0])) for _ in range(2000)])
    assert yb.std(0)[0] > 0


def test_same_seed_same_array_and_different_seed_differs():
    luts = synthetic_luts(n_cells=32, n_devices=32)
    a, b, c = (AnalogArray(5, 7, luts, ArrayConfig(), seed=s) for s in (3, 3, 4))
    w = np.random.default_rng(0).normal(0, 0.2, (5, 7))
    for arr in (a, b, c):
        arr.program(w)
    np.testing.assert_array_equal(a.weights(), b.weights())
    np.testing.assert_array_equal(a.cell_idx, b.cell_idx)
    assert not np.array_equal(a.cell_idx, c.cell_idx)


def test_config_errors_and_toml_round_trip():
    with pytest.raises(ConfigError, match="mode = 'fast' is invalid; expected one of cell, pcm-only, ideal"):
        ArrayConfig(mode="fast").validate()
    with pytest.raises(ConfigError, match="gain_f = -1 is invalid; expected a finite number > 0"):
        ArrayConfig(gain_f=-1).validate()
    with pytest.raises(ConfigError, match="max_pulses_per_example = 0 is invalid"):
        ArrayConfig(max_pulses_per_example=0).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        ArrayConfig.from_dict({"modee": "cell"})
    cfg = ArrayConfig(mode="pcm-only", transfer_every=1000, leak_scale=2.5, polarity_inversion=False)
    assert ArrayConfig.from_toml_text(cfg.to_toml()) == cfg
    with pytest.raises(LutError, match="needs lookup tables"):
        AnalogArray(2, 2, None, ArrayConfig())
    with pytest.raises(ConfigError, match="array shape"):
        AnalogArray(0, 2, None, ArrayConfig(mode="ideal"))
    with pytest.raises(ConfigError, match="no pulses"):
        AnalogArray(2, 2, None, ArrayConfig(mode="ideal")).apply_pulses(np.ones((2, 2), int))


def test_pulses_dense_round_trip():
    d = np.array([[0, 2, -1], [3, 0, 0]])
    p = Pulses.from_dense(d)
    assert p.total == 6
    np.testing.assert_array_equal(p.to_dense((2, 3)), d)


def test_leak_flow_map_matches_rk2():
    luts = synthetic_luts(n_cells=5)
    fm = leak_flow_map(luts.cell, 0.004)
    rows = np.repeat(np.arange(5), luts.cell.vc_volts.size)
    want = luts.cell.leak(rows, np.tile(luts.cell.vc_volts, 5), 0.004, substeps=100).reshape(fm.shape)
    np.testing.assert_allclose(fm, want, atol=1e-6)


# ------------------------------------------------- compiled kernel vs numpy
def _both_kernels(shape, luts, cfg, seed=5):
    arrs = {k: AnalogArray(*shape, luts, cfg, seed=seed, kernel=k) for k in ("numba", "numpy")}
    assert arrs["numba"].kernel == "numba" and arrs["numpy"].kernel == "numpy"
    return arrs


def _assert_same_state(a: AnalogArray, b: AnalogArray):
    np.testing.assert_array_equal(a.vc, b.vc)
    np.testing.assert_array_equal(a.vref, b.vref)
    np.testing.assert_array_equal(a.cache.w, b.cache.w)                  # the float32 W cache the MACs read
    if b.cache.var is None:
        assert a.cache.var is None
    else:
        np.testing.assert_array_equal(a.cache.var, b.cache.var)          # read-noise variances
    np.testing.assert_array_equal(a.gp, b.gp)
    np.testing.assert_array_equal(a.gm, b.gm)
    assert a.counters == b.counters and a.polarity == b.polarity


@pytest.mark.parametrize("rounding", ["stochastic", "nearest"])
@pytest.mark.parametrize("g_read_noise_rel", [0.0, 0.05])
@pytest.mark.parametrize("shape", [(40, 300), (12, 30)])   # coincident candidates; every cell a candidate
def test_numba_kernel_equals_the_numpy_reference_bit_for_bit(rounding, g_read_noise_rel, shape):
    """Hundreds of updates (multi-pulse counts up to the clip, sparse inputs and errors),
    explicit pulse lists, minibatch updates, leakage chunks and transfers (both polarities)
    through both kernels: the same Vc, W cache, variances and counters, exactly."""
    luts = synthetic_luts(n_cells=32, n_devices=32)
    m = 6
    cfg = ArrayConfig(rounding=rounding, g_read_noise_rel=g_read_noise_rel, max_pulses_per_example=m,
                      transfer_every=120, leak_every_examples=9, time_per_example_seconds=1e-4)
    arrs = _both_kernels(shape, luts, cfg)
    rng = np.random.default_rng(11)
    w0 = rng.uniform(-0.5, 0.5, shape)
    for a in arrs.values():
        a.program(w0)
    dw = arrs["numpy"].dw_nominal
    clipped = polarities = 0
    for it in range(300):
        x = rng.random(shape[1]) * (rng.random(shape[1]) < 0.5)
        d = rng.normal(0, 1, shape[0]) * (rng.random(shape[0]) < 0.6)
        lr = rng.uniform(0.3, 4.0) * dw
        clipped += int(np.abs(lr * np.outer(d, x) / dw).max() > m)
        polarities |= 1 << (arrs["numpy"].polarity > 0)
        if it % 10 == 3:      # an explicit pulse list (apply_pulses), up to 8 pulses a cell
            counts = rng.integers(-8, 9, shape) * (rng.random(shape) < 0.3)
            for a in arrs.values():
                a.apply_pulses(counts)
        elif it % 10 == 7:    # a minibatch update (pulse_counts_dense + apply_pulses)
            xb, db = rng.random((4, shape[1])), rng.normal(0, 1, (4, shape[0]))
            assert len({a.update_batch(xb, db, lr) for a in arrs.values()}) == 1
        else:
            totals = [a.update(x, d, lr) for a in arrs.values()]
            assert totals[0] == totals[1]
        for a in arrs.values():
            a.advance(1)
    _assert_same_state(arrs["numba"], arrs["numpy"])
    assert arrs["numpy"].counters["transfers"] == 2 and polarities == 3 and clipped > 20
    assert arrs["numpy"].counters["pulses_up"] > 1000 and arrs["numpy"].counters["pulses_down"] > 1000
    a = arrs["numba"]
    assert np.all(np.abs(a.weights() - a.read_weights()) <= _drift_bound(a) + 1e-6)


def test_a_zero_count_is_no_pulse_with_either_kernel():
    luts = synthetic_luts(n_cells=8)
    for kernel in ("numba", "numpy"):
        arr = AnalogArray(2, 3, luts, _quiet(), seed=1, kernel=kernel)
        vc0 = arr.vc.copy()
        arr.apply_pulses(Pulses(np.array([0, 1]), np.array([2, 0]), np.array([0, -3])))
        assert arr.vc[0, 2] == vc0[0, 2] and arr.vc[1, 0] < vc0[1, 0]
        assert arr.counters["pulses_down"] == 3 and arr.counters["pulses_up"] == 0


def test_every_mode_is_a_weight_model_behind_one_interface():
    """AnalogArray(...) composes the parts of the model the config's mode names; every one is a Layer."""
    from pcmspice.array import Capacitors, CellWeights, IdealWeights, Layer, PcmOnlyWeights, PcmPairs
    luts = synthetic_luts()
    for mode, cls, pairs, caps in (("ideal", IdealWeights, None, None), ("pcm-only", PcmOnlyWeights, PcmPairs, None),
                                   ("cell", CellWeights, PcmPairs, Capacitors)):
        arr = AnalogArray(2, 3, luts, _quiet(mode=mode), seed=0)
        assert type(arr) is AnalogArray and type(arr.model) is cls and arr.mode == mode and isinstance(arr, Layer)
        assert type(arr.pcm_pairs) is (pairs or type(None)) and type(arr.capacitors) is (caps or type(None))
        assert arr.summary()["shape"] == [2, 3] and arr.state()["w"].shape == (2, 3)
        assert (arr.pcm_pair_siemens() is None) == (mode == "ideal")
        assert (arr.capacitor_volts() is None) == (mode != "cell")
    with pytest.raises(LutError, match="array mode 'cell' needs lookup tables"):
        AnalogArray(2, 3, None, ArrayConfig(mode="cell"))


def test_training_is_identical_with_both_kernels():
    """A small network on digits (a hidden layer large enough for coincidence candidates,
    transfers, leakage, g read noise): every layer's state and counter equal."""
    from pcmspice import train as T
    from pcmspice.train import load_dataset
    ds = load_dataset("digits")
    luts = synthetic_luts(n_cells=48, n_devices=48)
    cfg = T.TrainConfig(dataset="digits", network="64-150-10", learning_rate=0.05, seed=3,
                        array=ArrayConfig(transfer_every=250, g_read_noise_rel=0.02)).validate()
    w0 = T.init_weights((64, 150, 10), np.random.default_rng(0))
    nets = {k: T.build_network(cfg, luts, w0, kernel=k) for k in ("numba", "numpy")}
    hits = {}
    for k, net in nets.items():
        hits[k] = sum(net.train_example(ds.x_train[i], int(ds.y_train[i]), cfg.learning_rate) for i in range(600))
    assert hits["numba"] == hits["numpy"]
    for a, b in zip(nets["numba"].layers, nets["numpy"].layers):
        assert a.kernel == "numba" and b.kernel == "numpy"
        _assert_same_state(a, b)
        assert a.counters["transfers"] == 2 and a.counters["pulses_up"] > 0
    assert nets["numba"].accuracy(ds.x_test, ds.y_test, noise=False) == \
        nets["numpy"].accuracy(ds.x_test, ds.y_test, noise=False)


def test_kernel_choice(monkeypatch):
    luts = synthetic_luts(n_cells=8, n_devices=8)
    assert AnalogArray(2, 3, luts, seed=0).kernel == "numba"                   # auto, numba installed
    assert AnalogArray(2, 3, luts, seed=0, kernel="numpy").kernel == "numpy"
    assert AnalogArray(2, 3, luts, ArrayConfig(mode="pcm-only"), seed=0, kernel="numba").kernel == "numpy"
    with pytest.raises(ConfigError, match="kernel 'fast' is unknown; expected one of auto, numba, numpy"):
        AnalogArray(2, 3, luts, seed=0, kernel="fast")
    # the kernel's look-up assumes a uniform Vc grid: auto falls back to numpy, numba refuses
    grid = luts.cell.vc_volts + 0.002 * np.sin(np.pi * luts.cell.vc_volts)
    bent = LutSet(cell=dataclasses.replace(luts.cell, vc_volts=grid), pcm=luts.pcm, name="bent")
    assert AnalogArray(2, 3, bent, seed=0).kernel == "numpy"
    with pytest.raises(ConfigError, match="grid is not uniform"):
        AnalogArray(2, 3, bent, seed=0, kernel="numba")
    monkeypatch.setattr(capacitors_module, "compiled_kernel", lambda: None)   # as without numba
    assert AnalogArray(2, 3, luts, seed=0).kernel == "numpy"
    with pytest.raises(ConfigError, match="numba is not installed"):
        AnalogArray(2, 3, luts, seed=0, kernel="numba")


def test_kernel_compiles_without_a_writable_cache(monkeypatch):
    """Where numba finds no cache directory it can write, the kernel is compiled per process."""
    from pcmspice.array import kernel as array_kernel
    njit = array_kernel.numba.njit

    def no_cache(*args, **kw):
        if kw.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return njit(*args, **kw)

    monkeypatch.setattr(array_kernel.numba, "njit", no_cache)
    assert array_kernel._jit(lambda a: 2 * a)(21) == 42

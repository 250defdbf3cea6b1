"""Read noise and drift of the array simulator (issue 11): repeated reads have the documented
sigma, programmed conductances fall as ((t + t0) / t0)^-nu from the end of their programming,
the drift cache's schedule stays within its bound of the exact law, and a digits run at 1 ms
per example reports drift."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_array import PCM_G_GRID, _drift_bound, synthetic_luts

from pcmspice import power as pw
from pcmspice import train as T
from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.pcm import PcmModel
from pcmspice.cli.main import main
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import _interp_rows

US = 1e-6
# G-dependent PCM read noise (10 % near RESET falling to 4 % at 20 uS and above) and drift
# exponents (0.10 near RESET to 0.05 at 20 uS, as in the references of docs/array.md)
RN_G = np.interp(PCM_G_GRID, [0, 20 * US], [0.10, 0.04])
NU_G = np.interp(PCM_G_GRID, [0, 20 * US], [0.10, 0.05])
VC = np.linspace(0.0, 1.0, 101)
RN_VC = 0.01 + 0.03 * VC          # 3T1C read noise, relative, rising with Vc


def _luts(**kw):
    kw = {"read_noise_rel": RN_G, "drift_nu": NU_G, "g_read_noise_rel": RN_VC, **kw}
    return synthetic_luts(n_cells=16, n_devices=32, **kw)


def test_repeated_pcm_reads_have_the_documented_sigma():
    """N reads of one device at G: std / G = read_noise_rel(G) (interpolated in G).  The sample
    std of N = 20,000 normal draws has a relative sd of 1/sqrt(2N) = 0.5 %: tolerance 3 %."""
    model = PcmModel(_luts().pcm)
    rng = np.random.default_rng(0)
    for g in (0.3 * US, 5 * US, 7.25 * US, 12 * US, 25 * US):
        reads = model.read(np.full(20_000, g), rng)
        want = np.interp(g, PCM_G_GRID, RN_G)
        assert reads.std() / g == pytest.approx(want, rel=0.03)
        assert reads.mean() == pytest.approx(g, abs=4 * want * g / np.sqrt(20_000))
    assert np.all(model.read(np.full(5, 5 * US), None) == 5 * US)       # no generator: exact


@pytest.mark.parametrize("g_read_noise_rel", [None, 0.03])   # the cell LUT's (Vc-dependent), an override
def test_repeated_mac_reads_have_the_documented_sigma(g_read_noise_rel):
    """Forward and backward MACs of one state, repeated: var(y_j) = sum_i x_i^2 var_ij with
    var_ij = (F/spu)^2 (sG+^2 + sG-^2) + (sg^2 + sg_shared^2) / spu^2, sG = G rn_pcm(G) at the
    drifted G, sg = the linear interpolation in Vc of g rn_cell(Vc) (or g x the override).
    3,000 draws: the sample std's relative sd is 1.3 %; tolerance 8 %."""
    luts = _luts()
    arr = AnalogArray(4, 40, luts, ArrayConfig(leak_scale=0, g_read_noise_rel=g_read_noise_rel,
                                               time_per_example_seconds=1e-3), seed=2)
    rng = np.random.default_rng(1)
    arr.program(rng.uniform(-0.6, 0.6, (4, 40)))
    arr.apply_pulses(rng.integers(-30, 31, (4, 40)))       # Vc spread over the grid
    arr.leak(0.7)                                           # drifted PCMs (a refresh is due)
    c, F, spu = luts.cell, arr.config.gain_f, arr.spu
    gp, gm = arr.pcm_effective()
    rn_cell = c.read_noise_rel if g_read_noise_rel is None else np.full(c.g_siemens.shape, g_read_noise_rel)
    sg = _interp_rows(c.vc_volts, c.g_siemens * rn_cell, arr.cell_idx.ravel(), arr.vc.ravel()).reshape(4, 40)
    sr = _interp_rows(c.vc_volts, c.g_siemens * rn_cell, arr.ref_idx.ravel(), arr.vref.ravel()).reshape(4, -1)
    sr = np.repeat(sr, arr.config.cells_per_reference, axis=1)[:, :40]
    pcm_rn = np.interp(gp, PCM_G_GRID, RN_G), np.interp(gm, PCM_G_GRID, RN_G)
    var = (F / spu) ** 2 * ((gp * pcm_rn[0]) ** 2 + (gm * pcm_rn[1]) ** 2) + (sg ** 2 + sr ** 2) / spu ** 2
    assert np.all(sg > 0) and np.ptp(arr.vc) > 0.05
    x = rng.random(40)
    ys = np.array([arr.forward(x) for _ in range(3000)])
    np.testing.assert_allclose(ys.std(0), np.sqrt(var @ x ** 2), rtol=0.08)
    np.testing.assert_allclose(ys.mean(0), arr.forward(x, noise=False), atol=4 * np.sqrt(var @ x ** 2).max() / 50)
    d = rng.normal(0, 1, 4)
    yb = np.array([arr.backward(d) for _ in range(3000)])
    np.testing.assert_allclose(yb.std(0), np.sqrt(d ** 2 @ var), rtol=0.08)
    # no read noise at all: the MACs are exact
    quiet = AnalogArray(4, 40, luts, ArrayConfig(read_noise=False), seed=2)
    assert quiet.cache.var is None and np.array_equal(quiet.forward(x), quiet.forward(x, noise=False))


def test_g_read_noise_rel_is_unset_or_non_negative():
    with pytest.raises(ConfigError, match=r"g_read_noise_rel = -0.5 is invalid; expected a finite number from 0 to 1 "
                                          r"\(or none: unset\)"):
        ArrayConfig(g_read_noise_rel=-0.5).validate()
    # a config saved before None: its -1 sentinel still reads as "the cell LUT's"
    assert ArrayConfig.from_toml_text("g_read_noise_rel = -1.0\n").g_read_noise_rel is None


@pytest.mark.parametrize("mode", ["cell", "pcm-only"])
def test_programmed_g_falls_as_the_drift_law_from_the_end_of_programming(mode):
    """After programming at t_p, every device reads G_prog ((t - t_p + t0) / t0)^-nu with nu the
    LUT's at G_prog (interpolated in G, per device); a device reprogrammed later starts a new clock."""
    t0 = 0.5
    luts = _luts(read_noise_rel=0.0, drift_t0_seconds=t0)
    cfg = ArrayConfig(mode=mode, read_noise=False, leak_scale=0, transfer_seconds=0.01)
    arr = AnalogArray(6, 9, luts, cfg, seed=4)
    arr.program(np.random.default_rng(0).uniform(-0.8, 0.8, (6, 9)))
    g_prog = arr.gp.copy()
    nu = np.interp(g_prog, PCM_G_GRID, NU_G)           # every row of NU_G is the same
    np.testing.assert_allclose(arr.nup, nu, rtol=1e-12)
    for t in (0.1, 1.0, 7.0, 60.0):
        arr.leak(t - arr.time_seconds)
        assert arr.time_seconds == pytest.approx(t)
        gp, _ = arr.pcm_effective()
        np.testing.assert_allclose(gp / g_prog, ((t + t0) / t0) ** -nu, rtol=1e-12)
        assert np.all(np.abs(arr.weights() - arr.read_weights()) <= _drift_bound(arr) + 1e-6)
    ratio = arr.pcm_drift_ratios()
    assert ratio.size == 2 * 54 and np.all(ratio < 1) and np.all(ratio > ((60 + t0) / t0) ** -0.1 * 0.999)
    # a transfer (pcm-only: the pairs it RESETs; cell: every pair that needs it) restarts their clocks
    if mode == "pcm-only":     # one device fully SET just now: above the refresh threshold
        arr.gp[0, 0], arr.tp[0, 0] = arr.pcm.g_max[arr.dev_p[0, 0]], arr.time_seconds
    t_before = arr.time_seconds
    if mode == "cell":
        arr.apply_pulses(np.full((6, 9), 20))
    arr.transfer()
    assert arr.time_seconds == pytest.approx(t_before + 0.01)     # the transfer event's hardware time
    new = (arr.tp == arr.time_seconds) | (arr.tm == arr.time_seconds)
    assert (new.any() and not new.all()) if mode == "pcm-only" else new.sum() > 40
    arr.leak(3.0)
    re = arr.tp == t_before + 0.01
    np.testing.assert_allclose(arr.pcm_drift_ratios()[: 54].reshape(6, 9)[re],
                               ((3.0 + t0) / t0) ** -np.interp(arr.gp[re], PCM_G_GRID, NU_G), rtol=1e-12)


def test_leak_and_advance_move_the_clock():
    luts = _luts()
    for mode in ("cell", "pcm-only", "ideal"):
        arr = AnalogArray(3, 4, luts, ArrayConfig(mode=mode, time_per_example_seconds=2e-3), seed=0)
        arr.leak(0.25)
        arr.advance(5)
        assert arr.time_seconds == pytest.approx(0.26) and arr.examples_seen == 5
    arr.leak(-1.0)
    assert arr.time_seconds == pytest.approx(0.26)


@pytest.mark.parametrize("mode", ["cell", "pcm-only"])
def test_drift_schedule_stays_within_its_bound_of_the_exact_law(mode):
    """Training with the schedule (eps = 1e-3): after every example the cached W is within
    2 eps F G_cap / spu of the exact drifted W, with far fewer refreshes than examples; with
    eps = 0 (a refresh every example) the cache is the exact law."""
    luts = _luts(read_noise_rel=0.0)
    rng = np.random.default_rng(3)
    w0 = rng.uniform(-0.5, 0.5, (8, 20))
    arrs = {eps: AnalogArray(8, 20, luts, ArrayConfig(mode=mode, read_noise=False, leak_scale=0,
                                                      time_per_example_seconds=2e-3, transfer_every=150,
                                                      pcm_drift_refresh_rel=eps), seed=1)
            for eps in (1e-3, 0.0)}
    for a in arrs.values():
        a.program(w0)
    worst = 0.0
    for _ in range(400):
        x, d = rng.random(20) * (rng.random(20) < 0.6), rng.normal(0, 0.5, 8)
        for eps, a in arrs.items():
            a.update(x, d, 0.05)
            a.advance()
            err = np.abs(a.weights() - a.read_weights())
            if eps:
                assert np.all(err <= _drift_bound(a) + 1e-6)
                worst = max(worst, float((err / _drift_bound(a)).max()))
            else:
                assert err.max() <= 1e-6              # float32 cache of the exact law
    sched = arrs[1e-3]
    assert sched.counters["transfers"] == 2
    assert sched.drift_refreshes < 400 / 4 and arrs[0.0].drift_refreshes >= 400
    assert worst > 0.2                                # the bound is not vacuous: drift does act


def _both_kernels(shape, luts, cfg):
    return {k: AnalogArray(*shape, luts, cfg, seed=5, kernel=k) for k in ("numba", "numpy")}


def test_kernel_and_numpy_agree_with_noise_and_drift_on():
    """G-dependent PCM read noise and drift, the cell LUT's 3T1C read noise, leakage chunks,
    drift refreshes, transfers: both pulse kernels give the same state, bit for bit."""
    from test_array import _assert_same_state
    luts = _luts()
    cfg = ArrayConfig(transfer_every=120, leak_every_examples=9, time_per_example_seconds=5e-4,
                      transfer_seconds=2e-3, max_pulses_per_example=6)
    arrs = _both_kernels((30, 200), luts, cfg)
    rng = np.random.default_rng(11)
    w0 = rng.uniform(-0.5, 0.5, (30, 200))
    for a in arrs.values():
        a.program(w0)
    dw = arrs["numpy"].dw_nominal
    for _ in range(300):
        x = rng.random(200) * (rng.random(200) < 0.5)
        d = rng.normal(0, 1, 30) * (rng.random(30) < 0.6)
        lr = rng.uniform(0.3, 4.0) * dw
        ys = [a.forward(x) for a in arrs.values()]
        np.testing.assert_array_equal(ys[0], ys[1])
        totals = [a.update(x, d, lr) for a in arrs.values()]
        assert totals[0] == totals[1]
        for a in arrs.values():
            a.advance(1)
    a, b = arrs["numba"], arrs["numpy"]
    _assert_same_state(a, b)
    assert a.cache.var is not None and a.capacitors.sg_tab is not None and a.drift_refreshes == b.drift_refreshes > 3
    assert a.counters["transfers"] == 2
    np.testing.assert_array_equal(a.pcm_drift_ratios(), b.pcm_drift_ratios())


def test_digits_run_at_1ms_per_example_reports_drift(tmp_path, capsys):
    """`pcmspice train --dataset digits` on the committed LUTs (nu 0.05-0.1, t0 = 100 ns) at 1 ms per
    example: ~1.4 s of hardware time, the PCMs drift (mean G / G_prog below 1, and no lower than
    the largest exponent of the LUT allows over the run's hardware time); without
    --time-per-example the run takes the latency model's time per example and transfer."""
    out = tmp_path / "run"
    main(["train", "--dataset", "digits", "--epochs", "1", "--time-per-example", "1e-3", "--no-baseline",
          "--out", str(out), "--quiet", "--no-figures"])
    s = json.loads((out / "summary.json").read_text())
    n = s["examples_trained"]
    assert s["time_per_example_seconds"] == 1e-3
    assert s["hardware_time_seconds"] == pytest.approx(n * 1e-3 + s["transfers_total"] * s["transfer_seconds"])
    pcm = T.resolve_luts("").pcm
    floor = ((s["hardware_time_seconds"] + pcm.drift_t0_seconds) / pcm.drift_t0_seconds) ** -pcm.drift_nu.max()
    assert floor < s["pcm_drift_ratio_mean"] < 0.99
    assert "PCM drift (t0 = 1e-07 s): G now / G programmed" in capsys.readouterr().out
    out2 = tmp_path / "run2"
    main(["train", "--dataset", "digits", "--epochs", "1", "--no-baseline", "--max-train", "300",
          "--out", str(out2), "--quiet", "--no-figures"])
    s2 = json.loads((out2 / "summary.json").read_text())
    pcfg = pw.PowerConfig().with_overrides(dict(pw.overrides_from_training_config(s2["config"])))
    lat = pw.latency(s2["network"], pcfg, pw.device_costs(T.resolve_luts(""), pcfg).circuit)
    assert s2["time_per_example_seconds"] == pytest.approx(lat.time_per_example_seconds)
    assert s2["transfer_seconds"] == pytest.approx(lat.transfer_event_seconds) and lat.transfer_event_seconds > 0
    assert s2["pcm_drift_ratio_mean"] < 1

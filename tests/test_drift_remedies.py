"""Drift under control (issue 20): the drift onset t0 as a run parameter, the verify loop's drift
clock, and the remedies a chip would use, each against its analytic expectation."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_array import PCM_G_GRID, synthetic_luts

from pcmspice import train as T
from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.pcm import PcmModel, program
from pcmspice.cli.main import main

US = 1e-6


def _luts(**kw):
    """Deterministic PCM steps, no read noise, one drift exponent for every device and G."""
    kw = {"pcm_std_rel": 0.0, "read_noise_rel": 0.0, "drift_nu": 0.05, "drift_t0_seconds": 1.0, **kw}
    return synthetic_luts(n_cells=16, n_devices=32, **kw)


def _cfg(**kw) -> ArrayConfig:
    base = dict(read_noise=False, leak_scale=0.0, offset_scheme="none", pcm_max_pulses=500, transfer_every=0)
    return ArrayConfig(**{**base, **kw})


# ------------------------------------------------------------------ item 1: t0, the verify clock
@pytest.mark.parametrize("mode", ["cell", "pcm-only"])
def test_drift_t0_override_changes_the_drift_of_the_same_lut(mode):
    """array.drift_t0_seconds = 1 ms on a LUT characterized with t0 = 1 s: after 10 s every device
    reads ((10 + 1e-3) / 1e-3)^-0.05 of its programmed G (not ((10 + 1) / 1)^-0.05); the LUT is
    untouched, the exponent stays the LUT's, the summary records the t0 used."""
    luts = _luts()
    w0 = np.random.default_rng(0).uniform(-0.5, 0.5, (5, 7))
    ratios = {}
    for t0 in (None, 1e-3):
        arr = AnalogArray(5, 7, luts, _cfg(mode=mode, drift_t0_seconds=t0), seed=2)
        arr.program(w0)
        arr.leak(10.0)
        ratios[t0] = arr.pcm_drift_ratios()
        assert arr.summary()["drift_t0_seconds"] == (1.0 if t0 is None else 1e-3)
        np.testing.assert_array_equal(arr.pcm_pairs.nup, 0.05)
    assert luts.pcm.drift_t0_seconds == 1.0
    np.testing.assert_allclose(ratios[None], (11.0 / 1.0) ** -0.05, rtol=1e-12)
    np.testing.assert_allclose(ratios[1e-3], ((10 + 1e-3) / 1e-3) ** -0.05, rtol=1e-12)


def test_train_records_drift_t0_and_reads_the_same_lut(tmp_path, capsys):
    """`pcmspice train --set array.drift_t0_seconds=20` on the committed LUTs (t0 = 100 ns): the
    same LUT (same hash), the summary and the config record 20 s, and the drift over the run's
    hardware time is bounded by the LUT's exponents at t0 = 20 s, far less than at 100 ns."""
    runs = {}
    for t0 in (None, 20.0):
        out = tmp_path / f"run{t0}"
        args = ["train", "--dataset", "digits", "--epochs", "1", "--no-baseline", "--max-train", "200",
                "--time-per-example", "1e-3", "--out", str(out), "--quiet", "--no-figures"]
        if t0 is not None:
            args += ["--set", f"array.drift_t0_seconds={t0}"]
        main(args)
        runs[t0] = json.loads((out / "summary.json").read_text())
    s, s0 = runs[20.0], runs[None]
    pcm = T.resolve_luts("").pcm
    assert s["lut_sha256"] == s0["lut_sha256"]
    assert s["drift_t0_seconds"] == 20.0 and s["config"]["array"]["drift_t0_seconds"] == 20.0
    assert s0["drift_t0_seconds"] == pcm.drift_t0_seconds and s0["config"]["array"]["drift_t0_seconds"] is None
    assert all(l["drift_t0_seconds"] == 20.0 for l in s["layers"])
    floor = ((s["hardware_time_seconds"] + 20.0) / 20.0) ** -pcm.drift_nu.max()
    assert floor <= s["pcm_drift_ratio_mean"] < 1
    assert s0["pcm_drift_ratio_mean"] < s["pcm_drift_ratio_mean"] - 0.1
    assert "PCM drift (t0 = 20 s)" in capsys.readouterr().out


def test_verify_pulse_restarts_the_drift_clock():
    """With a settling delay d before each verify read, the loop is replayed by hand: every pulse
    acts on the device as it drifted for d since the previous pulse (whose clock it restarted),
    the verify read sees G_pulse ((d + t0) / t0)^-nu, and the result stamps age d."""
    luts = _luts()
    model = PcmModel(luts.pcm)
    d, f = 0.5, (1.5 / 1.0) ** -0.05
    model.settle_seconds = d
    devices = np.arange(6)
    target = np.array([3, 5, 8, 11, 14, 17]) * US
    tol = 0.3 * US
    res = program(model, devices, model.g_reset[devices], target, tolerance=tol, max_pulses=200,
                  rng=np.random.default_rng(0), read_noise=False)
    assert res.converged.all() and (res.set_pulses >= 2).all()
    for k, dev in enumerate(devices):
        g, pulsed = model.g_reset[dev], False
        for _ in range(res.set_pulses[k]):
            g_in = g * f if pulsed else g                    # drifted since the previous pulse
            g = min(max(g_in + model.set_step(np.array([dev]), np.array([g_in]), None)[0],
                        model.g_reset[dev]), model.g_max[dev])
            pulsed = True
            if g * f > target[k] + tol:
                g, pulsed = model.g_reset[dev], False         # overshoot: RESET (not seen here)
        assert res.g_siemens[k] == pytest.approx(g, rel=1e-12)
        assert abs(g * f - target[k]) <= tol
    np.testing.assert_array_equal(res.age_seconds, d)
    # in the array: the clock of every pulsed device starts at its last pulse, d before the end
    arr = AnalogArray(4, 5, luts, _cfg(verify_settle_seconds=d), seed=1)
    arr.leak(3.0)
    arr.program(np.full((4, 5), 0.4))
    hit = arr.pcm_pairs.gp > arr.pcm_pairs.pcm.g_reset[arr.pcm_pairs.dev_p]
    assert hit.any()
    np.testing.assert_array_equal(arr.pcm_pairs.tp[hit], 3.0 - d)
    np.testing.assert_allclose(arr.pcm_effective()[0][hit], arr.pcm_pairs.gp[hit] * f, rtol=1e-12)


# ------------------------------------------------------------------ item 2a: drift compensation
@pytest.mark.parametrize("scheme", ["global", "column"])
@pytest.mark.parametrize("mode", ["cell", "pcm-only"])
def test_compensation_restores_the_outputs_of_a_uniformly_drifted_array(scheme, mode):
    """Every device with nu = 0.05, programmed at t = 0, no read noise, no leakage: after 10 examples
    of 1 s the PCMs read 11^-0.05 = 0.887 of their programmed G; the reference read sets the gain
    to 11^0.05 and the outputs (forward and backward) are again those at t = 0, while without
    compensation the PCM part is 11 % low."""
    luts = _luts()
    rng = np.random.default_rng(4)
    w0, x, d = rng.uniform(-0.6, 0.6, (6, 9)), rng.uniform(-1, 1, 9), rng.uniform(-1, 1, 6)
    out = {}
    for comp in ("none", scheme):
        arr = AnalogArray(6, 9, luts, _cfg(mode=mode, drift_compensation=comp, drift_compensation_every=10,
                                           time_per_example_seconds=1.0, pcm_drift_refresh_rel=0.0), seed=3)
        arr.program(w0)
        before = (arr.read_weights(), arr.forward(x), arr.backward(d))
        arr.advance(10)
        out[comp] = before, (arr.read_weights(), arr.forward(x), arr.backward(d)), arr
    (w_t0, y_t0, b_t0), (w_t, y_t, b_t), arr = out[scheme]
    np.testing.assert_allclose(arr.pcm_pairs.gain, 11.0 ** 0.05, rtol=1e-12)
    np.testing.assert_allclose(w_t, w_t0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y_t, y_t0, rtol=1e-5, atol=1e-6)        # the MACs' cache is float32
    np.testing.assert_allclose(b_t, b_t0, rtol=1e-5, atol=1e-6)
    assert arr.counters["drift_reference_reads"] == 2 * arr.compensation.g.size
    w_none = out["none"][1][0]
    assert np.abs(w_none - w_t0).max() > 0.05 * np.abs(w_t0).max()


def test_compensation_scales_only_the_pcm_part_and_restarts_at_a_transfer():
    """The gain multiplies F (G+ - G-) / spu, not p (g - g_shared) / spu; a transfer reprograms the
    references with the pairs and the gain is 1 again."""
    luts = _luts()
    cfg = _cfg(drift_compensation="column", drift_compensation_every=5, time_per_example_seconds=1.0,
               pcm_drift_refresh_rel=0.0, transfer_every=7)
    arr = AnalogArray(4, 5, luts, cfg, seed=1)
    arr.program(np.full((4, 5), 0.3))
    arr.apply_pulses(np.full((4, 5), 3))
    arr.advance(5)
    caps, pairs = arr.capacitors, arr.pcm_pairs
    gp, gm = pairs.effective(arr.time_seconds)
    g_part = arr.polarity * caps.g_diff_exact() / arr.spu
    np.testing.assert_allclose(arr.read_weights(), pairs.gain * pairs.F * (gp - gm) / arr.spu + g_part,
                               rtol=1e-12)
    assert (pairs.gain > 1).all()
    arr.advance(2)                                   # the transfer
    assert arr.counters["transfers"] == 1
    np.testing.assert_array_equal(pairs.gain, 1.0)


# ------------------------------------------------------------------ item 2b: pre-distortion
def test_predistortion_centres_the_population_mean_at_the_middle_of_the_interval():
    """Devices with exponents spread 0.02-0.12 (one per device, the same at every G): each programmed
    exactly to G_prog = predistort(target) reads G_prog ((t_mid + t0) / t0)^-nu_d at the middle of the
    transfer interval, t_mid = 0.5 x 100 x 0.1 s; their mean is the target (to 1e-12), while without
    pre-distortion it is E[f] x target, 10-20 % low."""
    nu = np.linspace(0.02, 0.12, 32)[:, None] * np.ones(PCM_G_GRID.size)
    luts = _luts(drift_nu=nu)
    assert luts.pcm.drift_nu.shape == (32, PCM_G_GRID.size)
    arr = AnalogArray(2, 3, luts, _cfg(mode="pcm-only", drift_predistort=True, transfer_every=100,
                                       time_per_example_seconds=0.1), seed=0)
    pairs, pcm = arr.pcm_pairs, arr.pcm_pairs.pcm
    t_mid = 0.5 * 100 * 0.1
    devices = np.arange(32)
    for target in (2e-6, 8e-6, 15e-6):
        g_prog = pairs.predistort(np.array(target))
        reads = pcm.drifted(g_prog, pcm.nu_at(devices, np.full(32, g_prog)), t_mid)
        assert reads.mean() == pytest.approx(target, rel=1e-12)
        plain = pcm.drifted(target, pcm.nu_at(devices, np.full(32, target)), t_mid).mean()
        assert 0.8 < plain / target < 0.9
    # the array programs the device that holds the weight to its pre-distorted target
    t_pair = np.array([[6e-6, -9e-6, 0.0], [3e-6, 0.0, -1e-6]])
    tp, tm = pairs.targets(t_pair)
    rp, rm = pcm.g_reset[pairs.dev_p], pcm.g_reset[pairs.dev_m]
    np.testing.assert_allclose(tp, np.where(t_pair > 0, pairs.predistort(rm + t_pair / pairs.F), rp), rtol=1e-15)
    np.testing.assert_allclose(tm, np.where(t_pair < 0, pairs.predistort(rp - t_pair / pairs.F), rm), rtol=1e-15)


def test_predistortion_after_a_settling_delay_aims_from_the_verified_read():
    """With a settling delay d the verify loop lands G_pulse f(d) on the (pre-distorted) target, and the
    device drifts on by f(t_mid + d) / f(d) from there: pre-distortion aims from that read, so the mean read
    at t_mid after programming is the target (to 1e-12), and the factor is milder than without the wait."""
    nu = np.linspace(0.02, 0.12, 32)[:, None] * np.ones(PCM_G_GRID.size)
    luts = _luts(drift_nu=nu, drift_t0_seconds=1e-3)
    d = 0.5
    arrs = [AnalogArray(2, 3, luts, _cfg(mode="pcm-only", drift_predistort=True, transfer_every=100,
                                         time_per_example_seconds=0.1, verify_settle_seconds=s), seed=0)
            for s in (d, 0.0)]
    pcm, devices, t_mid, target = arrs[0].pcm_pairs.pcm, np.arange(32), 5.0, np.array(8e-6)
    g_verified = arrs[0].pcm_pairs.predistort(target)        # what the verify read (at age d) lands on
    nu_d = pcm.nu_at(devices, np.full(32, g_verified))
    g_pulse = g_verified / pcm.drift_factor(nu_d, d)
    assert pcm.drifted(g_pulse, nu_d, t_mid + d).mean() == pytest.approx(target, rel=1e-12)
    assert target < g_verified < arrs[1].pcm_pairs.predistort(target)


def test_predistortion_for_an_assumed_onset_uses_that_onset_not_the_runs():
    """``drift_predistort_t0_seconds`` (the onset a chip assumes): the table is E over the LUT's exponents of
    ((t_mid + t0a) / t0a)^-nu with t0a the assumed onset, whatever the run's (here 20 s, where E ~ 1)."""
    nu = np.linspace(0.02, 0.12, 32)[:, None] * np.ones(PCM_G_GRID.size)
    luts = _luts(drift_nu=nu)
    kw = dict(mode="pcm-only", drift_predistort=True, transfer_every=100, time_per_example_seconds=1e-6,
              drift_t0_seconds=20.0)
    assumed = AnalogArray(2, 3, luts, _cfg(**kw, drift_predistort_t0_seconds=1e-7), seed=0).pcm_pairs
    own = AnalogArray(2, 3, luts, _cfg(**kw), seed=0).pcm_pairs
    t_mid = 0.5 * 100 * 1e-6
    e = (((t_mid + 1e-7) / 1e-7) ** -nu).mean(axis=0)
    np.testing.assert_allclose(assumed._predistort[1], e, rtol=1e-12)
    assert assumed.predistort(np.array(8e-6)) > 1.5 * 8e-6          # ~ 2x: the pessimistic onset
    assert own.predistort(np.array(8e-6)) == pytest.approx(8e-6, rel=1e-5)   # the run's 20 s: hardly any


# ------------------------------------------------------------------ item 2c: settling delay, costs
def test_settling_delay_adds_exactly_its_time_to_the_latency_model():
    """784-250-10: a transfer event is the largest layer's rows (785) x its row time; each of a row's
    iterations_per_row SET + verify rounds waits d more: the event grows by 785 x 10 x d exactly, the
    per-example training time by that / transfer_every, and `pcmspice train`'s transfer_seconds with it."""
    from pcmspice import power as pw
    luts = T.resolve_luts("")
    cfg = pw.PowerConfig()
    circ = pw.device_costs(luts, cfg).circuit
    d = 3e-6
    base = pw.latency("784-250-10", cfg, circ)
    slow = pw.latency("784-250-10", cfg, circ, verify_settle_seconds=d)
    assert slow.transfer_event_seconds - base.transfer_event_seconds == pytest.approx(785 * 10 * d, rel=1e-9)
    assert slow.time_per_example_seconds == base.time_per_example_seconds
    arr = ArrayConfig(verify_settle_seconds=d)
    costs = pw.remedy_costs(luts, "784-250-10", arr, cfg)
    assert costs.settle_seconds_per_example == pytest.approx(785 * 10 * d / 8000, rel=1e-9)
    assert costs.compensation_joules_per_example == costs.predistort_joules_per_example == 0.0
    tcfg = T.TrainConfig(network="784-250-10", array=arr)
    assert pw.with_hardware_time(tcfg, luts).array.transfer_seconds == pytest.approx(slow.transfer_event_seconds)


def test_compensation_and_predistortion_costs_follow_their_counts():
    """Reference reads every K examples: time n_ref (t_read + t_adc) / K; halving K doubles the
    read part; per-column references cost more than one set per array; pre-distortion one
    multiply per synapse per transfer."""
    from pcmspice import power as pw
    luts = T.resolve_luts("")
    cfg = pw.PowerConfig()
    t_row = cfg.array.read_time_seconds + cfg.adc.lines_per_adc / cfg.adc.sample_rate_hz
    c1 = pw.remedy_costs(luts, "784-250-10", ArrayConfig(drift_compensation="column", drift_compensation_every=1000))
    c2 = pw.remedy_costs(luts, "784-250-10", ArrayConfig(drift_compensation="column", drift_compensation_every=500))
    g = pw.remedy_costs(luts, "784-250-10", ArrayConfig(drift_compensation="global", drift_compensation_every=1000))
    assert c1.compensation_seconds_per_example == pytest.approx(4 * t_row / 1000, rel=1e-12)
    assert c2.compensation_seconds_per_example == pytest.approx(2 * c1.compensation_seconds_per_example, rel=1e-12)
    j1 = c1.compensation_joules_per_example
    assert c2.compensation_joules_per_example > j1 > g.compensation_joules_per_example > 0
    p = pw.remedy_costs(luts, "784-250-10", ArrayConfig(drift_predistort=True))
    n_syn = 785 * 250 + 251 * 10
    assert p.predistort_joules_per_example == pytest.approx(n_syn * cfg.neuron.activation_energy_joules / 8000)


def test_compensation_state_round_trip_continues_bit_identically():
    """With compensation, pre-distortion, re-verify and a settling delay on, read noise and drift: a state_dict
    round trip (through the checkpoint's JSON) continues bit for bit, gain included."""
    from pcmspice.array.snapshot import flatten_state, unflatten_state
    luts = synthetic_luts(n_cells=16, n_devices=32, drift_t0_seconds=1e-3)
    cfg = ArrayConfig(drift_compensation="column", drift_compensation_every=20, drift_predistort=True,
                      verify_settle_seconds=1e-4, transfer_every=50, time_per_example_seconds=1e-3,
                      reverify_age_seconds=0.01, reverify_every=35)

    def steps(a, rng, n):
        ys = []
        for _ in range(n):
            x, d = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 4)
            ys.append(a.forward(x))
            a.update(x, d, 0.05)
            a.advance()
        return np.array(ys)
    arr = AnalogArray(4, 7, luts, cfg, seed=5)
    arr.program(np.random.default_rng(0).uniform(-0.5, 0.5, (4, 7)))
    steps(arr, np.random.default_rng(1), 70)
    arrays, meta = flatten_state(arr.state_dict(), "L0.")
    meta = json.loads(json.dumps(meta))
    twin = AnalogArray(4, 7, luts, cfg, seed=5)
    twin.load_state_dict(unflatten_state(arrays, meta))
    np.testing.assert_array_equal(steps(arr, np.random.default_rng(2), 60), steps(twin, np.random.default_rng(2), 60))
    np.testing.assert_array_equal(arr.pcm_pairs.gain, twin.pcm_pairs.gain)
    assert arr.counters == twin.counters and arr.counters["transfers"] == 2
    assert not np.all(arr.pcm_pairs.gain == 1.0)


@pytest.mark.parametrize("mode", ["cell", "pcm-only"])
def test_a_new_gain_rescales_the_cache_in_place_as_a_full_rebuild_would_make_it(mode):
    """Read noise and drift on, the drift cache on its own schedule (not refreshed at a reference read):
    after a reference read the cached PCM weight is that of the cached conductances with the new
    gain, and W and the variances as the MACs read them equal a full rebuild from the
    device state (float32), while the drift refresh count is not raised by the reads."""
    luts = synthetic_luts(n_cells=16, n_devices=32, drift_t0_seconds=1e-3)
    cfg = ArrayConfig(mode=mode, drift_compensation="column", drift_compensation_every=7, transfer_every=0,
                      time_per_example_seconds=1e-3, leak_scale=0.0)

    def run(c):
        a = AnalogArray(4, 7, luts, c, seed=5)
        a.program(np.random.default_rng(0).uniform(-0.5, 0.5, (4, 7)))
        rng = np.random.default_rng(1)
        for _ in range(30):
            x, d = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 4)
            a.forward(x)
            a.update(x, d, 0.05)
            a.advance()
        return a
    arr, plain = run(cfg), run(cfg.replace(drift_compensation="none"))
    pairs = arr.pcm_pairs
    assert arr.compensation.reads == 1 + 30 // 7 and not np.all(pairs.gain == 1.0)
    assert pairs.refreshes == plain.pcm_pairs.refreshes > 2   # the reads did not refresh the drift cache
    gp, gm = pairs.cached_pair(np.arange(pairs.gp.size))
    shape = pairs.gp.shape
    np.testing.assert_allclose(pairs.pcm_w, pairs.weight(gp.reshape(shape), gm.reshape(shape)), rtol=1e-12)
    c = arr.cache.fresh()
    w, var = c.w.copy(), c.var.copy()
    c.invalidate()
    c.fresh()
    np.testing.assert_allclose(w, c.w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(var, c.var, rtol=1e-5, atol=1e-12)


# ------------------------------------------------------------------ item 2d: incremental transfer
def test_incremental_transfer_programs_only_the_change():
    """Same array, same pulses, then one transfer each way (deterministic equal PCM steps, so no
    verify overshoot): the incremental transfer reaches the same pair targets within F x tolerance,
    touches only the device that must grow (the other keeps its G exactly), RESETs only pairs that
    would saturate (2 pulses each), and needs fewer SET pulses than the paper's full reprogramming."""
    luts = _luts(pcm_sigma_rel=0.0, pcm_step_siemens=0.5e-6)
    rng = np.random.default_rng(7)
    w0 = rng.uniform(-0.7, 0.7, (6, 8))
    w0[0, :3] = 0.98                                     # pairs near the top: their growth saturates
    pulses = rng.integers(-12, 13, (6, 8))
    pulses[0, :3] = 16
    arrs, res = {}, {}
    for inc in (False, True):
        a = AnalogArray(6, 8, luts, _cfg(incremental_transfer=inc, pcm_drift=False), seed=4)
        a.program(w0)
        a.apply_pulses(pulses)
        gp0, gm0 = a.pcm_pairs.gp.copy(), a.pcm_pairs.gm.copy()
        sets0, resets0 = a.counters["pcm_set_pulses"], a.counters["pcm_reset_pulses"]
        rep = a.transfer()
        arrs[inc] = a
        res[inc] = (rep, gp0, gm0, a.counters["pcm_set_pulses"] - sets0, a.counters["pcm_reset_pulses"] - resets0)
    a = arrs[True]
    rep, gp0, gm0, sets_inc, resets_inc = res[True]
    rep_f, _, _, sets_full, resets_full = res[False]
    np.testing.assert_allclose(rep.target_siemens, rep_f.target_siemens, rtol=1e-12, atol=1e-18)
    pairs = a.pcm_pairs
    ok = np.abs(rep.error_siemens) <= pairs.F * pairs.tol * (1 + 1e-9)
    assert rep.not_converged == 0
    n_full = a.counters["incremental_full_reprograms"]
    assert 1 <= n_full <= 8 and resets_inc == 2 * n_full
    change = (rep.target_siemens.reshape(6, 8) - pairs.F * (gp0 - gm0)) / pairs.F
    reprog = np.maximum(gp0 + np.maximum(change, 0), gm0 - np.minimum(change, 0)) > pairs.g_cap
    assert reprog.sum() == n_full
    assert ok[~reprog.ravel()].all()        # a reprogrammed pair's target may pass the cap (as in the paper's)
    keep_p, keep_m = ~reprog & (change <= 0), ~reprog & (change >= 0)
    np.testing.assert_array_equal(pairs.gp[keep_p], gp0[keep_p])
    np.testing.assert_array_equal(pairs.gm[keep_m], gm0[keep_m])
    assert resets_inc < resets_full
    # SET pulses: a partial SET from a high G takes smaller steps than programming from RESET, so
    # large changes can cost more SET pulses incrementally (here 339 vs 287 for up to 16 pulses of g;
    # RESETs 6 vs 16): the RESETs are what it saves
    assert sets_inc > 0 and sets_full > 0


# ------------------------------------------------------------------ item 2e: periodic re-verify
def test_reverify_sets_aged_devices_back_to_their_programmed_conductance():
    """nu = 0.05, t0 = 1 s, programmed at t = 0; a pass every 10 examples of 1 s re-verifies devices
    older than 5 s: at t = 10 s each read G_prog 11^-0.05; those that left the verify window
    (G_prog (1 - 11^-0.05) > tolerance) are SET back into the window around G_prog and their clock
    restarts at 10 s; the others (and devices at RESET) are not pulsed."""
    luts = _luts(pcm_sigma_rel=0.0, pcm_step_siemens=0.5e-6)
    w0 = np.random.default_rng(3).uniform(-0.9, 0.9, (5, 6))
    arr = AnalogArray(5, 6, luts, _cfg(reverify_age_seconds=5.0, reverify_every=10, time_per_example_seconds=1.0),
                      seed=2)
    arr.program(w0)
    pairs = arr.pcm_pairs
    g_prog = np.concatenate([pairs.gp.ravel(), pairs.gm.ravel()])
    at_reset = g_prog <= np.concatenate([pairs.pcm.g_reset[pairs.dev_p].ravel(),
                                         pairs.pcm.g_reset[pairs.dev_m].ravel()]) + pairs.tol
    arr.advance(9)
    assert arr.counters["reverify_passes"] == 0
    sets0 = arr.counters["pcm_set_pulses"]
    arr.advance(1)
    f = 11.0 ** -0.05
    out = ~at_reset & (g_prog * (1 - f) > pairs.tol)
    assert out.sum() >= 5 and (~out & ~at_reset).sum() >= 1
    g_new = np.concatenate([pairs.gp.ravel(), pairs.gm.ravel()])
    t_new = np.concatenate([pairs.tp.ravel(), pairs.tm.ravel()])
    assert arr.counters["reverify_passes"] == 1 and arr.counters["reverify_devices"] == (~at_reset).sum()
    assert np.all(np.abs(g_new[out] - g_prog[out]) <= pairs.tol * (1 + 1e-9))
    np.testing.assert_array_equal(t_new[out], 10.0)
    np.testing.assert_array_equal(t_new[~out], 0.0)
    np.testing.assert_array_equal(g_new[~out], g_prog[~out])
    assert arr.counters["pcm_set_pulses"] > sets0
    np.testing.assert_allclose(arr.weights(), arr.read_weights(), atol=1e-6)


def test_compensation_with_predistortion_aims_at_the_target_not_the_fresh_value():
    """Uniform drift (nu = 0.05, t0 = 1 s) with both on: pre-distortion programs every weight-holding
    device high by 1 / E, E = ((t_mid + t0) / t0)^-0.05 at t_mid = 0.5 x 40 x 0.5 s; the gain read at
    t = 10 s brings the PCM part to E x its fresh value (its target), not back to the fresh value."""
    luts = _luts()
    rng = np.random.default_rng(4)
    w0 = rng.uniform(-0.6, 0.6, (5, 6))
    cfg = _cfg(mode="pcm-only", drift_compensation="global", drift_compensation_every=20, drift_predistort=True,
               transfer_every=40, time_per_example_seconds=0.5, pcm_drift_refresh_rel=0.0)
    arr = AnalogArray(5, 6, luts, cfg, seed=3)
    arr.program(w0)
    fresh = arr.read_weights()
    arr.advance(20)
    e = (11.0 / 1.0) ** -0.05
    np.testing.assert_allclose(arr.pcm_pairs.gain, e * (1 + 10.0) ** 0.05, rtol=1e-12)
    np.testing.assert_allclose(arr.read_weights(), e * fresh, rtol=1e-12, atol=1e-15)


def test_the_drift_robust_run_config_loads_with_its_remedies():
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "characterization" / "train" / "drift-robust.toml"
    cfg = T.TrainConfig.from_toml(path)
    assert cfg.array.drift_compensation == "column" and cfg.array.drift_predistort
    assert cfg.array.drift_compensation_every == 100 and cfg.array.mode == "cell"
    assert cfg.array.drift_predistort_t0_seconds == 1e-7 and cfg.array.verify_settle_seconds == 0.0


def test_the_drift_robust_design_file_carries_the_run_config():
    """characterization/design_drift_robust.toml trains with exactly the array of
    characterization/train/drift-robust.toml (and its data set), so `pcmspice run` of the design and
    `pcmspice train --config` of the run config train the same chip."""
    from pathlib import Path

    from pcmspice.pipeline.design import DesignConfig
    root = Path(__file__).resolve().parent.parent / "characterization"
    run_cfg = T.TrainConfig.from_toml(root / "train" / "drift-robust.toml")
    design = DesignConfig.from_toml(root / "design_drift_robust.toml")
    tcfg = design.task.train_config(0, "")
    assert tcfg.array == run_cfg.array and tcfg.dataset == run_cfg.dataset
    assert tcfg.array.drift_predistort and tcfg.array.drift_compensation == "column"

"""The power model costs the run it is given: its measured activity and conductances (issue 23)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pcmspice import power as pw
from tests.test_power import make_luts, training_summary


def fake_run(tmp, mean_input: float, network: str = "8-2", seed: int = 0, g_pcm: float = 1e-6,
             g_cell: float = 3e-6) -> object:
    """A training-run folder: summary.json naming a features data set whose inputs are 0/1 with the
    given mean, and weights.npz with constant conductances (so the read energy depends on the duty only)."""
    sizes = [int(s) for s in network.split("-")]
    rng = np.random.default_rng(seed)
    n = 400
    x = (rng.random((n, sizes[0])) < mean_input).astype(float)
    x[:, 0] = 1.0  # the 99.9th-percentile scaling of features files then maps 1 -> 1
    y = np.arange(n) % sizes[-1]
    x[:, 1] = 0.0
    data = tmp / "data.npz"
    np.savez(data, x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    run = tmp / "run"
    run.mkdir()
    s = training_summary(examples=1000, network=network)
    s["config"] = {"dataset": f"features:{data}", "activation": "relu", "network": network}
    (run / "summary.json").write_text(json.dumps(s))
    w = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w[f"layer{i}_w"] = rng.normal(0, 0.3, (b, a + 1))
        w[f"layer{i}_g_plus_siemens"] = np.full((b, a + 1), g_pcm)
        w[f"layer{i}_g_minus_siemens"] = np.full((b, a + 1), g_pcm)
        w[f"layer{i}_g_siemens"] = np.full((b, a + 1), g_cell)
        w[f"layer{i}_g_shared_siemens"] = np.full((b, 1), g_cell)
    np.savez(run / "weights.npz", **w)
    return run, x


def test_read_energy_follows_the_runs_measured_duty(tmp_path):
    """Two runs whose inputs have mean 0.1 and 0.5: the forward array read of a one-layer network scales
    with the rows' mean duty (the bias row always on), exactly as predicted from the data."""
    luts = make_luts()
    ests, duties = [], []
    for m in (0.1, 0.5):
        d = tmp_path / f"m{m}"
        d.mkdir()
        run, x = fake_run(d, m, network="64-2")
        est = pw.estimate(luts, None, run)
        assert est.activity.sources["input_mean_duty"] == "run"
        act = est.to_dict()["activity"]
        assert act["input_mean_duty"]["source"] == "run"
        assert act["pcm_mean_conductance_siemens"]["source"] == "run"
        assert act["pcm_mean_conductance_siemens"]["value"] == pytest.approx(1e-6)
        assert act["update_row_activity"]["source"] == "run"
        predicted = (x.sum() / x.shape[0] + 1) / (x.shape[1] + 1)     # the rows' mean duty, bias row included
        assert act["input_mean_duty"]["value"] == pytest.approx(predicted, rel=1e-12)
        ests.append(est)
        duties.append(predicted)
    assert duties[1] / duties[0] > 2.5
    r = ests[1].energy_joules["forward"]["array_read"] / ests[0].energy_joules["forward"]["array_read"]
    assert r == pytest.approx(duties[1] / duties[0], rel=1e-12)


def test_without_a_run_the_activity_is_assumed_and_says_so():
    luts = make_luts()
    est = pw.estimate(luts, "784-250-10")
    act = est.to_dict()["activity"]
    for k in ("input_mean_duty", "update_row_activity", "pcm_mean_conductance_siemens"):
        assert act[k]["source"] == "assumed"
    assert act["input_mean_duty"]["value"] == est.config.array.input_mean_duty
    assert act["pcm_mean_conductance_siemens"]["value"] == pytest.approx(est.devices.g_pcm_siemens, rel=1e-12)
    # a summary dict alone (no folder) cannot be measured: assumed, with a note
    est2 = pw.estimate(luts, None, training_summary())
    assert est2.activity.sources["input_mean_duty"] == "assumed"
    assert any("ASSUMED" in n for n in est2.notes)


def test_the_runs_conductances_set_the_read_energy(tmp_path):
    """Doubling every PCM conductance of the run moves the PCM part of the read energy by exactly its share."""
    luts = make_luts()
    e = []
    for g in (1e-6, 2e-6):
        d = tmp_path / f"g{g}"
        d.mkdir()
        run, _ = fake_run(d, 0.3, network="16-2", g_pcm=g)
        e.append(pw.estimate(luts, None, run))
    c = e[0].devices.circuit
    t = e[0].config.array.read_time_seconds
    duty = e[0].activity.input_mean_duty[0]
    # the 0.2 V read level comes from a linear regulator on the 1 V supply: VDD per coulomb of read current
    pcm_part = duty * 17 * 2 * t * c.pcm_read_voltage_volts * c.vdd_volts * 2 * 1e-6
    diff = e[1].energy_joules["forward"]["array_read"] - e[0].energy_joules["forward"]["array_read"]
    assert math.isclose(diff, pcm_part, rel_tol=1e-9)


def test_an_integrator_too_small_for_the_runs_charge_is_resized_and_costed(tmp_path):
    """The worst-case charge one read puts on a column (the run's inputs through its conductances) does not
    fit the 200 fF integrator: the capacitor is sized to Q / swing, its MIM area added, and its amplifier
    biased for the read's mean current (VDD x Q per read)."""
    luts = make_luts()
    run, x = fake_run(tmp_path, 0.5, network="64-2", g_pcm=5e-6, g_cell=3e-6)
    est = pw.estimate(luts, None, run)
    cfg, c = est.config, est.devices.circuit
    t = cfg.array.read_time_seconds
    duty = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)      # rows incl. the bias row, duty = value
    q_cell = t * c.read_voltage_volts * (duty.sum(axis=1) * 3e-6).max()
    q_pcm = t * c.pcm_read_voltage_volts * (duty.sum(axis=1) * 2 * 5e-6).max()
    integ = {i["part"]: i for i in est.circuits["integrators"]}
    assert integ["pcm"]["worst_case_charge_coulombs"] == pytest.approx(q_pcm, rel=1e-12)
    assert integ["3t1c"]["worst_case_charge_coulombs"] == pytest.approx(q_cell, rel=1e-12)
    assert q_cell + q_pcm > cfg.adc.integrator_capacitance_farads * cfg.adc.integrator_swing_volts
    # one integrated line holding the sum (F made by the read levels): the summed charge sizes it
    one = pw.estimate(luts, None, run, pw.PowerConfig().with_overrides({"array.gain_f": 2.0}))
    (line,) = one.circuits["integrators"]
    q = q_cell + q_pcm
    assert line["resized"] and line["capacitance_farads"] == pytest.approx(q / cfg.adc.integrator_swing_volts)
    assert line["energy_per_read_joules"] == pytest.approx(c.vdd_volts * q, rel=1e-12)
    assert one.energy_joules["forward"]["integrator"] == pytest.approx(2 * c.vdd_volts * q, rel=1e-12)
    extra_cap = q / cfg.adc.integrator_swing_volts - cfg.adc.integrator_capacitance_farads
    assert one.area_m2["integrator"] == pytest.approx(
        2 * (cfg.adc.integrator_area_m2 + extra_cap / cfg.area.capacitor_density_farads_per_m2), rel=1e-12)
    # a big enough minimum capacitor is not resized, and then costs its amplifier's minimum bias only
    big = pw.PowerConfig().with_overrides({"array.gain_f": 2.0, "adc.integrator_capacitance_farads": 1e-9})
    (line,) = pw.estimate(luts, None, run, big).circuits["integrators"]
    assert not line["resized"] and line["capacitance_farads"] == 1e-9


def test_f_has_a_cost(tmp_path):
    """F = 3 with read levels of 0.2 / 0.1 V (ratio 2) needs separate PCM and 3T1C conversions: one more ADC
    conversion, a second integrator and the digital F x PCM + 3T1C per line and read (component gain_f, and
    the extra ADCs' and integrators' area); F equal to the read-voltage ratio costs nothing extra."""
    luts = make_luts()
    run, _ = fake_run(tmp_path, 0.3, network="64-2")
    f3 = pw.estimate(luts, None, run)
    f2 = pw.estimate(luts, None, run, pw.PowerConfig().with_overrides({"array.gain_f": 2.0}))
    cfg = f3.config
    assert f3.config.array.gain_f == 3.0 and "separate" in f3.circuits["gain_f_circuit"]
    e_adc = cfg.adc.fom_joules_per_step * 2 ** cfg.adc.enob_bits
    assert f3.by_component()["gain_f"] >= 2 * (e_adc + cfg.neuron.gain_f_combine_energy_joules)
    assert f2.by_component()["gain_f"] == 0 and f2.area_m2["gain_f"] == 0
    assert f3.area_m2["gain_f"] >= cfg.adc.area_m2
    assert f3.energy_per_example_joules > f2.energy_per_example_joules
    # the training run's own F is the one costed
    s = json.loads((run / "summary.json").read_text())
    s["config"]["array"] = {"gain_f": 2.0}
    (run / "summary.json").write_text(json.dumps(s))
    assert pw.estimate(luts, None, run).by_component()["gain_f"] == 0


def test_adc_area_is_from_the_survey_class_of_its_figure_of_merit():
    cfg = pw.PowerConfig()
    row = next(r for r in cfg.describe() if r["parameter"] == "adc.area_m2")
    assert "Murmann" in row["source"] and "0.0058" in row["source"]
    assert 0.0058e-6 <= cfg.adc.area_m2 <= 0.075e-6        # the survey class's smallest and best five
    est = pw.estimate(make_luts(), "784-250-10")
    n_adc = math.ceil(250 / 8) + math.ceil(10 / 8) + math.ceil(250 / 8)
    assert est.area_m2["adc"] == pytest.approx(n_adc * cfg.adc.area_m2)
    assert "adc.area_m2" in est.parameter_sources()


def test_gpu_board_power_follows_utilization_at_both_batch_sizes():
    """Board power = TDP x (floor + (1 - floor) u) while kernels run, idle power in the launch gaps: well below
    TDP at the low utilization of this network, at batch 1 and at batch 256."""
    from pcmspice.power import gpu as power_gpu
    cfg = pw.PowerConfig()
    g = cfg.gpu
    for row in power_gpu.gpu_table("784-250-10", cfg):
        for label in ("batch1", "large_batch"):
            frac = row[f"board_power_fraction_{label}"]
            assert g.idle_power_fraction <= frac < 0.6, (row["name"], label, frac)
            assert row[f"energy_per_example_{label}_joules"] == pytest.approx(
                row[f"seconds_per_example_{label}"] * row["board_power_watts"] * frac)
        assert row["board_power_fraction_large_batch"] > row["board_power_fraction_batch1"]
    assert g.board_power_fraction(1.0) == 1.0 and g.board_power_fraction(0.0) == g.active_power_floor_fraction
    assert g.board_power_fraction(1.0, 0.0) == g.idle_power_fraction
    assert any("utilization" in a for a in power_gpu.gpu_assumptions(cfg))


def test_operations_are_stated_with_their_convention_and_without_updates():
    est = pw.estimate(make_luts(), "784-250-10")
    ops = est.ops
    assert ops["ops_forward_backward"] == 2 * (ops["macs_forward"] + ops["macs_backward"])
    assert est.gops_per_watt_forward_backward == pytest.approx(
        ops["ops_forward_backward"] / est.energy_per_example_joules / 1e9)
    assert est.gops_per_watt_forward_backward < est.gops_per_watt_training
    d = est.to_dict()
    assert "update product" in d["ops_convention"] and "2 per multiply-accumulate" in d["ops_convention"]
    assert d["headline"]["gops_per_watt_training_forward_backward_ops"] == est.gops_per_watt_forward_backward
    from pcmspice.core.document import render_markdown
    text = render_markdown(pw.power_blocks({**d, "config": est.config.to_dict()}, None))
    assert "forward + backward operations only" in text and "Convention:" in text


def test_a_tiny_array_by_hand_item_by_item():
    """Energy per training example of a 2-1 network (3 synapses with the bias row), every item written out
    from the LUT and the config's defaults, against the model, component by component (issue 23, item 6)."""
    luts = make_luts()
    est = pw.estimate(luts, "2-1")
    E = est.energy_joules
    # the LUT: the population's mean g at v_start, the PCM window, the pulse and SET/RESET energies
    cell = luts.cell
    g = float(np.mean(cell.g(np.arange(cell.n_cells), np.full(cell.n_cells, cell.v_start_volts))))
    g_pcm = 0.1e-6 + 0.25 * (20e-6 - 0.1e-6)        # G_reset + 0.25 x (window max 20 uS - G_reset)
    e_up_cell, e_dn_cell, e_set_cell, e_reset_cell = 6e-15, 4e-15, 10e-12, 30e-12
    # the config: read 0.1 / 0.2 V, VDD 1 V, 80 ns, charge pumps at 0.8, duty 0.5, 8-bit ADC at 31 fJ/step
    vr, vp, vdd, t, eta, duty = 0.1, 0.2, 1.0, 80e-9, 0.8, 0.5
    e_adc = 31e-15 * 2 ** 8
    # the cell: 60 um^2 (the 50 um^2 MIM capacitor x 1.2), so a 7.75 um pitch at 0.2 fF/um
    pitch = math.sqrt(50e-12 * 1.2)
    c_wire = pitch * 0.2e-9
    c_read = c_wire + 0.5e-15
    c_up, c_dn = 18.7e-3 * 0.12e-6 * 4e-6, 18.7e-3 * 0.12e-6 * 8e-6     # Cox W L (the LUT has no gate loads)
    rows, n_in, n_out = 3, 2, 1
    # the estimated workload: 0.06 pulses per synapse (half up), a transfer every 8,000 examples, 3 SET + 0.2 RESET
    pulses = 0.06 * 3
    xfer = 3 / 8000
    sets, resets = 3 * xfer, 0.2 * xfer
    # ---- forward: reads from the 0.1 / 0.2 V levels (linear regulators: VDD per coulomb)
    q_g, q_p = t * vr * rows * duty * g, t * vp * rows * duty * 2 * g_pcm     # one column's charge per read
    e_int = max(10e-6 * t, vdd * (q_g + q_p))
    fwd = {
        "array_read": duty * rows * t * (vr * vdd * g + vp * vdd * 2 * g_pcm),
        "g_shared": t * vr * vdd * duty * 1 * g,
        "pulse_drivers": rows * (c_read * (vr + vp) * vdd + 0.24e-12),
        "adc": e_adc,
        "integrator": e_int,
        "gain_f": max(10e-6 * t, vdd * q_g) + max(10e-6 * t, vdd * q_p) - e_int + e_adc + 0.06e-12,
        "neuron": 1.5e-12,
        "routing_buffers": n_out * 8 * (0.5 * 0.2e-9 * 1e-3 * vdd ** 2 + 10e-12 / 64) + n_in * 8 * 10e-12 / 64,
    }
    # ---- backward: one layer, so only the output error
    bwd = {"neuron": 1.5e-12}
    # ---- update: both lines of every row fire at the row activity 0.5; columns at the pulse count's rate
    e_up_line = (c_wire + c_up) * 0.75 * (2 * vdd / eta)          # 1.15 V idle from a doubler, 0.40 V sinks free
    e_dn_line = (c_wire + c_dn) * 0.648 * (vdd + vdd / eta)       # 0.498 V from a regulator, -0.15 V inverting pump
    slots = 16                                                     # pulse slots per update (the array's default)
    col = pulses / 3 / (slots * 0.5)
    upd = {
        "cell_update_3t1c": pulses / 2 * e_up_cell + pulses / 2 * e_dn_cell,
        "pulse_drivers": slots * rows * n_out * (0.5 * (e_up_line + e_dn_line) + col * (e_up_line + e_dn_line) / 2),
        "routing_buffers": (n_in + n_out) * 8 * 10e-12 / 64,
    }
    # ---- transfer: read g, SET + verify, RESET; 1.6 / 1.8 V bit-line levels from a doubler
    c_bl = rows * c_read
    e_set = e_set_cell * (2 * vdd / eta) / 1.6 + c_bl * 1.6 * 2 * vdd / eta
    e_reset = e_reset_cell * (2 * vdd / eta) / 1.8 + c_bl * 1.8 * 2 * vdd / eta
    xfr = {
        "array_read": t * vr * vdd * xfer * g + t * vp * vdd * sets * g_pcm,
        "g_shared": t * vr * vdd * xfer / 8 * g,
        "adc": (xfer + sets) * e_adc,
        "integrator": (xfer + sets) * e_int,
        "pcm_program": sets * e_set + resets * e_reset,
        "g_reset": xfer * 100e-15 * vdd * 0.1,
        "neuron": xfer * 0.4e-12,
        "pulse_drivers": xfer * c_read * vr * vdd + sets * c_read * vp * vdd,
    }
    hand = {"forward": fwd, "backward": bwd, "update": upd, "transfer": xfr}
    for ph in pw.PHASES:
        for comp in pw.COMPONENTS:
            assert E[ph][comp] == pytest.approx(hand[ph].get(comp, 0.0), rel=1e-9, abs=1e-30), (ph, comp)
    total = sum(sum(v.values()) for v in hand.values())
    assert est.energy_per_example_joules == pytest.approx(total, rel=1e-12)


def test_the_power_section_shows_the_activity_and_the_circuits(tmp_path):
    from pcmspice.core.document import render_markdown
    luts = make_luts()
    run, _ = fake_run(tmp_path, 0.3, network="16-4-2")
    d = pw.estimate(luts, None, run).to_dict()
    text = render_markdown(pw.power_blocks({**d, "config": pw.PowerConfig().to_dict()}, None))
    assert "Activity the energy is costed with" in text and "| read duty of the forward rows |" in text
    assert "| run |" in text and "Periphery circuits" in text and "charge pumps" in text
    assert "integrator, layer 2 backward" in text
    lines = pw.summary_lines({**d, "config": pw.PowerConfig().to_dict()})
    assert any(line.startswith("  activity: read duty") and "(run)" in line for line in lines)


def test_the_activity_is_the_same_in_chunks(tmp_path, monkeypatch):
    """A large data set is measured in chunks of examples: the means and worst cases do not depend on the chunk."""
    from pcmspice.power import activity
    luts = make_luts()
    run, _ = fake_run(tmp_path, 0.3, network="16-4-2")
    whole = pw.estimate(luts, None, run).activity
    monkeypatch.setattr(activity, "CHUNK", 7)
    parts = pw.estimate(luts, None, run).activity
    for k in activity.KEYS:
        assert getattr(parts, k) == pytest.approx(getattr(whole, k), rel=1e-12), k
    for k in ("fwd_pcm_sum_max_siemens", "fwd_cell_sum_max_siemens", "bwd_pcm_sum_max_siemens",
              "bwd_cell_sum_max_siemens"):
        assert getattr(parts, k) == pytest.approx(getattr(whole, k), rel=1e-12), k
    assert whole.backward_mean_duty[1] > 0 and whole.bwd_cell_sum_max_siemens[1] > 0


def test_the_device_table_shows_the_pcm_conductance_used_and_both_times_are_named(tmp_path):
    """With a run, the device table's PCM conductance is the run's measured one (the activity block's value and
    source), not the assumed 25 % of the window; the step time and the time incl. transfers carry distinct names
    in power.md and on the console (review items 6, 7)."""
    from pcmspice.core.document import render_markdown
    from pcmspice.core.units import fmt_si
    luts = make_luts()
    run, _ = fake_run(tmp_path, 0.3, network="16-4-2")
    d = {**pw.estimate(luts, None, run).to_dict(), "config": pw.PowerConfig().to_dict()}
    act = d["activity"]["pcm_mean_conductance_siemens"]
    assert act["source"] == "run" and act["value"] != pytest.approx(d["devices"]["g_pcm_siemens"])
    text = render_markdown(pw.power_blocks(d, None))
    assert (f"| PCM conductance during reads (one device, mean; used) | {fmt_si(act['value'], 'S')} (run) |"
            in text)
    assert fmt_si(d["devices"]["g_pcm_siemens"], "S") + " |" not in text.split("Device costs")[1].split("###")[0]
    lat = d["latency"]
    assert lat["training_seconds_per_example"] > lat["time_per_example_seconds"]
    step, incl = fmt_si(lat["time_per_example_seconds"], "s"), fmt_si(lat["training_seconds_per_example"], "s")
    assert f"| time per example (step: forward + backward + update) | {step} |" in text
    assert f"| time per example incl. transfers | {incl} |" in text
    assert f"| time per example incl. transfers (inference: forward) | {incl} |" in text
    assert "| time per example |" not in text
    console = "\n".join(pw.summary_lines(d))
    assert f"time per example (step) {step}" in console and f"time per example incl. transfers {incl}" in console
    # without a run the assumption is labelled as one
    d0 = {**pw.estimate(luts, "16-4-2").to_dict(), "config": pw.PowerConfig().to_dict()}
    d0["activity"] = None
    assert "PCM conductance during reads (mean; assumed)" in render_markdown(pw.power_blocks(d0, None))

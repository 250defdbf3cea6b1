"""The energy / latency / area model: sums, scaling, sensitivities, parameters and errors."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from pcmspice import power as pw
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import CellLut, LutSet, PcmLut, save_lut_set
from pcmspice.power import gpu as power_gpu
from pcmspice.power.config import SHARED_WITH_ARRAY_CONFIG, PowerConfig
from pcmspice.power.devices import _LUT_CIRCUIT_KEYS

ROOT = Path(__file__).resolve().parent.parent


def make_luts(n_cells: int = 40, n_pcm: int = 30, provenance: dict | None = None, seed: int = 0) -> LutSet:
    """Test fixture with plausible numbers: uS conductances, fJ 3T1C pulses, pJ PCM SET/RESET."""
    rng = np.random.default_rng(seed)
    vc = np.linspace(0.0, 1.0, 41)
    gain = 8e-6 * (1 + 0.05 * rng.standard_normal((n_cells, 1)))
    g = gain * np.clip(vc - 0.3, 0.0, None) ** 1.5          # ~2.9 uS at v_start = 0.5 V
    ones = np.ones((n_cells, vc.size))
    cell = CellLut(vc_volts=vc, g_siemens=g, dv_up_volts=3e-3 * ones, dv_down_volts=-2.5e-3 * ones,
                   leak_volts_per_s=np.zeros_like(ones), e_up_joules=np.full(n_cells, 6e-15),
                   e_down_joules=np.full(n_cells, 4e-15), e_read_joules=np.full(n_cells, 3e-17),
                   provenance=provenance or {})
    gg = np.linspace(0.0, 25e-6, 26)
    pcm = PcmLut(g_grid_siemens=gg, set_step_mean_siemens=np.full((n_pcm, 26), 1e-6),
                 set_step_std_siemens=np.full((n_pcm, 26), 0.3e-6), g_reset_siemens=np.full(n_pcm, 0.1e-6),
                 g_max_siemens=np.full(n_pcm, 25e-6), drift_nu=np.full(n_pcm, 0.05), drift_t0_seconds=1.0,
                 read_noise_rel=0.01, e_set_joules=np.full(n_pcm, 10e-12), e_reset_joules=np.full(n_pcm, 30e-12),
                 e_read_joules=np.full(n_pcm, 1e-15), provenance=provenance or {})
    return LutSet(cell, pcm, "test_luts")


def training_summary(examples: int = 8000, scale: float = 1.0, network: str = "784-250-10") -> dict:
    return {"analog_test_accuracy": 0.95, "baseline_test_accuracy": 0.96, "analog_train_accuracy": 0.97,
            "baseline_train_accuracy": 0.98, "pulses_up_total": 5.0e6 * scale, "pulses_down_total": 4.0e6 * scale,
            "transfers_total": 198_760 * scale, "pcm_set_pulses_total": 6.0e5 * scale,
            "pcm_reset_pulses_total": 4.0e4 * scale, "examples_trained": examples, "network": network,
            "dataset": "mnist5k", "epochs": 2, "mode": "analog", "time_per_example_seconds": 1e-6,
            "config": {}, "provenance": {}}


@pytest.fixture(scope="module")
def luts() -> LutSet:
    return make_luts()


# ideal rails at every level and F made by the read-voltage ratio (no separate conversions): the accounting
# before issue 23's circuits, for the tests of the formulas that do not involve those circuits
IDEAL = {"drivers.levels_from_supply": False, "array.gain_f": 2.0}


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-30)


# ---------------------------------------------------------------------------------- sums

@pytest.mark.parametrize("training", [None, "summary"])
def test_breakdown_sums_to_total(luts, training):
    est = pw.estimate(luts, "784-250-10", training_summary() if training else None)
    total = est.energy_per_example_joules
    assert total > 0
    assert _close(sum(est.by_phase().values()), total)
    assert _close(sum(est.by_component().values()), total)
    cells = [est.energy_joules[ph][c] for ph in pw.PHASES for c in pw.COMPONENTS]
    assert all(v >= 0 for v in cells)
    assert _close(sum(cells), total)
    # every phase and the large components are really there
    assert all(v > 0 for v in est.by_phase().values())
    for c in ("array_read", "adc", "cell_update_3t1c", "pcm_program", "g_shared", "neuron"):
        assert est.by_component()[c] > 0, c
    # inference is the forward phase only
    assert _close(est.inference_energy_per_example_joules, est.by_phase()["forward"])
    # area and derived figures are consistent
    assert _close(est.area_total_m2, sum(est.area_m2.values()))
    assert _close(est.gops_per_watt_training, est.ops["ops_training"] / total / 1e9)
    lat = est.latency
    assert _close(est.tops_per_mm2_training,
                  est.ops["ops_training"] / lat.training_seconds_per_example / 1e12 / (est.area_total_m2 * 1e6))


def test_op_counts_follow_the_network():
    ops = pw.op_counts((784, 250, 10))
    assert ops["macs_forward"] == 785 * 250 + 251 * 10
    assert ops["macs_backward"] == 250 * 10          # no error is propagated to the input layer
    assert ops["ops_training"] == 2 * (2 * ops["macs_forward"] + ops["macs_backward"])
    assert ops["ops_inference"] == 2 * ops["macs_forward"]


# ---------------------------------------------------------------------------------- scaling

def test_energy_scales_linearly_with_examples(luts):
    est = pw.estimate(luts, "784-250-10", training_summary(examples=8000))
    assert _close(est.energy_total_joules(2000), 2 * est.energy_total_joules(1000))
    assert _close(est.energy_total_joules(), 8000 * est.energy_per_example_joules)
    # a run twice as long with twice the counts: same energy per example, twice the total
    longer = pw.estimate(luts, "784-250-10", training_summary(examples=16000, scale=2.0))
    assert _close(longer.energy_per_example_joules, est.energy_per_example_joules)
    assert _close(longer.energy_total_joules(), 2 * est.energy_total_joules())


def test_energy_scales_linearly_with_layer_size(luts):
    # integrators biased by their line's charge alone (no minimum), so each line's cost is linear in its cells
    lin = PowerConfig().with_overrides({"adc.integrator_power_watts": 0.0})
    e = {h: pw.estimate(luts, f"784-{h}-10", config=lin) for h in (256, 512, 768)}
    # affine in the hidden size: equal steps give equal increments (but for the transfer: a layer-2 bit line is
    # h + 1 cells long, and so is what its integrator holds, while layer 2 has (h + 1) x 10 cells to transfer)
    tot = {h: x.energy_per_example_joules - x.by_phase()["transfer"] for h, x in e.items()}
    assert _close(tot[768] - tot[512], tot[512] - tot[256], rel=1e-9)
    assert tot[512] > tot[256]
    # the array's own read energy is proportional to the number of synapses
    per_syn = [x.energy_joules["forward"]["array_read"] / x.ops["synapses"] for x in e.values()]
    assert np.allclose(per_syn, per_syn[0], rtol=1e-12)
    # a single layer without bias: doubling the outputs doubles every per-cell cost
    cfg = PowerConfig().with_overrides({"workload.bias": False})
    a, b = pw.estimate(luts, "64-32", config=cfg), pw.estimate(luts, "64-64", config=cfg)
    for comp in ("array_read", "adc", "integrator", "neuron"):
        assert _close(b.energy_joules["forward"][comp], 2 * a.energy_joules["forward"][comp]), comp
    assert _close(b.by_component()["cell_update_3t1c"], 2 * a.by_component()["cell_update_3t1c"])


# ---------------------------------------------------------------------------------- sensitivities

def test_read_time_moves_energy_and_latency_by_the_expected_amount(luts):
    base = pw.estimate(luts, "784-250-10", config=PowerConfig().with_overrides(IDEAL))
    cfg = PowerConfig().with_overrides({**IDEAL, "array.read_time_seconds": 160e-9})   # default 80 ns, doubled
    slow = pw.estimate(luts, "784-250-10", config=cfg)
    proportional = ("array_read", "g_shared", "integrator")
    for ph in pw.PHASES:
        for c in pw.COMPONENTS:
            expect = 2 * base.energy_joules[ph][c] if c in proportional else base.energy_joules[ph][c]
            assert _close(slow.energy_joules[ph][c], expect), (ph, c)
    added = sum(base.by_component()[c] for c in proportional)
    assert added > 0
    assert _close(slow.energy_per_example_joules - base.energy_per_example_joules, added)
    # two forward reads and one backward read per example: +3 x 80 ns
    assert _close(slow.latency.time_per_example_seconds - base.latency.time_per_example_seconds, 3 * 80e-9)
    assert slow.gops_per_watt_training < base.gops_per_watt_training
    assert slow.tops_per_mm2_training < base.tops_per_mm2_training


def test_adc_energy_moves_the_result_by_the_conversion_count(luts):
    base = pw.estimate(luts, "784-250-10", config=PowerConfig().with_overrides(IDEAL))
    fom0 = base.config.adc.fom_joules_per_step
    hi = pw.estimate(luts, "784-250-10", config=PowerConfig().with_overrides({**IDEAL,
                                                                             "adc.fom_joules_per_step": 3 * fom0}))
    adc0 = base.by_component()["adc"]
    assert _close(hi.by_component()["adc"], 3 * adc0)
    assert _close(hi.energy_per_example_joules - base.energy_per_example_joules, 2 * adc0)
    # conversions per example: forward outputs + backward rows + transfer reads and verifies
    wl = base.workload
    conversions = (250 + 10) + 250 + wl.cell_transfers_per_example + wl.set_pulses_per_example
    assert _close(adc0, conversions * fom0 * 2 ** 8)
    # one more effective bit doubles the ADC energy
    enob9 = pw.estimate(luts, "784-250-10", config=PowerConfig().with_overrides({**IDEAL, "adc.enob_bits": 9}))
    assert _close(enob9.by_component()["adc"], 2 * adc0)
    assert hi.gops_per_watt_training < base.gops_per_watt_training


def test_lut_energies_enter_the_update_and_transfer(luts):
    s = training_summary()
    # ideal rails and no bit-line capacitance: the PCM pulses cost exactly their SPICE energy
    no_lines = PowerConfig().with_overrides({**IDEAL, "drivers.wire_capacitance_farads_per_m": 0,
                                             "drivers.read_load_per_cell_farads": 0})
    est = pw.estimate(luts, None, s, no_lines)
    ex = s["examples_trained"]
    assert _close(est.by_component()["cell_update_3t1c"],
                  (s["pulses_up_total"] * 6e-15 + s["pulses_down_total"] * 4e-15) / ex)
    assert _close(est.by_component()["pcm_program"],
                  (s["pcm_set_pulses_total"] * 10e-12 + s["pcm_reset_pulses_total"] * 30e-12) / ex)
    assert est.workload.source == "training summary"


def test_circuit_values_come_from_the_lut_provenance():
    ideal = PowerConfig().with_overrides(IDEAL)
    plain = pw.estimate(make_luts(), "784-250-10", config=ideal)
    prov = {"cell_params": {"v_read_volts": 0.2, "vdd_volts": 1.0, "c_store_farads": 50e-15}}
    rec = pw.estimate(make_luts(provenance=prov), "784-250-10", config=ideal)
    assert rec.devices.circuit.read_voltage_volts == 0.2
    assert rec.devices.circuit_sources["read_voltage_volts"].startswith("LUT provenance")
    d, t = rec.devices, rec.config.array.read_time_seconds
    syn = 0.2 ** 2 * d.g_cell_siemens + d.circuit.pcm_read_voltage_volts ** 2 * 2 * d.g_pcm_siemens
    assert _close(rec.energy_joules["forward"]["array_read"], 0.5 * t * syn * (785 * 250 + 251 * 10))
    assert rec.energy_joules["forward"]["array_read"] > plain.energy_joules["forward"]["array_read"]
    assert rec.cell_area["capacitor_m2"] == pytest.approx(plain.cell_area["capacitor_m2"] / 2)
    off = pw.estimate(make_luts(provenance=prov), "784-250-10",
                      config=PowerConfig().with_overrides({"use_lut_circuit_params": False}))
    assert off.devices.circuit.read_voltage_volts == PowerConfig().circuit.read_voltage_volts


def test_time_per_example_for_leakage(luts):
    t = pw.time_per_example_seconds("784-250-10")
    lat = pw.latency("784-250-10")
    assert t == pytest.approx(lat.forward_seconds + lat.backward_seconds + lat.update_seconds)
    assert pw.estimate(luts, "784-250-10").latency.time_per_example_seconds == pytest.approx(t)
    assert 1e-8 < t < 1e-4
    assert lat.training_seconds_per_example > t      # transfers add their amortized time


def test_transfer_events_are_read_as_cell_transfers(luts):
    s = training_summary()
    s["transfers_total"] = 2                        # two transfer events of the whole network
    est = pw.estimate(luts, None, s)
    assert est.workload.cell_transfers_per_example == pytest.approx(2 * est.ops["synapses"] / s["examples_trained"])
    assert any("transfer events" in n for n in est.notes)
    assert est.latency.transfer_events_per_example == pytest.approx(2 / s["examples_trained"])
    s["cell_transfers_total"] = 1000               # an explicit cell count wins
    est = pw.estimate(luts, None, s)
    assert est.workload.cell_transfers_per_example == pytest.approx(1000 / s["examples_trained"])


def test_estimate_for_run_and_corner_row(tmp_path, luts):
    save_lut_set(luts, tmp_path / "luts")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "summary.json").write_text(json.dumps(training_summary()))
    r = pw.estimate_for_run(tmp_path / "luts", tmp_path / "train")
    assert r["training"]["energy_per_example_joules"] > 0 and r["training"]["gops_per_watt"] > 0
    assert r["time_per_example_seconds"] > 0
    row = pw.corner_row(luts, tmp_path / "train")
    assert row["gops_per_watt_training"] == pytest.approx(r["training"]["gops_per_watt"])


# ---------------------------------------------------------------------------------- parameters

def test_config_round_trips_through_toml(tmp_path):
    cfg = PowerConfig().with_overrides(["adc.enob_bits=6", "array.read_time_seconds=1e-7", "workload.bias=false"])
    f = tmp_path / "p.toml"
    f.write_text(cfg.to_toml())
    assert PowerConfig.from_toml(f) == cfg
    assert isinstance(PowerConfig.from_toml(f).adc.lines_per_adc, int)
    # partial files are fine
    f.write_text("[adc]\nenob_bits = 7\n")
    assert PowerConfig.from_toml(f).adc.enob_bits == 7.0


def test_committed_parameter_file_matches_the_defaults():
    path = ROOT / "characterization" / "power_default.toml"
    assert PowerConfig.from_toml(path) == PowerConfig()
    assert path.read_text() == PowerConfig().to_toml()


def test_circuit_defaults_are_the_netlist_defaults():
    """The power model's fallback cell geometry and bias (used when a LUT does not
    record them) are the generic65 netlist defaults, not a stale copy."""
    from pcmspice.circuits import c3t1c as cell
    from pcmspice.spice import tech as tech
    p = cell.cell_params(tech.load("generic65"))
    c = PowerConfig().circuit
    for field, (key, scale) in _LUT_CIRCUIT_KEYS.items():
        if key in p:
            assert getattr(c, field) == pytest.approx(p[key] * scale, rel=1e-12), field


def test_every_default_names_its_source():
    rows = PowerConfig().describe()
    assert len(rows) > 50
    for r in rows:
        assert len(r["source"]) > 15, r["parameter"]


@pytest.mark.parametrize("override, words", [
    (["adc.enob_bits=40"], ["adc.enob_bits", "40", "expected a finite number from 1 to 20 bit"]),
    (["array.read_time_seconds=-1"], ["array.read_time_seconds", "-1", "expected a finite number from"]),
    (["adc.enob_bits=1_0"], ["adc.enob_bits", "not a number"]),
    (["adc.enob_bits=\uff18"], ["adc.enob_bits", "not a number"]),
    (["adc.fom_joules_per_step=abc"], ["adc.fom_joules_per_step", "not a number"]),
    (["adc.lines_per_adc=2.5"], ["adc.lines_per_adc", "expected an integer"]),
    (["adc.nonsense=1"], ["adc.nonsense", "allowed in [adc]"]),
    (["nosection.x=1"], ["nosection.x", "sections"]),
    (["adc.enob_bits"], ["adc.enob_bits", "missing its value"]),
    (["workload.bias=maybe"], ["workload.bias", "true or false"]),
])
def test_bad_parameters_give_one_clear_line(override, words):
    with pytest.raises(ConfigError) as e:
        PowerConfig().with_overrides(override)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_bad_parameter_files(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[adc]\nenob = 8\n")
    with pytest.raises(ConfigError, match="unknown power parameter adc.enob"):
        PowerConfig.from_toml(f)
    f.write_text("[adc\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        PowerConfig.from_toml(f)
    f.write_text("[gpu]\nkernels_per_layer = 0\n")
    with pytest.raises(ConfigError, match="gpu.kernels_per_layer"):
        PowerConfig.from_toml(f)
    with pytest.raises(ConfigError, match="does not exist"):
        PowerConfig.from_toml(tmp_path / "missing.toml")


def test_missing_inputs_are_clear_errors(luts):
    with pytest.raises(ConfigError, match="network is missing"):
        pw.estimate(luts)
    with pytest.raises(ConfigError, match="784-2x0"):
        pw.estimate(luts, "784-2x0")
    s = training_summary()
    del s["pulses_up_total"]
    with pytest.raises(ConfigError, match="lacks pulses_up_total"):
        pw.estimate(luts, None, s)
    with pytest.raises(ConfigError, match="does not match"):
        pw.estimate(luts, "784-100-10", training_summary())
    s = training_summary()
    s["pcm_set_pulses_total"] = -3
    with pytest.raises(ConfigError, match="pcm_set_pulses_total"):
        pw.estimate(luts, None, s)


def test_cli_power_errors_are_one_line_and_exit_2(tmp_path):
    cmd = [sys.executable, "-m", "pcmspice.cli", "power", "--network", "784-250-10", "--set", "adc.enob_bits=99",
           "--no-cpu", "--out", str(tmp_path / "p")]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "adc.enob_bits = 99" in r.stderr


def test_cli_power_writes_a_run(tmp_path, luts):
    save_lut_set(luts, tmp_path / "luts")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "summary.json").write_text(json.dumps(training_summary()))
    from click.testing import CliRunner

    from pcmspice.cli.main import cli
    out = tmp_path / "power"
    r = CliRunner().invoke(cli, ["power", "--luts", str(tmp_path / "luts"), "--training", str(tmp_path / "train"),
                                 "--no-cpu", "--out", str(out), "--set", "cpu.examples=20"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["kind"] == "power" and s["network"] == "784-250-10"
    assert "time_per_example_seconds = " in r.output
    assert s["time_per_example_seconds"] == pytest.approx(pw.time_per_example_seconds("784-250-10"))
    assert s["provenance"]["inputs"]["training"]["path"] == str(tmp_path / "train")
    assert set(s["provenance"]["versions"]) >= {"pcmspice", "numpy"}
    assert tomllib.loads((out / "config.toml").read_text())["adc"]["enob_bits"] == 8.0
    rows = (out / "breakdown.csv").read_text().strip().splitlines()
    total = float(rows[-1].split(",")[-1])
    assert total == pytest.approx(s["headline"]["energy_per_example_joules"], rel=1e-6)
    assert sum(float(r.split(",")[-1]) for r in rows[1:-1]) == pytest.approx(total, rel=1e-6)
    for png in ("power_breakdown.png", "power_vs_gpu.png"):
        assert (out / png).stat().st_size > 10_000


# ---------------------------------------------------------------------------------- baselines

def test_gpu_table():
    rows = power_gpu.gpu_table("784-250-10")
    names = [r["name"] for r in rows]
    for want in ("P100", "V100", "A100", "H100"):
        assert any(n.startswith(want) for n in names)
    ops = pw.op_counts((784, 250, 10))["ops_training"]
    for r in rows:
        assert r["energy_per_example_fp16_peak_joules"] == pytest.approx(
            ops / (r["fp16_tensor_tflops"] * 1e12) * r["board_power_watts"])
        assert 0 < r["utilization_batch1"] < r["utilization_large_batch"] <= 1
        assert r["energy_per_example_batch1_joules"] > r["energy_per_example_large_batch_joules"]
        assert r["energy_per_example_large_batch_joules"] > r["energy_per_example_fp32_peak_joules"]
        assert r["source"]
    assert power_gpu.gpu_assumptions()


def test_cpu_measurement_is_real():
    cfg = PowerConfig().with_overrides(["cpu.examples=30", "cpu.repeats=1"])
    c = power_gpu.measure_cpu("64-32-10", cfg)
    assert 0 < c["seconds_per_example"] < 1
    assert c["energy_per_example_joules"] == pytest.approx(c["cpu_seconds_per_example"] * 10.0)
    assert c["gops"] > 0 and "W per busy core" in c["method"]


def test_the_training_runs_array_settings_fix_power_parameters(luts):
    s = training_summary()
    s["config"] = {"array": {"transfer_every": 4000, "max_pulses_per_example": 16, "cells_per_reference": 4}}
    est = pw.estimate(luts, None, s)
    assert est.config.workload.transfer_every == 4000
    assert est.config.drivers.max_pulses_per_example == 16 and est.config.array.cells_per_reference == 4
    assert est.latency.update_seconds == pytest.approx(2 * 16 * est.devices.circuit.pulse_period_seconds)
    assert any("training run's array config" in n for n in est.notes)


def test_shared_parameters_have_the_array_configs_names():
    """One name per quantity: the power parameters a training run fixes are named as in ArrayConfig."""
    from pcmspice.array.config import ArrayConfig
    fields = set(ArrayConfig().to_dict())
    for dotted in SHARED_WITH_ARRAY_CONFIG:
        sec, _, name = dotted.partition(".")
        assert name in fields, dotted
        assert hasattr(getattr(PowerConfig(), sec), name), dotted


def test_shared_parameters_default_to_the_array_configs_values():
    """Without a training run, power costs the array that training simulates: the shared defaults agree."""
    from pcmspice.array.config import ArrayConfig
    arr = ArrayConfig().to_dict()
    for dotted in SHARED_WITH_ARRAY_CONFIG:
        sec, _, name = dotted.partition(".")
        assert getattr(getattr(PowerConfig(), sec), name) == arr[name], dotted


def test_standalone_power_and_a_runs_hardware_time_agree_on_default_configs():
    """``pcmspice power --network 784-250-10`` (no run) and a default training run's time per example (the
    latency model with the run's own array settings) are the same number (the review's 920 ns vs 1.16 us)."""
    from pcmspice.core import paths
    from pcmspice.lut import load_lut_set
    from pcmspice.train import TrainConfig
    luts = load_lut_set(paths.default_lut_dir())
    standalone = pw.estimate(luts, "784-250-10").latency
    run_cfg = pw.with_hardware_time(TrainConfig(network="784-250-10"), luts)
    assert run_cfg.array.time_per_example_seconds == standalone.time_per_example_seconds
    assert run_cfg.array.transfer_seconds == standalone.transfer_event_seconds
    assert standalone.update_seconds == pytest.approx(2 * 16 * 20e-9)
    assert standalone.time_per_example_seconds == pytest.approx(1.16e-6)


def test_circuit_values_of_the_committed_luts():
    """The committed tables record the supply, the bias, the capacitor, the pulse period and every transistor
    size, but not the PCM read voltage; the read energies assume the sweep's read time."""
    from pcmspice.core import paths
    from pcmspice.lut import load_lut_set
    d = pw.device_costs(load_lut_set(paths.default_lut_dir()), PowerConfig())
    missing = [k for k, src in d.circuit_sources.items() if src == "config"]
    assert missing == ["pcm_read_voltage_volts"]
    assert d.circuit.vdd_volts == 1.0 and d.circuit.c_store_farads == 1e-13 and d.circuit.w_up_m == 0.12 * 1e-6
    assert d.lut_read_time_seconds == 1e-8


def test_pcm_only_updates_are_costed_as_set_pulses(luts):
    s = training_summary()
    s.update(mode="pcm-only", pulses_up_total=0, pulses_down_total=0, pcm_set_pulses_update_total=4.0e5)
    est = pw.estimate(luts, None, s, PowerConfig().with_overrides({
        **IDEAL, "drivers.wire_capacitance_farads_per_m": 0, "drivers.read_load_per_cell_farads": 0}))
    ex = s["examples_trained"]
    assert _close(est.energy_joules["update"]["pcm_program"], 4.0e5 * 10e-12 / ex)
    assert _close(est.energy_joules["transfer"]["pcm_program"], (2.0e5 * 10e-12 + 4.0e4 * 30e-12) / ex)
    assert est.energy_joules["update"]["cell_update_3t1c"] == 0


def test_power_costs_the_lut_the_training_run_trained_on(tmp_path):
    """`power --training RUN` costs RUN's own LUTs (here a 50 fF cell), and refuses other LUTs given explicitly."""
    import dataclasses

    from pcmspice.core import paths
    from pcmspice.lut import load_lut_set
    base = load_lut_set(paths.default_lut_dir())
    prov = {**base.cell.provenance, "cell_params": {**base.cell.provenance["cell_params"], "c_store_farads": 50e-15}}
    small = dataclasses.replace(base, cell=dataclasses.replace(base.cell, provenance=prov), name="c50")
    save_lut_set(small, tmp_path / "c50")
    run = [sys.executable, "-m", "pcmspice.cli"]
    common = dict(capture_output=True, text=True, cwd=tmp_path, timeout=300)
    r = subprocess.run(run + ["train", "--dataset", "digits", "--epochs", "1", "--max-train", "200", "--quiet",
                              "--no-baseline", "--no-figures", "--luts", "c50", "--out", "t50"], **common)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(run + ["power", "--training", "t50", "--no-cpu", "--out", "p50"], **common)
    assert r.returncode == 0, r.stderr
    assert f"LUTs: {(tmp_path / 'c50').resolve()}" in r.stdout
    s50 = json.loads((tmp_path / "p50" / "summary.json").read_text())
    assert s50["provenance"]["inputs"]["luts"]["path"] == str((tmp_path / "c50").resolve())
    # the default LUTs given explicitly are refused, in one line, unless the user says so
    r = subprocess.run(run + ["power", "--training", "t50", "--luts", str(paths.default_lut_dir()), "--no-cpu",
                              "--out", "p100"], **common)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not the LUTs" in r.stderr
    r = subprocess.run(run + ["power", "--training", "t50", "--luts", str(paths.default_lut_dir()), "--no-cpu",
                              "--allow-lut-mismatch", "--out", "p100"], **common)
    assert r.returncode == 0, r.stderr
    s100 = json.loads((tmp_path / "p100" / "summary.json").read_text())
    assert s50["headline"]["area_mm2"] < s100["headline"]["area_mm2"]
    assert s50["cell_area_m2"] != s100["cell_area_m2"]


def _with_gate_loads(luts: LutSet, c_up: float, c_dn: float) -> LutSet:
    import dataclasses
    n = luts.cell.n_cells
    cell = dataclasses.replace(luts.cell, c_gate_up_farads=np.full(n, c_up), c_gate_down_farads=np.full(n, c_dn))
    return LutSet(cell, luts.pcm, luts.name)


def test_gate_load_moves_the_energy_by_the_predicted_amount(luts):
    """Every row carries an up and a down line and both fire (slots x row activity each); a column line fires in
    its error's sub-phase only (weighted by the up/down pulse fractions).  A line's energy per cell and pulse is
    (c_wire + C_gate) dV x the cost per coulomb of its levels: the up line's idle 1.15 V comes from a one-stage
    charge pump (2 VDD / efficiency per coulomb), the 0.40 V pulse level returns the charge for free; the down
    line's 0.498 V pulse level from a regulator (VDD per coulomb), its -0.15 V idle level through an inverting
    pump (VDD / efficiency).  An override of the gate load moves the energy by exactly that sum with dC."""
    s = training_summary()
    lut = _with_gate_loads(luts, 3.4e-15, 5.3e-15)
    base = pw.estimate(lut, None, s)
    assert base.devices.gate_load_source.startswith("LUT")
    assert (base.devices.c_gate_up_farads, base.devices.c_gate_down_farads) == (3.4e-15, 5.3e-15)
    c_new = 7e-15
    over = pw.estimate(lut, None, s, PowerConfig().with_overrides({"drivers.gate_load_per_cell_farads": c_new}))
    assert over.devices.gate_load_source.startswith("config override")
    cfg, wl, c = base.config, base.workload, base.devices.circuit
    drv = cfg.drivers
    eta = drv.charge_pump_efficiency
    k_up = 2 * 1.0 / eta                  # per coulomb: 1.15 V from a doubler, 0.40 V sinks for free
    k_dn = 1.0 + 1.0 / eta                # 0.498 V from a regulator, -0.15 V through an inverting pump
    f_up = wl.pulses_up_per_example / (wl.pulses_up_per_example + wl.pulses_down_per_example)
    n_syn = 785 * 250 + 251 * 10
    col = min((wl.pulses_up_per_example + wl.pulses_down_per_example) / n_syn / (
        drv.max_pulses_per_example * drv.update_row_activity), 1.0)
    d_up = (c_new - 3.4e-15) * c.up_swing_volts * k_up
    d_dn = (c_new - 5.3e-15) * c.down_swing_volts * k_dn
    expected = sum(drv.max_pulses_per_example * rows * n_out * (drv.update_row_activity * (d_up + d_dn)
                                                                 + col * (f_up * d_up + (1 - f_up) * d_dn))
                   for rows, n_out in ((785, 250), (251, 10)))
    assert _close(over.energy_per_example_joules - base.energy_per_example_joules, expected, rel=1e-9)
    assert _close(over.energy_joules["update"]["pulse_drivers"] - base.energy_joules["update"]["pulse_drivers"],
                  expected, rel=1e-9)
    # the other phases do not see the update lines' gate load
    for ph in ("forward", "backward", "transfer"):
        assert over.energy_joules[ph] == base.energy_joules[ph]


def test_doubling_one_update_line_moves_the_energy_by_exactly_its_share(luts):
    """Both update lines of a row are counted: doubling only the down (NMOS) gate load adds the down line's
    gate share, rows x n_out x slots x (row activity + column activity x down fraction) x C dV x cost, and
    the same for the up line; with the row lines averaged instead of added the two shares would be weighted
    by the up/down fractions on the rows too."""
    s = training_summary()
    cu, cd = 3.4e-15, 5.3e-15
    base = pw.estimate(_with_gate_loads(luts, cu, cd), None, s)
    up2 = pw.estimate(_with_gate_loads(luts, 2 * cu, cd), None, s)
    dn2 = pw.estimate(_with_gate_loads(luts, cu, 2 * cd), None, s)
    wl, c, drv = base.workload, base.devices.circuit, base.config.drivers
    eta = drv.charge_pump_efficiency
    f_up = wl.pulses_up_per_example / (wl.pulses_up_per_example + wl.pulses_down_per_example)
    n_syn = 785 * 250 + 251 * 10
    col = (wl.pulses_up_per_example + wl.pulses_down_per_example) / n_syn / (
        drv.max_pulses_per_example * drv.update_row_activity)
    cells = drv.max_pulses_per_example * n_syn
    share_up = cells * (drv.update_row_activity + col * f_up) * cu * c.up_swing_volts * 2 / eta
    share_dn = cells * (drv.update_row_activity + col * (1 - f_up)) * cd * c.down_swing_volts * (1 + 1 / eta)
    assert _close(up2.energy_per_example_joules - base.energy_per_example_joules, share_up, rel=1e-9)
    assert _close(dn2.energy_per_example_joules - base.energy_per_example_joules, share_dn, rel=1e-9)
    # each row line fires in every slot its row is active, whatever the column's sign: the row part of each
    # share is the full row activity, not the up/down fraction of it
    assert share_up > cells * drv.update_row_activity * cu * c.up_swing_volts * 2 / eta


def test_pulse_energy_is_c_dv_squared_of_the_recorded_swing(luts):
    """Doubling both swings quadruples the gate part of the update pulse-line energy (C dV^2, not C dV Vdd)."""
    s = training_summary()
    lut = _with_gate_loads(luts, 3.4e-15, 5.3e-15)
    cfg0 = PowerConfig().with_overrides({**IDEAL, "use_lut_circuit_params": False,
                                         "drivers.wire_capacitance_farads_per_m": 0})
    cfg2 = cfg0.with_overrides({"circuit.up_swing_volts": 1.5, "circuit.down_swing_volts": 1.296})
    e0 = pw.estimate(lut, None, s, cfg0).energy_joules["update"]["pulse_drivers"]
    e2 = pw.estimate(lut, None, s, cfg2).energy_joules["update"]["pulse_drivers"]
    assert e0 > 0 and _close(e2, 4 * e0)


def test_power_output_names_where_the_periphery_values_come_from(luts):
    est = pw.estimate(_with_gate_loads(luts, 3.4e-15, 5.3e-15), "784-250-10")
    src = est.parameter_sources()
    assert src["adc.fom_joules_per_step"].startswith("config default (3.1e-14)") and "Murmann" in src[
        "adc.fom_joules_per_step"]
    assert src["gate_load"].startswith("LUT")
    over = pw.estimate(luts, "784-250-10", config=PowerConfig().with_overrides(["adc.fom_joules_per_step=5e-14"]))
    assert over.parameter_sources()["adc.fom_joules_per_step"] == "user override (5e-14)"
    assert over.parameter_sources()["gate_load"].startswith("estimate Cox W L")   # make_luts has no gate loads
    d = est.to_dict()["devices"]
    assert d["gate_load_source"].startswith("LUT") and d["parameter_sources"] == src


def test_adc_fom_default_is_the_survey_10th_percentile():
    assert PowerConfig().adc.fom_joules_per_step == 31e-15


@pytest.mark.parametrize("config, want", [("x", "'config' is a string \"x\", expected an object of settings"),
                                          ({"array": [1]}, "'config.array' is a list [1], expected an object")])
def test_power_of_a_training_summary_with_a_bad_config_is_one_line(tmp_path, config, want):
    """`pcmspice power --training RUN` whose summary.json has "config": "x" was an AttributeError traceback."""
    run = tmp_path / "train"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({**training_summary(), "config": config}))
    r = subprocess.run([sys.executable, "-m", "pcmspice.cli", "power", "--training", str(run), "--no-cpu", "--out",
                        str(tmp_path / "p")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
    assert r.stderr.startswith("error: ") and r.stderr.strip().count("\n") == 0, r.stderr
    assert f"{run / 'summary.json'}: {want}" in r.stderr, r.stderr
    assert not (tmp_path / "p").exists()
    with pytest.raises(ConfigError, match="my run: 'config"):    # the API path names its source
        pw.workload_from_training({**training_summary(), "config": config}, PowerConfig(), source="my run")


@pytest.mark.parametrize("value", [5e-17, 0.99e-16, 1e-16, 100e-15, 1e-11, 1.01e-11, 1e-9])
def test_c_store_has_one_range_in_the_netlist_and_in_power(value):
    """The netlist parameter accepted 0 to 1 nF and power 0.1 fF to 10 pF: a 50 aF design was characterized and
    then refused by power. Now both accept exactly the same values."""
    from pcmspice.core.errors import PcmSpiceError
    from pcmspice.spice import netlist as nl
    param = nl.declared_params("cells/c3t1c.cir.j2")["c_store_farads"]
    try:
        param.check(value, "cells/c3t1c.cir.j2")
        netlist_ok = True
    except PcmSpiceError:
        netlist_ok = False
    try:
        PowerConfig().with_overrides({"circuit.c_store_farads": value})
        power_ok = True
    except ConfigError:
        power_ok = False
    assert netlist_ok == power_ok == (1e-16 <= value <= 1e-11)


def test_a_runs_drift_remedies_are_in_its_totals_exactly(luts, tmp_path):
    """A training run with drift remedies on (issue 20): energy per example = the same run without them
    + remedy_costs of its array config, exactly; time per example incl. transfers likewise; the rows show
    in the power page and the console; a run without them has no remedy rows or keys at all."""
    from pcmspice.array.config import ArrayConfig
    base = training_summary()
    base["config"] = {"array": {"transfer_every": 4000}}
    on = json.loads(json.dumps(base))
    on["config"]["array"].update(drift_compensation="column", drift_compensation_every=100,
                                 drift_predistort=True, verify_settle_seconds=1e-6)
    e0, e1 = pw.estimate(luts, None, base), pw.estimate(luts, None, on)
    rc = pw.remedy_costs(luts, "784-250-10", ArrayConfig(transfer_every=4000, drift_compensation="column",
                                                         drift_compensation_every=100, drift_predistort=True,
                                                         verify_settle_seconds=1e-6), e1.config)
    assert rc.compensation_joules_per_example > 0 and rc.predistort_joules_per_example > 0
    assert rc.settle_seconds_per_example > 0
    assert e1.energy_per_example_joules == e0.energy_per_example_joules + rc.joules_per_example
    assert e1.latency.training_seconds_per_example == e0.latency.training_seconds_per_example + rc.seconds_per_example
    assert e1.energy_joules == e0.energy_joules           # the phases are untouched: the remedies are their own rows
    d0, d1 = e0.to_dict(), e1.to_dict()
    assert "drift_remedies" not in d0["energy_per_example_joules"]
    assert "remedies_seconds_per_example" not in d0["latency"]
    assert d1["energy_per_example_joules"]["drift_remedies"] == rc.to_dict()
    assert d1["headline"]["energy_per_example_joules"] == e1.energy_per_example_joules
    from pcmspice.power.outputs import power_blocks, summary_lines
    text = "\n".join(summary_lines(d1))
    assert "drift remedies (in the totals)" in text and "drift remedies" not in "\n".join(summary_lines(d0))
    rows = [b.rows for b in power_blocks({**d1, "config": e1.config.to_dict()}, None) if b.kind == "table"]
    assert any(r[0] == "pre-distortion" for t in rows for r in t)
    bad = json.loads(json.dumps(on))
    bad["config"]["array"]["drift_compensation_every"] = 0
    with pytest.raises(ConfigError):
        pw.estimate(luts, None, bad)

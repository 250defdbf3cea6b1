"""Energy, latency and area of training and inference on 2PCM+3T1C arrays.

The accounting is open: every operation of one training example is counted,
every count is multiplied by a per-operation cost, and every cost is either
measured in SPICE (it comes from the lookup tables) or a periphery parameter
with a cited default (:class:`PowerConfig`; ``pcmspice power --describe``
prints them all with their sources).

What is counted, per layer of ``n_in`` inputs (+1 bias row) and ``n_out``
outputs, for one example (see :func:`estimate`; the arithmetic is in
:mod:`pcmspice.power.energy`):

* forward   - every synapse read once (pulse-width-encoded inputs on the rows at
              the layer's read duty, currents integrated on the columns), one
              ADC conversion and one activation per output, row drivers,
              buffers and routing;
* backward  - the same through the transposed array for every layer but the
              first (no error is needed at the network's input), one derivative
              per hidden neuron, plus the output error;
* update    - the 3T1C up/down pulses (counts from a training run, or estimated)
              at the SPICE-measured energy per pulse, and the line drivers: both
              the up and the down line of every active row, the column lines in
              their error's sub-phase;
* transfer  - every ``transfer_every`` examples each cell is read
              (g - g_shared), its PCM pair is tuned by program-and-verify (SET
              and RESET pulses at the SPICE energies plus the bit line's charge,
              one verify read per SET) and g is reset; amortized per example.

The activity (read duty per layer, update row activity) and the conductances
come from the training run when one is given (:mod:`pcmspice.power.activity`),
else from the config's assumptions; ``activity`` in the summary says which.
Every level is costed through what makes it from the supply (regulators,
charge pumps; ``drivers.levels_from_supply``), integrators are sized for the
worst-case charge of one read, and F is made by separate PCM and 3T1C
conversions when it differs from the read-voltage ratio (component gain_f).

Components: array_read (the synapses' own conductance during reads),
g_shared, adc, integrator, gain_f, neuron, pulse_drivers, routing_buffers,
cell_update_3t1c, pcm_program, g_reset.  The breakdown by phase and by
component sums exactly to the total.

Operations: a multiply-accumulate is ``ops_per_mac`` (2) operations, the
usual convention behind GOP/s and GPU FLOP/s.  Training counts forward,
backward and the weight update (one multiply-add per synapse), like the
3x-forward FLOP count of a GPU training step; inference counts forward only;
``gops_per_watt_forward_backward`` leaves the update products out.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core.errors import ConfigError
from pcmspice.core.network import network_name, parse_network
from pcmspice.lut.format import LutSet
from pcmspice.power import activity as _activity
from pcmspice.power.activity import Activity
from pcmspice.power.config import PowerConfig
from pcmspice.power.devices import DeviceCosts, device_costs
from pcmspice.power.energy import (
    AREA_COMPONENTS,
    COMPONENTS,
    PHASES,
    area,
    energy,
    gain_f_separate,
    integrator_size,
    readout,
)
from pcmspice.power.latency import Latency, latency
from pcmspice.power.remedies import RemedyCosts, array_of_training, remedy_costs
from pcmspice.power.workload import (
    OPS_CONVENTION,
    Workload,
    estimated_workload,
    layers,
    load_summary,
    op_counts,
    workload_from_training,
)

# the paper's projection (Ambrogio et al., Nature 558, 60 (2018)), for comparison only
PAPER_GOPS_PER_WATT = 28065.0
PAPER_TOPS_PER_MM2 = 3.6


@dataclass(frozen=True)
class PowerEstimate:
    network: tuple[int, ...]
    ops: dict[str, float]
    energy_joules: dict[str, dict[str, float]]          # training, per example: phase -> component -> J
    inference_energy_joules: dict[str, float]           # per example: component -> J
    area_m2: dict[str, float]
    cell_area: dict[str, float]
    latency: Latency
    workload: Workload
    devices: DeviceCosts
    config: PowerConfig
    notes: tuple[str, ...]
    activity: Activity | None = None
    circuits: dict[str, Any] | None = None
    #: the drift remedies the training run had on (None: none, the paper's scheme)
    remedies: RemedyCosts | None = None

    # ---- headline numbers ---------------------------------------------------------
    @property
    def energy_per_example_joules(self) -> float:
        """The phases' energy, plus the drift remedies' when the run had any on."""
        e = float(sum(sum(c.values()) for c in self.energy_joules.values()))
        return e + self.remedies.joules_per_example if self.remedies is not None else e

    @property
    def inference_energy_per_example_joules(self) -> float:
        return float(sum(self.inference_energy_joules.values()))

    @property
    def area_total_m2(self) -> float:
        return float(sum(self.area_m2.values()))

    @property
    def gops_per_watt_training(self) -> float:
        return self.ops["ops_training"] / self.energy_per_example_joules / 1e9

    @property
    def gops_per_watt_forward_backward(self) -> float:
        """Forward + backward operations only (no update products) over the whole training energy."""
        return self.ops["ops_forward_backward"] / self.energy_per_example_joules / 1e9

    @property
    def gops_per_watt_inference(self) -> float:
        return self.ops["ops_inference"] / self.inference_energy_per_example_joules / 1e9

    @property
    def gops_training(self) -> float:
        return self.ops["ops_training"] / self.latency.training_seconds_per_example / 1e9

    @property
    def gops_inference(self) -> float:
        return self.ops["ops_inference"] / self.latency.inference_seconds_per_example / 1e9

    @property
    def tops_per_mm2_training(self) -> float:
        return self.gops_training / 1e3 / (self.area_total_m2 * 1e6)

    @property
    def tops_per_mm2_inference(self) -> float:
        return self.gops_inference / 1e3 / (self.area_total_m2 * 1e6)

    @property
    def power_training_watts(self) -> float:
        return self.energy_per_example_joules / self.latency.training_seconds_per_example

    def energy_total_joules(self, examples: int | None = None) -> float:
        """Energy of training ``examples`` examples (default: the workload's)."""
        n = self.workload.examples if examples is None else examples
        return self.energy_per_example_joules * n

    def by_phase(self) -> dict[str, float]:
        return {ph: float(sum(c.values())) for ph, c in self.energy_joules.items()}

    def by_component(self) -> dict[str, float]:
        return {c: float(sum(self.energy_joules[ph][c] for ph in PHASES)) for c in COMPONENTS}

    def headline(self) -> dict[str, float]:
        return {
            "gops_per_watt_training": self.gops_per_watt_training,
            "gops_per_watt_inference": self.gops_per_watt_inference,
            "gops_per_watt_training_forward_backward_ops": self.gops_per_watt_forward_backward,
            "tops_per_mm2_training": self.tops_per_mm2_training,
            "tops_per_mm2_inference": self.tops_per_mm2_inference,
            "energy_per_example_joules": self.energy_per_example_joules,
            "inference_energy_per_example_joules": self.inference_energy_per_example_joules,
            "time_per_example_seconds": self.latency.time_per_example_seconds,
            "training_seconds_per_example": self.latency.training_seconds_per_example,
            "throughput_gops_training": self.gops_training,
            "throughput_gops_inference": self.gops_inference,
            "area_mm2": self.area_total_m2 * 1e6,
            "power_training_watts": self.power_training_watts,
            "energy_total_joules": self.energy_total_joules(),
            "examples": self.workload.examples,
        }

    def parameter_sources(self) -> dict[str, str]:
        """Where the values that set the periphery energy come from: the config's default (with its source),
        a user override, the LUT (SPICE) or the LUT's recorded netlist parameters."""
        default = PowerConfig()
        out = {}
        for dotted in ("adc.fom_joules_per_step", "adc.enob_bits", "adc.area_m2",
                       "drivers.wire_capacitance_farads_per_m", "array.read_time_seconds", "array.gain_f",
                       "drivers.charge_pump_efficiency",
                       "adc.integrator_capacitance_farads", "adc.integrator_swing_volts",
                       "gpu.active_power_floor_fraction"):
            sec, name = dotted.split(".")
            v = getattr(getattr(self.config, sec), name)
            src = next(r["source"] for r in default.describe() if r["parameter"] == dotted)
            out[dotted] = (f"user override ({v:g})" if v != getattr(getattr(default, sec), name)
                           else f"config default ({v:g}): {src}")
        out["gate_load"] = self.devices.gate_load_source
        sup = self.config.drivers.levels_from_supply
        out["drivers.levels_from_supply"] = (
            f"{'config default' if sup == default.drivers.levels_from_supply else 'user override'} ({sup}): "
            + ("levels from the 1 V supply through regulators and charge pumps (Rincon-Mora & Allen 1998; "
               "Palumbo & Pappalardo 2010)" if sup else "ideal rails at each level"))
        for k in ("up_swing_volts", "down_swing_volts", "up_idle_volts", "down_idle_volts", "vdd_volts"):
            out[f"circuit.{k}"] = self.devices.circuit_sources.get(k, "config")
        return out

    def read_energy_check(self) -> dict[str, Any]:
        """This model's energy of one full-duty read of g against the LUT's SPICE value."""
        d, t = self.devices, self.config.array.read_time_seconds
        model = d.circuit.read_voltage_volts ** 2 * d.g_cell_siemens * t
        out = {"model_e_read_cell_joules": model, "read_time_seconds": t,
               "lut_e_read_cell_joules": d.e_read_cell_lut_joules, "lut_read_time_seconds": d.lut_read_time_seconds}
        if d.lut_read_time_seconds:
            out["lut_e_read_cell_at_read_time_joules"] = d.e_read_cell_lut_joules * t / d.lut_read_time_seconds
        return out

    def to_dict(self) -> dict[str, Any]:
        d = self.devices
        return {
            "network": network_name(self.network),
            "headline": self.headline(),
            "paper": {"gops_per_watt": PAPER_GOPS_PER_WATT, "tops_per_mm2": PAPER_TOPS_PER_MM2,
                      "source": "Ambrogio et al., Nature 558, 60 (2018), projected full chip"},
            "ops_per_example": self.ops,
            "ops_convention": OPS_CONVENTION.format(k=self.config.workload.ops_per_mac),
            "energy_per_example_joules": {"by_phase_component": self.energy_joules, "by_phase": self.by_phase(),
                                          "by_component": self.by_component(),
                                          "inference_by_component": self.inference_energy_joules,
                                          **({"drift_remedies": self.remedies.to_dict()}
                                             if self.remedies is not None else {})},
            "latency": self.latency.to_dict(),
            "area_m2": {**self.area_m2, "total": self.area_total_m2},
            "cell_area_m2": self.cell_area,
            "workload": dataclasses.asdict(self.workload),
            "activity": self.activity.to_dict() if self.activity else None,
            "circuits": self.circuits,
            "devices": {
                "lut": d.lut_name, "g_cell_siemens": d.g_cell_siemens, "g_shared_siemens": d.g_shared_siemens,
                "g_pcm_siemens": d.g_pcm_siemens, "e_up_joules": d.e_up_joules, "e_down_joules": d.e_down_joules,
                "e_set_joules": d.e_set_joules, "e_reset_joules": d.e_reset_joules,
                "e_read_cell_lut_joules": d.e_read_cell_lut_joules, "e_read_pcm_lut_joules": d.e_read_pcm_lut_joules,
                "circuit": dataclasses.asdict(d.circuit), "circuit_sources": d.circuit_sources,
                "c_gate_up_farads": d.c_gate_up_farads, "c_gate_down_farads": d.c_gate_down_farads,
                "gate_load_source": d.gate_load_source, "parameter_sources": self.parameter_sources(),
                "read_energy_check": self.read_energy_check(),
            },
            "notes": list(self.notes),
        }


def estimate(luts: LutSet, network: str | Sequence[int] | None = None,
             training: Mapping[str, Any] | str | Path | None = None,
             config: PowerConfig | None = None, examples: int | None = None) -> PowerEstimate:
    """Energy, latency and area of training (and inference) of ``network`` on cells
    described by ``luts``.

    ``training`` is a training summary (dict) or run directory: its pulse,
    transfer and PCM-pulse counts replace the estimates.  ``network`` may be
    omitted when a training run gives it; if both are given they must agree.
    """
    from pcmspice.power import periphery
    cfg = config or PowerConfig()
    # the periphery of the LUTs' own technology (generic65's: the config as it is)
    cfg, notes, _ = periphery.apply(luts, cfg)
    summary, source = None, None
    if training is not None:
        if isinstance(training, (str, Path)):
            source = str(training)
            summary = load_summary(training)
        else:
            source, summary = "training summary", training
    if network is None and summary is None:
        raise ConfigError("network is missing: give a network (e.g. 784-250-10) or a training run")
    if summary is not None:
        wl = workload_from_training(summary, cfg, source or "training run")
        if network is not None and parse_network(network) != wl.network:
            raise ConfigError(f"network {network_name(parse_network(network))} does not match the training run's "
                              f"network {network_name(wl.network)}")
        if examples is not None:
            wl = dataclasses.replace(wl, examples=int(examples))
    else:
        wl = estimated_workload(parse_network(network), cfg, examples)
    notes += wl.notes
    if wl.config_overrides:
        cfg = cfg.with_overrides(dict(wl.config_overrides))
    if wl.mode == "pcm-only":
        notes.append("mode pcm-only: no 3T1C; updates are PCM SET pulses (pcm_set_pulses_update_total), costed in "
                     "the update phase; the 3T1C read and g_shared terms still assume the full cell")
    elif wl.mode == "ideal":
        notes.append("mode ideal: the training run had no device physics; its counts are zero")
    sizes = wl.network
    ls = layers(sizes, cfg.workload.bias)
    ops = op_counts(sizes, cfg)
    dev = device_costs(luts, cfg)
    c = dev.circuit
    for k, src in dev.circuit_sources.items():
        if src == "config" and cfg.use_lut_circuit_params:
            notes.append(f"circuit.{k} not recorded in the LUT: the config value {getattr(c, k):g} is used")
            break

    act = _activity.assumed(sizes, cfg.array.input_mean_duty, cfg.drivers.update_row_activity, dev.g_pcm_siemens,
                            dev.g_cell_siemens, dev.g_shared_siemens, cfg.workload.bias)
    if isinstance(training, (str, Path)):
        act, act_notes = _activity.from_run(training, summary, sizes, cfg.array.input_full_scale, act,
                                            cfg.workload.bias)
        notes += act_notes
    elif training is not None:
        notes.append("a training summary without its run folder: read duty, update activity and conductances "
                     "are ASSUMED")
    E = energy(ls, wl, dev, cfg, act, notes)
    inference = dict(E["forward"])
    charges = readout(ls, act, dev, cfg)
    areas, cell = area(ls, dev.circuit, cfg, charges)
    circuits = _circuits(ls, charges, dev, cfg)

    lat = latency(sizes, cfg, c, wl.set_pulses_per_example / wl.cell_transfers_per_example
                  if wl.cell_transfers_per_example > 0 else None,
                  transfer_events_per_example=wl.cell_transfers_per_example / ops["synapses"])
    remedies = None
    arr = array_of_training(summary) if summary is not None else None
    if arr is not None:     # the run's drift remedies: their own rows, in the totals
        remedies = remedy_costs(luts, sizes, arr, cfg)
        lat = dataclasses.replace(lat, remedies_seconds_per_example=remedies.seconds_per_example)
        notes.append("drift remedies on in the training run (" + ", ".join(
            k for k, on in (("compensation", arr.drift_compensation != "none"),
                            ("pre-distortion", arr.drift_predistort),
                            ("settling delay", arr.verify_settle_seconds > 0)) if on)
            + f"): {remedies.joules_per_example:.4g} J and {remedies.seconds_per_example:.4g} s per example "
            "are in the totals (pcmspice.power.remedies)")
    if wl.training_time_per_example_seconds:
        ratio = wl.training_time_per_example_seconds / lat.time_per_example_seconds
        if not 0.5 <= ratio <= 2.0:
            notes.append(f"the training run assumed {wl.training_time_per_example_seconds:.3g} s per example for "
                         f"leakage; this latency model gives {lat.time_per_example_seconds:.3g} s")
    notes.append("layers run one after another for one example (no pipelining across examples); "
                 "static leakage power of the periphery is not included")
    return PowerEstimate(network=sizes, ops=ops, energy_joules=E, inference_energy_joules=inference, area_m2=areas,
                         cell_area=cell, latency=lat, workload=wl, devices=dev, config=cfg, notes=tuple(notes),
                         activity=act, circuits=circuits, remedies=remedies)


def _circuits(ls, charges, dev: DeviceCosts, cfg: PowerConfig) -> dict[str, Any]:
    """What the periphery circuits are and how they are sized: the levels' source, the F circuit, and each
    layer's integrators (worst-case charge of one read, capacitance, energy per read, area)."""
    drv = cfg.drivers
    integ = []
    for i, l in enumerate(ls):
        for name, n in (("forward", l.n_out), ("backward", l.n_in if i > 0 else 0)):
            if not n:
                continue
            for part, qv in zip(("3t1c", "pcm") if len(charges[i][name]) > 1 else ("line",), charges[i][name]):
                cap, e, ar = integrator_size(qv, cfg)
                integ.append({"layer": i + 1, "direction": name, "part": part, "lines": n,
                              "worst_case_charge_coulombs": qv, "capacitance_farads": cap,
                              "energy_per_read_joules": e, "area_m2": ar,
                              "resized": cap > cfg.adc.integrator_capacitance_farads})
    sep = gain_f_separate(dev, cfg)
    levels = ("from the supply: linear regulators for levels in [0, VDD], charge pumps (efficiency "
              f"{drv.charge_pump_efficiency:g}) above VDD and below 0" if drv.levels_from_supply
              else "ideal rails at each level")
    return {"levels": levels, "levels_from_supply": drv.levels_from_supply,
            "gain_f": cfg.array.gain_f,
            "gain_f_circuit": ("separate PCM and 3T1C integrators and ADC conversions, F x PCM + 3T1C added "
                               "digitally" if sep else "the read-voltage ratio on one integrated line"),
            "integrators": integ}


def estimate_for_run(lut_dir: str | Path, training_dir: str | Path | None, network: str | Sequence[int] | None = None,
                     config: PowerConfig | None = None) -> dict[str, Any]:
    """Cost a training run made on the LUTs in ``lut_dir`` (used by ``pcmspice corners --train``).

    Returns ``{"training": {...}, "inference": {...}, "time_per_example_seconds": s, "estimate": PowerEstimate}``
    where training/inference hold energy_per_example_joules, gops_per_watt and tops_per_mm2.
    """
    from pcmspice.lut.format import load_lut_set
    est = estimate(load_lut_set(lut_dir), network, training_dir, config)
    return {
        "training": {"energy_per_example_joules": est.energy_per_example_joules,
                     "gops_per_watt": est.gops_per_watt_training, "tops_per_mm2": est.tops_per_mm2_training},
        "inference": {"energy_per_example_joules": est.inference_energy_per_example_joules,
                      "gops_per_watt": est.gops_per_watt_inference, "tops_per_mm2": est.tops_per_mm2_inference},
        "time_per_example_seconds": est.latency.time_per_example_seconds,
        "estimate": est,
    }


def corner_row(luts: LutSet, training: Mapping[str, Any] | str | Path | None,
               network: str | Sequence[int] | None = None, config: PowerConfig | None = None) -> dict[str, float]:
    """The energy columns of one corner for ``pcmspice corners --train``."""
    est = estimate(luts, network, training, config)
    return {"energy_per_example_joules": est.energy_per_example_joules,
            "gops_per_watt_training": est.gops_per_watt_training,
            "gops_per_watt_inference": est.gops_per_watt_inference,
            "tops_per_mm2_training": est.tops_per_mm2_training,
            "time_per_example_seconds": est.latency.time_per_example_seconds}


__all__ = [
    "PHASES", "COMPONENTS", "AREA_COMPONENTS", "PAPER_GOPS_PER_WATT", "PAPER_TOPS_PER_MM2",
    "PowerEstimate", "estimate", "estimate_for_run", "corner_row",
]

"""Energy, latency and area of training and inference on 2PCM+3T1C arrays.

The accounting is open: every operation of one training example is counted,
every count is multiplied by a per-operation cost, and every cost is either
measured in SPICE (it comes from the lookup tables) or a periphery parameter
with a cited default (:class:`PowerConfig`; ``pcmspice power --describe``
prints them all with their sources).

What is counted, per layer of ``n_in`` inputs (+1 bias row) and ``n_out``
outputs, for one example (see :func:`estimate`):

* forward   - every synapse read once (pulse-width-encoded inputs on the rows,
              currents integrated on the columns), one ADC conversion and one
              activation per output, row drivers, buffers and routing;
* backward  - the same through the transposed array for every layer but the
              first (no error is needed at the network's input), one derivative
              per hidden neuron, plus the output error;
* update    - the 3T1C up/down pulses (counts from a training run, or estimated)
              at the SPICE-measured energy per pulse, and the line drivers that
              fire the coincident row/column pulses;
* transfer  - every ``transfer_interval_examples`` examples each cell is read
              (g - g_shared), its PCM pair is tuned by program-and-verify (SET
              and RESET pulses at the SPICE energies, one verify read per SET)
              and g is reset; the cost is amortized per example.

Components: array_read (the synapses' own conductance during reads),
g_shared, adc, integrator, neuron, pulse_drivers, routing_buffers,
cell_update_3t1c, pcm_program, g_reset.  The breakdown by phase and by
component sums exactly to the total.

Operations: a multiply-accumulate is ``ops_per_mac`` (2) operations, the
usual convention behind GOP/s and GPU FLOP/s.  Training counts forward,
backward and the weight update (one multiply-add per synapse), like the
3x-forward FLOP count of a GPU training step; inference counts forward only.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.core.errors import ConfigError
from pcmspice.core.network import network_name, parse_network
from pcmspice.lut.format import LutSet
from pcmspice.power.config import (
    AdcParams,
    AreaParams,
    ArrayParams,
    CircuitParams,
    CpuParams,
    DriverParams,
    GpuParams,
    NeuronParams,
    PcmParams,
    PowerConfig,
    RoutingParams,
    WorkloadParams,
    load_config,
)

PHASES = ("forward", "backward", "update", "transfer")
COMPONENTS = ("array_read", "g_shared", "adc", "integrator", "neuron", "pulse_drivers",
              "routing_buffers", "cell_update_3t1c", "pcm_program", "g_reset")
AREA_COMPONENTS = ("cells", "g_shared_cells", "adc", "integrator", "neuron", "drivers", "buffers",
                   "routing_overhead")

# the paper's projection (Ambrogio et al., Nature 558, 60 (2018)), for comparison only
PAPER_GOPS_PER_WATT = 28065.0
PAPER_TOPS_PER_MM2 = 3.6


# --------------------------------------------------------------------------------------
# network and workload
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    n_in: int
    n_out: int
    rows: int   # n_in + bias row

    @property
    def synapses(self) -> int:
        return self.rows * self.n_out


def layers(sizes: Sequence[int], bias: bool = True) -> list[Layer]:
    return [Layer(a, b, a + int(bias)) for a, b in zip(sizes[:-1], sizes[1:])]


def op_counts(sizes: Sequence[int], cfg: PowerConfig | None = None) -> dict[str, float]:
    """Operations of one example: multiply-accumulates forward / backward, update products."""
    cfg = cfg or PowerConfig()
    ls = layers(sizes, cfg.workload.bias)
    fwd = sum(l.synapses for l in ls)
    bwd = sum(l.n_in * l.n_out for l in ls[1:])
    upd = fwd
    k = cfg.workload.ops_per_mac
    return {"macs_forward": fwd, "macs_backward": bwd, "update_products": upd,
            "ops_training": k * (fwd + bwd + upd), "ops_inference": k * fwd, "synapses": fwd}


@dataclass(frozen=True)
class Workload:
    """Per-example operation rates of the stochastic parts (pulses, transfers)."""

    network: tuple[int, ...]
    examples: int
    pulses_up_per_example: float
    pulses_down_per_example: float
    cell_transfers_per_example: float
    set_pulses_per_example: float
    reset_pulses_per_example: float
    source: str                       # "training run DIR" or "estimate"
    notes: tuple[str, ...] = ()
    training_time_per_example_seconds: float | None = None
    update_set_pulses_per_example: float = 0.0     # PCM SETs used as updates (mode pcm-only)
    mode: str = "cell"
    config_overrides: tuple[tuple[str, Any], ...] = ()   # power parameters the training run fixes


def estimated_workload(sizes: Sequence[int], cfg: PowerConfig, examples: int | None = None) -> Workload:
    """Pulse and transfer rates from the paper's typical numbers (no training run)."""
    n = op_counts(sizes, cfg)["synapses"]
    w, p = cfg.workload, cfg.pcm
    pulses = w.est_pulses_per_synapse_per_example * n
    transfers = n / w.transfer_interval_examples
    return Workload(
        network=tuple(sizes), examples=int(examples if examples is not None else w.examples),
        pulses_up_per_example=pulses * w.est_up_fraction, pulses_down_per_example=pulses * (1 - w.est_up_fraction),
        cell_transfers_per_example=transfers, set_pulses_per_example=transfers * p.est_set_pulses_per_transfer,
        reset_pulses_per_example=transfers * p.est_reset_pulses_per_transfer, source="estimate",
        notes=("update pulses, transfers and PCM pulses are ESTIMATED (no training run given): "
               f"{w.est_pulses_per_synapse_per_example:g} pulses per synapse and example, one transfer per cell "
               f"every {w.transfer_interval_examples} examples, {p.est_set_pulses_per_transfer:g} SET and "
               f"{p.est_reset_pulses_per_transfer:g} RESET pulses per cell transfer",))


TRAINING_KEYS = ("pulses_up_total", "pulses_down_total", "transfers_total", "pcm_set_pulses_total",
                 "pcm_reset_pulses_total", "examples_trained", "network")


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    p = Path(run_dir) / "summary.json"
    if not p.is_file():
        raise ConfigError(f"{run_dir}: no summary.json (not a pcmspice run directory)")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a JSON object")
    return data


def workload_from_training(summary: Mapping[str, Any], cfg: PowerConfig, source: str = "training run") -> Workload:
    """Per-example rates from a training run's summary.json (see pcmspice.train.loop)."""
    missing = [k for k in TRAINING_KEYS if k not in summary]
    if missing:
        raise ConfigError(f"{source}: training summary lacks {', '.join(missing)} (needed for the energy estimate)")
    sizes = parse_network(summary["network"])
    ex = summary["examples_trained"]
    if not isinstance(ex, (int, float)) or ex < 1:
        raise ConfigError(f"{source}: examples_trained = {ex!r} must be 1 or more")
    vals = {}
    for k in TRAINING_KEYS[:5]:
        v = summary[k]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"{source}: {k} = {v!r} must be a non-negative number")
        vals[k] = float(v)
    n_syn = op_counts(sizes, cfg)["synapses"]
    notes = [f"update pulses, transfers and PCM pulses counted by the training run ({source}, {int(ex)} examples; "
             "PCM SET pulses include the initial programming of the weights)"]
    cells = _number(summary.get("cell_transfers_total"))
    if cells is not None:
        transfers = cells
    else:
        transfers = vals["transfers_total"]
        if 0 < transfers < n_syn:
            # pcmspice.train.loop counts transfer events of the whole network: every cell each time
            notes.append(f"transfers_total = {int(transfers)} read as transfer events of the whole network, "
                         f"each transferring all {n_syn} cells")
            transfers *= n_syn
    update_sets = min(_number(summary.get("pcm_set_pulses_update_total")) or 0.0, vals["pcm_set_pulses_total"])
    overrides = overrides_from_training_config(summary.get("config") or {})
    if overrides:
        notes.append("from the training run's array config: " + ", ".join(f"{n} = {v}" for n, v in overrides))
    t_ex = _number(summary.get("time_per_example_seconds"))
    return Workload(
        network=sizes, examples=int(ex),
        pulses_up_per_example=vals["pulses_up_total"] / ex, pulses_down_per_example=vals["pulses_down_total"] / ex,
        cell_transfers_per_example=transfers / ex,
        set_pulses_per_example=(vals["pcm_set_pulses_total"] - update_sets) / ex,
        reset_pulses_per_example=vals["pcm_reset_pulses_total"] / ex, source=source, notes=tuple(notes),
        training_time_per_example_seconds=t_ex, update_set_pulses_per_example=update_sets / ex,
        mode=str(summary.get("mode", "cell")), config_overrides=tuple(overrides))


def overrides_from_training_config(train_config: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Power parameters fixed by a training run's array config (pcmspice.train.loop.TrainConfig.to_dict()):
    the transfer interval, the pulse slots of an update, the cells per g_shared."""
    arr = train_config.get("array") or {}
    out = []
    for key, name in (("transfer_every", "workload.transfer_interval_examples"),
                      ("max_pulses_per_example", "drivers.update_slots"),
                      ("cells_per_reference", "array.cells_per_g_shared")):
        v = _number(arr.get(key))
        if v is not None and v >= 1:
            out.append((name, int(v)))
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return float(v)
    return None


# --------------------------------------------------------------------------------------
# device costs from the lookup tables
# --------------------------------------------------------------------------------------

_LUT_CIRCUIT_KEYS = {  # CircuitParams field -> (recorded netlist parameter, scale to SI)
    "vdd_volts": ("vdd_volts", 1.0), "read_voltage_volts": ("v_read_volts", 1.0),
    "pcm_read_voltage_volts": ("v_read_pcm_volts", 1.0),
    "c_store_farads": ("c_store_farads", 1.0), "pulse_period_seconds": ("t_period_seconds", 1.0),
    "w_up_m": ("w_up_um", 1e-6), "l_up_m": ("l_up_um", 1e-6), "w_dn_m": ("w_dn_um", 1e-6),
    "l_dn_m": ("l_dn_um", 1e-6), "w_rd_m": ("w_rd_um", 1e-6), "l_rd_m": ("l_rd_um", 1e-6),
}


def _find_key(obj: Any, key: str, depth: int = 0) -> Any:
    """First value of ``key`` anywhere in a nested provenance dict (breadth first)."""
    if depth > 6:
        return None
    if isinstance(obj, Mapping):
        if key in obj and isinstance(obj[key], (int, float)) and not isinstance(obj[key], bool):
            return obj[key]
        for v in obj.values():
            r = _find_key(v, key, depth + 1)
            if r is not None:
                return r
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            r = _find_key(v, key, depth + 1)
            if r is not None:
                return r
    return None


@dataclass(frozen=True)
class DeviceCosts:
    """What the SPICE characterization says one operation costs (population means)."""

    g_cell_siemens: float          # 3T1C read conductance at v_start
    g_shared_siemens: float        # the shared reference (same circuit) at v_start
    g_pcm_siemens: float           # mean conductance of one PCM device during reads
    e_up_joules: float
    e_down_joules: float
    e_set_joules: float
    e_reset_joules: float
    e_read_cell_lut_joules: float  # the LUT's own per-read energies (cross-check)
    e_read_pcm_lut_joules: float
    lut_read_time_seconds: float | None  # integration time the LUT's read energies assume
    circuit: CircuitParams         # circuit values actually used
    circuit_sources: dict[str, str]
    lut_name: str
    lut_provenance: dict[str, Any]


def device_costs(luts: LutSet, cfg: PowerConfig) -> DeviceCosts:
    cell, pcm = luts.cell, luts.pcm
    cells = np.arange(cell.n_cells)
    g_start = cell.g(cells, np.full(cell.n_cells, cell.v_start_volts))
    g_cell = float(np.mean(g_start))
    g_reset = float(np.mean(pcm.g_reset_siemens))
    g_top = float(min(np.mean(pcm.g_max_siemens), cfg.array.pcm_window_max_siemens))
    g_pcm = g_reset + cfg.array.pcm_mean_window_fraction * max(g_top - g_reset, 0.0)
    circuit = cfg.circuit
    sources = {k: "config" for k in _LUT_CIRCUIT_KEYS}
    if cfg.use_lut_circuit_params:
        found = {}
        for fname, (key, scale) in _LUT_CIRCUIT_KEYS.items():
            v = _find_key(cell.provenance, key)
            if v is not None and v > 0:
                found[fname] = float(v) * scale
                sources[fname] = f"LUT provenance ({key})"
        if found:
            circuit = dataclasses.replace(circuit, **found)
    return DeviceCosts(
        g_cell_siemens=g_cell, g_shared_siemens=g_cell, g_pcm_siemens=g_pcm,
        e_up_joules=float(np.mean(cell.e_up_joules)), e_down_joules=float(np.mean(cell.e_down_joules)),
        e_set_joules=float(np.mean(pcm.e_set_joules)), e_reset_joules=float(np.mean(pcm.e_reset_joules)),
        e_read_cell_lut_joules=float(np.mean(cell.e_read_joules)),
        e_read_pcm_lut_joules=float(np.mean(pcm.e_read_joules)),
        lut_read_time_seconds=_find_key(cell.provenance, "read_time_seconds"),
        circuit=circuit, circuit_sources=sources, lut_name=luts.name, lut_provenance=dict(cell.provenance))


# --------------------------------------------------------------------------------------
# area
# --------------------------------------------------------------------------------------

def _transistor_area_m2(w: float, l: float, a: AreaParams) -> float:
    return (w + a.device_spacing_m) * (l + 2 * a.diffusion_extension_m)


def cell_area_m2(circuit: CircuitParams, cfg: PowerConfig, with_pcm: bool = True) -> dict[str, float]:
    """Footprint of one synapse (or of a g_shared 3T1C without PCM): transistors, capacitor, total."""
    a = cfg.area
    t = (_transistor_area_m2(circuit.w_up_m, circuit.l_up_m, a) + _transistor_area_m2(circuit.w_dn_m, circuit.l_dn_m, a)
         + _transistor_area_m2(circuit.w_rd_m, circuit.l_rd_m, a))
    if with_pcm:  # the PCM devices sit in the back end above their access transistors
        t += 2 * _transistor_area_m2(circuit.w_access_m, circuit.l_access_m, a)
    c = circuit.c_store_farads / a.capacitor_density_farads_per_m2
    core = max(t, c) if a.capacitor_stacked else t + c
    return {"transistors_m2": t, "capacitor_m2": c, "total_m2": core * a.array_overhead}


# --------------------------------------------------------------------------------------
# the estimate
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Latency:
    forward_seconds: float
    backward_seconds: float
    update_seconds: float
    transfer_event_seconds: float
    transfer_events_per_example: float    # 1 / transfer interval (or as counted by a training run)

    @property
    def time_per_example_seconds(self) -> float:
        """Wall time between two examples (forward + backward + update); what leakage sees."""
        return self.forward_seconds + self.backward_seconds + self.update_seconds

    @property
    def transfer_per_example_seconds(self) -> float:
        return self.transfer_event_seconds * self.transfer_events_per_example

    @property
    def training_seconds_per_example(self) -> float:
        """Including the transfers, amortized: sets the training throughput."""
        return self.time_per_example_seconds + self.transfer_per_example_seconds

    @property
    def inference_seconds_per_example(self) -> float:
        return self.forward_seconds

    def to_dict(self) -> dict[str, float]:
        return {"forward_seconds": self.forward_seconds, "backward_seconds": self.backward_seconds,
                "update_seconds": self.update_seconds, "transfer_event_seconds": self.transfer_event_seconds,
                "transfer_events_per_example": self.transfer_events_per_example,
                "transfer_per_example_seconds": self.transfer_per_example_seconds,
                "time_per_example_seconds": self.time_per_example_seconds,
                "training_seconds_per_example": self.training_seconds_per_example,
                "inference_seconds_per_example": self.inference_seconds_per_example}


def latency(network: str | Sequence[int], cfg: PowerConfig | None = None,
            circuit: CircuitParams | None = None, set_pulses_per_transfer: float | None = None,
            transfer_events_per_example: float | None = None) -> Latency:
    """Latency of each phase.  Layers run one after the other for one example
    (no pipelining across examples); all arrays update and transfer in parallel."""
    cfg = cfg or PowerConfig()
    circuit = circuit or cfg.circuit
    ls = layers(parse_network(network), cfg.workload.bias)
    a, adc, neu, pcm = cfg.array, cfg.adc, cfg.neuron, cfg.pcm
    t_adc = adc.lines_per_adc / adc.sample_rate_hz
    t_layer = a.read_time_seconds + t_adc + neu.time_seconds
    fwd = len(ls) * t_layer
    bwd = (len(ls) - 1) * t_layer + neu.time_seconds           # + the output error
    upd = 2 * cfg.drivers.update_slots * circuit.pulse_period_seconds  # up and down sub-phases
    iters = pcm.iterations_per_row
    if set_pulses_per_transfer is not None:
        iters = max(iters, math.ceil(set_pulses_per_transfer))
    t_row = (a.read_time_seconds + t_adc                                  # read g - g_shared
             + iters * (circuit.pcm_set_pulse_seconds + a.read_time_seconds + t_adc)  # SET + verify rounds
             + circuit.pcm_reset_pulse_seconds + circuit.pulse_period_seconds)       # RESET step, g reset
    event = max(l.rows * t_row for l in ls)
    if transfer_events_per_example is None:
        transfer_events_per_example = 1.0 / cfg.workload.transfer_interval_examples
    return Latency(fwd, bwd, upd, event, transfer_events_per_example)


def time_per_example_seconds(network: str | Sequence[int], cfg: PowerConfig | None = None,
                             luts: LutSet | None = None) -> float:
    """Seconds between two training examples on the chip (forward + backward + update):
    the idle time the array simulator applies leakage for."""
    cfg = cfg or PowerConfig()
    circuit = device_costs(luts, cfg).circuit if luts is not None else cfg.circuit
    return latency(network, cfg, circuit).time_per_example_seconds


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

    # ---- headline numbers ---------------------------------------------------------
    @property
    def energy_per_example_joules(self) -> float:
        return float(sum(sum(c.values()) for c in self.energy_joules.values()))

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
            "energy_per_example_joules": {"by_phase_component": self.energy_joules, "by_phase": self.by_phase(),
                                          "by_component": self.by_component(),
                                          "inference_by_component": self.inference_energy_joules},
            "latency": self.latency.to_dict(),
            "area_m2": {**self.area_m2, "total": self.area_total_m2},
            "cell_area_m2": self.cell_area,
            "workload": dataclasses.asdict(self.workload),
            "devices": {
                "lut": d.lut_name, "g_cell_siemens": d.g_cell_siemens, "g_shared_siemens": d.g_shared_siemens,
                "g_pcm_siemens": d.g_pcm_siemens, "e_up_joules": d.e_up_joules, "e_down_joules": d.e_down_joules,
                "e_set_joules": d.e_set_joules, "e_reset_joules": d.e_reset_joules,
                "e_read_cell_lut_joules": d.e_read_cell_lut_joules, "e_read_pcm_lut_joules": d.e_read_pcm_lut_joules,
                "circuit": dataclasses.asdict(d.circuit), "circuit_sources": d.circuit_sources,
                "read_energy_check": self.read_energy_check(),
            },
            "notes": list(self.notes),
        }


def _zero() -> dict[str, float]:
    return {c: 0.0 for c in COMPONENTS}


def _energy(ls: list[Layer], wl: Workload, dev: DeviceCosts, cfg: PowerConfig,
            notes: list[str]) -> dict[str, dict[str, float]]:
    """Energy per training example: phase -> component -> J (see the module docstring)."""
    c = dev.circuit
    a, adc, neu, drv, rt, pcm, w = cfg.array, cfg.adc, cfg.neuron, cfg.drivers, cfg.routing, cfg.pcm, cfg.workload
    v2t = c.read_voltage_volts ** 2 * a.read_time_seconds        # J per siemens of a full-duty 3T1C read
    v2t_pcm = c.pcm_read_voltage_volts ** 2 * a.read_time_seconds
    e_syn = v2t * dev.g_cell_siemens + v2t_pcm * 2 * dev.g_pcm_siemens   # J per full-duty synapse read
    e_adc = adc.fom_joules_per_step * 2 ** adc.enob_bits
    e_int = adc.integrator_power_watts * a.read_time_seconds
    cell = cell_area_m2(c, cfg)
    pitch = math.sqrt(cell["total_m2"])
    c_read = pitch * drv.wire_capacitance_farads_per_m + drv.read_load_per_cell_farads   # per cell on a read line
    c_gate = pitch * drv.wire_capacitance_farads_per_m + drv.gate_load_per_cell_farads   # per cell on a pulse line
    bits = rt.bits_per_value
    e_route_bit = rt.route_activity * drv.wire_capacitance_farads_per_m * rt.route_distance_m * c.vdd_volts ** 2
    e_buf_bit = rt.buffer_energy_joules_per_bit
    n_total = sum(l.synapses for l in ls)

    # stochastic coincidence: pulses per synapse = slots x p_row x p_col, so the column
    # activity follows from the (measured or estimated) pulse count
    pulses_per_synapse = (wl.pulses_up_per_example + wl.pulses_down_per_example) / n_total
    col_activity = pulses_per_synapse / (drv.update_slots * drv.update_row_activity)
    if col_activity > 1.0:
        notes.append(f"{pulses_per_synapse:.3g} update pulses per synapse and example exceed what "
                     f"{drv.update_slots} slots at row activity {drv.update_row_activity:g} can give: column "
                     "activity capped at 1")
        col_activity = 1.0

    def n_shared(n: int) -> int:
        return math.ceil(n / a.cells_per_g_shared)

    E = {ph: _zero() for ph in PHASES}
    for i, l in enumerate(ls):
        # forward: rows driven with duration-encoded activations, columns integrated
        f = E["forward"]
        f["array_read"] += a.input_mean_duty * l.synapses * e_syn
        f["g_shared"] += v2t * a.input_mean_duty * n_shared(l.synapses) * dev.g_shared_siemens
        f["pulse_drivers"] += l.rows * (l.n_out * c_read * c.read_voltage_volts ** 2 + drv.pwm_logic_energy_joules)
        f["adc"] += l.n_out * e_adc
        f["integrator"] += l.n_out * e_int
        f["neuron"] += l.n_out * neu.activation_energy_joules
        f["routing_buffers"] += l.n_out * bits * (e_route_bit + e_buf_bit) + l.n_in * bits * e_buf_bit
        # backward through the transposed array (not needed for the first layer)
        b = E["backward"]
        if i > 0:
            b["array_read"] += a.input_mean_duty * l.n_in * l.n_out * e_syn
            b["g_shared"] += v2t * a.input_mean_duty * n_shared(l.n_in * l.n_out) * dev.g_shared_siemens
            b["pulse_drivers"] += l.n_out * (l.rows * c_read * c.read_voltage_volts ** 2 + drv.pwm_logic_energy_joules)
            b["adc"] += l.n_in * e_adc
            b["integrator"] += l.n_in * e_int
            b["neuron"] += l.n_in * neu.derivative_energy_joules
            b["routing_buffers"] += l.n_in * bits * (e_route_bit + e_buf_bit) + l.n_out * bits * e_buf_bit
        if i == len(ls) - 1:
            b["neuron"] += l.n_out * neu.derivative_energy_joules     # output error
        # update: coincident row/column pulses; the cells' own pulse energy from SPICE
        share = l.synapses / n_total
        u = E["update"]
        u["cell_update_3t1c"] += share * (wl.pulses_up_per_example * dev.e_up_joules
                                          + wl.pulses_down_per_example * dev.e_down_joules)
        # a row line carries n_out gates, a column line `rows` gates
        u["pulse_drivers"] += drv.update_slots * l.rows * l.n_out * c_gate * c.vdd_volts ** 2 * (
            drv.update_row_activity + col_activity)
        u["routing_buffers"] += (l.n_in + l.n_out) * bits * e_buf_bit
        u["pcm_program"] += share * wl.update_set_pulses_per_example * dev.e_set_joules
        # transfer, amortized per example: read g - g_shared, program-and-verify the PCM pair, reset g
        t = E["transfer"]
        xfer = wl.cell_transfers_per_example * share
        sets = wl.set_pulses_per_example * share
        verify = sets * pcm.verify_reads_per_set
        t["array_read"] += v2t * xfer * dev.g_cell_siemens + v2t_pcm * verify * dev.g_pcm_siemens
        t["g_shared"] += v2t * xfer / a.cells_per_g_shared * dev.g_shared_siemens
        t["adc"] += (xfer + verify) * e_adc
        t["integrator"] += (xfer + verify) * e_int
        t["pcm_program"] += sets * dev.e_set_joules + wl.reset_pulses_per_example * share * dev.e_reset_joules
        t["g_reset"] += xfer * c.c_store_farads * c.vdd_volts * w.g_reset_mean_dv_volts
        t["neuron"] += xfer * neu.transfer_logic_energy_joules
        # the read line of the row being transferred: one row read serves its n_out cells
        t["pulse_drivers"] += (xfer * c.read_voltage_volts ** 2 + verify * c.pcm_read_voltage_volts ** 2) * c_read

    return E


def _area(ls: list[Layer], c: CircuitParams, cfg: PowerConfig) -> tuple[dict[str, float], dict[str, float]]:
    """Area by component (m^2) and the area of one synapse."""
    a, adc, neu, drv, rt = cfg.array, cfg.adc, cfg.neuron, cfg.drivers, cfg.routing
    cell = cell_area_m2(c, cfg)
    bits = rt.bits_per_value
    n_total = sum(l.synapses for l in ls)
    n_sh_total = sum(math.ceil(l.synapses / a.cells_per_g_shared) for l in ls)
    sh_cell = cell_area_m2(c, cfg, with_pcm=False)["total_m2"]
    integrated = sum(l.n_out + (l.n_in if i > 0 else 0) for i, l in enumerate(ls))
    n_adc = sum(math.ceil(l.n_out / adc.lines_per_adc) + (math.ceil(l.n_in / adc.lines_per_adc) if i > 0 else 0)
                for i, l in enumerate(ls))
    periphery = {
        "adc": n_adc * adc.area_m2,
        "integrator": integrated * adc.integrator_area_m2,
        "neuron": sum(l.n_out for l in ls) * neu.area_m2,
        "drivers": sum(2 * (l.rows + l.n_out) for l in ls) * drv.area_m2,   # read + update driver per line
        "buffers": sum(l.n_in + l.n_out for l in ls) * bits * rt.sram_bit_area_m2 * rt.sram_overhead,
    }
    area = {"cells": n_total * cell["total_m2"], "g_shared_cells": n_sh_total * sh_cell, **periphery,
            "routing_overhead": rt.periphery_routing_overhead * sum(periphery.values())}
    return area, cell


def estimate(luts: LutSet, network: str | Sequence[int] | None = None,
             training: Mapping[str, Any] | str | Path | None = None,
             config: PowerConfig | None = None, examples: int | None = None) -> PowerEstimate:
    """Energy, latency and area of training (and inference) of ``network`` on cells
    described by ``luts``.

    ``training`` is a training summary (dict) or run directory: its pulse,
    transfer and PCM-pulse counts replace the estimates.  ``network`` may be
    omitted when a training run gives it; if both are given they must agree.
    """
    cfg = config or PowerConfig()
    notes: list[str] = []
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

    E = _energy(ls, wl, dev, cfg, notes)
    inference = dict(E["forward"])
    area, cell = _area(ls, dev.circuit, cfg)

    lat = latency(sizes, cfg, c, wl.set_pulses_per_example / wl.cell_transfers_per_example
                  if wl.cell_transfers_per_example > 0 else None,
                  transfer_events_per_example=wl.cell_transfers_per_example / ops["synapses"])
    if wl.training_time_per_example_seconds:
        ratio = wl.training_time_per_example_seconds / lat.time_per_example_seconds
        if not 0.5 <= ratio <= 2.0:
            notes.append(f"the training run assumed {wl.training_time_per_example_seconds:.3g} s per example for "
                         f"leakage; this latency model gives {lat.time_per_example_seconds:.3g} s")
    notes.append("the gain factor F is assumed to be applied in the periphery: it does not scale PCM read energy")
    notes.append("layers run one after another for one example (no pipelining across examples); "
                 "static leakage power of the periphery is not included")
    return PowerEstimate(network=sizes, ops=ops, energy_joules=E, inference_energy_joules=inference, area_m2=area,
                         cell_area=cell, latency=lat, workload=wl, devices=dev, config=cfg, notes=tuple(notes))


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


def corner_row(luts: LutSet, training: Mapping[str, Any] | str | Path | None, network: str | Sequence[int] | None = None,
               config: PowerConfig | None = None) -> dict[str, float]:
    """The energy columns of one corner for ``pcmspice corners --train``."""
    est = estimate(luts, network, training, config)
    return {"energy_per_example_joules": est.energy_per_example_joules,
            "gops_per_watt_training": est.gops_per_watt_training,
            "gops_per_watt_inference": est.gops_per_watt_inference,
            "tops_per_mm2_training": est.tops_per_mm2_training,
            "time_per_example_seconds": est.latency.time_per_example_seconds}


__all__ = [
    "PowerConfig", "CircuitParams", "ArrayParams", "AdcParams", "NeuronParams", "DriverParams", "RoutingParams",
    "PcmParams", "WorkloadParams", "AreaParams", "GpuParams", "CpuParams", "load_config", "parse_network",
    "network_name", "op_counts", "Workload", "estimated_workload", "workload_from_training", "load_summary",
    "overrides_from_training_config",
    "DeviceCosts", "device_costs", "cell_area_m2", "Latency", "latency", "time_per_example_seconds",
    "PowerEstimate", "estimate", "estimate_for_run", "corner_row", "PHASES", "COMPONENTS",
]

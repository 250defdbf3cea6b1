"""What one cell costs: the energy of each operation from the SPICE lookup tables, the circuit
values those energies were measured with (read from the tables' provenance by name), and the
cell's footprint."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.lut.format import LutSet
from pcmspice.lut.provenance import LutProvenance
from pcmspice.power.config import AreaParams, CircuitParams, PowerConfig

_LUT_CIRCUIT_KEYS = {  # CircuitParams field -> (the cells' netlist parameter, scale to SI)
    "vdd_volts": ("vdd_volts", 1.0), "read_voltage_volts": ("v_read_volts", 1.0),
    "pcm_read_voltage_volts": ("v_read_pcm_volts", 1.0),
    "c_store_farads": ("c_store_farads", 1.0), "pulse_period_seconds": ("t_period_seconds", 1.0),
    "w_up_m": ("w_up_um", 1e-6), "l_up_m": ("l_up_um", 1e-6), "w_dn_m": ("w_dn_um", 1e-6),
    "l_dn_m": ("l_dn_um", 1e-6), "w_rd_m": ("w_rd_um", 1e-6), "l_rd_m": ("l_rd_um", 1e-6),
}


_LEVELS = {"up_idle_volts": "v_up_off_volts", "down_idle_volts": "v_dn_off_volts"}  # may be negative

_SWINGS = {"up_swing_volts": ("v_up_off_volts", "v_up_on_volts"),
           "down_swing_volts": ("v_dn_on_volts", "v_dn_off_volts")}


def _recorded(prov: LutProvenance, field: str, key: str) -> float | None:
    """The LUT's value of netlist parameter ``key``: the supply as recorded, the rest from the cells' parameters."""
    return prov.vdd_volts if field == "vdd_volts" else prov.cell_params.get(key)


def _swing(prov: LutProvenance, field: str) -> float | None:
    hi, lo = (prov.cell_params.get(k) for k in _SWINGS[field])
    return None if hi is None or lo is None else float(hi) - float(lo)


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
    c_gate_up_farads: float        # gate load of one cell's up switch on its pulse line
    c_gate_down_farads: float
    gate_load_source: str          # where those come from
    circuit: CircuitParams         # circuit values actually used
    circuit_sources: dict[str, str]
    lut_name: str
    lut_provenance: dict[str, Any]


def device_costs(luts: LutSet, cfg: PowerConfig) -> DeviceCosts:
    cell, pcm = luts.cell, luts.pcm
    prov = cell.typed_provenance
    cells = np.arange(cell.n_cells)
    g_start = cell.g(cells, np.full(cell.n_cells, cell.v_start_volts))
    g_cell = float(np.mean(g_start))
    g_reset = float(np.mean(pcm.g_reset_siemens))
    g_top = float(min(np.mean(pcm.g_max_siemens), cfg.array.pcm_window_max_siemens))
    g_pcm = g_reset + cfg.array.pcm_mean_window_fraction * max(g_top - g_reset, 0.0)
    circuit = cfg.circuit
    sources = {k: "config" for k in (*_LUT_CIRCUIT_KEYS, *_SWINGS, *_LEVELS)}
    if cfg.use_lut_circuit_params:
        found = {}
        for fname, key in _LEVELS.items():
            v = prov.cell_params.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                found[fname] = float(v)
                sources[fname] = f"LUT provenance ({key})"
        for fname in _SWINGS:
            v = _swing(prov, fname)
            if v is not None and v > 0:
                found[fname] = v
                sources[fname] = "LUT provenance (" + " - ".join(_SWINGS[fname]) + ")"
        for fname, (key, scale) in _LUT_CIRCUIT_KEYS.items():
            v = _recorded(prov, fname, key)
            if v is not None and v > 0:
                found[fname] = float(v) * scale
                sources[fname] = f"LUT provenance ({key})"
        if found:
            circuit = dataclasses.replace(circuit, **found)
    c_up, c_dn, gsrc = gate_loads(cell, circuit, cfg)
    return DeviceCosts(
        c_gate_up_farads=c_up, c_gate_down_farads=c_dn, gate_load_source=gsrc,
        g_cell_siemens=g_cell, g_shared_siemens=g_cell, g_pcm_siemens=g_pcm,
        e_up_joules=float(np.mean(cell.e_up_joules)), e_down_joules=float(np.mean(cell.e_down_joules)),
        e_set_joules=float(np.mean(pcm.e_set_joules)), e_reset_joules=float(np.mean(pcm.e_reset_joules)),
        e_read_cell_lut_joules=float(np.mean(cell.e_read_joules)),
        e_read_pcm_lut_joules=float(np.mean(pcm.e_read_joules)),
        lut_read_time_seconds=prov.read_time_seconds,
        circuit=circuit, circuit_sources=sources, lut_name=luts.name, lut_provenance=dict(cell.provenance))


def gate_loads(cell: Any, circuit: CircuitParams, cfg: PowerConfig) -> tuple[float, float, str]:
    """Gate load (F) of one cell's up and down switch on its pulse line, and where it comes from:
    ``drivers.gate_load_per_cell_farads`` when set (> 0), else the LUT's SPICE values (population
    mean), else Cox W L of the switch sizes."""
    drv = cfg.drivers
    if drv.gate_load_per_cell_farads > 0:
        return (drv.gate_load_per_cell_farads, drv.gate_load_per_cell_farads,
                "config override (drivers.gate_load_per_cell_farads)")
    up, dn = np.asarray(cell.c_gate_up_farads), np.asarray(cell.c_gate_down_farads)
    if up.size and dn.size and np.all(up > 0) and np.all(dn > 0):
        return float(np.mean(up)), float(np.mean(dn)), "LUT (SPICE: Q/dV of the pulse edge, c_gate_up/down_farads)"
    cox = drv.gate_cox_farads_per_m2
    return (cox * circuit.w_up_m * circuit.l_up_m, cox * circuit.w_dn_m * circuit.l_dn_m,
            "estimate Cox W L (drivers.gate_cox_farads_per_m2; the LUT has no gate loads)")


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

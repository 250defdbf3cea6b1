"""The cell and PCM lookup tables of a sweep: SPICE measurements of a population into LUT arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.characterize.sweep import SweepConfig, combo_name, netlist_hashes
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.provenance import versions
from pcmspice.lut import format as lutmod


def cell_arrays(run: cellmod.Run, mm: dict[str, np.ndarray], grid: np.ndarray, step_points: int,
                read_time_seconds: float) -> dict[str, np.ndarray]:
    """The CellLut arrays of the cells ``mm`` (read curve, leakage, step map, energies, read noise, gate loads)."""
    g = cellmod.read_curve(run, mm, grid)
    leak = cellmod.leak_curve(run, mm, grid)
    step_grid = np.linspace(grid[0], grid[-1], step_points)
    # The step map puts 2 x step_points instances per cell in a transient; netlists of
    # about 100 instances run fastest (measured: 49 ms/cell at 1-2 cells per netlist,
    # 85 ms/cell at 10-40), so the step map is chunked more finely than the DC sweeps.
    per = max(1, 128 // (2 * step_points))
    maps = [cellmod.step_map(run, cellmod.subset(mm, sl), step_grid)
            for sl in cellmod.chunks(len(mm["dvt_up"]), per)]
    sm = cellmod.StepMap(*(np.concatenate([getattr(m, f) for m in maps]) for f in
                           ("dv_up_volts", "dv_down_volts", "e_up_joules", "e_down_joules")), maps[0].netlist_hash)
    check_rails(run, step_grid, sm.dv_up_volts, sm.dv_down_volts)
    check_train(run, mm, step_grid, sm.dv_up_volts, sm.dv_down_volts)
    # the step map is smooth in Vc: linear interpolation onto the fine grid
    up = np.stack([np.interp(grid, step_grid, r) for r in sm.dv_up_volts])
    dn = np.stack([np.interp(grid, step_grid, r) for r in sm.dv_down_volts])
    p = cellmod.cell_params(run.tech, run.params)
    g_start = np.array([np.interp(p["v_start_volts"], grid, r) for r in g])
    e_read = p["v_read_volts"] ** 2 * g_start * read_time_seconds
    c_up, c_dn = cellmod.gate_load(run, mm)
    # read noise from ngspice's .noise at the step map's start voltages; std/g spans decades
    # over Vc (from ~1 near Vc = 0 to ~1e-3), so it is interpolated in log
    rel = cellmod.read_noise(run, mm, step_grid, read_time_seconds)
    noise = np.exp(np.stack([np.interp(grid, step_grid, np.log(r)) for r in rel]))
    return {"read_noise_rel": noise, "c_gate_up_farads": c_up, "c_gate_down_farads": c_dn,
            "g_siemens": g, "leak_volts_per_s": leak, "dv_up_volts": np.maximum(up, 0.0),
            "dv_down_volts": np.minimum(dn, 0.0), "e_up_joules": sm.e_up_joules, "e_down_joules": sm.e_down_joules,
            "e_read_joules": e_read}


def check_rails(run: cellmod.Run, grid: np.ndarray, dv_up: np.ndarray, dv_down: np.ndarray) -> None:
    """Refuse (one line naming the cell's parameters and the peak) a population whose storage node, after one
    pulse from any start voltage of ``grid``, leaves [0, VDD] by more than
    :data:`~pcmspice.circuits.c3t1c.RAIL_MARGIN_VOLTS`: its LUTs would describe no usable cell."""
    p = cellmod.cell_params(run.tech, run.params)
    grid = np.asarray(grid, float)
    bad = cellmod.rail_excursion(np.concatenate([(grid + dv_up).ravel(), (grid + dv_down).ravel()]),
                                 p["vdd_volts"])
    if bad:
        shown = {"c_store_farads": p["c_store_farads"], "vdd_volts": p["vdd_volts"], **(run.params or {})}
        given = ", ".join(f"{k} = {float(v):g}" for k, v in shown.items())
        raise ConfigError(f"cell ({given}; {run.tech.name} {run.corner} {run.temp_c:g} °C): one pulse from "
                          f"the step map's start voltages: {bad}; the capacitor is too small for the charge of a "
                          "pulse: choose a larger c_store_farads or a gentler pulse")


TRAIN_PULSES = 32   # a train of pulses in a row, twice the 16 pulse slots of an example


def check_train(run: cellmod.Run, mm: dict[str, np.ndarray], grid: np.ndarray, dv_up: np.ndarray,
                dv_down: np.ndarray, n_pulses: int = TRAIN_PULSES) -> None:
    """Refuse (as :func:`check_rails`) a population whose storage node leaves the rails during a train of
    ``n_pulses`` up pulses from the lowest start voltage of ``grid`` or down pulses from the highest: a train
    charges the node beyond where single pulses from any start voltage land (1 fF on generic65: one pulse stays
    in [-0.08, 1.03] V, 32 in a row reach 1.15 V and -0.19 V).  One transient of two cells, those of the batch
    with the largest up step from the bottom and the largest down step from the top (their step map is known),
    adds a few % to a batch."""
    p = cellmod.cell_params(run.tech, run.params)
    grid = np.asarray(grid, float)
    pick = [int(np.argmax(dv_up[:, 0])), int(np.argmin(dv_down[:, -1]))]
    seq = np.array([[1] * n_pulses, [-1] * n_pulses])
    res = cellmod.pulses(run, cellmod.subset(mm, np.array(pick)), np.array([grid[0], grid[-1]]), seq)
    bad = cellmod.rail_excursion(res.vc_volts.ravel(), p["vdd_volts"])
    if bad:
        shown = {"c_store_farads": p["c_store_farads"], "vdd_volts": p["vdd_volts"], **(run.params or {})}
        given = ", ".join(f"{k} = {float(v):g}" for k, v in shown.items())
        raise ConfigError(f"cell ({given}; {run.tech.name} {run.corner} {run.temp_c:g} °C): a train of {n_pulses} "
                          f"up pulses from {grid[0]:g} V or down pulses from {grid[-1]:g} V: {bad}; the capacitor "
                          "is too small for the charge of a pulse train: choose a larger c_store_farads or a "
                          "gentler pulse")


def cell_lut(run: cellmod.Run, mm: dict[str, np.ndarray], grid: np.ndarray, step_points: int = 26,
             read_time_seconds: float = 10e-9, provenance: dict | None = None) -> lutmod.CellLut:
    """A CellLut of the given cells, straight from SPICE (no batching, no files)."""
    p = cellmod.cell_params(run.tech, run.params)
    arrays = cell_arrays(run, mm, grid, step_points, read_time_seconds)
    return lutmod.CellLut(vc_volts=np.asarray(grid, float), v_start_volts=p["v_start_volts"], mismatch=dict(mm),
                          provenance=provenance or {}, **arrays)


def _pcm_grid() -> np.ndarray:
    return np.linspace(0.0, 30e-6, 61)


def assemble(cfg: SweepConfig, corner: str, temp: float, vdd: float, parts: dict[Any, dict[str, np.ndarray]],
             key: str) -> lutmod.LutSet:
    cells = sorted((b for b in parts if b.kind == "cell"), key=lambda b: b.first)
    cat = {k: np.concatenate([parts[b][k] for b in cells]) for k in parts[cells[0]]}
    run = cfg.run_for(corner, temp, vdd)
    p = cellmod.cell_params(run.tech, run.params)
    prov = {
        "technology": run.tech.name, "corner": corner, "temp_c": temp, "vdd_volts": vdd, "seed": cfg.seed,
        "n_cells": cfg.n_cells, "sweep_key": key, "sweep": cfg.to_dict(), "netlist_hashes": netlist_hashes(),
        "tech": run.tech.provenance(), "versions": versions(), "cell_params": p,
    }
    mism = {k[len("mismatch_"):]: cat.pop(k) for k in list(cat) if k.startswith("mismatch_")}
    cell_lut = lutmod.CellLut(vc_volts=cfg.vc_grid(vdd), v_start_volts=p["v_start_volts"], mismatch=mism,
                              provenance=prov, **cat)
    pcm_b = [b for b in parts if b.kind == "pcm"]
    if not pcm_b:
        raise PcmSpiceError("the PCM model (pcmspice.circuits.pcm) is not available; cannot build the PCM table")
    pa = dict(parts[pcm_b[0]])
    pa["drift_t0_seconds"] = float(pa["drift_t0_seconds"])
    pcm_lut = lutmod.PcmLut(provenance=prov, **pa)
    return lutmod.LutSet(cell_lut, pcm_lut, combo_name(run.tech.name, corner, temp, vdd))



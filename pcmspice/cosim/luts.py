"""The LUT path: the lookup tables of exactly the array's cells (built in SPICE, cached), and the LUT
array that holds them in the same positions and replays the chip's programming pulses."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice import characterize as charmod
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.pcm import PcmModel, ProgramResult
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm as pcmmod
from pcmspice.circuits import pcm_tables
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.cosim.cells import ArrayCells
from pcmspice.cosim.config import CosimConfig
from pcmspice.lut import format as lutmod
from pcmspice.spice import netlist as nl
from pcmspice.spice import tech as techmod


def lut_key(cfg: CosimConfig) -> str:
    d = {k: getattr(cfg, k) for k in ("rows", "cols", "technology", "corner", "temp_c", "seed", "vc_points")}
    net = {t: nl.template_hash(t) for t in charmod.CELL_TEMPLATES + pcmmod.LUT_TEMPLATES}
    blob = json.dumps({"cfg": d, "net": net, "tech": techmod.load(cfg.technology).provenance()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    base = paths.cache_root()
    return Path(base) / "cosim"


def build_luts(cfg: CosimConfig, cells: ArrayCells, cache_dir: Path | None = None) -> tuple[lutmod.LutSet, float]:
    """The cell and PCM tables of exactly these cells, from SPICE (or the cache).  Returns (luts, seconds)."""
    key = lut_key(cfg)
    d = paths.writable_dir(cache_dir, "the cosim LUT cache") / key if cache_dir else None
    if d is not None and (d / lutmod.CELL_FILE).exists() and (d / lutmod.PCM_FILE).exists():
        try:
            return lutmod.load_lut_set(d), 0.0
        except LutError:
            pass   # a damaged cache entry is rebuilt
    t0 = time.perf_counter()
    run = cfg.run()
    grid = np.linspace(0.0, run.tech.vdd_volts, cfg.vc_points)
    prov = {"kind": "cosim-luts", "key": key, "technology": techmod.load(cfg.technology).name, "corner": cfg.corner,
            "temp_c": cfg.temp_c, "seed": cfg.seed, "rows": cfg.rows, "cols": cfg.cols,
            "cells": "R*C unit cells (k = i*C + j) then C g_shared references",
            "pcm_devices": "G+ of cell k = 2k, G- = 2k+1", "netlist_hashes": {
                t: nl.template_hash(t) for t in charmod.CELL_TEMPLATES + pcmmod.LUT_TEMPLATES}}
    cell_lut = charmod.cell_lut(run, cells.mismatch, grid, provenance=prov)
    pa = pcm_tables.pcm_lut_arrays(run, 2 * cells.n_cells, cells.seed, np.linspace(0.0, 30e-6, 61))
    pcm_lut = lutmod.PcmLut(provenance=prov, **pa)
    luts = lutmod.LutSet(cell_lut, pcm_lut, f"cosim_{key}")
    if d is not None:
        lutmod.save_lut_set(luts, d)
    return luts, time.perf_counter() - t0


def check_same_cells(luts: lutmod.LutSet, cells: ArrayCells, run: cellmod.Run) -> None:
    """Refuse tables that are not of exactly these cells (a stale cache, a changed draw)."""
    mm = luts.cell.mismatch
    same = all(np.shape(mm.get(k)) == cells.mismatch[k].shape and np.array_equal(mm[k], cells.mismatch[k])
               for k in cellmod.MISMATCH_KEYS)
    g_max = pcmmod.pcm_params(run.tech, run.params)["g_cryst_siemens"] * cells.variation["gcm"]
    if not same or luts.pcm.g_max_siemens.shape != g_max.shape \
            or not np.allclose(luts.pcm.g_max_siemens, g_max, rtol=1e-12, atol=0):
        raise LutError("the lookup tables are not of this array's cells (stale cache?); rerun with --no-cache")


class ReplayProgrammer:
    """The LUT array's programmer in the co-simulation: the chip's programming pulses, on the tables.

    :meth:`load` takes what :meth:`SpiceChip.program_pairs` did (per device, its
    RESET and SET pulses in order, each SET with its multiplier m); calling the
    programmer (the signature of :func:`pcmspice.array.pcm.program`) applies
    them: a RESET sets G to the device's RESET conductance, a SET adds the
    LUT's mean step at the present G times m (capped at full SET).  Every
    loaded device must be programmed exactly once.
    """

    def __init__(self) -> None:
        self.ops: dict[int, list[tuple]] = {}

    def load(self, spice_out: dict[str, Any]) -> None:
        if self.ops:
            raise ConfigError(f"{len(self.ops)} devices still hold programming pulses of an earlier event")
        self.ops = {int(d): ops for d, ops in zip(spice_out["devices"], spice_out["ops"]) if ops}

    def __call__(self, model: PcmModel, devices: np.ndarray, g_now: np.ndarray, target: np.ndarray, *,
                 tolerance: float, max_pulses: int, rng, read_noise: bool = True) -> ProgramResult:
        devices = np.asarray(devices, np.int64)
        g = np.array(g_now, dtype=np.float64)
        sets = np.zeros(devices.size, np.int64)
        resets = np.zeros(devices.size, np.int64)
        for i, d in enumerate(devices):
            for op in self.ops.pop(int(d), ()):
                if op[0] == "reset":
                    g[i] = model.g_reset[d]
                    resets[i] += 1
                else:
                    step = PcmModel.set_step(model, devices[i:i + 1], g[i:i + 1], None)[0]
                    g[i] = min(g[i] + step * op[1], model.g_max[d])
                    sets[i] += 1
        if self.ops:
            raise ConfigError(f"the LUT array did not program devices {sorted(self.ops)[:8]} that the chip did")
        t = np.clip(np.asarray(target, np.float64), model.g_reset[devices], model.g_max[devices])
        return ProgramResult(g, sets, resets, np.abs(g - t) <= tolerance)


def lut_array(cfg: CosimConfig, cells: ArrayCells, luts: lutmod.LutSet) -> AnalogArray:
    """The LUT array with position (i, j) = the cells' Monte Carlo cell i*C + j (identity assignment)."""
    R, C = cells.rows, cells.cols
    k = cells.cell_index().T                       # (C, R): W[j, i] is cell i*C + j
    assignment = {"lut_cell": k, "lut_cell_shared": cells.ref_index()[:, None], "pcm_device_plus": 2 * k,
                  "pcm_device_minus": 2 * k + 1}
    # the numpy kernel: same results as numba's, and no JIT compile in the LUT path's timing
    arr = AnalogArray(C, R, luts, cfg.array_config(), seed=cfg.seed, assignment=assignment, kernel="numpy")
    if not (np.array_equal(arr.cell_idx, k) and np.array_equal(arr.ref_idx, assignment["lut_cell_shared"])
            and np.array_equal(arr.dev_p, 2 * k) and np.array_equal(arr.dev_m, 2 * k + 1)):
        raise ConfigError("the LUT array did not take the identity cell assignment")
    arr.programmer = ReplayProgrammer()
    return arr

"""The LUT path: the lookup tables of exactly the array's cells (built in SPICE, cached), and the LUT
array that holds them in the same positions and replays the chip's programming pulses and their outcome."""
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
    """``$PCMSPICE_CACHE/cosim`` (``~/.cache/pcmspice/cosim``); `pcmspice cache` lists and prunes it."""
    from pcmspice.characterize.cache import cosim_dir
    return cosim_dir()


def build_luts(cfg: CosimConfig, cells: ArrayCells, cache_dir: Path | None = None) -> tuple[lutmod.LutSet, float]:
    """The cell and PCM tables of exactly these cells, from SPICE (or the cache).  Returns (luts, seconds)."""
    key = lut_key(cfg)
    d = paths.writable_dir(cache_dir, "the cosim LUT cache") / key if cache_dir else None
    if d is None:
        return _build_luts(cfg, cells, key, None)
    from pcmspice.core import locks
    with locks.waiting(d, "building"):   # one process builds an entry, the others wait and read it
        return _build_luts(cfg, cells, key, d)


def _build_luts(cfg: CosimConfig, cells: ArrayCells, key: str, d: Path | None) -> tuple[lutmod.LutSet, float]:
    if d is not None and (d / lutmod.CELL_FILE).exists() and (d / lutmod.PCM_FILE).exists():
        try:
            luts = lutmod.load_lut_set(d)
            from pcmspice.characterize.cache import touch
            touch(d)   # its last use, for `pcmspice cache prune --older-than`
            return luts, 0.0
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
    if d is not None:   # written aside and renamed into place: a reader never sees half an entry
        from pcmspice.core.outputs import atomic_dir
        with atomic_dir(d, "cosim-luts", key, force=True) as stage:
            lutmod.save_lut_set(luts, stage)
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
    """The LUT array's programmer in the co-simulation: the chip's programming pulses and their outcome.

    :meth:`load` takes what :meth:`SpiceChip.program_pairs` did (per device,
    its RESET and SET pulses in order, each with the programmed conductance
    G0 it left on the chip; a SET also with its draws m, z and the G0 before
    it); calling the programmer (the signature of
    :func:`pcmspice.array.pcm.program`) applies them: every pulse is counted,
    and after each the device holds the conductance the chip's pulse left.
    Every loaded device must be programmed exactly once.

    A pulse's outcome is replayed, as its count is, because a table cannot
    reproduce one draw: the PCM table holds the distribution of a step (mean
    and std at G, with the kick), not its response to a given (m, z).  The
    table is checked against the chip's steps instead: :attr:`steps` lists,
    for every SET of the last call, (device, G0 before, chip's dG, table mean,
    table std) at the chip's G0 before the pulse, and :attr:`resets` (device,
    chip's G0 after, table RESET level).
    """

    def __init__(self) -> None:
        self.ops: dict[int, list[tuple]] = {}
        self.steps = np.zeros((0, 5))
        self.resets = np.zeros((0, 3))

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
        steps, rst = [], []
        for i, d in enumerate(devices):
            for op in self.ops.pop(int(d), ()):
                if op[0] == "reset":
                    g[i] = op[1]
                    resets[i] += 1
                    rst.append((d, op[1], model.g_reset[d]))
                else:
                    _, _m, _z, before, after = op
                    at = np.array([before])
                    steps.append((d, before, after - before, PcmModel.set_step(model, devices[i:i + 1], at, None)[0],
                                  float(model.std(model.std.offsets(devices[i:i + 1]), at)[0])))
                    g[i] = after
                    sets[i] += 1
        if self.ops:
            raise ConfigError(f"the LUT array did not program devices {sorted(self.ops)[:8]} that the chip did")
        self.steps = np.array(steps, float).reshape(-1, 5)
        self.resets = np.array(rst, float).reshape(-1, 3)
        t = np.clip(np.asarray(target, np.float64), model.g_reset[devices], model.g_max[devices])
        return ProgramResult(g, sets, resets, np.abs(g - t) <= tolerance)


def lut_array(cfg: CosimConfig, cells: ArrayCells, luts: lutmod.LutSet) -> AnalogArray:
    """The LUT array with position (i, j) = the cells' Monte Carlo cell i*C + j (identity assignment)."""
    R, C = cells.rows, cells.cols
    k = cells.cell_index().T                       # (C, R): W[j, i] is cell i*C + j
    assignment = {"lut_cell": k, "lut_cell_shared": cells.ref_index()[:, None], "pcm_device_plus": 2 * k,
                  "pcm_device_minus": 2 * k + 1}
    # the numpy kernel: same results as numba's, and no JIT compile in the LUT path's timing
    arr = AnalogArray(C, R, luts, cfg.array_config(), seed=cfg.seed, assignment=assignment, kernel="numpy",
                      programmer=ReplayProgrammer())
    if cfg.drift_predistort:   # the co-simulation calls the transfers: aim at the middle of its interval
        if not cfg.transfer_every:
            raise ConfigError("cosim: drift_predistort needs transfer_every > 0 (it aims at the middle of the "
                              "transfer interval)")
        arr.pcm_pairs.predistort_over(cfg.transfer_every * cfg.time_per_example_seconds)
    if not (np.array_equal(arr.cell_idx, k) and np.array_equal(arr.ref_idx, assignment["lut_cell_shared"])
            and np.array_equal(arr.dev_p, 2 * k) and np.array_equal(arr.dev_m, 2 * k + 1)):
        raise ConfigError("the LUT array did not take the identity cell assignment")
    return arr

"""SPICE in the loop: one small network trained twice, on the SPICE array and on the LUT array.

The same physical cells, the same data order and the same pulses:

* the SPICE path (:class:`~pcmspice.cosim.spice_array.SpiceArray`) is the chip:
  its forward read gives the outputs, the error and the pulses of every
  example are computed from them, and every array operation (forward and
  backward read, update pulses, idle time, PCM programming) is an ngspice run;
* the LUT path (:class:`~pcmspice.array.crossbar.AnalogArray`) receives exactly the
  same pulse counts (``apply_pulses``), the same idle time (``advance``) and
  the same transfers (``transfer``), on lookup tables built from exactly the
  same Monte Carlo cells (position (i, j) is the same cell in both).

PCM programming is closed loop on the chip: the SPICE path runs
program-and-verify (SET pulse n of device d during programming event e has
the lognormal growth-rate multiplier m[d, e, n] of
:func:`pcmspice.circuits.pcm.c2c_multipliers`), and the LUT path receives the same
programming pulses, as it receives the same update pulses: the RESETs and
the SETs (each the LUT's mean step at the present G times the same m) that
the chip's verify loop applied (:class:`ReplayProgrammer`).  Letting the LUT
path run its own verify loop instead makes the comparison chaotic: a device
whose verify read lands within ~1e-9 S of the tolerance edge overshoots in
one path and not in the other, the two paths then RESET and reprogram it
differently, and end up to two tolerances (~2 uS) apart; on 4 x 4 arrays that
happened on 2 of 5 seeds with the first cell design and 1 of 5 with the present one.
The LUT array's own verify loop is tested against its tolerance in
tests/test_array.py.  What remains different is the model error of the
tables (interpolation of g, of the step per pulse and of the PCM step, the
LUT's leakage integrator, m x mean step vs the model's 1 - exp(-m K), the
access transistor in the chip's PCM reads), which is what this module
measures.

The problem: the scikit-learn digits, classes 0 .. C-1, projected on their
first R-1 principal components (fitted on the training split), each divided
by twice its standard deviation and clipped to [-1, 1], plus a bias input
fixed at 1: an R-input, C-output single layer with softmax and cross-entropy,
trained per example.  Inputs are read durations; a signed input vector is
read as its positive part minus its negative part (two reads), and its sign
enters the update through the pulse direction of its row.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice import characterize as charmod
from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray, Pulses
from pcmspice.array.pcm import PcmModel, ProgramResult
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm as pcmmod
from pcmspice.circuits import pcm_tables
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.cosim.spice_array import TEMPLATES, ArrayCells, SpiceArray, coincidence_schedule, draw_cells
from pcmspice.lut import format as lutmod
from pcmspice.spice import netlist as nl
from pcmspice.spice import tech as techmod

VC_RMS_BOUND_VOLTS = 5e-3
AGREEMENT_BOUND = 0.98


# ---------------------------------------------------------------- configuration
@dataclass(frozen=True)
class CosimConfig:
    """One co-simulation run.  Units are in the names."""

    rows: int = 8                       # array rows = network inputs (R-1 features + bias)
    cols: int = 8                       # array columns = network outputs = classes (digits 0 .. C-1)
    examples: int = 300                 # training examples (one pass in a seeded order)
    technology: str = "generic65"
    corner: str = "tt"
    temp_c: float = 27.0
    seed: int = 1                       # cells, data order, pulses, PCM cycle-to-cycle draws
    learning_rate: float = 0.2
    bit_length: int = 8                 # pulse slots per example (at most this many pulses per cell)
    transfer_every: int = 50            # examples between transfers (none after the last example)
    time_per_example_seconds: float = 1e-6
    gain_f: float = 3.0
    w_max: float = 4.0                  # weight mapped to the PCM programming span
    pcm_max_pulses: int = 40            # SET pulses per device per programming, restarts included
    polarity_inversion: bool = True
    vc_points: int = 101                # Vc grid of the cell table (10 mV on a 1 V supply)
    max_test: int = 0                   # 0: the whole test split of the chosen classes
    engine: str = "auto"

    def validate(self) -> CosimConfig:
        def bad(name, want):
            raise ConfigError(f"cosim: {name} = {getattr(self, name)!r} is invalid; expected {want}")
        for name, lo in (("rows", 2), ("cols", 2), ("examples", 1), ("bit_length", 1), ("pcm_max_pulses", 1),
                         ("vc_points", 3)):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo):
                bad(name, f"an integer >= {lo}")
        if self.cols > 10:
            bad("cols", "at most 10 (one column per digit class)")
        if self.rows > 65:
            bad("rows", "at most 65 (64 pixel components of the 8x8 digits + bias)")
        for name in ("transfer_every", "max_test", "seed"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                bad(name, "an integer >= 0")
        for name in ("learning_rate", "time_per_example_seconds", "gain_f", "w_max"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                bad(name, "a finite number > 0")
        if self.technology not in techmod.available():
            bad("technology", "one of " + ", ".join(techmod.available()))
        techmod.load(self.technology).check_corner(self.corner)
        techmod.check_temperature(self.temp_c)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run(self) -> cellmod.Run:
        return cellmod.Run(techmod.load(self.technology), self.corner, self.temp_c, None, self.engine)

    def array_config(self) -> ArrayConfig:
        """The LUT array's configuration: transfers are called by the co-simulation (not by
        ``advance``), leakage every example, no read noise (the SPICE reads have none), one
        g_shared per column."""
        return ArrayConfig(mode="cell", polarity_inversion=self.polarity_inversion, gain_f=self.gain_f,
                           w_max=self.w_max, transfer_every=0, pcm_max_pulses=self.pcm_max_pulses,
                           time_per_example_seconds=self.time_per_example_seconds, leak_every_examples=1,
                           cells_per_reference=self.rows, read_noise=False, g_read_noise_rel=0.0,
                           max_pulses_per_example=max(self.bit_length, 1)).validate()


# ---------------------------------------------------------------- data
@dataclass
class Problem:
    x_train: np.ndarray   # (n, R) in [0, 1], last column = bias 1
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: dict[str, Any]


def digits_problem(rows: int, cols: int, max_test: int = 0) -> Problem:
    """Digits 0 .. cols-1: the first rows-1 principal components / (2 sigma), clipped to [-1, 1], plus a bias.

    Centred, signed inputs train far better than [0, 1]-scaled ones here (a
    one-pass float SGD on 8 classes: ~93 % vs ~75 %): with all inputs positive
    every weight update is correlated with the bias."""
    from pcmspice.train.datasets import load_dataset
    ds = load_dataset("digits")
    tr, te = ds.y_train < cols, ds.y_test < cols
    xtr, ytr, xte, yte = ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te]
    mean = xtr.mean(axis=0)
    _, _, vt = np.linalg.svd(xtr - mean, full_matrices=False)
    k = rows - 1
    ztr, zte = (xtr - mean) @ vt[:k].T, (xte - mean) @ vt[:k].T
    sd = ztr.std(axis=0)
    scale = 2.0 * np.where(sd > 0, sd, 1.0)

    def fit(z):
        return np.hstack([np.clip(z / scale, -1.0, 1.0), np.ones((z.shape[0], 1))])
    if max_test:
        xte, yte = xte[:max_test], yte[:max_test]
    return Problem(fit(ztr), ytr, fit(zte), yte,
                   {"dataset": "digits", "classes": list(range(cols)), "features": f"{k} principal components "
                    "of the training split / (2 sigma), clipped to [-1, 1], + bias 1", "n_train": int(ytr.size),
                    "n_test": int(yte.size)})


# ---------------------------------------------------------------- lookup tables of these cells
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
    d = Path(cache_dir) / key if cache_dir else None
    if d is not None and (d / lutmod.CELL_FILE).exists() and (d / lutmod.PCM_FILE).exists():
        try:
            return lutmod.load_lut_set(d), 0.0
        except LutError:
            pass   # a damaged cache entry is rebuilt
    t0 = time.perf_counter()
    run = cfg.run()
    grid = np.linspace(0.0, run.tech.vdd_volts, cfg.vc_points)
    prov = {"kind": "cosim-luts", "key": key, "technology": cfg.technology, "corner": cfg.corner,
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


def _check_same_cells(luts: lutmod.LutSet, cells: ArrayCells, run: cellmod.Run) -> None:
    """Refuse tables that are not of exactly these cells (a stale cache, a changed draw)."""
    mm = luts.cell.mismatch
    same = all(np.shape(mm.get(k)) == cells.mismatch[k].shape and np.array_equal(mm[k], cells.mismatch[k])
               for k in cellmod.MISMATCH_KEYS)
    g_max = pcmmod.pcm_params(run.tech, run.params)["g_cryst_siemens"] * cells.variation["gcm"]
    if not same or luts.pcm.g_max_siemens.shape != g_max.shape \
            or not np.allclose(luts.pcm.g_max_siemens, g_max, rtol=1e-12, atol=0):
        raise LutError("the lookup tables are not of this array's cells (stale cache?); rerun with --no-cache")


# ---------------------------------------------------------------- PCM programming noise
class PulseNoise:
    """Per-device cycle-to-cycle multipliers m[device, event, pulse], consumed pulse by pulse
    by the chip's verify loop.

    ``begin(e)`` starts programming event e (0 = initial programming, then one
    per transfer), so a device that needs one more pulse in one event does not
    shift the draws of later events.
    """

    def __init__(self, multipliers: np.ndarray):
        self.m = multipliers
        self.event = 0
        self.used = np.zeros(multipliers.shape[0], np.int64)

    def begin(self, event: int) -> None:
        if event >= self.m.shape[1]:
            raise ConfigError(f"no PCM noise draws left for programming event {event}")
        self.event = event
        self.used[:] = 0

    def next(self, devices: np.ndarray) -> np.ndarray:
        devices = np.asarray(devices, np.int64)
        n = np.minimum(self.used[devices], self.m.shape[2] - 1)
        self.used[devices] += 1
        return self.m[devices, self.event, n]


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


# ---------------------------------------------------------------- the SPICE path's transfer
def offset_target(t: np.ndarray, p_next: int, acfg: ArrayConfig) -> np.ndarray:
    """The paper's transfer offset, as :meth:`AnalogArray.transfer` applies it."""
    off, scheme = acfg.transfer_offset_siemens, acfg.offset_scheme
    if off == 0 or scheme == "none":
        return t
    if scheme == "signed":
        t2 = t - p_next * off
        return np.where(np.sign(t2) == np.sign(t), t2, 0.0)
    return np.sign(t) * np.maximum(np.abs(t) - off, 0.0)


@dataclass
class SpiceChip:
    """The SPICE path: the array, the per-device levels it measured at the start, and its noise counter."""

    sa: SpiceArray
    acfg: ArrayConfig
    g0: np.ndarray           # (R, C) g of every cell at v_start (SPICE read)
    gref0: np.ndarray        # (C,)
    g_reset: np.ndarray      # (2RC,) I/V of every PCM in its RESET state (SPICE read)
    g_max: np.ndarray        # (2RC,) fully crystalline conductance (model)
    g_cap: float
    tolerance: float
    noise: PulseNoise

    def program_pairs(self, t_pair: np.ndarray, gp_now: np.ndarray, gm_now: np.ndarray) -> dict[str, Any]:
        """F (G+ - G-) = t_pair (R, C) with one device of each pair at RESET (as the LUT array)."""
        F = self.sa.F
        k = self.sa.cells.cell_index()
        dp, dm = 2 * k, 2 * k + 1
        rp, rm = self.g_reset[dp], self.g_reset[dm]
        tp = np.minimum(np.where(t_pair > 0, rm + t_pair / F, rp), self.g_cap)
        tm = np.minimum(np.where(t_pair < 0, rp - t_pair / F, rm), self.g_cap)
        dev = np.concatenate([dp.ravel(), dm.ravel()])
        out = self.sa.program(dev, np.concatenate([gp_now.ravel(), gm_now.ravel()]),
                              np.concatenate([tp.ravel(), tm.ravel()]), self.g_reset[dev], self.g_max[dev],
                              tolerance=self.tolerance, max_pulses=self.acfg.pcm_max_pulses,
                              multiplier=self.noise.next)
        out["devices"] = dev
        return out

    def program_weights(self, w: np.ndarray) -> dict[str, Any]:
        """Initial weights w (C, R): g at v_start, the pair programmed to the rest (no offset)."""
        sa = self.sa
        c = sa.read(1, with_pcm=True)
        t_pair = w.T * sa.spu - sa.polarity * (self.g0 - self.gref0[None, :])
        out = self.program_pairs(t_pair, c.g_plus, c.g_minus)
        sa.read_pcm()
        out["t_pair_siemens"] = t_pair
        return out

    def transfer(self) -> dict[str, Any]:
        """g - g_shared into the PCM pair (closed loop in SPICE), Vc reset, polarity flipped."""
        sa, F = self.sa, self.sa.F
        c = sa.read(1, with_pcm=True)
        pair = F * (c.g_plus - c.g_minus)
        gdiff = c.g - c.g_ref[None, :]
        p_next = -sa.polarity if self.acfg.polarity_inversion else sa.polarity
        t_pair = offset_target(pair + sa.polarity * gdiff - p_next * (self.g0 - self.gref0[None, :]), p_next,
                               self.acfg)
        sa.reset_vc()
        sa.polarity = p_next
        out = self.program_pairs(t_pair, c.g_plus, c.g_minus)
        sa.read_pcm()
        out["t_pair_siemens"] = t_pair
        return out


def spice_chip(cfg: CosimConfig, cells: ArrayCells, luts: lutmod.LutSet, arr: AnalogArray,
               noise: PulseNoise) -> SpiceChip:
    run = cfg.run()
    pp = pcmmod.pcm_params(run.tech, run.params)
    x_reset = pcmmod.x_for_g(luts.pcm.g_reset_siemens, cells.variation, pp)
    sa = SpiceArray(run, cells, cfg.gain_f, arr.spu, x_reset=x_reset)
    c = sa.read(1, with_pcm=True)
    sa.read(-1, with_pcm=True)
    g_reset = np.empty(2 * cells.n_cells)
    k = cells.cell_index()
    g_reset[2 * k], g_reset[2 * k + 1] = c.g_plus, c.g_minus
    return SpiceChip(sa, arr.config, c.g.copy(), c.g_ref.copy(), g_reset, luts.pcm.g_max_siemens.copy(),
                     arr.g_cap, arr.tol, noise)


# ---------------------------------------------------------------- the run
@dataclass
class CosimResult:
    config: CosimConfig
    rows: list[dict[str, Any]]           # one per example
    transfers: list[dict[str, Any]]      # one per programming event
    summary: dict[str, Any]
    final: dict[str, np.ndarray]         # end state of both paths (Vc, weights)
    luts: lutmod.LutSet
    netlists: dict[str, str]             # one rendered netlist of each operation (for inspection)


def _softmax_delta(y: np.ndarray, label: int) -> np.ndarray:
    e = np.exp(y - y.max())
    d = e / e.sum()
    d[label] -= 1.0
    return d


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a)))) if np.size(a) else 0.0


def run_cosim(cfg: CosimConfig, *, cache_dir: Path | None = None, progress: Callable[[int, int], None] | None = None
              ) -> CosimResult:
    """Train the network of ``cfg`` on the SPICE array and on the LUT array (see the module docstring)."""
    from pcmspice.core.provenance import versions
    cfg.validate()
    t_start = time.perf_counter()
    R, C = cfg.rows, cfg.cols
    prob = digits_problem(R, C, cfg.max_test)
    run = cfg.run()
    cells = draw_cells(run.tech, R, C, cfg.seed, run.params)
    luts, lut_seconds = build_luts(cfg, cells, cache_dir)
    _check_same_cells(luts, cells, run)
    n_transfers = (cfg.examples - 1) // cfg.transfer_every if cfg.transfer_every else 0
    pp = pcmmod.pcm_params(run.tech, run.params)
    mults = pcmmod.c2c_multipliers(2 * cells.n_cells, (n_transfers + 1) * cfg.pcm_max_pulses, cfg.seed,
                                   sigma=pp["sigma_c2c_rel"]).reshape(2 * cells.n_cells, n_transfers + 1,
                                                                      cfg.pcm_max_pulses)
    noise_spice = PulseNoise(mults)
    arr = lut_array(cfg, cells, luts)
    T = float(cellmod.cell_params(run.tech, run.params)["t_period_seconds"])
    if cfg.bit_length * T > cfg.time_per_example_seconds:
        raise ConfigError(f"cosim: {cfg.bit_length} pulse slots of {T:g} s do not fit in "
                          f"time_per_example_seconds = {cfg.time_per_example_seconds:g} s")
    t_spice = t_lut = 0.0
    # initial programming: zero weights (a single softmax layer needs no symmetry breaking)
    w0 = np.zeros((C, R))
    t0 = time.perf_counter()
    chip = spice_chip(cfg, cells, luts, arr, noise_spice)
    noise_spice.begin(0)
    sp_prog = chip.program_weights(w0)
    t_spice += time.perf_counter() - t0
    t0 = time.perf_counter()
    arr.programmer.load(sp_prog)
    arr.program(w0)
    t_lut += time.perf_counter() - t0
    sa = chip.sa
    transfers = [_transfer_row(0, 0, sa, arr, sp_prog, arr.initial_program)]
    rng_order, rng_pulse = (np.random.default_rng(s) for s in np.random.SeedSequence([cfg.seed, 6]).spawn(2))
    n_train = prob.y_train.size
    order = np.concatenate([rng_order.permutation(n_train) for _ in range(-(-cfg.examples // n_train))])
    order = order[:cfg.examples]
    rows: list[dict[str, Any]] = []
    vc_hist_s, vc_hist_l = [], []
    event = 0
    for t, idx in enumerate(order):
        x, label = prob.x_train[idx], int(prob.y_train[idx])
        # ---- SPICE path: the chip decides the pulses
        t0 = time.perf_counter()
        cf = sa.read(1)
        cb = sa.read(-1)
        w_s, w_sb = sa.weights(cf), sa.weights(cb)
        y_s = w_s @ x
        delta = _softmax_delta(y_s, label)
        b_s = w_sb.T @ delta
        sched = coincidence_schedule(x, delta, cfg.learning_rate, arr.dw_nominal, cfg.bit_length, rng_pulse)
        sa.apply(sched)
        sa.idle(cfg.time_per_example_seconds - sched.n_slots * T)
        t_spice += time.perf_counter() - t0
        # ---- LUT path: the same pulses and time
        t0 = time.perf_counter()
        w_l = arr.weights()
        y_l = arr.forward(x, noise=False)
        b_l = arr.backward(delta, noise=False)
        arr.apply_pulses(Pulses.from_dense(sched.counts))
        arr.advance(1)
        t_lut += time.perf_counter() - t0
        # ---- compare (not timed)
        vs = np.concatenate([sa.vc.ravel(), sa.vref])
        vl = np.concatenate([arr.vc.T.ravel(), arr.vref[:, 0]])
        vc_hist_s.append(vs)
        vc_hist_l.append(vl)
        dvc = vs - vl
        dw = w_s - w_l
        st = arr.state()
        pcm_l = cfg.gain_f * (st["g_plus_siemens"] - st["g_minus_siemens"]) / arr.spu
        pcm_s = cfg.gain_f * (cf.g_plus - cf.g_minus).T / sa.spu
        agree_test = float(np.mean((prob.x_test @ w_s.T).argmax(1) == (prob.x_test @ w_l.T).argmax(1)))
        rows.append(dict(example=t + 1, label=label, polarity=sa.polarity, pulses=int(np.abs(sched.counts).sum()),
                         slots=sched.n_slots, vc_rms_diff_volts=_rms(dvc), vc_max_diff_volts=float(np.abs(dvc).max()),
                         vc_spice_mean_volts=float(sa.vc.mean()), vc_lut_mean_volts=float(arr.vc.mean()),
                         w_rms_diff=_rms(dw), w_max_diff=float(np.abs(dw).max()), w_rms=_rms(w_s),
                         w_pcm_rms_diff=_rms(pcm_s - pcm_l), w_g_rms_diff=_rms(dw - (pcm_s - pcm_l)),
                         y_rms_diff=_rms(y_s - y_l), backward_rms_diff=_rms(b_s - b_l),
                         pred_spice=int(y_s.argmax()), pred_lut=int(y_l.argmax()),
                         prediction_agree=int(y_s.argmax() == y_l.argmax()), test_agreement=agree_test))
        if cfg.transfer_every and (t + 1) % cfg.transfer_every == 0 and t + 1 < cfg.examples:
            event += 1
            t0 = time.perf_counter()
            noise_spice.begin(event)
            sp = chip.transfer()
            t_spice += time.perf_counter() - t0
            t0 = time.perf_counter()
            arr.programmer.load(sp)
            rep = arr.transfer()
            t_lut += time.perf_counter() - t0
            transfers.append(_transfer_row(event, t + 1, sa, arr, sp, rep))
        if progress:
            progress(t + 1, cfg.examples)
    # ---- the end: both paths' weights, a fresh full SPICE read, the test set
    t0 = time.perf_counter()
    cf = sa.read(1, with_pcm=True)
    t_spice += time.perf_counter() - t0
    w_s, w_l = sa.weights(cf), arr.weights()
    pred_s, pred_l = (prob.x_test @ w_s.T).argmax(1), (prob.x_test @ w_l.T).argmax(1)
    dvc_cells = (sa.vc - arr.vc.T).ravel()
    dvc = np.concatenate([dvc_cells, sa.vref - arr.vref[:, 0]])
    n_ex = len(rows)
    summary = {
        "kind": "cosim",
        "config": cfg.to_dict(), "array_config": arr.config.to_dict(),
        "problem": prob.source,
        "vc_rms_error_volts": _rms(dvc), "vc_max_error_volts": float(np.abs(dvc).max()),
        "vc_rms_error_cells_volts": _rms(dvc_cells),
        "vc_rms_error_worst_example_volts": max(r["vc_rms_diff_volts"] for r in rows),
        "vc_bound_volts": VC_RMS_BOUND_VOLTS,
        "prediction_agreement": float(np.mean(pred_s == pred_l)),
        "prediction_agreement_bound": AGREEMENT_BOUND,
        "train_prediction_agreement": float(np.mean([r["prediction_agree"] for r in rows])),
        "test_accuracy_spice": float(np.mean(pred_s == prob.y_test)),
        "test_accuracy_lut": float(np.mean(pred_l == prob.y_test)),
        "n_test": int(prob.y_test.size),
        "weight_rms_error": _rms(w_s - w_l), "weight_max_error": float(np.abs(w_s - w_l).max()),
        "weight_rms": _rms(w_s),
        "weight_pcm_rms_error": _rms(cfg.gain_f * ((cf.g_plus - cf.g_minus).T
                                                   - (arr.gp - arr.gm)) / arr.spu),
        "transfers": len(transfers) - 1,
        "polarity_inversions": sum(1 for a, b in zip(transfers, transfers[1:]) if a["polarity_after"]
                                   != b["polarity_after"]),
        "pulses_total": int(sum(r["pulses"] for r in rows)),
        "siemens_per_unit_weight": arr.spu, "dw_nominal": arr.dw_nominal,
        "pcm_tolerance_siemens": arr.tol,
        "spice_seconds": t_spice, "lut_seconds": t_lut,
        "spice_seconds_per_example": t_spice / n_ex, "lut_seconds_per_example": t_lut / n_ex,
        "spice_over_lut_time": t_spice / max(t_lut, 1e-12),
        "lut_build_seconds": lut_seconds, "wall_seconds": time.perf_counter() - t_start,
        "spice_counters": dict(sa.counters), "lut_counters": dict(arr.counters),
        "spice_seconds_by_operation": dict(sa.seconds),
        "netlist_hashes": {**{t: nl.template_hash(t) for t in TEMPLATES}, **{
            t: nl.template_hash(t) for t in charmod.CELL_TEMPLATES + pcmmod.LUT_TEMPLATES}},
        "tech": run.tech.provenance(), "versions": versions(), "lut_provenance": luts.cell.provenance,
        "passed": bool(_rms(dvc) <= VC_RMS_BOUND_VOLTS and float(np.mean(pred_s == pred_l)) >= AGREEMENT_BOUND),
    }
    final = {"vc_spice_volts": np.concatenate([sa.vc.ravel(), sa.vref]),
             "vc_lut_volts": np.concatenate([arr.vc.T.ravel(), arr.vref[:, 0]]),
             "w_spice": w_s, "w_lut": w_l, "pred_spice": pred_s, "pred_lut": pred_l, "y_test": prob.y_test,
             "vc_history_spice_volts": np.array(vc_hist_s), "vc_history_lut_volts": np.array(vc_hist_l)}
    netlists = _example_netlists(sa)
    return CosimResult(cfg, rows, transfers, summary, final, luts, netlists)


def _transfer_row(event: int, example: int, sa: SpiceArray, arr: AnalogArray, sp: dict, rep) -> dict[str, Any]:
    """What one programming event did in each path (event 0: the initial programming)."""
    F = sa.F
    c = sa.last_full_read(1)
    pcm_s = F * (c.g_plus - c.g_minus)              # (R, C), I/V reads
    pcm_l = F * (arr.gp - arr.gm).T
    row = dict(event=event, example=example, polarity_after=sa.polarity, lut_polarity_after=arr.polarity,
               spice_set_pulses=int(sp["set_pulses"].sum()), spice_reset_pulses=int(sp["reset_pulses"].sum()),
               spice_not_converged=int((~sp["converged"]).sum()),
               lut_set_pulses=rep.set_pulses if rep is not None else 0,
               lut_reset_pulses=rep.reset_pulses if rep is not None else 0,
               lut_not_converged=rep.not_converged if rep is not None else 0,
               pair_rms_diff_siemens=_rms(pcm_s - pcm_l))
    if rep is not None:
        t_l = rep.target_siemens.reshape(arr.shape).T      # (R, C)
        t_s = sp["t_pair_siemens"]
        row["target_rms_diff_siemens"] = _rms(t_s - t_l)
        row["spice_pair_error_rms_siemens"] = _rms(pcm_s - t_s)
        row["lut_pair_error_rms_siemens"] = _rms(rep.error_siemens)
    return row


def _example_netlists(sa: SpiceArray) -> dict[str, str]:
    """One rendered netlist of each SPICE array operation, as run at the end state."""
    from pcmspice.cosim.spice_array import READ_TEMPLATE, UPDATE_TEMPLATE
    R, C = sa.shape
    cells, refs = sa._cell_ctx(True)
    out = {"array_read_pcm.cir": sa.render(READ_TEMPLATE, n_rows=R, n_cols=C, cells=cells, refs=refs, direction=1,
                                           with_pcm=True)}
    cells0, refs0 = sa._cell_ctx(False)
    ctx = [dict({k: c[k] for k in cellmod.MISMATCH_KEYS}, k=c["k"], vc0=c["vc"], up_drive="", dn_drive="")
           for c in cells0 + refs0]
    out["array_idle.cir"] = sa.render(UPDATE_TEMPLATE, cells=ctx, t_step=1e-8, t_stop=1e-6, t_max_step=2e-8)
    return out


# ---------------------------------------------------------------- outputs
def save_run(res: CosimResult, out_dir: str | Path, *, figures: bool = True) -> Path:
    """Write table.csv, transfers.csv, summary.json, final_state.npz, the LUTs of the cells,
    one netlist of each SPICE operation and the figures into ``out_dir`` (every file atomically)."""
    import io

    from pcmspice.core.provenance import atomic_write_bytes, atomic_write_text, write_json
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.csv", _csv(res.rows))
    atomic_write_text(out / "transfers.csv", _csv(res.transfers))
    buf = io.BytesIO()
    np.savez_compressed(buf, **res.final)
    atomic_write_bytes(out / "final_state.npz", buf.getvalue())
    lutmod.save_lut_set(res.luts, out / "luts")
    for name, text in res.netlists.items():
        atomic_write_text(out / "netlists" / name, text)
    paths = save_figures(res, out / "figures") if figures else []
    summary = dict(res.summary, outputs=sorted(str(p.relative_to(out)) for p in paths)
                   + ["table.csv", "transfers.csv", "final_state.npz", "luts/", "netlists/"])
    write_json(out / "summary.json", summary)
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    for r in rows[1:]:
        keys += [k for k in r if k not in keys]
    lines = [",".join(keys)]
    for r in rows:
        lines.append(",".join("" if r.get(k) is None else (f"{r[k]:.9g}" if isinstance(r[k], float) else str(r[k]))
                              for k in keys))
    return "\n".join(lines) + "\n"


def save_figures(res: CosimResult, out: Path) -> list[Path]:
    """vc_scatter.png (LUT vs SPICE Vc) and error_vs_example.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig, name):
        from pcmspice.core.provenance import save_png
        return save_png(fig, out / name)

    cfg = res.config
    tag = f"{cfg.rows}x{cfg.cols} array, {cfg.examples} examples, {cfg.technology} {cfg.corner} {cfg.temp_c:g} °C"
    vs, vl = res.final["vc_history_spice_volts"], res.final["vc_history_lut_volts"]
    ex = np.repeat(np.arange(1, vs.shape[0] + 1), vs.shape[1])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.4), gridspec_kw={"width_ratios": [1.15, 1]})
    sc = ax.scatter(vs.ravel(), vl.ravel(), c=ex, s=4, cmap="viridis", alpha=0.6, linewidths=0)
    lo, hi = float(min(vs.min(), vl.min())), float(max(vs.max(), vl.max()))
    pad = 0.02 * (hi - lo + 1e-3)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="LUT = SPICE")
    ax.set_xlabel("Vc from SPICE array (V)")
    ax.set_ylabel("Vc from LUT array (V)")
    ax.set_title(f"Vc after every example, every cell and g_shared\n{tag}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.colorbar(sc, ax=ax, label="example")
    d = (vl - vs).ravel() * 1e3
    ax2.hist(d, bins=60, color="C0")
    ax2.set_xlabel("Vc(LUT) - Vc(SPICE) (mV)")
    ax2.set_ylabel("cells x examples")
    ax2.set_title(f"Difference: RMS {float(np.sqrt(np.mean(d ** 2))):.4f} mV, "
                  f"max {float(np.abs(d).max()):.4f} mV\n(bound at the end: {1e3 * VC_RMS_BOUND_VOLTS:g} mV RMS)",
                  fontsize=9)
    paths = [save(fig, "vc_scatter.png")]
    # error vs example
    e = np.array([r["example"] for r in res.rows])
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8.0, 6.4), sharex=True)
    a1.semilogy(e, [1e3 * r["vc_rms_diff_volts"] for r in res.rows], "-", color="C0", label="RMS over cells")
    a1.semilogy(e, [1e3 * r["vc_max_diff_volts"] for r in res.rows], "-", color="C3", alpha=0.7, label="max over cells")
    a1.axhline(1e3 * VC_RMS_BOUND_VOLTS, color="k", ls=":", lw=1, label=f"bound {1e3 * VC_RMS_BOUND_VOLTS:g} mV")
    a1.set_ylabel("|Vc(LUT) - Vc(SPICE)| (mV)")
    a1.set_title(f"LUT array vs SPICE array, error after every example\n{tag}", fontsize=9)
    a2.plot(e, [r["w_rms_diff"] for r in res.rows], "-", color="C0", label="weight RMS difference (all)")
    a2.plot(e, [r["w_pcm_rms_diff"] for r in res.rows], "--", color="C1", label="PCM part F(G+ - G-)")
    a2.plot(e, [r["w_g_rms_diff"] for r in res.rows], ":", color="C2", label="3T1C part p(g - g_shared)")
    a2.set_ylabel("weight difference (weight units)")
    a2.set_xlabel("training example")
    a3 = a2.twinx()
    a3.plot(e, [100 * r["test_agreement"] for r in res.rows], "-", color="C4", alpha=0.6, lw=1,
            label="test-set prediction agreement")
    a3.set_ylabel("prediction agreement (%)", color="C4")
    a3.set_ylim(0, 102)
    for ax_ in (a1, a2):
        for i, tr in enumerate(t for t in res.transfers if t["event"] > 0):
            ax_.axvline(tr["example"] + 0.5, color="grey", ls="--", lw=0.7,
                        label="transfer + polarity flip" if (i == 0 and ax_ is a1) else None)
        ax_.grid(alpha=0.3)
    a1.legend(fontsize=8, loc="upper left")
    h1, l1 = a2.get_legend_handles_labels()
    h2, l2 = a3.get_legend_handles_labels()
    a2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    paths.append(save(fig, "error_vs_example.png"))
    return paths

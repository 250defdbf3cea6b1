"""Characterization sweeps: Monte Carlo populations x corners x temperatures -> lookup tables.

A sweep definition (``characterization/*.toml``, see :class:`SweepConfig`) names
a technology, corners, temperatures, supplies, the number of Monte Carlo cells,
a seed, the Vc grid, parameter overrides for the cell and the PCM settings.

Work is split into batches of about 100 cells (one netlist each, the measured
sweet spot for ngspice).  Each batch is written atomically to
``OUT/batches/<key>/...npz`` as soon as it finishes, where ``key`` hashes the
definition and the netlists: an interrupted run resumes (``resume=True``)
with exactly the batches it still lacks, and re-running an unchanged
definition reuses every finished batch.  Cell k's mismatch comes from its own
seed stream, so batching never changes the result.

Batches run in local processes (``jobs``, one ngspice thread each) or on a
Dask distributed cluster (``scheduler="tcp://..."``); both give identical tables.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.circuits import c3t1c as cellmod
from pcmspice.core.config import Config, param
from pcmspice.core.errors import ConfigError, LutError, PcmSpiceError
from pcmspice.core.provenance import atomic_write_bytes, versions, write_json
from pcmspice.lut import format as lutmod
from pcmspice.spice import netlist as nl
from pcmspice.spice import tech as techmod

CELL_TEMPLATES = ("testbenches/3t1c_dc.cir.j2", "testbenches/3t1c_step.cir.j2", "testbenches/3t1c_pulses.cir.j2")
BATCH_SCHEMA = "pcmspice-batch-1"


BIAS_MODES = ("fixed", "replica")
_TECH = "the name of a technology under netlists/tech (pcmspice simulate --list-tech)"


@dataclass(frozen=True)
class SweepConfig(Config):
    """One characterization sweep; round-trips to TOML (``characterization/*.toml``)."""

    _where = "sweep definition"

    name: str = param("sweep", doc="names the output folder and the LUT set")
    technology: str = param("generic65", source=_TECH)
    corners: tuple[str, ...] = param(("tt",))
    temps_c: tuple[float, ...] = param((27.0,), unit="degC", ge=-273.15)
    vdd_volts: tuple[float, ...] = param((), unit="V", gt=0, doc="empty: the technology's nominal supply")
    n_cells: int = param(1000, ge=1, doc="Monte Carlo cells (the paper ran 1,000)")
    seed: int = param(1, ge=0)
    vc_min_volts: float = param(0.0, unit="V")
    vc_max_volts: float = param(-1.0, unit="V", doc="-1: the supply voltage")
    vc_points: int = param(101, ge=3, doc="read curve / leakage grid")
    step_points: int = param(26, ge=3, doc="start voltages of the single-pulse step map")
    cells_per_netlist: int = param(100, ge=1, le=1000, source="measured sweet spot for ngspice")
    avt_scale: float = param(1.0, ge=0, doc="multiplies the Pelgrom coefficients")
    read_time_seconds: float = param(10e-9, unit="s", gt=0, doc="integration time of one read (energy)")
    retention_times_seconds: tuple[float, ...] = param((1e-4, 1e-3, 1e-2, 1e-1), unit="s", gt=0,
                                                       doc="retention figure span and marks")
    pcm_devices: int = param(200, ge=1)
    pcm_pulses: int = param(20, ge=1)
    pcm_cycles: int = param(3, ge=1)
    params: dict[str, float] = param(default_factory=dict, doc="netlist parameter overrides")
    bias: str = param("fixed", choices=BIAS_MODES,
                      doc='"replica": pulse gate levels regulated per corner / temperature / supply')

    def _check(self) -> None:
        if self.technology not in techmod.available():
            raise self._bad("technology", self.technology, "one of " + ", ".join(techmod.available()))
        if not self.corners:
            raise self._bad("corners", self.corners, "at least one corner")
        if not self.temps_c:
            raise self._bad("temps_c", self.temps_c, "at least one temperature")

    # --- derived ------------------------------------------------------------
    def tech(self) -> techmod.Technology:
        return techmod.load(self.technology)

    def supplies(self) -> tuple[float, ...]:
        return self.vdd_volts or (self.tech().vdd_volts,)

    def combos(self) -> list[tuple[str, float, float]]:
        t = self.tech()
        for c in self.corners:
            t.check_corner(c)
        return [(c, float(T), float(v)) for c in self.corners for T in self.temps_c for v in self.supplies()]

    def vc_grid(self, vdd: float) -> np.ndarray:
        hi = vdd if self.vc_max_volts < 0 else self.vc_max_volts
        return np.linspace(self.vc_min_volts, hi, self.vc_points)

    def run_for(self, corner: str, temp_c: float, vdd: float, engine: str = "auto") -> cellmod.Run:
        """The Run of one combination; with ``bias = "replica"``, its pulse gate levels are the
        ones a replica bias sets there (:func:`pcmspice.circuits.c3t1c.replica_bias`; the reference is tt,
        27 degC at the definition's own parameters and supply, where nothing changes)."""
        params = dict(self.params)
        tech = self.tech()
        if abs(vdd - tech.vdd_volts) > 1e-12 or "vdd_volts" in params:
            params.setdefault("vdd_volts", vdd)
        if self.bias == "replica":
            params.update(_replica_levels(self.technology, json.dumps(self.params, sort_keys=True),
                                          corner, float(temp_c), float(vdd), engine))
        return cellmod.Run(tech, corner, temp_c, params, engine)


@functools.lru_cache(maxsize=64)
def _replica_levels(technology: str, params_json: str, corner: str, temp_c: float, vdd: float,
                    engine: str) -> tuple[tuple[str, float], ...]:
    """Replica-bias gate levels of one combination (cached: every batch of a combination asks)."""
    tech = techmod.load(technology)
    base = json.loads(params_json)
    ref = cellmod.Run(tech, "tt", 27.0, base, engine)
    ref_vdd = cellmod.cell_params(tech, base)["vdd_volts"]
    if corner == "tt" and temp_c == 27.0 and abs(vdd - ref_vdd) < 1e-12:
        return ()
    run = cellmod.Run(tech, corner, temp_c, {**base, "vdd_volts": vdd}, engine)
    return tuple(cellmod.replica_bias(run, ref).items())


def combo_name(tech: str, corner: str, temp_c: float, vdd: float) -> str:
    return f"{tech}_{corner}_{temp_c:g}C_{vdd:g}V".replace("-", "m")


def netlist_hashes() -> dict[str, str]:
    from pcmspice.circuits import pcm as pcm
    names = list(CELL_TEMPLATES) + list(pcm.LUT_TEMPLATES)
    return {n: nl.template_hash(n) for n in names}


def sweep_key(cfg: SweepConfig) -> str:
    """What a finished batch depends on: the definition (minus its name) and the netlists."""
    d = cfg.to_dict()
    d.pop("name")
    d.pop("retention_times_seconds")
    t = cfg.tech()
    blob = json.dumps({"cfg": d, "net": netlist_hashes(), "tech": t.provenance()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- batches
@dataclass(frozen=True)
class Batch:
    kind: str            # "cell" or "pcm"
    corner: str
    temp_c: float
    vdd: float
    first: int
    count: int

    @property
    def filename(self) -> str:
        return f"{self.kind}_{self.corner}_{self.temp_c:g}C_{self.vdd:g}V_{self.first:05d}.npz"


def plan(cfg: SweepConfig) -> list[Batch]:
    out = []
    for corner, temp, vdd in cfg.combos():
        for sl in cellmod.chunks(cfg.n_cells, cfg.cells_per_netlist):
            out.append(Batch("cell", corner, temp, vdd, sl.start, sl.stop - sl.start))
        out.append(Batch("pcm", corner, temp, vdd, 0, cfg.pcm_devices))
    return out


def run_batch(cfg_dict: dict[str, Any], batch: Batch, engine: str = "auto") -> dict[str, np.ndarray]:
    """Characterize one batch (runs in a worker process or on a Dask worker)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    cfg = SweepConfig.from_dict(cfg_dict)
    run = cfg.run_for(batch.corner, batch.temp_c, batch.vdd, engine)
    if batch.kind == "pcm":
        from pcmspice.circuits import pcm as pcm
        arrays = pcm.pcm_lut_arrays(run, cfg.pcm_devices, cfg.seed, _pcm_grid(), n_pulses=cfg.pcm_pulses,
                                    n_cycles=cfg.pcm_cycles)
        return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    mm = cellmod.draw_mismatch(run.tech, batch.count, cfg.seed, run.params, cfg.avt_scale, first=batch.first)
    out = cell_arrays(run, mm, cfg.vc_grid(batch.vdd), cfg.step_points, cfg.read_time_seconds)
    out.update({f"mismatch_{k}": v for k, v in mm.items()})
    return out


def cell_arrays(run: cellmod.Run, mm: dict[str, np.ndarray], grid: np.ndarray, step_points: int,
                read_time_seconds: float) -> dict[str, np.ndarray]:
    """The CellLut arrays of the cells ``mm`` (read curve, leakage, step map, energies)."""
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
    # the step map is smooth in Vc: linear interpolation onto the fine grid
    up = np.stack([np.interp(grid, step_grid, r) for r in sm.dv_up_volts])
    dn = np.stack([np.interp(grid, step_grid, r) for r in sm.dv_down_volts])
    p = cellmod.cell_params(run.tech, run.params)
    g_start = np.array([np.interp(p["v_start_volts"], grid, r) for r in g])
    e_read = p["v_read_volts"] ** 2 * g_start * read_time_seconds
    return {"g_siemens": g, "leak_volts_per_s": leak, "dv_up_volts": np.maximum(up, 0.0),
            "dv_down_volts": np.minimum(dn, 0.0), "e_up_joules": sm.e_up_joules, "e_down_joules": sm.e_down_joules,
            "e_read_joules": e_read}


def cell_lut(run: cellmod.Run, mm: dict[str, np.ndarray], grid: np.ndarray, step_points: int = 26,
             read_time_seconds: float = 10e-9, provenance: dict | None = None) -> lutmod.CellLut:
    """A CellLut of the given cells, straight from SPICE (no batching, no files)."""
    p = cellmod.cell_params(run.tech, run.params)
    arrays = cell_arrays(run, mm, grid, step_points, read_time_seconds)
    return lutmod.CellLut(vc_volts=np.asarray(grid, float), v_start_volts=p["v_start_volts"], mismatch=dict(mm),
                          provenance=provenance or {}, **arrays)


def _pcm_grid() -> np.ndarray:
    return np.linspace(0.0, 30e-6, 61)


def _save_batch(path: Path, key: str, batch: Batch, arrays: dict[str, np.ndarray]) -> None:
    import io
    meta = {"schema": BATCH_SCHEMA, "key": key, "batch": dataclasses.asdict(batch),
            "sha256": {k: lutmod.array_sha256(v) for k, v in arrays.items()}}
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load_batch(path: Path, key: str, batch: Batch) -> dict[str, np.ndarray] | None:
    """A finished batch, or None if absent; a corrupt or foreign file is an error, never half-read."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["__meta__"]).decode())
            arrays = {k: np.array(z[k]) for k in z.files if k != "__meta__"}
    except Exception as exc:
        raise LutError(f"{path}: corrupted batch file ({type(exc).__name__}); delete it to recompute") from None
    if meta.get("schema") != BATCH_SCHEMA or meta.get("key") != key or meta.get("batch") != dataclasses.asdict(batch):
        raise LutError(f"{path}: batch file belongs to another sweep definition; refusing it")
    for k, v in arrays.items():
        if lutmod.array_sha256(v) != meta["sha256"].get(k):
            raise LutError(f"{path}: checksum mismatch in '{k}' (file corrupted); delete it to recompute")
    return arrays


# ---------------------------------------------------------------- executor
@dataclass
class SweepResult:
    out_dir: Path
    lut_dirs: dict[tuple[str, float, float], Path]
    computed: int
    reused: int
    seconds: float


def run_sweep(cfg: SweepConfig, out_dir: str | Path, jobs: int = 1, resume: bool = True,
              scheduler: str | None = None, engine: str = "auto", progress: bool = True,
              stop_after: int | None = None, figures: bool = True) -> SweepResult:
    """Run (or resume) a sweep; write the LUT sets, summary.json and figures into ``out_dir``.

    ``stop_after`` computes at most that many new batches and then raises
    KeyboardInterrupt, as an interruption would (used by the resume test).
    """
    import time
    t0 = time.perf_counter()
    out = Path(out_dir)
    key = sweep_key(cfg)
    bdir = out / "batches" / key
    batches = plan(cfg)
    have: dict[Batch, dict[str, np.ndarray]] = {}
    todo = []
    for b in batches:
        arr = _load_batch(bdir / b.filename, key, b) if resume else None
        if arr is None:
            todo.append(b)
        else:
            have[b] = arr
    reused = len(have)
    cfg_dict = cfg.to_dict()
    bar = _progress(len(batches), reused, progress, f"characterize {cfg.name}")
    done_new = 0
    for b, arrays in _execute(cfg_dict, todo, jobs, scheduler, engine):
        _save_batch(bdir / b.filename, key, b, arrays)
        have[b] = arrays
        done_new += 1
        bar.update(1)
        if stop_after is not None and done_new >= stop_after and len(have) < len(batches):
            bar.close()
            raise KeyboardInterrupt
    bar.close()
    lut_dirs = {}
    for corner, temp, vdd in cfg.combos():
        luts = assemble(cfg, corner, temp, vdd, {b: a for b, a in have.items()
                                                  if (b.corner, b.temp_c, b.vdd) == (corner, temp, vdd)}, key)
        d = out / "luts" / combo_name(cfg.technology, corner, temp, vdd)
        lutmod.save_lut_set(luts, d)
        lut_dirs[(corner, temp, vdd)] = d
    seconds = time.perf_counter() - t0
    summary = summarize(cfg, lut_dirs, key, seconds, len(todo), reused)
    write_json(out / "summary.json", summary)
    (out / "sweep.toml").write_text(cfg.to_toml())
    if figures:
        from pcmspice.characterize import figures as characterize_figures
        characterize_figures.write_all(cfg, lut_dirs, out)
    return SweepResult(out, lut_dirs, len(todo), reused, seconds)


def _progress(total: int, initial: int, enabled: bool, desc: str):
    import sys

    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="batch", disable=not (enabled and sys.stderr.isatty()))


def _execute(cfg_dict, todo: list[Batch], jobs: int, scheduler: str | None, engine: str) -> Iterable:
    """Yield (batch, arrays) as batches finish."""
    if not todo:
        return
    if scheduler:
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise ConfigError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        try:
            client = Client(scheduler, timeout=os.environ.get("PCMSPICE_DASK_TIMEOUT", "10s"))
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
        try:
            futs = {client.submit(run_batch, cfg_dict, b, engine, pure=False): b for b in todo}
            for f in as_completed(futs):
                yield futs[f], f.result()
        finally:
            client.close()
        return
    if jobs <= 1:
        for b in todo:
            yield b, run_batch(cfg_dict, b, engine)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import as_completed as fut_done
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as ex:
        futs = {ex.submit(run_batch, cfg_dict, b, engine): b for b in todo}
        try:
            for f in fut_done(futs):
                yield futs[f], f.result()
        except BaseException:
            for f in futs:
                f.cancel()
            raise


def _worker_init() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"


def assemble(cfg: SweepConfig, corner: str, temp: float, vdd: float, parts: dict[Batch, dict[str, np.ndarray]],
             key: str) -> lutmod.LutSet:
    cells = sorted((b for b in parts if b.kind == "cell"), key=lambda b: b.first)
    cat = {k: np.concatenate([parts[b][k] for b in cells]) for k in parts[cells[0]]}
    run = cfg.run_for(corner, temp, vdd)
    p = cellmod.cell_params(run.tech, run.params)
    prov = {
        "technology": cfg.technology, "corner": corner, "temp_c": temp, "vdd_volts": vdd, "seed": cfg.seed,
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
    for k in ("drift_t0_seconds", "read_noise_rel"):
        pa[k] = float(pa[k])
    pcm_lut = lutmod.PcmLut(provenance=prov, **pa)
    return lutmod.LutSet(cell_lut, pcm_lut, combo_name(cfg.technology, corner, temp, vdd))


# ---------------------------------------------------------------- statistics
def retention_seconds(lut: lutmod.CellLut, dv_volts: float = 0.01, t_max: float = 10.0) -> np.ndarray:
    """Per cell: time for Vc to move ``dv_volts`` from v_start (idle), from the LUT's leakage (inf if never)."""
    n = lut.n_cells
    cells = np.arange(n)
    vc = np.full(n, lut.v_start_volts)
    t = 0.0
    out = np.full(n, np.inf)
    dt = 1e-7
    while t < t_max and np.isinf(out).any():
        new = lut.leak(cells, vc, dt, substeps=2)
        t += dt
        crossed = np.isinf(out) & (np.abs(new - lut.v_start_volts) >= dv_volts)
        if crossed.any():
            # linear interpolation inside the step
            prev = np.abs(vc[crossed] - lut.v_start_volts)
            now = np.abs(new[crossed] - lut.v_start_volts)
            frac = np.clip((dv_volts - prev) / np.maximum(now - prev, 1e-30), 0, 1)
            out[crossed] = t - dt + frac * dt
        vc = new
        dt = min(dt * 1.25, t_max / 50)
    return out


def stats_at_start(lut: lutmod.LutSet) -> dict[str, float]:
    c = lut.cell
    n = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    g = c.g(n, v0)
    up = c.step_up(n, v0)
    dn = c.step_down(n, v0)
    ret = retention_seconds(c)
    asym = (up + dn) / (up - dn) * 2  # (|up| - |down|) / mean(|up|, |down|)
    p = lut.pcm
    gmid = np.full(p.n_devices, 5e-6)
    set_step = p.set_step(np.arange(p.n_devices), gmid)
    fin = np.isfinite(ret)
    return {
        "g_mean_siemens": float(g.mean()), "g_sigma_siemens": float(g.std()),
        "dv_up_mean_volts": float(up.mean()), "dv_up_sigma_volts": float(up.std()),
        "dv_down_mean_volts": float(dn.mean()), "dv_down_sigma_volts": float(dn.std()),
        "asymmetry_mean": float(asym.mean()), "asymmetry_sigma": float(asym.std()),
        "retention_10mV_median_seconds": float(np.median(ret)) if fin.any() else float("inf"),
        "pcm_set_step_at_5uS_mean_siemens": float(set_step.mean()),
        "pcm_g_reset_mean_siemens": float(p.g_reset_siemens.mean()),
        "e_up_mean_joules": float(c.e_up_joules.mean()), "e_down_mean_joules": float(c.e_down_joules.mean()),
        "e_read_cell_mean_joules": float(c.e_read_joules.mean()),
        "e_set_mean_joules": float(p.e_set_joules.mean()), "e_reset_mean_joules": float(p.e_reset_joules.mean()),
    }


def summarize(cfg: SweepConfig, lut_dirs, key: str, seconds: float, computed: int, reused: int) -> dict[str, Any]:
    combos = []
    for (corner, temp, vdd), d in lut_dirs.items():
        ls = lutmod.load_lut_set(d)
        gates = ls.provenance["cell_params"]     # the levels the tables were made with
        combos.append({"corner": corner, "temp_c": temp, "vdd_volts": vdd, "lut_dir": str(d.relative_to(d.parents[1])),
                       **{k: gates[k] for k in cellmod.BIAS_LEVELS}, **stats_at_start(ls)})
    return {"kind": "characterization", "config": cfg.to_dict(), "sweep_key": key, "netlist_hashes": netlist_hashes(),
            "versions": versions(), "wall_seconds": seconds, "batches_computed": computed, "batches_reused": reused,
            "combos": combos}

"""Batches of a sweep: the plan, one batch computed in SPICE, and the batch files that make a sweep resumable.

A batch is about 100 cells of one combination (one netlist, the measured sweet spot for ngspice),
or the PCM devices of one combination.  It is written atomically to
``OUT/batches/<key>/<name>.npz`` with the sweep key and its own description, and read back only
when both match, so a changed definition never reuses a stale batch.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.characterize.sweep import SweepConfig
from pcmspice.characterize.tables import _pcm_grid, cell_arrays
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm_tables
from pcmspice.core.errors import LutError
from pcmspice.core.files import not_regular
from pcmspice.core.provenance import atomic_write_bytes
from pcmspice.lut import format as lutmod

BATCH_SCHEMA = "pcmspice-batch-1"


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
    run = cfg.run_for(batch.corner, batch.temp_c, batch.vdd, engine, kind=batch.kind)
    if batch.kind == "pcm":
        arrays = pcm_tables.pcm_lut_arrays(run, cfg.pcm_devices, cfg.seed, _pcm_grid(), n_pulses=cfg.pcm_pulses,
                                    n_cycles=cfg.pcm_cycles)
        return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    mm = cellmod.draw_mismatch(run.tech, batch.count, cfg.seed, run.params, cfg.avt_scale, first=batch.first)
    out = cell_arrays(run, mm, cfg.vc_grid(batch.vdd), cfg.step_points, cfg.read_time_seconds)
    out.update({f"mismatch_{k}": v for k, v in mm.items()})
    return out


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
    problem = not_regular(path)
    if problem:
        raise LutError(f"{path}: {problem}; delete it to recompute")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["__meta__"]).decode())
            arrays = {k: np.array(z[k]) for k in z.files if k != "__meta__"}
    except Exception as exc:
        raise LutError(f"{path}: corrupted batch file ({type(exc).__name__}); delete it to recompute") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), dict) or any(
            v.dtype != np.float64 for v in arrays.values()):
        raise LutError(f"{path}: not a pcmspice batch file (metadata or array types); delete it to recompute")
    if meta.get("schema") != BATCH_SCHEMA or meta.get("key") != key or meta.get("batch") != dataclasses.asdict(batch):
        raise LutError(f"{path}: batch file belongs to another sweep definition; refusing it")
    for k, v in arrays.items():
        if lutmod.array_sha256(v) != meta["sha256"].get(k):
            raise LutError(f"{path}: checksum mismatch in '{k}' (file corrupted); delete it to recompute")
    return arrays



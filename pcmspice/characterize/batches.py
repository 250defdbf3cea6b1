"""Batches of a sweep: the plan, one batch computed in SPICE, and the batch files that make a sweep resumable.

A batch is about 100 cells of one combination (one netlist, the measured sweet spot for ngspice),
or the PCM devices of one combination.  The PCM batch is computed in parts of
:data:`~pcmspice.circuits.pcm.DEVICES_PER_NETLIST` devices (:func:`pcm_parts`, run in parallel with the
cell batches and merged by :func:`merge_pcm_parts` before it is saved): a part begins where a netlist of
the whole population would, so every netlist holds the same instances and the merged arrays are bit-identical
to the whole batch computed at once.  It is written atomically to
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
from pcmspice.circuits import pcm, pcm_tables
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


#: the PCM arrays that do not depend on the device (the G grid, the drift clock, the read noise of G): the same in
#: every part of a PCM batch; every other PCM array has one row per device
PCM_SHARED = ("g_grid_siemens", "drift_t0_seconds", "read_noise_rel")


def pcm_parts(batch: Batch) -> list[Batch]:
    """The parts a PCM batch is computed in: devices ``first .. first+count-1`` in runs of
    :data:`~pcmspice.circuits.pcm.DEVICES_PER_NETLIST` from the batch's first device.

    Why the parts give the bit-identical arrays: every SPICE run of a PCM table
    (:func:`pcmspice.circuits.pcm.run_ops`) cuts its instances into netlists of ``DEVICES_PER_NETLIST``
    from instance 0, and ngspice's time steps are shared by the instances of one netlist, so a device's
    numbers depend on its netlist's companions.  A part that begins at a multiple of ``DEVICES_PER_NETLIST``
    devices begins at a netlist boundary of the read / RESET run (one instance per device) and of the step
    map (``2 x len(MAP_STATES)`` instances per device: a multiple of ``DEVICES_PER_NETLIST`` instances too),
    so each of its netlists holds exactly the instances it holds in the whole batch.  The devices' variation
    comes from their own seed streams (:func:`pcmspice.circuits.pcm.draw_variation`).
    """
    per = pcm.DEVICES_PER_NETLIST
    return [dataclasses.replace(batch, first=batch.first + lo, count=min(per, batch.count - lo))
            for lo in range(0, batch.count, per)]


def merge_pcm_parts(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of a PCM batch from those of its parts (in device order): per-device arrays joined, the
    shared ones (:data:`PCM_SHARED`) taken once, after checking every part has the same."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for k in parts[0]:
        if k in PCM_SHARED:
            if any(p[k].shape != parts[0][k].shape or not np.array_equal(p[k], parts[0][k]) for p in parts):
                raise LutError(f"the parts of a PCM batch disagree on '{k}' (an internal error: please report it)")
            out[k] = parts[0][k]
        else:
            out[k] = np.concatenate([p[k] for p in parts])
    return out


def run_batch(cfg_dict: dict[str, Any], batch: Batch, engine: str = "auto") -> dict[str, np.ndarray]:
    """Characterize one batch or one part of a PCM batch (runs in a worker process or on a Dask worker)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    cfg = SweepConfig.from_dict(cfg_dict)
    run = cfg.run_for(batch.corner, batch.temp_c, batch.vdd, engine, kind=batch.kind)
    if batch.kind == "pcm":
        if batch.first % pcm.DEVICES_PER_NETLIST:
            raise LutError(f"a part of a PCM batch must begin at a multiple of {pcm.DEVICES_PER_NETLIST} devices "
                           f"(got {batch.first}): its netlists would differ from the whole batch's")
        arrays = pcm_tables.pcm_lut_arrays(run, batch.count, cfg.seed, _pcm_grid(), n_pulses=cfg.pcm_pulses,
                                           n_cycles=cfg.pcm_cycles, first=batch.first)
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



"""Run (or resume) a sweep: local processes or a Dask cluster, batches saved as they finish."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcmspice.characterize import figures as characterize_figures
from pcmspice.characterize.batches import Batch, _load_batch, _save_batch, plan, run_batch
from pcmspice.characterize.stats import summarize
from pcmspice.characterize.sweep import SweepConfig, combo_name, sweep_key
from pcmspice.characterize.tables import assemble
from pcmspice.core.errors import ConfigError
from pcmspice.core.provenance import write_json
from pcmspice.lut import format as lutmod


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
    cfg.check_resources()
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



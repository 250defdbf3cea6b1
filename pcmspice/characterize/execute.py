"""Run (or resume) a sweep: local processes or a Dask cluster, batches saved as they finish."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcmspice.characterize.batches import Batch, _load_batch, _save_batch, merge_pcm_parts, pcm_parts, plan, run_batch
from pcmspice.characterize.stats import summarize
from pcmspice.characterize.sweep import SweepConfig, combo_name, sweep_key
from pcmspice.characterize.tables import assemble
from pcmspice.core import complete, executor, locks, outputs
from pcmspice.core.executor import check_scheduler
from pcmspice.core.provenance import atomic_write_text, write_json
from pcmspice.lut import format as lutmod

KIND = complete.CHARACTERIZE   # the marker of a characterization folder


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
              stop_after: int | None = None, figures: bool = True, force: bool = False,
              pcm_cache: str | Path | None = None) -> SweepResult:
    """Run (or resume) a sweep; write the LUT sets, summary.json and figures into ``out_dir``.

    ``out_dir`` is checked first: absent, empty, or a characterization of the same definition (its
    marker file), or anything else with ``force``; its ``batches/`` are the resume state.  The LUT sets,
    figures, sweep.toml and summary.json are staged and published with a completion marker that carries their
    manifest (:mod:`pcmspice.core.complete`): readers see the whole result or none.
    ``stop_after`` computes at most that many new batches and then raises
    KeyboardInterrupt, as an interruption would (used by the resume test).
    ``pcm_cache``: the LUT cache's shared PCM batches (:func:`pcmspice.characterize.cache.pcm_dir`): a PCM batch
    found there is not simulated (it counts as reused), one simulated is stored there for other cell designs.
    """
    import time
    t0 = time.perf_counter()
    if scheduler:
        check_scheduler(scheduler)
    cfg.check_resources()
    key = sweep_key(cfg)
    taken = not locks.held(out_dir)
    out = outputs.prepare_out_dir(out_dir, KIND, key, force)   # locked: one writer at a time
    try:
        return _run_locked(cfg, out, key, t0, jobs, resume, scheduler, engine, progress, stop_after, figures,
                           Path(pcm_cache) if pcm_cache is not None else None)
    finally:
        if taken:
            locks.release(out_dir)


def _run_locked(cfg: SweepConfig, out: Path, key: str, t0: float, jobs: int, resume: bool, scheduler: str | None,
                engine: str, progress: bool, stop_after: int | None, figures: bool,
                pcm_cache: Path | None = None) -> SweepResult:
    from pcmspice.characterize.cache import shared_pcm
    out.mkdir(parents=True, exist_ok=True)
    outputs.write_marker(out, KIND, key)
    bdir = out / "batches" / key
    batches = plan(cfg)
    have: dict[Batch, dict[str, np.ndarray]] = {}
    todo = []
    for b in batches:
        arr = _load_batch(bdir / b.filename, key, b) if resume else None
        if arr is None and resume:   # the PCM devices another cell design simulated
            arr = shared_pcm(pcm_cache, cfg, b)
            if arr is not None:
                _save_batch(bdir / b.filename, key, b, arr)
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
        shared_pcm(pcm_cache, cfg, b, arrays)
        have[b] = arrays
        done_new += 1
        bar.update(1)
        if stop_after is not None and done_new >= stop_after and len(have) < len(batches):
            bar.close()
            raise KeyboardInterrupt
    bar.close()
    def write_sets(stage: Path) -> dict[tuple[str, float, float], Path]:
        staged = {}
        for corner, temp, vdd in cfg.combos():
            luts = assemble(cfg, corner, temp, vdd, {b: a for b, a in have.items()
                                                      if (b.corner, b.temp_c, b.vdd) == (corner, temp, vdd)}, key)
            name = combo_name(cfg.tech().name, corner, temp, vdd)
            lutmod.save_lut_set(luts, stage / "luts" / name)
            staged[(corner, temp, vdd)] = stage / "luts" / name
        return staged

    return publish_result(cfg, out, key, write_sets, t0, len(todo), reused, figures)


def publish_result(cfg: SweepConfig, out: Path, key: str, write_sets, t0: float, computed: int, reused: int,
                   figures: bool) -> SweepResult:
    """Stage the LUT sets (``write_sets(stage)`` writes them under ``stage/luts`` and returns them by
    combination), summary.json, sweep.toml and figures, and publish them into ``out`` with a completion marker
    (:func:`pcmspice.core.complete.publish`)."""
    import shutil
    import time
    stage = outputs.staging_dir(out, "outputs")
    try:
        staged = write_sets(stage)
        seconds = time.perf_counter() - t0
        lut_dirs = {k: out / "luts" / d.name for k, d in staged.items()}
        summary = summarize(cfg, staged, key, seconds, computed, reused)
        write_json(stage / "summary.json", summary)
        atomic_write_text(stage / "sweep.toml", cfg.to_toml())
        if figures:   # matplotlib is imported here, not by the workers that only compute batches
            from pcmspice.characterize import figures as characterize_figures
            characterize_figures.write_all(cfg, staged, stage)
        for name in ("luts", "figures"):   # outputs of an earlier definition never stay beside these
            if not (stage / name).exists() and (out / name).exists():
                (stage / name).mkdir()
        complete.publish(stage, out, KIND, key)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return SweepResult(out, lut_dirs, computed, reused, seconds)


def run_sweep_cached(cfg: SweepConfig, out_dir: str | Path, *, cache: str | Path | None = None, jobs: int = 1,
                     resume: bool = True, scheduler: str | None = None, engine: str = "auto", progress: bool = True,
                     figures: bool = True, force: bool = False, echo=print) -> SweepResult:
    """``run_sweep`` through the LUT cache (:mod:`pcmspice.characterize.cache`): every combination is its own
    one-combination characterization, stored once by content and reused by any run (a combination already
    characterized by ``run``, ``corners`` or a design is not simulated again, and is said to be reused); its
    LUT sets are then copied into ``out_dir``, which gets the same summary.json, sweep.toml, figures and
    completion marker as a :func:`run_sweep` folder.  ``resume=False`` characterizes every combination again."""
    import shutil
    import time

    from pcmspice.characterize import cache as lut_cache
    t0 = time.perf_counter()
    if scheduler:
        check_scheduler(scheduler)
    cfg.check_resources()
    key = sweep_key(cfg)
    root = lut_cache.cache_dir(cache)
    taken = not locks.held(out_dir)
    out = outputs.prepare_out_dir(out_dir, KIND, key, force)
    try:
        sources, computed, reused = {}, 0, 0
        for corner, temp, vdd in cfg.combos():
            one = cfg.replace(corners=(corner,), temps_c=(temp,), vdd_volts=(vdd,) if cfg.vdd_volts else ())
            entry = lut_cache.cache_key(one)
            name = combo_name(cfg.tech().name, corner, temp, vdd)
            where = f"{corner} {temp:g} C {vdd:g} V"
            with lut_cache.entry_lock(root, entry, echo):
                lut = root / entry / "luts" / name
                if resume and complete.problem(root / entry) is None and lut.is_dir():
                    echo(f"{where}: reusing the cached characterization {root / entry}: nothing to simulate")
                    reused += len(plan(one))
                else:
                    echo(f"{where}: characterizing into the LUT cache {root / entry}")
                    res = run_sweep(one, root / entry, jobs=jobs, resume=resume, scheduler=scheduler, engine=engine,
                                    progress=progress, figures=False, force=True, pcm_cache=lut_cache.pcm_dir(cache))
                    computed, reused = computed + res.computed, reused + res.reused
                lutmod.load_lut_set(lut)   # seals and the entry's manifest checked before it is copied
                lut_cache.touch(root / entry)
                sources[(corner, temp, vdd)] = lut

        def write_sets(stage: Path) -> dict[tuple[str, float, float], Path]:
            for src in sources.values():
                shutil.copytree(src, stage / "luts" / src.name)
            return {k: stage / "luts" / src.name for k, src in sources.items()}

        out.mkdir(parents=True, exist_ok=True)
        outputs.write_marker(out, KIND, key)
        return publish_result(cfg, out, key, write_sets, t0, computed, reused, figures)
    finally:
        if taken:
            locks.release(out_dir)


def _progress(total: int, initial: int, enabled: bool, desc: str):
    import sys

    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="batch", disable=not (enabled and sys.stderr.isatty()))


def _execute(cfg_dict, todo: list[Batch], jobs: int, scheduler: str | None, engine: str) -> Iterable:
    """Yield (batch, arrays) as batches finish (the shared executor of :mod:`pcmspice.core.executor`).

    A PCM batch is run as its parts (:func:`~pcmspice.characterize.batches.pcm_parts`) and yielded when the
    last of them is in, merged.  The tasks go to the workers longest first: the PCM parts (each several
    times a cell batch), then the cell batches, so that every worker stays busy to the end instead of one
    finishing the PCM devices alone after the cells."""
    tasks, parts_left, got = [], {}, {}
    for b in todo:
        if b.kind == "pcm":
            parts = pcm_parts(b)
            parts_left[b], got[b] = len(parts), {}
            tasks += [((b, p.first), run_batch, (cfg_dict, p, engine)) for p in parts]
    tasks += [(b, run_batch, (cfg_dict, b, engine)) for b in todo if b.kind != "pcm"]
    for key, arrays in executor.execute(tasks, jobs, scheduler):
        if not isinstance(key, tuple):
            yield key, arrays
            continue
        b, first = key
        got[b][first] = arrays
        if len(got[b]) == parts_left[b]:
            parts = got.pop(b)
            yield b, merge_pcm_parts([parts[f] for f in sorted(parts)])

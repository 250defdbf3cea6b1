"""Run (or resume) a sweep: local processes or a Dask cluster, batches saved as they finish."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pcmspice.characterize import figures as characterize_figures
from pcmspice.characterize.batches import Batch, _load_batch, _save_batch, plan, run_batch
from pcmspice.characterize.stats import summarize
from pcmspice.characterize.sweep import SweepConfig, combo_name, sweep_key
from pcmspice.characterize.tables import assemble
from pcmspice.core import outputs
from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.processes import broken_pool_message, ignore_sigint, sigint_ignored, spawn_pool, stop_pool
from pcmspice.core.provenance import atomic_write_text, write_json
from pcmspice.lut import format as lutmod

KIND = "characterize"   # the marker of a characterization folder


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
              stop_after: int | None = None, figures: bool = True, force: bool = False) -> SweepResult:
    """Run (or resume) a sweep; write the LUT sets, summary.json and figures into ``out_dir``.

    ``out_dir`` is checked first: absent, empty, or a characterization of the same definition (its
    marker file), or anything else with ``force``; its ``batches/`` are the resume state.  The LUT sets,
    figures and sweep.toml are staged and swapped in, summary.json last, so they always belong together.
    ``stop_after`` computes at most that many new batches and then raises
    KeyboardInterrupt, as an interruption would (used by the resume test).
    """
    import time
    t0 = time.perf_counter()
    if scheduler:
        check_scheduler(scheduler)
    cfg.check_resources()
    key = sweep_key(cfg)
    out = outputs.prepare_out_dir(out_dir, KIND, key, force)
    out.mkdir(parents=True, exist_ok=True)
    outputs.write_marker(out, KIND, key)
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
    stage = outputs.staging_dir(out, "outputs")
    try:
        staged = {}
        for corner, temp, vdd in cfg.combos():
            luts = assemble(cfg, corner, temp, vdd, {b: a for b, a in have.items()
                                                      if (b.corner, b.temp_c, b.vdd) == (corner, temp, vdd)}, key)
            name = combo_name(cfg.tech().name, corner, temp, vdd)
            lutmod.save_lut_set(luts, stage / "luts" / name)
            staged[(corner, temp, vdd)] = stage / "luts" / name
        seconds = time.perf_counter() - t0
        lut_dirs = {k: out / "luts" / d.name for k, d in staged.items()}
        summary = summarize(cfg, staged, key, seconds, len(todo), reused)
        write_json(stage / "summary.json", summary)
        atomic_write_text(stage / "sweep.toml", cfg.to_toml())
        if figures:
            characterize_figures.write_all(cfg, staged, stage)
        for name in ("luts", "figures"):   # outputs of an earlier definition never stay beside these
            if not (stage / name).exists() and (out / name).exists():
                (stage / name).mkdir()
        outputs.commit_entries(stage, out)
    except BaseException:
        import shutil
        shutil.rmtree(stage, ignore_errors=True)
        raise
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
            client = Client(check_scheduler(scheduler), timeout=os.environ.get("PCMSPICE_DASK_TIMEOUT", "10s"))
        except Exception as exc:  # noqa: BLE001 - whatever answers there, the user gets one line
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {why} "
                              "(is a dask scheduler running there? start one with `dask scheduler`)") from None
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
    from concurrent.futures import as_completed as fut_done
    from concurrent.futures.process import BrokenProcessPool
    ex = spawn_pool(jobs, _worker_init)
    futs: dict = {}
    try:
        # the workers start while SIGINT is ignored (a spawned process keeps an ignored signal from its
        # first instruction on; _worker_init ignores it too): Ctrl-C reaches only this process, which
        # stops them, so no worker prints a traceback
        with sigint_ignored():
            futs = {ex.submit(run_batch, cfg_dict, b, engine): b for b in todo}
        for f in fut_done(futs):
            yield futs[f], f.result()
    except BrokenProcessPool:
        stop_pool(ex, futs)
        raise PcmSpiceError(broken_pool_message()) from None
    except BaseException:
        stop_pool(ex, futs)   # a running batch is lost either way; do not wait minutes for it
        raise
    ex.shutdown(wait=True)


_SCHEDULER = re.compile(r"(?:(?P<scheme>tcp|tls|ws|wss)://)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})"
                        r"|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")


def check_scheduler(address: str) -> str:
    """A Dask scheduler address (``tcp://HOST:PORT``, also tls/ws/wss, or ``HOST:PORT``), checked before
    anything connects: a one-line :class:`ConfigError` otherwise."""
    m = _SCHEDULER.fullmatch(address.strip()) if isinstance(address, str) else None
    if not m or not 1 <= int(m.group("port")) <= 65535:
        raise ConfigError(f"--scheduler {address!r} is not a Dask scheduler address; expected tcp://HOST:PORT, "
                          "e.g. tcp://scheduler.example.org:8786")
    return address.strip()


def _worker_init() -> None:
    ignore_sigint()   # Ctrl-C is the parent's to handle
    os.environ["OMP_NUM_THREADS"] = "1"



"""``pcmspice corners``: characterize every corner x temperature (x supply), and with a training task train
every combination once per seed and sum each up in the corner table.

:func:`run_corners` is the flow (the CLI and Python call it with a :class:`~pcmspice.characterize.SweepConfig`
and, for ``--train``, a :class:`~pcmspice.pipeline.TaskConfig`); the runs are trained as every flow trains
them (:func:`pcmspice.pipeline.training.train_runs`: one :func:`~pcmspice.pipeline.training.train_run` per
combination and seed, on the shared executor: in this process, a process pool, or a Dask cluster); one row
per combination (:func:`corner_row`): the final and the best test accuracy in % as mean and sd over the seeds,
how many seeds had a transfer in their last epoch, the software accuracy, energy per example and GOP/s/W;
the table is written by the one corner-table writer (:func:`pcmspice.characterize.corners.write_table`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice import power as pw
from pcmspice.core import executor
from pcmspice.core.errors import ConfigError
from pcmspice.pipeline.training import train_runs


def parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2``: distinct integers from 0, at least one."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} is invalid; expected distinct integers from 0, e.g. 0,1,2")
    return seeds


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def corner_row(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One combination's training columns from its seeds' records (sd: sample standard deviation, 0 for one
    seed); ``runs`` keeps the records themselves."""
    row: dict[str, Any] = {"seeds": ",".join(str(r["seed"]) for r in records)}
    for name in ("final_accuracy", "best_accuracy"):
        row[f"{name}_mean_percent"], row[f"{name}_sd_percent"] = _mean_sd([r[f"{name}_percent"] for r in records])
    row["software_accuracy_mean_percent"] = _mean_sd([r["software_accuracy_percent"] for r in records])[0]
    row["last_epoch_transfer_seeds"] = sum(1 for r in records if r["last_epoch_transfers"] > 0)
    row["pcm_untrained_seeds"] = sum(1 for r in records if r.get("pcm_trained") is False)
    for k in ("energy_per_example_joules", "gops_per_watt"):
        row[k] = _mean_sd([r[k] for r in records])[0]
    row["runs"] = [{k: v for k, v in r.items() if k != "worker_pid"} for r in records]
    return row


def train_combinations(combos: list[tuple[Path, Path]], task: Any, power: pw.PowerConfig | None = None, *,
                       jobs: int = 1, scheduler: str | None = None,
                       echo: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Train every ``(lut_dir, out_dir)`` of ``combos`` once per seed of ``task`` (a
    :class:`~pcmspice.pipeline.TaskConfig`) into ``out_dir/seed<N>``; one :func:`corner_row` per combination."""
    runs = [((i, s), task.train_config(s, lut), Path(out) / f"seed{s}", f"{Path(lut).name} seed {s}")
            for i, (lut, out) in enumerate(combos) for s in task.seeds]
    echo(f"training {len(runs)} runs ({len(combos)} combinations x {len(task.seeds)} seeds)")
    got = train_runs(runs, power, jobs=jobs, scheduler=scheduler, progress=False, echo=echo)
    return [corner_row([got[(i, s)] for s in task.seeds]) for i in range(len(combos))]


@dataclass
class CornersResult:
    """A corner run: its folder, the table (one row per combination) and the characterization's result."""

    out_dir: Path
    table: Any
    sweep: Any


def run_corners(sweep: Any, out: str | Path, task: Any = None, power: pw.PowerConfig | None = None, *,
                jobs: int = 1, scheduler: str | None = None, resume: bool = True, force: bool = False,
                progress: bool = True, echo: Callable[[str], Any] = print,
                cache: str | Path | None = None) -> CornersResult:
    """Characterize ``sweep`` through the LUT cache ``cache`` (:func:`~pcmspice.characterize.execute.run_sweep_cached`:
    a combination any run already characterized is reused, an interrupted one resumes from its batches; with
    ``resume=False`` every combination is characterized again) and publish its LUTs, summary and figures into
    ``out``; then, with a ``task``, train each combination once per seed (costed with ``power``), and write the
    corner table."""
    from pcmspice.characterize import corners as cmod
    from pcmspice.characterize.execute import run_sweep_cached
    if scheduler:
        executor.check_scheduler(scheduler)
    res = run_sweep_cached(sweep, out, cache=cache, jobs=jobs, resume=resume, scheduler=scheduler,
                           progress=progress, force=force, echo=echo)
    rows = None
    if task is not None:
        rows = train_combinations(cmod.corner_combos(out), task, power, jobs=jobs, scheduler=scheduler, echo=echo)
    return CornersResult(Path(out), cmod.write_corner_table(out, rows), res)

"""``pcmspice corners --train``: every corner x seed training run, on the shared executor, summed up per corner.

:func:`corner_trainer` gives the ``train_fn`` that :func:`pcmspice.characterize.corners.write_corner_table`
calls with all combinations at once; it runs one :func:`train_one` per combination and seed through
:func:`pcmspice.core.executor.execute` (in this process, a process pool, or a Dask cluster) and returns one
row per combination: the final and the best test accuracy in % as mean and sd over the seeds, how many seeds
had a transfer in their last epoch, the software accuracy, energy per example and GOP/s/W.
"""
from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcmspice import power as pw
from pcmspice.core import executor
from pcmspice.core.errors import ConfigError
from pcmspice.pipeline.run import train_on_luts


@dataclass(frozen=True)
class CornerTraining:
    """The training options of a corner verdict (None = the trainer's default)."""

    dataset: str = "digits"
    epochs: int | None = 3
    network: str | None = None
    transfer_every: int | None = None
    learning_rate: float | None = None
    max_train: int | None = None
    max_test: int | None = None
    seeds: tuple[int, ...] = (0,)
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """The top-level training-config fields set here."""
        named = {"learning_rate": self.learning_rate, "max_train": self.max_train, "max_test": self.max_test}
        return {**{k: v for k, v in named.items() if v is not None}, **self.extra}


def parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2``: distinct integers from 0, at least one."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} is invalid; expected distinct integers from 0, e.g. 0,1,2")
    return seeds


def train_one(lut_dir: str, out_dir: str, training: CornerTraining, seed: int) -> dict[str, Any]:
    """Train one seed on one combination's LUTs into ``out_dir``, cost it; its record (:func:`run_record`)."""
    train_on_luts(lut_dir, out_dir, dataset=training.dataset, seed=seed, epochs=training.epochs,
                  network=training.network, transfer_every=training.transfer_every, config=pw.PowerConfig(),
                  progress=False, echo=lambda m: None, force=True, options=training.options())
    return {**run_record(Path(lut_dir), Path(out_dir)), "worker_pid": os.getpid()}


def run_record(lut_dir: Path, out: Path) -> dict[str, Any]:
    """What the corner table takes from one finished training run in ``out`` (accuracies in %)."""
    s = pw.load_summary(out)
    with open(out / "history.csv", newline="") as fh:
        hist = list(csv.DictReader(fh))
    acc = [float(h["analog_test_accuracy"]) for h in hist]
    best = max(range(len(acc)), key=acc.__getitem__)
    cost = pw.estimate_for_run(lut_dir, out)
    base = s.get("baseline_test_accuracy")
    return {"seed": int(s["seed"]), "run_dir": str(out),
            "final_accuracy_percent": 100 * float(s["analog_test_accuracy"]),
            "best_accuracy_percent": 100 * acc[best], "best_epoch": int(hist[best]["epoch"]),
            "software_accuracy_percent": 100 * float(base) if base is not None else math.nan,
            "transfers_total": int(s["transfers_total"]),
            "last_epoch_transfers": int(hist[-1].get("transfers") or 0),
            "energy_per_example_joules": cost["training"]["energy_per_example_joules"],
            "gops_per_watt": cost["training"]["gops_per_watt"]}


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
    for k in ("energy_per_example_joules", "gops_per_watt"):
        row[k] = _mean_sd([r[k] for r in records])[0]
    row["runs"] = [{k: v for k, v in r.items() if k != "worker_pid"} for r in records]
    return row


def corner_trainer(training: CornerTraining, *, jobs: int = 1, scheduler: str | None = None,
                   echo: Callable[[str], Any] = print) -> Callable[[list[tuple[Path, Path]]], list[dict]]:
    """A ``train_fn(combos) -> rows`` for :func:`~pcmspice.characterize.corners.write_corner_table`: each
    ``(lut_dir, out_dir)`` of ``combos`` is trained once per seed (into ``out_dir/seed<N>``), all runs on
    the shared executor (``jobs`` processes, or the Dask ``scheduler``); one :func:`corner_row` per combination."""
    if scheduler:
        executor.check_scheduler(scheduler)

    def fn(combos: list[tuple[Path, Path]]) -> list[dict]:
        tasks = [((i, seed), train_one, (str(lut), str(Path(out) / f"seed{seed}"), training, seed))
                 for i, (lut, out) in enumerate(combos) for seed in training.seeds]
        where = f"the Dask cluster {scheduler}" if scheduler else f"{min(jobs, len(tasks))} process(es)"
        echo(f"training {len(tasks)} runs ({len(combos)} combinations x {len(training.seeds)} seeds) on {where}")
        got: dict[tuple[int, int], dict] = {}
        for (i, seed), rec in executor.execute(tasks, jobs, scheduler):
            got[(i, seed)] = rec
            flag = ", transfer in the last epoch" if rec["last_epoch_transfers"] else ""
            echo(f"  {Path(combos[i][0]).name} seed {seed}: final {rec['final_accuracy_percent']:.2f} %, "
                 f"best {rec['best_accuracy_percent']:.2f} % (epoch {rec['best_epoch']}){flag}")
        return [corner_row([got[(i, s)] for s in training.seeds]) for i in range(len(combos))]
    return fn

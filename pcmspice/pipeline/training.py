"""One training run, as every flow runs it: ``pcmspice train``, ``pcmspice run`` (each seed of a design),
``pcmspice corners --train`` (each combination and seed) and the Python API.

:func:`train_run` is the one place that turns a :class:`~pcmspice.train.TrainConfig` into a finished run
folder: the data and the network fitted to it, the LUTs, the **hardware time** (:func:`hardware_time`: the
power layer's latency model gives the time per example and the time of a transfer event, unless the config
pins the time per example), the output-folder policy (:mod:`pcmspice.core.outputs`), the per-epoch
checkpoint beside the folder and resuming from it.  The same config gives the same run from Python and
from the command line.
"""
from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice import power as pw
from pcmspice import train as tr
from pcmspice.core import executor
from pcmspice.core.errors import ConfigError
from pcmspice.core.outputs import default_dir, prepare_out_dir, refuse_same_run
from pcmspice.core.units import fmt_si
from pcmspice.train.checkpoint import FILE, Checkpointer, read_checkpoint, resume_dir
from pcmspice.train.network import fitted
from pcmspice.train.outputs import KIND, run_folder_key


def build_config(config_file: str | Path | None = None, changes: dict[str, Any] | None = None,
                 sets: Any = (), option: str = "--set") -> tr.TrainConfig:
    """A run's config: the defaults, then the TOML file ``config_file`` (e.g. an earlier run's config.toml),
    then ``changes`` (``{"epochs": 3, "array.transfer_every": 500}``), then the ``sets`` (``["array.gain_f=2"]``):
    the precedence of ``pcmspice train`` (its options are the ``changes``, ``--set`` the ``sets``)."""
    cfg = tr.TrainConfig.from_toml(config_file) if config_file else tr.TrainConfig()
    if changes:
        cfg = cfg.with_overrides(changes)
    return cfg.with_overrides(list(sets), option) if sets else cfg


def hardware_time(cfg: tr.TrainConfig, luts: Any, power: pw.PowerConfig | None = None) -> tr.TrainConfig:
    """``cfg`` (its network set) with the chip's hardware time: the latency model's time per example (unless
    ``cfg.time_per_example_seconds`` pins it) and transfer event time, from the run's own array settings (pulse
    slots, transfer interval), the LUT's circuit values and the power parameters ``power``."""
    return pw.with_hardware_time(cfg, luts, power, time_per_example=cfg.time_per_example_seconds is None)


@dataclass
class TrainedRun:
    """A finished training run: its result (config, summary, networks) and its folder."""

    result: tr.TrainResult
    out_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        return self.result.summary

    @property
    def config(self) -> tr.TrainConfig:
        return self.result.config


@dataclass
class Prepared:
    """A run ready to train: its config (network fitted, hardware time set), data set and LUTs."""

    config: tr.TrainConfig
    data: Any
    luts: Any


def prepare(cfg: tr.TrainConfig, power: pw.PowerConfig | None = None, *, timed: bool = True) -> Prepared:
    """Load the data set and the LUTs of ``cfg``, fit its network and (``timed``) set its hardware time; the
    network is checked against the data before anything is trained."""
    data = tr.load_dataset(cfg.dataset)
    cfg = fitted(cfg, data)
    tr.prepare_data(cfg, data)   # fail early on a network/data mismatch
    luts = None if cfg.array.mode == "ideal" and not cfg.luts else tr.resolve_luts(cfg.luts)
    if timed:
        cfg = hardware_time(cfg, luts, power)
    return Prepared(cfg, data, luts)


def default_train_dir(cfg: tr.TrainConfig, luts: Any, baseline: bool = True) -> Path:
    """``runs/train/DATASET-LUTS-HASH8``: the folder of a run when none is named (HASH8 of its config)."""
    return default_dir("train", [cfg.dataset.split(":")[0], luts.name if luts is not None else cfg.array.mode],
                       run_folder_key(cfg, baseline))


def resume_config(out: str | Path) -> tuple[tr.TrainConfig, bool]:
    """The config and baseline flag of the interrupted run of ``out`` (from its checkpoint)."""
    ck_path = resume_dir(out) / FILE
    meta, _ = read_checkpoint(ck_path)
    if meta is None:
        raise ConfigError(f"{out}: nothing to resume (no checkpoint {ck_path}); run without --resume")
    return tr.TrainConfig.from_toml_text(meta["config_toml"], str(ck_path)), bool(meta["baseline"])


def _inputs(cfg: tr.TrainConfig, luts: Any) -> list[tuple[str, str | None]]:
    """What a run reads from disk: its output folder is never one of them, inside one or holding one."""
    from pcmspice.core import paths
    kind, _, where = cfg.dataset.partition(":")
    lut_dir = cfg.luts or (str(paths.default_lut_dir()) if luts is not None else None)
    return [("--luts", lut_dir), ("--dataset", where if kind in ("idx", "features") else None)]


def train_run(cfg: tr.TrainConfig | None = None, out: str | Path | None = None, *,
              power: pw.PowerConfig | None = None, baseline: bool = True, resume: bool = False,
              force: bool = False, figures: bool = True, progress: bool = False,
              on_epoch: Callable[[str, dict], None] | None = None, echo: Callable[[str], Any] | None = None,
              on_interrupt: Callable[[str], None] | None = None, stop_after: int | None = None) -> TrainedRun:
    """Train ``cfg`` into the run folder ``out``; the result and its folder.

    * the network is fitted to the data set when unset; the hardware time is the latency model's
      (:func:`hardware_time`, with the power parameters ``power``);
    * ``out`` None: ``runs/train/DATASET-LUTS-HASH8``, where a finished run of the same config is refused
      unless ``force``; a named ``out`` is absent, empty or this run's (else ``force``);
    * every epoch is checkpointed beside ``out`` (``.OUT.resume/``); ``resume`` goes on from there with
      the interrupted run's own config (``cfg`` must then be None) and is bit-identical to a run never
      interrupted; an older checkpoint of the folder is removed when not resuming;
    * ``on_interrupt(message)`` is told, before each stage, what a Ctrl-C there would leave behind.
    """
    tell = on_interrupt or (lambda m: None)
    if resume:
        if out is None:
            raise ConfigError("--resume needs --out: the folder of the interrupted run (its message names it)")
        if cfg is not None:
            raise ConfigError("resuming continues the run with its own config; give no config")
        cfg, baseline = resume_config(out)
        run = prepare(cfg, power, timed=False)   # its hardware time is the one it was started with
    else:
        run = prepare(cfg or tr.TrainConfig(), power)
    cfg = run.config
    key = run_folder_key(cfg, baseline)
    named = out is not None
    out = Path(out) if named else default_train_dir(cfg, run.luts, baseline)
    if not named and not resume:   # the default folder of this config: a finished run there is this run
        refuse_same_run(out, KIND, key, force)
    prepare_out_dir(out, KIND, key, force, inputs=_inputs(cfg, run.luts))
    ck_path = resume_dir(out) / FILE
    if not resume and ck_path.exists():   # an older interrupted run of this folder: start afresh
        Checkpointer(ck_path, "", "", baseline).remove()
    if echo:
        echo(f"training {cfg.network} on {cfg.dataset} for {cfg.epochs} epochs, seed {cfg.seed} (time per "
             f"example for leakage: {fmt_si(cfg.array.time_per_example_seconds, 's')})")

    def saved(path: Path) -> None:
        tell(f"interrupted: the finished epochs are kept in {path}; continue with "
             f"pcmspice train --resume --out {out}")

    tell(f"interrupted before the first epoch finished; nothing was written to {out}")
    res = tr.train(cfg, run.luts, run.data, baseline=baseline, progress=progress, on_epoch=on_epoch,
                   checkpoint=ck_path, resume=resume, stop_after=stop_after, on_checkpoint=saved)
    tell(f"interrupted while saving; {out} is unchanged and the finished epochs are kept in {ck_path}; "
         f"continue with pcmspice train --resume --out {out}")
    tr.save_run(res, out, figures=figures, force=force)
    Checkpointer(ck_path, "", "", baseline).remove()
    if echo and res.summary.get("pcm_caveat"):
        echo(f"warning: {res.summary['pcm_caveat']}")
    return TrainedRun(res, out)


# ---- many runs: the seeds (and combinations) of a design or a corner table ---------------------------------

def run_record(lut_dir: Path, out: Path) -> dict[str, Any]:
    """What the corner table and the design report take from one finished training run in ``out`` (accuracies
    in %), costed on ``lut_dir`` by the power layer."""
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
            "pcm_trained": s.get("pcm_trained"), "pcm_caveat": s.get("pcm_caveat"),
            "energy_per_example_joules": cost["training"]["energy_per_example_joules"],
            "gops_per_watt": cost["training"]["gops_per_watt"]}


def train_one(tcfg: tr.TrainConfig, out_dir: str, power: pw.PowerConfig | None,
              echo: Callable[[str], Any] | None, progress: bool, resume: bool = False) -> dict[str, Any]:
    """One run of many (one seed on one LUT set, ``tcfg.luts``) into ``out_dir``, costed: its
    :func:`run_record`, with ``how`` it was made: ``trained``; with ``resume`` (the folder is this design's
    run folder, interrupted): ``kept`` (a finished run, not trained again) or ``resumed`` (from its
    checkpoint, bit-identical to a run never interrupted).  Module level: it is pickled to pool and Dask
    workers."""
    from pcmspice.core.outputs import read_marker
    out = Path(out_dir)
    marker = read_marker(out) if resume else None
    if marker is not None and marker.get("kind") == KIND and (out / "summary.json").is_file():
        how = "kept"
    elif resume and (resume_dir(out) / FILE).is_file():
        train_run(None, out, power=power, resume=True, force=True, progress=progress, echo=echo)
        how = "resumed"
    else:
        train_run(tcfg, out, power=power, force=True, progress=progress, echo=echo)
        how = "trained"
    return {**run_record(Path(tcfg.luts), out), "worker_pid": os.getpid(), "how": how}


_HOW = {"kept": " (kept: finished before the interrupt)", "resumed": " (resumed from its checkpoint)", "trained": ""}


def train_runs(runs: list[tuple[Any, tr.TrainConfig, Path, str]], power: pw.PowerConfig | None, *, jobs: int,
               scheduler: str | None, progress: bool, echo: Callable[[str], Any],
               prefix: str = "", resume: bool = False) -> dict[Any, dict[str, Any]]:
    """Train every ``(key, TrainConfig, out_dir, label)`` of ``runs`` on the shared executor
    (:func:`pcmspice.core.executor.execute`); their :func:`run_record` by key.  One run (or ``jobs`` 1) trains
    in this process with its progress; more go to a pool of ``jobs`` processes or the Dask ``scheduler``.
    ``resume``: finished runs are kept and interrupted ones resume from their checkpoints (:func:`train_one`)."""
    workers = 1 if scheduler is None and len(runs) == 1 else min(jobs, len(runs))
    inline = scheduler is None and workers <= 1
    if not inline:
        where = f"the Dask cluster {scheduler}" if scheduler else f"{workers} processes"
        echo(f"{prefix}training {len(runs)} runs on {where}")
    tasks = [(k, train_one, (tcfg, str(out), power, (lambda m: echo(prefix + m)) if inline else None,
                             progress and inline, resume)) for k, tcfg, out, _ in runs]
    labels = {r[0]: r[3] for r in runs}
    got = {}
    for k, rec in executor.execute(tasks, 1 if inline else workers, scheduler):
        got[k] = rec
        flag = ", transfer in the last epoch" if rec["last_epoch_transfers"] else ""
        if rec.get("pcm_trained") is False:
            flag += "; warning: the 3T1C alone was trained, the PCM never learned (no transfer)"
        echo(f"{prefix}  {labels[k]}: final {rec['final_accuracy_percent']:.2f} %, best "
             f"{rec['best_accuracy_percent']:.2f} % (epoch {rec['best_epoch']}){flag}{_HOW[rec.pop('how')]}")
    return got

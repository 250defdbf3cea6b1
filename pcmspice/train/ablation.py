"""The ablation: one network trained on several array variants (ideal, full cell, no
polarity inversion, PCM only, faster leakage, ...) against one float baseline.

Every variant has the same data, seed and hyperparameters; only the array
config differs.  ``leak-10x`` scales leakage so that the cells' median leak
time constant (:func:`~pcmspice.array.tables.leak_time_constant_seconds`) is
the transfer interval / ``retention_ratio``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.array.tables import leak_time_constant_seconds
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.core.tables import csv_text
from pcmspice.lut.format import LutSet
from pcmspice.train.config import TrainConfig
from pcmspice.train.datasets import Dataset
from pcmspice.train.loop import prepare_data, train
from pcmspice.train.outputs import save_run
from pcmspice.train.result import RunResult, TrainResult


def leak_scale_for_time_constant(luts: LutSet, target_seconds: float) -> float:
    """The leak_scale that makes the population's median leak time constant (1 - 1/e of
    the way from v_start to equilibrium) equal ``target_seconds``."""
    tau = float(np.median(leak_time_constant_seconds(luts.cell)))
    if not np.isfinite(tau) or tau <= 0:
        raise LutError("the cell LUT shows no leakage: retention cannot be scaled")
    return tau / target_seconds


ABLATIONS = ("ideal", "cell", "no-polarity-inversion", "pcm-only", "leak-10x")
EXTRA_ABLATIONS = ("paper-offset",)   # the full cell with the paper's signed 2 uS transfer offset


def ablation_configs(cfg: TrainConfig, luts: LutSet | None, variants: tuple[str, ...] = ABLATIONS,
                     retention_ratio: float = 10.0) -> dict[str, TrainConfig]:
    """The ablation's runs: same data, seed and hyperparameters; only the array differs.

    ``leak-10x``: the full cell with leakage scaled so that the median leak time
    constant is ``transfer_every x time_per_example / retention_ratio``."""
    a = cfg.array
    out = {}
    for v in variants:
        if v == "ideal":
            out[v] = cfg.replace(array=a.replace(mode="ideal"))
        elif v == "cell":
            out[v] = cfg.replace(array=a.replace(mode="cell"))
        elif v == "no-polarity-inversion":
            out[v] = cfg.replace(array=a.replace(mode="cell", polarity_inversion=False))
        elif v == "pcm-only":
            out[v] = cfg.replace(array=a.replace(mode="pcm-only"))
        elif v == "paper-offset":
            out[v] = cfg.replace(array=a.replace(mode="cell", offset_scheme="signed"))
        elif v == "leak-10x":
            if luts is None:
                raise LutError("the leakage ablation needs the cell LUT")
            interval = a.transfer_every * a.time_per_example_seconds
            if interval <= 0:
                raise ConfigError("the leakage ablation needs transfers (transfer_every > 0)")
            scale = leak_scale_for_time_constant(luts, interval / retention_ratio)
            out[v] = cfg.replace(array=a.replace(mode="cell", leak_scale=scale))
        else:
            raise ConfigError(f"ablation variant '{v}' is unknown; expected some of "
                              f"{', '.join(ABLATIONS + EXTRA_ABLATIONS)}")
    return out


def _ablation_variant(name: str, c: TrainConfig, luts: LutSet | None, ds: Dataset,
                      base: RunResult | bool, out_dir: str | Path | None, figures: bool,
                      progress: bool) -> tuple[dict[str, Any], TrainResult | None]:
    res = train(c, luts, ds, baseline=base, progress=progress)
    if out_dir:
        save_run(res, Path(out_dir) / name, figures=figures)
    s = res.summary
    row = {"variant": name, "mode": c.array.mode, "polarity_inversion": c.array.polarity_inversion,
           "leak_scale": c.array.leak_scale, "leak_time_constant_seconds": None,
           "analog_test_accuracy": s["analog_test_accuracy"],
           "baseline_test_accuracy": s["baseline_test_accuracy"],
           "gap_percentage_points": s["accuracy_gap_percentage_points"],
           "analog_train_accuracy": s["analog_train_accuracy"],
           "pulses_total": s["pulses_up_total"] + s["pulses_down_total"],
           "pcm_set_pulses_total": s["pcm_set_pulses_total"],
           "wall_seconds": round(res.analog.wall_seconds, 1)}
    return row, res


def _ablation_job(args):   # a worker process: returns only the row (results do not pickle)
    return _ablation_variant(*args)[0]


def run_ablation(cfg: TrainConfig, luts: LutSet | None, data: Dataset | None = None, *,
                 variants: tuple[str, ...] = ABLATIONS, retention_ratio: float = 10.0,
                 out_dir: str | Path | None = None, progress: bool = False, figures: bool = False,
                 log: Callable[[str], None] | None = None, jobs: int = 1, force: bool = False) -> list[dict[str, Any]]:
    """Train every variant against the float baseline; return one row per variant.

    With ``jobs`` > 1 the variants run in that many processes (each trains its
    own copy of the baseline: same seed, same numbers); otherwise one baseline
    is trained and reused.  ``out_dir`` is checked before training and written
    as a whole (:mod:`pcmspice.core.outputs`; another run's folder only with ``force``)."""
    from pcmspice.train.network import fitted
    cfg = fitted(cfg, data)   # an unset network: fitted to the data set, as every run fits it
    if not out_dir:
        return _run_ablation(cfg, luts, data, variants, retention_ratio, None, progress, figures, log, jobs)
    from pcmspice.core.outputs import atomic_dir, run_key
    key = run_key(cfg.to_dict(), list(variants), retention_ratio, figures)
    with atomic_dir(out_dir, "ablate", key, force) as stage:
        return _run_ablation(cfg, luts, data, variants, retention_ratio, stage, progress, figures, log, jobs)


def _run_ablation(cfg, luts, data, variants, retention_ratio, out_dir, progress, figures, log, jobs):
    from pcmspice.core.provenance import atomic_write_text, write_json
    ds = prepare_data(cfg, data)
    cfgs = ablation_configs(cfg, luts, variants, retention_ratio)
    tau = float(np.median(leak_time_constant_seconds(luts.cell))) if luts is not None else None
    rows: list[dict[str, Any]] = []
    if jobs > 1 and len(cfgs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        from pcmspice.core.processes import ignore_sigint, sigint_ignored, stop_pool
        ex = ProcessPoolExecutor(max_workers=jobs, initializer=ignore_sigint)
        futs: list = []
        try:
            with sigint_ignored():
                futs = [ex.submit(_ablation_job, (n, c, luts, ds, True, out_dir, figures, False))
                        for n, c in cfgs.items()]
            rows = [f.result() for f in futs]
        except BaseException:
            stop_pool(ex, futs)
            raise
        ex.shutdown(wait=True)
    else:
        base: RunResult | bool = True
        for name, c in cfgs.items():
            row, res = _ablation_variant(name, c, luts, ds, base, out_dir, figures, progress)
            base = res.baseline
            rows.append(row)
    for r in rows:
        if tau and r["leak_scale"] and r["mode"] == "cell":
            r["leak_time_constant_seconds"] = tau / r["leak_scale"]
        if log:
            log(f"{r['variant']:>22s}: analog {100 * r['analog_test_accuracy']:.2f} %  "
                f"software {100 * r['baseline_test_accuracy']:.2f} %  gap {r['gap_percentage_points']:+.2f} pp")
    if out_dir:
        out = Path(out_dir)
        atomic_write_text(out / "ablation.csv", csv_text(rows))
        atomic_write_text(out / "ablation.md", ablation_markdown(rows, cfg, ds))
        write_json(out / "summary.json", {"config": cfg.to_dict(), "dataset": ds.describe(), "rows": rows,
                                          "retention_ratio": retention_ratio,
                                          "lut_provenance": luts.provenance if luts else None})
    return rows


def ablation_markdown(rows: list[dict[str, Any]], cfg: TrainConfig, ds: Dataset) -> str:
    head = (f"Ablation on {ds.name} ({ds.y_train.size} train / {ds.y_test.size} test), network {cfg.network}, "
            f"{cfg.epochs} epochs, lr {cfg.learning_rate}, seed {cfg.seed}, transfer every "
            f"{cfg.array.transfer_every} examples, {cfg.array.time_per_example_seconds:g} s per example.\n\n")
    lines = ["| variant | test accuracy (%) | software (%) | gap (pp) | leak time constant (s) | 3T1C pulses "
             "| PCM SET pulses |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        ret = f"{r['leak_time_constant_seconds']:.3g}" if r["leak_time_constant_seconds"] else "-"
        lines.append(f"| {r['variant']} | {100 * r['analog_test_accuracy']:.2f} | "
                     f"{100 * r['baseline_test_accuracy']:.2f} | {r['gap_percentage_points']:+.2f} | {ret} | "
                     f"{r['pulses_total']:,} | {r['pcm_set_pulses_total']:,} |")
    return head + "\n".join(lines) + "\n"

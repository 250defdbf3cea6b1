"""One trial of ``pcmspice explore``: a design (one per condition setting) evaluated by the flow every run uses
- its LUTs through the shared LUT cache (:func:`~pcmspice.pipeline.run.characterize_design`: a cell already
characterized, in this search or in any run, is not simulated again), a training run per corner and seed
(:func:`~pcmspice.pipeline.training.train_run`), costed by the power layer as ``pcmspice power --training``
costs it (the drift remedies' energy and time in the totals) - and its objectives.

Pruning (the cheap fidelity) is the median stopping rule applied per run: a run whose best analog test accuracy
up to epoch e (past the warm-up epochs) is below the median at epoch e of the same run (setting, corner, seed)
in the trials of earlier batches stops the trial.  The best so far, not the last epoch's, as Optuna's
MedianPruner compares: a transfer's dip in one epoch does not stop a trial that was above the median before.
The medians come from earlier batches only, so a trial's fate does not depend on which worker finished first:
the search stays deterministic in parallel.
"""
from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


class Pruned(Exception):
    """A run fell below its median: the trial stops here."""

    def __init__(self, label: str, epoch: int, accuracy: float, median: float) -> None:
        super().__init__(f"{label} epoch {epoch}: best {100 * accuracy:.2f} % < median {100 * median:.2f} %")
        self.label, self.epoch = label, epoch


def medians(curves: Iterable[Mapping[str, Sequence[float]]], startup: int) -> dict[str, list[float | None]]:
    """Per run label, the median accuracy at each epoch over ``curves`` (one mapping label -> per-epoch
    accuracies per earlier trial); None where fewer than ``startup`` trials reached that epoch."""
    by: dict[str, list[list[float]]] = {}
    for c in curves:
        for label, accs in c.items():
            cols = by.setdefault(label, [])
            for i, a in enumerate(accs):
                if len(cols) <= i:
                    cols.append([])
                cols[i].append(float(a))
    return {label: [statistics.median(v) if len(v) >= max(1, startup) else None for v in cols]
            for label, cols in by.items()}


def _lut_sets(d: Any, cache: str | None) -> list[tuple[str, Path, bool]]:
    """Every combination's (name, LUT folder, reused) of design ``d``, through the LUT cache."""
    from pcmspice.characterize.sweep import combo_name
    from pcmspice.core import paths
    from pcmspice.pipeline.run import characterize_design
    if d.luts != "characterize":
        return [("", paths.default_lut_dir() if d.luts == "committed" else Path(d.luts), True)]
    combos = d.combos()
    out = []
    for corner, temp, vdd in combos:
        _, lut_dir, reused = characterize_design(d, Path("."), jobs=1, progress=False, echo=lambda m: None,
                                                 sweep=d.combo_sweep(corner, temp, vdd), cache=cache)
        out.append((combo_name(d.sweep.tech().name, corner, temp, vdd) if len(combos) > 1 else "", lut_dir, reused))
    return out


def _baseline_file(cfg: Any, folder: Path) -> tuple[Path, dict[str, Any]]:
    """Where the software baseline of training config ``cfg`` is kept in ``folder``, and the config it records:
    ``cfg`` without the array and the LUTs, which the baseline does not read."""
    import json

    from pcmspice.core.outputs import run_key
    d = cfg.to_dict()
    d.pop("array", None)
    d.pop("luts", None)
    config = json.loads(json.dumps(d, sort_keys=True, default=str))   # as the file holds it
    return folder / f"{run_key('software-baseline', config)}.json", config


def _stored(path: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The baseline file ``path`` if it is readable and of ``config``, else None."""
    import json
    try:
        rec = json.loads(path.read_text())
        if rec.get("config") == config:
            float(rec["test_accuracy"])
            return rec
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def read_baseline(cfg: Any, folder: Path) -> float | None:
    """The test accuracy of the software baseline of ``cfg`` kept in ``folder``; None when it is absent, or its
    file is unreadable or of another config (then it is trained again)."""
    rec = _stored(*_baseline_file(cfg, folder))
    return None if rec is None else float(rec["test_accuracy"])


def _baseline(cfg: Any, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The software baseline's file of ``cfg`` in ``folder`` and its content: read, or trained and written."""
    from pcmspice import train as tr
    from pcmspice.core.provenance import write_json
    path, config = _baseline_file(cfg, folder)
    rec = _stored(path, config)
    if rec is None:
        last = tr.train_software(cfg).history[-1]
        rec = {"kind": "software-baseline", "config": config,
               "test_accuracy": last["test_accuracy"], "train_accuracy": last["train_accuracy"]}
        write_json(path, rec)
    return path, rec


def software_accuracy(cfg: Any, folder: Path) -> float:
    """The final test accuracy of the software baseline of training config ``cfg`` (as a run folder's summary
    records it), trained once per search into ``folder`` and shared by every trial of the same task and seed.

    The baseline reads nothing of the array or the LUTs (:func:`pcmspice.train.loop.train_software`), so it is
    keyed by the rest of the config; every trial used to train it again beside its analog run, which was more
    than half of a trial's time.  A file that is unreadable or of another config is trained again and replaced
    (atomically: workers that train the same baseline at once write the same bytes)."""
    return float(_baseline(cfg, folder)[1]["test_accuracy"])


def train_baseline(task: Any, seed: int, folder: str) -> tuple[str, dict[str, Any]]:
    """A search's task of its own: the software baseline of training task ``task`` (a design's ``[task]``) and
    ``seed`` into ``folder``, as the trials' runs will look it up (their config's network fitted to the data,
    which is what their finished runs record).  Returns the file's name and content, which the search keeps in
    its own folder (a worker on another host may not share it).  The trials then never train or wait for it:
    they report their analog runs, and the search finishes them with the baseline (:func:`finish`).  Module
    level: it is pickled to pool and Dask workers."""
    from pcmspice.core import paths
    from pcmspice.train.network import fitted
    path, rec = _baseline(fitted(task.train_config(seed, paths.default_lut_dir())), Path(folder))
    return path.name, rec


def _run_costs(lut_dir: Path, run_dir: Path, power: Any) -> tuple[float, float | None, dict[str, float]]:
    """One finished training run's analog test accuracy (a fraction), its own baseline's (None if it trained
    none), and its energy and time per example, area per synapse and transfers, as the power layer costs them."""
    from pcmspice import power as pw
    from pcmspice.lut.format import load_lut_set
    from pcmspice.power.workload import layers
    s = pw.load_summary(run_dir)
    est = pw.estimate(load_lut_set(lut_dir), None, run_dir, power)
    synapses = sum(l.synapses for l in layers(est.network, est.config.workload.bias))
    return float(s["analog_test_accuracy"]), s.get("baseline_test_accuracy"), {
        "energy_per_example_joules": est.energy_per_example_joules,
        "time_per_example_seconds": est.latency.training_seconds_per_example,
        "area_per_synapse_m2": est.area_total_m2 / synapses,
        "transfers_total": int(s.get("transfers_total") or 0)}


def with_software(analog: float, base: float | None, costs: dict[str, float]) -> dict[str, float]:
    """A run's metrics from its analog accuracy, the software baseline's (None: unknown) and its costs."""
    return {"gap_pp": 100 * (analog - float(base)) if base is not None else math.nan,
            "analog_accuracy_percent": 100 * analog,
            "software_accuracy_percent": 100 * float(base) if base is not None else math.nan, **costs}


def run_metrics(lut_dir: Path, run_dir: Path, power: Any, software: float | None = None) -> dict[str, float]:
    """One finished training run's gap (pp), energy and time per example and area per synapse, from its
    summary and the power layer's estimate (as ``pcmspice power --training`` costs it: the drift remedies the
    run had on are in the totals).  ``software``: the baseline's test accuracy, when the run trained none."""
    analog, own, costs = _run_costs(lut_dir, run_dir, power)
    return with_software(analog, own if software is None else software, costs)


def worst(settings: list[dict[str, Any]]) -> dict[str, float]:
    """A trial's objectives from its settings' seed means: the lowest gap, the highest energy, area, time."""
    keys = ("energy_per_example_joules", "area_per_synapse_m2", "time_per_example_seconds")
    out = {"gap_pp": min(s["gap_pp"] for s in settings), **{k: max(s[k] for s in settings) for k in keys}}
    low = min(settings, key=lambda s: s["gap_pp"])
    out["worst_setting"] = low["setting"]
    out["software_accuracy_percent"] = low["software_accuracy_percent"]
    out["analog_accuracy_percent"] = low["analog_accuracy_percent"]
    return out


def mean_over_seeds(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))]
    return {k: float(sum(r[k] for r in rows) / len(rows)) for k in keys}


def evaluate(designs: list[tuple[str, Any]], out_dir: str, limits: Mapping[str, Sequence[float | None]] | None,
             warmup: int, cache: str | None, baselines: str | None = None) -> dict[str, Any]:
    """Train and cost one trial: ``designs`` (one per condition setting, label first) into ``out_dir``;
    ``limits`` (run label -> per-epoch medians, None: no pruning) past ``warmup`` epochs stop it early.
    ``baselines``: a folder of software baselines shared by the trials (:func:`software_accuracy`); the runs
    then train the analog network only, and a complete trial is returned with its runs (``runs``: per setting,
    each run's analog accuracy, costs and config) for :func:`finish` to score once the baselines are in.
    None: every run trains its own, and the trial comes back scored.
    Returns ``state`` (complete or pruned), the objectives (``metrics``) and each setting's seed means (or
    ``runs``), the learning curves, the epoch it was pruned at and the LUTs reused.  Module level: it is pickled to
    pool and Dask workers."""
    from pcmspice.pipeline.training import train_run
    t0 = time.perf_counter()
    curves: dict[str, list[float]] = {}
    runs, reused, n_luts = [], 0, 0
    for cond, d in designs:
        for combo, lut_dir, was in _lut_sets(d, cache):
            reused += was and d.luts == "characterize"
            n_luts += d.luts == "characterize"
            rows = []
            for s in d.task.seeds:
                label = "/".join(x for x in (cond, combo, f"seed{s}") if x)
                run_dir = Path(out_dir) / "train" / label
                curve = curves.setdefault(label, [])
                cfg = d.task.train_config(s, lut_dir)
                epochs = cfg.epochs

                def on_epoch(who: str, row: dict, label: str = label, curve: list = curve, epochs: int = epochs
                             ) -> None:
                    if who == "software":
                        return
                    curve.append(float(row["test_accuracy"]))
                    e = int(row["epoch"])
                    med = (limits or {}).get(label, [])
                    m = med[e - 1] if limits is not None and e > warmup and e < epochs and e <= len(med) else None
                    if m is not None and max(curve) < m:   # its best so far, as Optuna's MedianPruner
                        raise Pruned(label, e, max(curve), m)

                try:
                    done = train_run(cfg, run_dir, power=d.power, force=True, figures=False, on_epoch=on_epoch,
                                     baseline=baselines is None)
                except Pruned as p:
                    return {"state": "pruned", "pruned_at_epoch": p.epoch, "pruned_run": p.label, "reason": str(p),
                            "curves": curves, "seconds": time.perf_counter() - t0, "worker_pid": os.getpid()}
                if baselines is None:
                    rows.append(run_metrics(lut_dir, run_dir, d.power))
                else:   # the search finishes it with the shared baseline (finish)
                    analog, _, costs = _run_costs(lut_dir, run_dir, d.power)
                    rows.append({"analog": analog, "costs": costs, "config": done.result.config})
            runs.append(("/".join(x for x in (cond, combo) if x) or "-", rows))
    rec = {"state": "complete", "runs": runs, "curves": curves, "luts_reused": f"{reused}/{n_luts}" if n_luts else "-",
           "seconds": time.perf_counter() - t0, "worker_pid": os.getpid()}
    return finish(rec, None) if baselines is None else rec


def waiting_for(rec: dict[str, Any], baselines: str | None) -> bool:
    """Whether trial record ``rec`` still needs a software baseline that ``baselines`` does not hold yet."""
    return baselines is not None and any("config" in r and read_baseline(r["config"], Path(baselines)) is None
                                         for _, rows in rec.get("runs", ()) for r in rows)


def finish(rec: dict[str, Any], baselines: str | None) -> dict[str, Any]:
    """A complete trial's objectives (``metrics``) and its settings' seed means, from its runs (``runs``, as
    :func:`evaluate` reports them) and, for runs that trained none, the software baseline in ``baselines``
    (trained here if it is not there: normally :func:`train_baseline` has made it).  Other records as they are."""
    if rec.get("state") != "complete" or "runs" not in rec:
        return rec
    settings = []
    for label, rows in rec["runs"]:
        done = [with_software(r["analog"], software_accuracy(r["config"], Path(baselines)), r["costs"])
                if "config" in r else r for r in rows]
        settings.append({"setting": label, **mean_over_seeds(done)})
    return {"state": "complete", "metrics": worst(settings), "settings": settings,
            **{k: v for k, v in rec.items() if k not in ("state", "runs")}}


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """The indices of the non-dominated points, in order: a point is dominated when another is at least as
    good in every objective and better in one (``directions``: "minimize" or "maximize" per objective).
    Points with a NaN are never on the front; equal points are all kept."""
    sign = [1.0 if d == "minimize" else -1.0 for d in directions]
    pts = [[s * float(v) for s, v in zip(sign, p)] for p in points]
    ok = [all(math.isfinite(v) for v in p) for p in pts]
    front = []
    for i, p in enumerate(pts):
        if not ok[i]:
            continue
        if not any(ok[j] and j != i and all(a <= b for a, b in zip(q, p)) and any(a < b for a, b in zip(q, p))
                   for j, q in enumerate(pts)):
            front.append(i)
    return front

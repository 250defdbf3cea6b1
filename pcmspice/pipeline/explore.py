"""``pcmspice explore SPACE.toml``: search a cell's design space with Optuna, trials in parallel, resumable.

* **the study** lives in the output folder: an Optuna JournalStorage on ``study.journal`` (append-only, one
  fsync'ed line per change, so a SIGKILL loses at most the line being written, which is cut off on the next
  start);
* **batches**: the trials are proposed ``batch`` at a time (``[search] batch``), every one of a batch from the
  same finished trials (those of the earlier batches; the batch's own proposals are running, which the TPE
  sampler's constant liar sees as such), and the sampler is seeded per trial from (space seed, trial number).
  So the same space and seed propose the same trials with any ``--jobs``, on a cluster or not, and a killed
  search resumes to the same trials: its finished trials are kept, a running one is trained again with its
  recorded parameters, the rest of its batch is proposed as it would have been;
* **the trials** of a batch run on :func:`pcmspice.core.executor.execute` (``jobs`` local processes, or the
  Dask cluster ``scheduler``); each is :func:`pcmspice.pipeline.trial.evaluate` (LUTs through the shared LUT
  cache, a training run per setting and seed, costed), pruned on its learning curves against the medians of
  the earlier batches (deterministic in parallel);
* the reference: the fixed design itself (every parameter at the design's value) is evaluated once with the
  first batch, for the figure and for "dominates the default".

The outputs (tables, Pareto set, figure, importances, design files, report) are written by
:mod:`pcmspice.pipeline.explore_outputs` after every batch.
"""
from __future__ import annotations

import hashlib
import math
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcmspice.core import executor
from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.outputs import prepare_out_dir, read_marker, write_marker
from pcmspice.core.provenance import atomic_write_text, write_json
from pcmspice.pipeline.space import OBJECTIVES, Space, load_space
from pcmspice.pipeline.trial import evaluate, finish, medians, train_baseline, waiting_for

KIND = "explore"
JOURNAL = "study.journal"
STUDY = "explore"
TPE_STARTUP_TRIALS = 10
#: what a search folder holds (removed with --force when it held another search)
OUTPUTS = (JOURNAL, JOURNAL + ".lock", "space.toml", "summary.json", "reference.json", "trials.csv",
           "trials.parquet", "pareto.csv", "importances.csv", "confirm.csv", "report.md", "report.html", "figures",
           "pareto", "trials", "reference", "confirm", "baselines")
NEEDS_OPTUNA = ("pcmspice explore needs optuna (a dependency of pcmspice since 0.1.0): pip install 'optuna>=4' "
                "(in a checkout: ./go setup)")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError(NEEDS_OPTUNA) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def trial_seed(seed: int, number: int) -> int:
    """The sampler's seed for trial ``number`` of a search seeded ``seed``."""
    return int.from_bytes(hashlib.sha256(f"pcmspice-explore:{seed}:{number}".encode()).digest()[:4], "little")


def make_sampler(space: Space, seed: int):
    """The space's sampler seeded ``seed``: TPE (multi-objective, constant liar for the running trials of a
    batch) or NSGA-II (a generation per batch).  Constraints reach both through the trials' constraint values
    (:func:`_tell`)."""
    optuna = _optuna()
    if space.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=max(2, space.batch), seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, constant_liar=True)


def _clean_journal(path: Path) -> None:
    """Cut a line torn by a kill off the end of the journal; remove its lock (this process holds the folder)."""
    Path(str(path) + ".lock").unlink(missing_ok=True)
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)


def open_study(out: Path, space: Space):
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    _clean_journal(out / JOURNAL)
    storage = JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    return optuna.create_study(study_name=STUDY, storage=storage, directions=space.directions(),
                               load_if_exists=True, sampler=make_sampler(space, space.seed))


def _finished(t) -> bool:
    return t.state.name in ("COMPLETE", "PRUNED", "FAIL")


def _tell(study, trial_id: int, number: int, rec: dict[str, Any], space: Space) -> None:
    from optuna.trial import TrialState
    st = study._storage
    for k in ("curves", "settings", "metrics", "pruned_at_epoch", "pruned_run", "reason", "luts_reused",
              "seconds", "error"):
        if k in rec:
            st.set_trial_user_attr(trial_id, k, rec[k])
    if rec["state"] == "complete":
        from optuna.trial import Trial
        t = Trial(study, trial_id)
        for i, ((name, op, bound), v) in enumerate(zip(space.constraints, space.violations(rec["metrics"]))):
            t.set_constraint(f"{i}:{name}{op}{bound:g}", min(v, 1e300))
        study.tell(number, [rec["metrics"][OBJECTIVES[o][0]] for o in space.objectives])
    elif rec["state"] == "pruned":
        study.tell(number, state=TrialState.PRUNED)
    else:
        study.tell(number, state=TrialState.FAIL)


def _baseline_tasks(trial_designs: list[Any], baselines: str, submitted: set[tuple[str, int]]) -> list[Any]:
    """The tasks that train the software baselines a batch's trials need (one per training task and seed, not
    yet trained by this search): they run first, so the trials' runs find them when they finish."""
    import json
    tasks = []
    for designs in trial_designs:
        for _, d in designs:
            task = {k: v for k, v in d.task.to_dict().items() if k not in ("array", "seeds")}
            for s in d.task.seeds:
                key = (json.dumps(task, sort_keys=True, default=str), s)
                if key not in submitted:
                    submitted.add(key)
                    tasks.append((("baseline", f"{d.task.dataset} seed {s}", key), _train_baseline_safely,
                                  (d.task, s, baselines)))
    return tasks


def _error_line(exc: PcmSpiceError) -> str:
    """A user-level error as a failed trial records it: its first line, at most 500 characters."""
    return str(exc).splitlines()[0][:500]


def _train_baseline_safely(task: Any, seed: int, folder: str) -> tuple[str, dict[str, Any]] | str:
    """:func:`~pcmspice.pipeline.trial.train_baseline`, or the one-line error of a task the flow refuses."""
    try:
        return train_baseline(task, seed, folder)
    except PcmSpiceError as exc:
        return _error_line(exc)


def _finish_safely(rec: dict[str, Any], baselines: str | None) -> dict[str, Any]:
    try:
        return finish(rec, baselines)
    except PcmSpiceError as exc:
        return {"state": "fail", "error": _error_line(exc)}


def _record(out: Path, study: Any, space: Space, ids: dict[int, int], key: Any, rec: dict[str, Any],
            echo: Callable[[str], Any]) -> None:
    """A finished trial (or the reference) into the study and the console."""
    from pcmspice.pipeline import explore_outputs as eo
    if key == "reference":
        write_json(out / "reference.json", rec)
        echo(f"  reference (the fixed design): {eo.describe(rec, space)}")
        return
    _tell(study, ids[key], key, rec, space)
    echo(f"  trial {key}: {eo.describe(rec, space)}")


def evaluate_safely(designs, out_dir, limits, warmup, cache, baselines=None):
    """:func:`~pcmspice.pipeline.trial.evaluate`, with a user-level failure of one trial (a design the flow
    refuses) recorded as a failed trial instead of stopping the search."""
    try:
        return evaluate(designs, out_dir, limits, warmup, cache, baselines)
    except PcmSpiceError as exc:
        return {"state": "fail", "error": _error_line(exc)}


def _designs(space: Space, params: dict[str, Any], number: int | None):
    name = f"{space.name}-t{number:05d}" if number is not None else f"{space.name}-reference"
    try:
        return space.trial_designs(params, name)
    except ConfigError as exc:
        return str(exc)


def _trial_dir(out: Path, n: int, again: bool) -> Path:
    """Trial ``n``'s folder; a trial run again after a kill gets a new one (``NNNNN-again<k>``): a pool worker of
    the killed search may still be finishing the old one."""
    base = out / "trials" / f"{n:05d}"
    if not again or not base.exists():
        return base
    k = 1
    while (base.parent / f"{base.name}-again{k}").exists():
        k += 1
    return base.parent / f"{base.name}-again{k}"


def run_search(space_file: str | Path, out: str | Path, *, jobs: int = 2, scheduler: str | None = None,
               trials: int | None = None, force: bool = False, cache: str | Path | None = None,
               echo: Callable[[str], Any] = print, share_baselines: bool = True) -> dict[str, Any]:
    """Run (or resume) the search of ``space_file`` in ``out``; its summary.  ``trials``: the trial count
    instead of the space's.  The space is checked whole before anything is written.  ``share_baselines``
    False: every training run trains its own software baseline (the same numbers, slower; the benchmark's
    reference)."""
    space = load_space(space_file)
    if scheduler:
        executor.check_scheduler(scheduler)
    _optuna()
    n_total = trials if trials is not None else space.trials
    out = Path(out)
    m = read_marker(out)
    out = prepare_out_dir(out, KIND, space.key, force)
    if m is not None and (m.get("kind") != KIND or m.get("key") != space.key):   # --force: another search
        for name in OUTPUTS:
            p = out / name
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, KIND, space.key)
    atomic_write_text(out / "space.toml", space.text)
    study = open_study(out, space)
    dists = {p.path: p.distribution() for p in space.parameters}
    cache_s = str(cache) if cache is not None else None
    # trained once per task and seed; an absolute path for the workers, whatever their working folder
    baselines = str((out / "baselines").resolve()) if share_baselines else None
    k = space.batch
    kept = sum(_finished(t) for t in study.get_trials(deepcopy=False))
    where = f"the Dask cluster {scheduler}" if scheduler else f"{jobs} process{'es' if jobs > 1 else ''}"
    echo(f"search {space.name} ({space.key[:8]}): {n_total} trials in batches of {k}, {space.sampler} sampler, "
         f"seed {space.seed}, on {where} -> {out}" + (f"; resuming: {kept} finished trials kept" if kept else ""))
    t0 = time.perf_counter()
    from pcmspice.pipeline import explore_outputs as eo
    # one pool of worker processes (or one cluster connection) for the whole search: they start, import and
    # load the data once
    submitted: set[tuple[str, int]] = set()   # the software baselines this search has submitted
    with executor.worker_pool(jobs, scheduler) as pool:
        for b in range(math.ceil(n_total / k)):
            numbers = range(b * k, min((b + 1) * k, n_total))
            have = study.get_trials(deepcopy=False)
            if all(n < len(have) and _finished(have[n]) for n in numbers) and (b or (out / "reference.json").exists()):
                continue
            earlier = [t for t in have if t.number < b * k and t.state.name in ("COMPLETE", "PRUNED")]
            limits = (medians([t.user_attrs.get("curves", {}) for t in earlier], space.prune_startup_trials)
                      if space.pruning else None)
            todo = []
            for n in numbers:
                if n < len(have):
                    if not _finished(have[n]):   # running when the search was killed: again, same parameters
                        todo.append((n, have[n]._trial_id, have[n].params, True))
                    continue
                study.sampler = make_sampler(space, trial_seed(space.seed, n))
                t = study.ask(dists)
                if t.number != n:
                    raise PcmSpiceError(f"{out / JOURNAL}: expected trial {n}, the study made {t.number}; the journal "
                                        "was changed by another process")
                todo.append((n, t._trial_id, t.params, False))
            tasks, ids, bad = [], {}, {}
            for n, tid, params, again in todo:
                ids[n] = tid
                ds = _designs(space, params, n)
                if isinstance(ds, str):   # a combination the design refuses: a failed trial, the search goes on
                    bad[n] = ds
                    continue
                tasks.append((n, evaluate_safely, (ds, str(_trial_dir(out, n, again)), limits,
                                                   space.prune_warmup_epochs, cache_s, baselines)))
            if b == 0 and not (out / "reference.json").exists():
                ref = _designs(space, {}, None)
                if isinstance(ref, str):   # the fixed design refuses a condition: said, the search goes on
                    _record(out, study, space, ids, "reference", {"state": "fail", "error": ref}, echo)
                else:
                    tasks.append(("reference", evaluate_safely, (ref, str(out / "reference"), None, 0, cache_s,
                                                                 baselines)))
            for n, why in bad.items():
                _tell(study, ids[n], n, {"state": "fail", "error": why}, space)
                echo(f"  trial {n}: failed: {why}")
            if baselines is not None:   # first: the trials never train or wait for them
                tasks[:0] = _baseline_tasks([t[2][0] for t in tasks], baselines, submitted)
            waiting: dict[Any, dict[str, Any]] = {}
            failed: list[str] = []
            for key, rec in executor.execute(tasks, max(1, jobs), scheduler, pool=pool):
                if isinstance(key, tuple):   # a software baseline is in: finish the trials that waited for it
                    if isinstance(rec, str):
                        echo(f"  software baseline, {key[1]}: failed: {rec}")
                        failed.append(f"the software baseline ({key[1]}) failed: {rec}")
                        submitted.discard(key[2])   # the next batch that needs it tries again
                        continue
                    name, content = rec   # kept here too: a worker on another host may not share the folder
                    write_json(Path(baselines) / name, content)
                    echo(f"  software baseline, {key[1]}: {100 * content['test_accuracy']:.2f} % test accuracy")
                    for w in [w for w, r in waiting.items() if not waiting_for(r, baselines)]:
                        _record(out, study, space, ids, w, _finish_safely(waiting.pop(w), baselines), echo)
                elif waiting_for(rec, baselines):
                    waiting[key] = rec
                else:
                    _record(out, study, space, ids, key, _finish_safely(rec, baselines), echo)
            for w, r in waiting.items():   # their baseline failed (else: not expected, scored here)
                _record(out, study, space, ids, w, {"state": "fail", "error": "; ".join(failed)[:500]} if failed
                        else _finish_safely(r, baselines), echo)
            eo.write_outputs(out, study, space, n_total, time.perf_counter() - t0, final=False)
    summary = eo.write_outputs(out, study, space, n_total, time.perf_counter() - t0)
    echo(f"{summary['trials']['complete']} complete, {summary['trials']['pruned']} pruned, "
         f"{summary['trials']['failed']} failed; {len(summary['pareto'])} on the Pareto front")
    return summary


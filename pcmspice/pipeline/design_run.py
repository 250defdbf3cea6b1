"""``pcmspice run DESIGN.toml``: a design -> LUTs (each corner x temperature) -> a training run per seed on
each -> power -> one report.

* one combination (the usual case): its LUTs (the committed population, a LUT folder, or the ``[sweep]``
  characterized once per content), ``train/`` (``train-seed<N>/`` with several seeds), ``power/``;
* several corners, temperatures or supplies: one characterization per combination (each cached by its own
  content hash, :func:`~pcmspice.pipeline.run.characterize_design`), every combination trained once per seed
  into ``train/<combination>/seed<N>``, a corner table ``corners/`` (circuit numbers, final and best accuracy
  as mean ± sd over the seeds, energy per example) whose lowest accuracy the report's verdict names as the
  worst corner, and ``power/`` for the first combination.

The seeds (and combinations) are trained through :func:`pcmspice.core.executor.execute`: in this process
for one run, else on a pool of ``jobs`` spawned processes, or on the Dask cluster ``scheduler``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcmspice import power as pw
from pcmspice.characterize.sweep import combo_name
from pcmspice.core import executor, paths
from pcmspice.core.outputs import run_key
from pcmspice.core.provenance import atomic_write_text, write_json
from pcmspice.pipeline.corners import corner_row, run_record
from pcmspice.pipeline.design import DesignConfig, design_key, design_summary, load_design
from pcmspice.pipeline.run import _run_folders, characterize_design, default_out_dir, train_config_on_luts
from pcmspice.power.outputs import write_power_run
from pcmspice.report.build import ReportResult, build_report


def train_seed(tcfg: Any, out_dir: str, power: pw.PowerConfig, echo: Callable[[str], Any] | None,
               progress: bool) -> dict[str, Any]:
    """One training run of a design (``tcfg``, one seed on one LUT set) into ``out_dir``, costed: its record
    (:func:`~pcmspice.pipeline.corners.run_record`).  Module level: it is pickled to pool and Dask workers."""
    train_config_on_luts(tcfg, out_dir, config=power, progress=progress, echo=echo or (lambda m: None),
                         force=True)
    return run_record(Path(tcfg.luts), Path(out_dir))


def train_runs(runs: list[tuple[Any, Any, Path, str]], power: pw.PowerConfig, *, jobs: int, scheduler: str | None,
               progress: bool, echo: Callable[[str], Any]) -> dict[Any, dict[str, Any]]:
    """Train every ``(key, TrainConfig, out_dir, label)`` of ``runs`` on the shared executor; their records by key.
    One run (or ``jobs`` 1) trains in this process with its progress; more go to a pool or Dask."""
    workers = 1 if scheduler is None and len(runs) == 1 else min(jobs, len(runs))
    inline = scheduler is None and workers <= 1
    if not inline:
        where = f"the Dask cluster {scheduler}" if scheduler else f"{workers} processes"
        echo(f"[2/4] training {len(runs)} runs on {where}")
    tasks = [(k, train_seed, (tcfg, str(out), power, (lambda m: echo("[2/4] " + m)) if inline else None,
                              progress and inline)) for k, tcfg, out, _ in runs]
    labels = {r[0]: r[3] for r in runs}
    got = {}
    for k, rec in executor.execute(tasks, 1 if inline else workers, scheduler):
        got[k] = rec
        flag = ", transfer in the last epoch" if rec["last_epoch_transfers"] else ""
        echo(f"[2/4]   {labels[k]}: final "
             f"{rec['final_accuracy_percent']:.2f} %, best {rec['best_accuracy_percent']:.2f} % "
             f"(epoch {rec['best_epoch']}){flag}")
    return got


def _corner_table(out: Path, rows: list[dict[str, Any]]) -> None:
    """``out/corners.csv``, ``corners.md`` and ``corners.json``: one row per combination."""
    import pandas as pd

    from pcmspice.characterize.corners import COLUMNS, to_markdown
    runs = {r["combination"]: r.pop("runs") for r in rows}
    df = pd.DataFrame(rows)
    first = [c for c in COLUMNS if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "corners.csv", df.to_csv(index=False))
    atomic_write_text(out / "corners.md", to_markdown(df))
    write_json(out / "corners.json", {"kind": "corners", "rows": df.to_dict(orient="records"),
                                      "training_runs": runs})


def _combination_luts(d: DesignConfig, out_dir: Path, *, jobs: int, scheduler: str | None, progress: bool,
                      echo: Callable[[str], Any]) -> list[tuple[str, Path, Path, bool, dict[str, Any]]]:
    """Every combination's (name, characterization folder, LUT folder, reused, circuit numbers)."""
    import json
    combos = d.combos()
    got = []
    for corner, temp, vdd in combos:
        name = combo_name(d.sweep.tech().name, corner, temp, vdd)
        run_dir, lut_dir, reused = characterize_design(
            d, out_dir, jobs=jobs, progress=progress, echo=echo, sweep=d.combo_sweep(corner, temp, vdd),
            folder="characterize" if len(combos) == 1 else f"characterize/{name}", scheduler=scheduler)
        circuit = json.loads((run_dir / "summary.json").read_text())["combos"][0]
        got.append((name, run_dir, lut_dir, reused, circuit))
    n = sum(g[3] for g in got)
    if len(combos) > 1:
        echo(f"[1/4] LUTs of {len(combos)} combinations: {n} reused, {len(combos) - n} characterized"
             + (": nothing simulated" if n == len(combos) else ""))
    return got


def _check_task(d: DesignConfig) -> None:
    """Refuse a task its data set cannot train (e.g. 7 outputs for 10 classes) before any folder is made."""
    from pcmspice import train
    tc = d.task.train_config(d.task.seeds[0], "").validate()
    train.prepare_data(tc, train.load_dataset(tc.dataset))


def run_design(design: Any = None, out: str | Path | None = None, *, report_dir: str | Path | None = None,
               jobs: int = 2, scheduler: str | None = None, measure_cpu: bool = True, progress: bool = True,
               echo: Callable[[str], Any] = print, force: bool = False) -> ReportResult:
    """``pcmspice run [DESIGN.toml]``: a design (a file, a :class:`~pcmspice.pipeline.DesignConfig`, or None
    for the embedded default) -> LUTs -> a training run per seed (per combination) -> power -> one report.

    Runs go to ``out`` (default ``runs/run-<name>-<hash8>``), the report to ``report_dir`` (default
    ``out/report``), which names the design, its hash and its LUT folder(s), and with several combinations
    the worst corner (the lowest final accuracy).  ``jobs`` processes (or the Dask ``scheduler``) train the
    runs and simulate the batches.  ``out`` is checked first (absent, empty or this design's run, else
    ``force``)."""
    d = load_design(design)
    _check_task(d)   # a network that does not fit the data set is refused before OUT is touched
    if scheduler:
        executor.check_scheduler(scheduler)
    dkey = design_key(d)
    out_dir = Path(out) if out is not None else default_out_dir(d)
    key = run_key("design", dkey, measure_cpu, str(report_dir) if report_dir else None)
    out_dir, report = _run_folders(out_dir, report_dir, key, force)
    atomic_write_text(out_dir / "design.toml", d.to_toml())
    t0 = time.perf_counter()
    echo(f"design {d.name} {dkey[:8]} -> {out_dir}")
    inputs: list[Path] = []
    seeds = d.task.seeds
    # 1. lookup tables: one set, or one per combination
    if d.luts == "characterize":
        combos = _combination_luts(d, out_dir, jobs=jobs, scheduler=scheduler, progress=progress, echo=echo)
        inputs += [c[1] for c in combos]
    else:
        lut_dir = paths.default_lut_dir() if d.luts == "committed" else Path(d.luts)
        echo(f"[1/4] LUTs: {'the committed population ' if d.luts == 'committed' else ''}{lut_dir}")
        combos = [("", lut_dir, lut_dir, False, {})]
        inputs.append(lut_dir)
    multi = len(combos) > 1
    # 2. one training run per combination and seed, with the latency model's time per example for leakage
    runs = []
    for i, (name, _, lut_dir, _, _) in enumerate(combos):
        for s in seeds:
            tdir = (out_dir / "train" / name / f"seed{s}" if multi else
                    out_dir / ("train" if len(seeds) == 1 else f"train-seed{s}"))
            runs.append(((i, s), d.task.train_config(s, lut_dir), tdir, str(tdir.relative_to(out_dir))))
    records = train_runs(runs, d.power, jobs=jobs, scheduler=scheduler, progress=progress, echo=echo)
    inputs += [r[2] for r in runs]
    if multi:
        rows = [{**circuit, "combination": name, "lut_dir": str(lut_dir),
                 **corner_row([records[(i, s)] for s in seeds])}
                for i, (name, _, lut_dir, _, circuit) in enumerate(combos)]
        _corner_table(out_dir / "corners", rows)
        inputs.append(out_dir / "corners")
    # 3. power: the first combination's first seed, on the same LUTs
    echo("[3/4] energy, latency and area" + (f" (of {combos[0][0]})" if multi else ""))
    write_power_run(out_dir / "power", combos[0][2], d.task.network or None, runs[0][2], d.power,
                    measure_cpu=measure_cpu, force=True)
    inputs.append(out_dir / "power")
    # 4. one report naming the design, its hash and the LUTs
    echo("[4/4] report")
    info = {**design_summary(d, combos[0][2], all(c[3] for c in combos) and d.luts == "characterize"),
            "toml": d.to_toml(), "seeds": list(seeds), "out_dir": str(out_dir)}
    if multi:
        info["lut_dirs"] = {c[0]: str(c[2]) for c in combos}
    res = build_report(inputs, report, title=f"pcmspice: design {d.name} ({dkey[:8]}) trained on {d.task.dataset}",
                       force=True, design=info)
    write_json(out_dir / "design.json", {k: v for k, v in info.items() if k != "toml"})
    echo(f"done in {time.perf_counter() - t0:.0f} s")
    return res

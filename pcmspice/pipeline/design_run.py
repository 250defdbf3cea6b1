"""``pcmspice run DESIGN.toml``: a design -> LUTs (each corner x temperature) -> a training run per seed on
each -> power -> one report.

* one combination (the usual case): its LUTs (the committed population, a LUT folder, or the ``[sweep]``
  characterized once per content), ``train/`` (``train-seed<N>/`` with several seeds), ``power/``;
* several corners, temperatures or supplies: one characterization per combination (each cached by its own
  content hash, :func:`~pcmspice.pipeline.run.characterize_design`), every combination trained once per seed
  into ``train/<combination>/seed<N>``, a corner table ``corners/`` (circuit numbers, final and best accuracy
  as mean ± sd over the seeds, energy per example) whose lowest accuracy the report's verdict names as the
  worst corner, and ``power/<combination>/`` for every combination (its first seed on its own LUTs; the
  report's energy and area headline is the worst of them).

The seeds (and combinations) are trained through :func:`pcmspice.core.executor.execute`: in this process
for one run, else on a pool of ``jobs`` spawned processes, or on the Dask cluster ``scheduler``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcmspice.characterize.corners import write_table
from pcmspice.characterize.sweep import combo_name
from pcmspice.core import executor, paths
from pcmspice.core.outputs import run_key
from pcmspice.core.provenance import atomic_write_text, write_json
from pcmspice.pipeline.checks import check_design
from pcmspice.pipeline.corners import corner_row
from pcmspice.pipeline.design import DesignConfig, design_key, design_summary, load_design
from pcmspice.pipeline.run import _run_folders, characterize_design, default_out_dir
from pcmspice.pipeline.training import train_runs
from pcmspice.power.outputs import write_power_run
from pcmspice.report.build import ReportResult, build_report


def _combination_luts(d: DesignConfig, out_dir: Path, *, jobs: int, scheduler: str | None, progress: bool,
                      echo: Callable[[str], Any], cache: str | Path | None = None
                      ) -> list[tuple[str, Path, Path, bool, dict[str, Any]]]:
    """Every combination's (name, characterization folder, LUT folder, reused, circuit numbers)."""
    import json
    combos = d.combos()
    got = []
    for corner, temp, vdd in combos:
        name = combo_name(d.sweep.tech().name, corner, temp, vdd)
        run_dir, lut_dir, reused = characterize_design(
            d, out_dir, jobs=jobs, progress=progress, echo=echo, sweep=d.combo_sweep(corner, temp, vdd),
            folder="characterize" if len(combos) == 1 else f"characterize/{name}", scheduler=scheduler,
            cache=cache)
        circuit = json.loads((run_dir / "summary.json").read_text())["combos"][0]
        got.append((name, run_dir, lut_dir, reused, circuit))
    n = sum(g[3] for g in got)
    if len(combos) > 1:
        echo(f"[1/4] LUTs of {len(combos)} combinations: {n} reused, {len(combos) - n} characterized"
             + (": nothing simulated" if n == len(combos) else ""))
    return got


def run_design(design: Any = None, out: str | Path | None = None, *, report_dir: str | Path | None = None,
               jobs: int = 2, scheduler: str | None = None, measure_cpu: bool = True, progress: bool = True,
               echo: Callable[[str], Any] = print, force: bool = False, source: str | None = None,
               cache: str | Path | None = None, resume: bool = False,
               on_interrupt: Callable[[str], None] | None = None) -> ReportResult:
    """``pcmspice run [DESIGN.toml]``: a design (a file, a :class:`~pcmspice.pipeline.DesignConfig`, or None
    for the embedded default) -> LUTs -> a training run per seed (per combination) -> power -> one report.

    Runs go to ``out`` (default ``runs/run-<name>-<hash8>``), the report to ``report_dir`` (default
    ``out/report``), which names the design, its hash and its LUT folder(s), and with several combinations
    the worst corner (the lowest final accuracy).  ``jobs`` processes (or the Dask ``scheduler``) train the
    runs and simulate the batches.  ``out`` is checked first (absent, empty or this design's run, else
    ``force``).  The design is checked whole first (:func:`~pcmspice.pipeline.checks.check_design`: data
    set, network, netlist parameters, LUT folder); an error names ``source`` (the design file) and the key.
    Characterizations come from (and go to) the LUT cache ``cache`` (default: see
    :mod:`pcmspice.characterize.cache`).  ``resume`` (the run folder of an interrupted run): finished
    trainings are kept, interrupted ones go on from their checkpoints.  ``on_interrupt(message)`` is told,
    before each stage, what a Ctrl-C there would keep and how to go on."""
    tell = on_interrupt or (lambda m: None)
    d = load_design(design)
    # every check before any work: an error names the design file (``source``) and the key
    check_design(d, source or (str(design) if isinstance(design, (str, Path)) else f"design {d.name}"))
    if scheduler:
        executor.check_scheduler(scheduler)
    dkey = design_key(d)
    out_dir = Path(out) if out is not None else default_out_dir(d)
    key = run_key("design", dkey, measure_cpu, str(report_dir) if report_dir else None)
    out_dir, report = _run_folders(out_dir, report_dir, key, force)
    go_on = f"; continue with pcmspice run --resume --out {out_dir}"
    tell(f"interrupted before the design was written; nothing was written to {out_dir}")
    atomic_write_text(out_dir / "design.toml", d.to_toml())
    where = ""
    if d.luts == "characterize":
        from pcmspice.characterize.cache import cache_dir
        where = f" in the LUT cache {cache_dir(cache)}"
    tell(f"interrupted while characterizing: kept {out_dir / 'design.toml'} and the finished batches{where}"
         + go_on)
    t0 = time.perf_counter()
    echo(f"design {d.name} {dkey[:8]} -> {out_dir}")
    inputs: list[Path] = []
    seeds = d.task.seeds
    # 1. lookup tables: one set, or one per combination
    if d.luts == "characterize":
        combos = _combination_luts(d, out_dir, jobs=jobs, scheduler=scheduler, progress=progress, echo=echo,
                                   cache=cache)
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
    tell(f"interrupted while training: kept {out_dir / 'design.toml'}, the characterizations{where}, the finished "
         f"trainings and each interrupted training's last finished epoch (its checkpoint)" + go_on)
    records = train_runs(runs, d.power, jobs=jobs, scheduler=scheduler, progress=progress, echo=echo,
                         prefix="[2/4] ", resume=resume)
    tell(f"interrupted while costing and reporting: kept the trainings in {out_dir}" + go_on)
    inputs += [r[2] for r in runs]
    if multi:
        rows = [{**circuit, "combination": name, "lut_dir": str(lut_dir),
                 **corner_row([records[(i, s)] for s in seeds])}
                for i, (name, _, lut_dir, _, circuit) in enumerate(combos)]
        write_table(out_dir / "corners", rows)
        inputs.append(out_dir / "corners")
    # 3. power: each combination's first seed, on its own LUTs (the report headlines the worst)
    echo("[3/4] energy, latency and area" + (f" (of each of {len(combos)} combinations)" if multi else ""))
    for i, (name, _, lut_dir, _, _) in enumerate(combos):
        pdir = out_dir / "power" / name if multi else out_dir / "power"
        psum = write_power_run(pdir, lut_dir, d.task.network or None, runs[i * len(seeds)][2], d.power,
                               measure_cpu=measure_cpu and i == 0, force=True)
        if i == 0:   # the node's periphery (or the scaling rule that stands in for it), said once
            for n in (x for x in psum.get("notes", []) if x.startswith("periphery of")):
                echo(f"[3/4] {n}")
        inputs.append(pdir)
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


def run_pipeline(out_dir: str | Path = "runs/default", report_dir: str | Path | None = None,
                 luts: str | Path | None = None, fresh_mc: int | None = None, dataset: str = "mnist5k",
                 epochs: int | None = None, network: str | None = None, seed: int = 0, jobs: int = 2,
                 transfer_every: int | None = None, config: Any = None, measure_cpu: bool = True,
                 progress: bool = True, echo: Callable[[str], Any] = print, force: bool = False) -> ReportResult:
    """The embedded default design with ``pcmspice run``'s options, through :func:`run_design` (kept for the
    keyword API of earlier versions): LUTs ``luts``, else a fresh Monte Carlo of ``fresh_mc`` cells, else
    the committed population; ``config``: the power parameters."""
    from pcmspice.pipeline.design import apply_run_options, default_design
    design = apply_run_options(default_design(), luts=luts, fresh_mc=fresh_mc, dataset=dataset, epochs=epochs,
                               network=network, seed=seed, transfer_every=transfer_every, power=config)
    return run_design(design, out_dir, report_dir=report_dir, jobs=jobs, measure_cpu=measure_cpu,
                      progress=progress, echo=echo, force=force)

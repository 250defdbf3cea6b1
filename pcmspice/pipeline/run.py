"""``pcmspice run`` and its steps: characterize (or take the committed LUTs), train, cost, report.

* :func:`characterize_default` - a fresh Monte Carlo population of the default
  cell (generic65, tt, 27 °C).
* :func:`train_on_luts` - train on a LUT set with the leakage timed by the
  power layer's latency model.
* :func:`run_pipeline` - all four steps, ending in a report.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcmspice import characterize as ch
from pcmspice import power as pw
from pcmspice import train
from pcmspice.core import paths
from pcmspice.core.errors import PcmSpiceError
from pcmspice.core.outputs import prepare_out_dir, run_key, write_marker
from pcmspice.core.units import fmt_si
from pcmspice.lut.format import CELL_FILE, load_lut_set
from pcmspice.power.outputs import write_power_run
from pcmspice.report.build import ReportResult, build_report
from pcmspice.train.datasets import load_dataset


def _lut_dir_of_sweep(res: Any) -> Path:
    dirs = list(res.lut_dirs.values())
    if len(dirs) != 1:
        raise PcmSpiceError(f"the default sweep produced {len(dirs)} LUT sets; expected one (tt, 27 C)")
    return Path(dirs[0])


def characterize_default(out_dir: str | Path, *, n_cells: int, seed: int, jobs: int = 2,
                         progress: bool = True, force: bool = False) -> tuple[Path, Path]:
    """A fresh Monte Carlo of the default cell (generic65, tt, 27 C) into ``out_dir/characterize``.

    Takes the committed default sweep's recipe with its own size and seed;
    returns (run dir, LUT dir).
    """
    if paths.default_sweep().is_file():
        sweep = ch.SweepConfig.from_toml(paths.default_sweep())
    else:
        sweep = ch.SweepConfig(name="default", technology="generic65", corners=("tt",), temps_c=(27.0,))
    sweep = dataclasses.replace(sweep, corners=("tt",), temps_c=(27.0,), n_cells=n_cells, seed=seed)
    run_dir = Path(out_dir) / "characterize"
    res = ch.run_sweep(sweep, run_dir, jobs=jobs, progress=progress, force=force)
    return run_dir, _lut_dir_of_sweep(res)


def train_on_luts(lut_dir: str | Path, out_dir: str | Path, *, dataset: str, seed: int,
                  epochs: int | None = None, network: str | None = None, transfer_every: int | None = None,
                  config: pw.PowerConfig | None = None, progress: bool = True,
                  echo: Callable[[str], Any] = print, force: bool = False,
                  options: dict[str, Any] | None = None) -> Path:
    """Train on ``lut_dir`` with pcmspice.train.loop, leakage timed by the latency model; returns ``out_dir``.

    ``network`` defaults to the trainer's for the data set, ``epochs`` and
    ``transfer_every`` to the trainer's; ``config`` gives the power parameters
    of the latency model; ``options`` sets more fields of the training config
    (e.g. learning_rate, max_train, max_test).  ``echo`` gets one line saying what is trained.
    """
    tcfg = train.TrainConfig(dataset=dataset, seed=seed, luts=str(lut_dir))
    if options:
        tcfg = tcfg.replace(**options)
    tcfg = tcfg.replace(network=network or train.default_network(load_dataset(dataset)))
    if epochs is not None:
        tcfg = tcfg.replace(epochs=epochs)
    if transfer_every is not None:
        tcfg = tcfg.replace(array=tcfg.array.replace(transfer_every=transfer_every))
    return train_config_on_luts(tcfg, out_dir, config=config, progress=progress, echo=echo, force=force)


def train_config_on_luts(tcfg: train.TrainConfig, out_dir: str | Path, *, config: pw.PowerConfig | None = None,
                         progress: bool = True, echo: Callable[[str], Any] = print, force: bool = False) -> Path:
    """Train the run ``tcfg`` on its LUTs (``tcfg.luts``) with the hardware time (leakage, drift, transfers)
    of the latency model of ``config``; returns ``out_dir``."""
    cfg = config or pw.PowerConfig()
    out = Path(out_dir)
    lut_set = load_lut_set(Path(tcfg.luts))
    # the chip's time per example with the training's own array settings (pulse slots, transfers)
    tcfg = pw.with_hardware_time(tcfg, lut_set, cfg)
    tpe = tcfg.array.time_per_example_seconds
    echo(f"training {tcfg.network} on {tcfg.dataset} for {tcfg.epochs} epochs, seed {tcfg.seed} (time per example "
         f"for leakage: {fmt_si(tpe, 's')})")
    res = train.train(tcfg, lut_set, progress=progress)
    train.save_run(res, out, force=force)
    return out


def _run_folders(out_dir: str | Path, report_dir: str | Path | None, key: str, force: bool) -> tuple[Path, Path]:
    """A run's own folder (checked, marked) and its report folder (checked when given on its own)."""
    out = prepare_out_dir(out_dir, "run", key, force)
    report = Path(report_dir) if report_dir else out / "report"
    if report_dir:   # a folder of its own: any earlier report may be replaced, nothing else
        prepare_out_dir(report, "report", None, force)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "run", key)
    return out, report


def run_pipeline(out_dir: str | Path = "runs/default", report_dir: str | Path | None = None,
                 luts: str | Path | None = None, fresh_mc: int | None = None, dataset: str = "mnist5k",
                 epochs: int | None = None, network: str | None = None, seed: int = 0, jobs: int = 2,
                 transfer_every: int | None = None, config: pw.PowerConfig | None = None, measure_cpu: bool = True,
                 progress: bool = True, echo: Callable[[str], Any] = print, force: bool = False) -> ReportResult:
    """Characterize (or take the committed LUTs), train, cost, report; returns the report.

    LUTs: ``luts`` if given; else a fresh Monte Carlo of ``fresh_mc`` cells
    (100 when the committed set is missing); else the committed population.
    Runs go to ``out_dir``/{characterize,train,power}, the report to
    ``report_dir`` (default ``out_dir/report``); ``echo`` gets one line per step.
    ``out_dir`` is checked first (:mod:`pcmspice.core.outputs`): absent, empty or a run of the same
    options, else refused unless ``force``; each step's folder is then written whole.
    """
    cfg = config or pw.PowerConfig()
    key = run_key(str(luts) if luts is not None else None, fresh_mc, dataset, epochs, network, seed,
                  transfer_every, cfg.to_dict(), measure_cpu, str(report_dir) if report_dir else None)
    out, report = _run_folders(out_dir, report_dir, key, force)
    force = True   # the steps' folders belong to this run now
    t0 = time.perf_counter()
    inputs: list[Path] = []
    # 1. lookup tables
    if luts is not None:
        lut_dir = Path(luts)
        inputs.append(lut_dir)
        echo(f"[1/4] LUTs: {lut_dir}")
    elif fresh_mc is not None or not (paths.default_lut_dir() / CELL_FILE).is_file():
        n = fresh_mc or 100
        echo(f"[1/4] characterizing a fresh Monte Carlo population of {n} cells (generic65, tt, 27 C)")
        run_dir, lut_dir = characterize_default(out, n_cells=n, seed=seed, jobs=jobs, progress=progress,
                                                force=force)
        inputs.append(run_dir)
    else:
        lut_dir = paths.default_lut_dir()
        inputs.append(lut_dir)
        echo(f"[1/4] LUTs: the committed population {lut_dir}")
    # 2. training, with the latency model's time per example for leakage
    train_dir = train_on_luts(lut_dir, out / "train", dataset=dataset, epochs=epochs, network=network, seed=seed,
                              transfer_every=transfer_every, config=cfg, progress=progress,
                              echo=lambda m: echo("[2/4] " + m), force=force)
    inputs.append(train_dir)
    # 3. power
    echo("[3/4] energy, latency and area")
    write_power_run(out / "power", lut_dir, network, train_dir, cfg, measure_cpu=measure_cpu, force=force)
    inputs.append(out / "power")
    # 4. report
    echo("[4/4] report")
    res = build_report(inputs, report, title="pcmspice: the default cell (generic65, tt, 27 °C) trained on " + dataset,
                       force=force)
    echo(f"done in {time.perf_counter() - t0:.0f} s")
    return res


# ---- design files -----------------------------------------------------------------------------------------

def default_out_dir(design: Any, root: str | Path = "runs") -> Path:
    """``runs/run-<name>-<hash8>``: the folder of ``pcmspice run DESIGN.toml`` when no --out is given."""
    from pcmspice.pipeline.design import design_key
    return Path(root) / f"run-{design.name}-{design_key(design)[:8]}"


def _cached_luts(run_dir: Path, key: str, lut_name: str) -> Path | None:
    """The LUT folder of a finished characterization of ``key`` in ``run_dir``, or None: its marker names the
    key, its summary is written and its LUT set loads (seals checked)."""
    from pcmspice.characterize.execute import KIND
    from pcmspice.core.outputs import read_marker
    m = read_marker(run_dir)
    lut_dir = run_dir / "luts" / lut_name
    if m is None or m.get("kind") != KIND or m.get("key") != key or not (run_dir / "summary.json").is_file():
        return None
    try:
        load_lut_set(lut_dir)
    except (PcmSpiceError, OSError, ValueError):
        return None
    return lut_dir


def characterize_design(design: Any, out: Path, *, jobs: int = 2, progress: bool = True,
                        echo: Callable[[str], Any] = print, sweep: Any = None, folder: str = "characterize",
                        scheduler: str | None = None) -> tuple[Path, Path, bool]:
    """The LUTs of a design's ``[sweep]`` (or of ``sweep``, one combination of it), characterized once per
    content: in ``$PCMSPICE_CACHE/designs/<key>`` when PCMSPICE_CACHE is set, else in ``out/<folder>``; a
    finished characterization of the same key (the sweep, the netlists and the technology) is reused without
    running SPICE.  ``scheduler``: the batches run on that Dask cluster.
    Returns (characterization folder, LUT folder, reused)."""
    import os

    from pcmspice.characterize.sweep import combo_name, sweep_key
    from pcmspice.pipeline.design import design_key
    sweep = sweep if sweep is not None else design.sweep
    key = sweep_key(sweep)
    run_dir = (paths.writable_dir(paths.cache_root() / "designs", "the design cache") / key
               if os.environ.get("PCMSPICE_CACHE") else out / folder)
    (corner, temp, vdd), = sweep.combos()
    name = combo_name(sweep.tech().name, corner, temp, vdd)   # as run_sweep names it (a folder too)
    from pcmspice.core import locks
    with locks.waiting(run_dir, "characterizing", on_wait=echo):   # one process characterizes, the others reuse
        cached = _cached_luts(run_dir, key, name)
        if cached is not None:
            echo(f"[1/4] reusing LUTs of design {design.name} {design_key(design)[:8]} (characterization {key}) "
                 f"from {cached}: nothing to simulate")
            return run_dir, cached, True
        echo(f"[1/4] characterizing {sweep.n_cells} cells ({sweep.technology}, {corner}, {temp:g} C, {vdd:g} V; "
             f"characterization {key}) into {run_dir}")
        res = ch.run_sweep(sweep, run_dir, jobs=jobs, progress=progress, force=True, scheduler=scheduler)
        return run_dir, _lut_dir_of_sweep(res), False

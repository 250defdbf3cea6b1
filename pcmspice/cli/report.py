"""`pcmspice power`, `pcmspice report` and `pcmspice run`."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.core import paths

_PATH_DIR = click.Path(file_okay=False, path_type=Path)


def _task_option(path: str) -> dict:
    """The option of ``pcmspice run`` for the design's ``[task]`` field ``path``, generated from the field (its
    type and help); unset, the design's own value stays."""
    from pcmspice.cli.options import field_option
    from pcmspice.pipeline.design import TaskConfig
    opt = field_option(TaskConfig, path)
    default = opt.get("default")
    return {**opt, "default": None, "show_default": False,
            "help": f"{opt.get('help') or ''} (default: the design's; the embedded default's is {default})".strip()
            if default is not None else f"{opt.get('help') or ''} (default: the design's)".strip()}


def _config(config_file: Path | None, sets: tuple[str, ...]):
    from pcmspice.power.config import load_config
    return load_config(config_file, sets)


@click.command()
@click.option("--luts", "lut_dir", type=_PATH_DIR, default=None,
              help="LUT folder (cell.lut.npz, pcm.lut.npz); default: the committed generic65 tt 27 C set.")
@click.option("--network", default=None, help="Layer sizes, e.g. 784-250-10 (default: the training run's).")
@click.option("--training", "training_dir", type=_PATH_DIR, default=None,
              help="Training run folder: its pulse, transfer and PCM-pulse counts replace the estimates.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Power parameters (TOML, any subset), e.g. characterization/power_default.toml.")
@click.option("--set", "sets", multiple=True, metavar="SECTION.NAME=VALUE",
              help="Override one parameter, e.g. --set adc.fom_joules_per_step=5e-15 (repeatable).")
@click.option("--out", type=_PATH_DIR, default=Path("runs/power"), show_default=True)
@click.option("--cpu/--no-cpu", "measure_cpu", default=True, show_default=True,
              help="Time batch-1 SGD of the same network on this CPU (about a second).")
@click.option("--allow-lut-mismatch", is_flag=True,
              help="With --training and --luts: cost these LUTs even though the run trained on others.")
@click.option("--describe", is_flag=True, help="Print every parameter with its value, range and source, then exit.")
@click.option("--write-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the (default or given) parameters as commented TOML to this file, then exit.")
@click.option("--force", is_flag=True, help="Replace OUT even if it holds another run.")
def power(lut_dir, network, training_dir, config_file, sets, out, measure_cpu, allow_lut_mismatch, describe,
          write_config, force):
    """Energy, latency and area of training and inference, against GPU baselines.

    Costs every operation of one training example (reads, ADC conversions,
    neurons, drivers, buffers, 3T1C pulses, PCM program-and-verify) from the
    LUTs' SPICE energies and cited periphery parameters. Writes OUT/summary.json
    (kind "power"), power.md, breakdown.csv, gpu.csv, config.toml and figures,
    and prints the time per example for the training's leakage.
    """
    from pcmspice.core.errors import ConfigError
    from pcmspice.core.provenance import atomic_write_text
    from pcmspice.power.outputs import summary_lines, write_power_run
    cfg = _config(config_file, sets)
    if describe:
        for r in cfg.describe():
            click.echo(f"{r['parameter']} = {r['value']} [{r['unit']}; {r['range']}]\n    {r['source']}")
        return
    if write_config:
        atomic_write_text(write_config, cfg.to_toml())
        click.echo(f"wrote {write_config}")
        return
    if network is None and training_dir is None:
        raise ConfigError("network is missing: give --network (e.g. 784-250-10) or --training RUN_DIR")
    if training_dir is not None:   # the run's own LUTs, never silently others
        from pcmspice.power.inputs import luts_for_training
        _, lut_dir = luts_for_training(training_dir, lut_dir, allow_lut_mismatch)
    lut_dir = lut_dir or paths.default_lut_dir()
    summary = write_power_run(out, lut_dir, network, training_dir, cfg, measure_cpu=measure_cpu, force=force)
    click.echo(f"LUTs: {lut_dir}")
    for line in summary_lines(summary):
        click.echo(line)
    click.echo(f"wrote {out}/summary.json, power.md, figures")


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=_PATH_DIR, default=Path("reports/latest"), show_default=True,
              help="Report folder (index.md, index.html, figures/).")
@click.option("--title", default=None, help="Report title.")
@click.option("--force", is_flag=True, help="Replace OUT even if it holds something else.")
def report(run_dirs, out, title, force):
    """Build a report (index.md + index.html) from run directories.

    RUN_DIRS may be characterization, corners, training, power, co-simulation
    or LUT folders; each says what it is in its summary.json.
    """
    from pcmspice.report import build_report
    res = build_report(run_dirs, out, title, force=force)
    click.echo(f"report: {res.html}")
    for line in res.verdict:
        click.echo("  " + line.replace("**", ""))


_DESIGN_OPTIONS = ("lut_dir", "fresh_mc", "dataset", "epochs", "network", "seed", "transfer_every", "config_file",
                   "sets", "force")


def _resumed_design(ctx: click.Context, design_file: Path | None, out: Path | None):
    """``run --resume --out OUT``: the design OUT was started with (its design.toml), and no other."""
    from pcmspice.cli.options import given
    from pcmspice.core.errors import ConfigError
    from pcmspice.pipeline import DesignConfig
    if out is None:
        raise ConfigError("--resume needs --out: the folder of the interrupted run (its message names it)")
    extra = (["DESIGN.toml"] if design_file is not None else []) + [
        "--" + n.replace("_dir", "").replace("_file", "").replace("_", "-").replace("sets", "set")
        for n in _DESIGN_OPTIONS if given(ctx, n)]
    if extra:
        raise ConfigError(f"--resume continues the run of {out} with its own design.toml; drop {', '.join(extra)}")
    f = Path(out) / "design.toml"
    if not f.is_file():
        raise ConfigError(f"{out}: nothing to resume (no {f}); run a design without --resume")
    return DesignConfig.from_toml(f)


@click.command()
@click.argument("design_file", metavar="[DESIGN.toml]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=_PATH_DIR, default=None,
              help="Folder for the runs (train/, power/, design.toml); default: runs/default without a design "
                   "file, runs/run-<name>-<hash8> with one.")
@click.option("--report", "report_dir", type=_PATH_DIR, default=None, help="Report folder (default: OUT/report).")
@click.option("--luts", "lut_dir", type=_PATH_DIR, default=None,
              help="Use these LUTs instead of the design's (skips characterization).")
@click.option("--fresh-mc", type=click.IntRange(min=2), default=None,
              help="Characterize a fresh Monte Carlo population of this many cells (tt, 27 C) instead of using the "
                   "committed LUTs.")
@click.option("--dataset", **_task_option("dataset"))
@click.option("--epochs", **_task_option("epochs"))
@click.option("--network", **_task_option("network"))
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="One seed of the training (and of a --fresh-mc population) instead of the design's seeds "
                   "(the embedded default's: 0, as for `train`).")
@click.option("--transfer-every", **_task_option("array.transfer_every"))
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Parallel processes: ngspice batches, then the training runs (seeds x corners).")
@click.option("--scheduler", default=None,
              help="Dask distributed scheduler address (tcp://HOST:PORT): batches and training runs go there.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Power parameters (TOML) instead of the design's.")
@click.option("--set", "sets", multiple=True, metavar="SECTION.NAME=VALUE",
              help="Override one field of the design by its dotted path, e.g. task.epochs=2, "
                   "task.array.transfer_every=500, sweep.n_cells=50, power.adc.enob_bits=6 (a power section "
                   "alone, adc.enob_bits=6, is a power parameter). Repeatable.")
@click.option("--cpu/--no-cpu", "measure_cpu", default=True, show_default=True)
@click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The LUT cache that characterizations come from and go to (default: $PCMSPICE_LUT_CACHE, else "
                   "$PCMSPICE_CACHE/luts, else ~/.cache/pcmspice/luts); see `pcmspice cache`.")
@click.option("--resume", is_flag=True,
              help="Continue the interrupted run of --out OUT (its design.toml): characterizations from the LUT "
                   "cache, finished trainings kept, an interrupted training from its checkpoint.")
@click.option("--force", is_flag=True, help="Replace the runs of OUT even if they were made with other options.")
@click.option("--quiet", is_flag=True)
@click.pass_context
def run(ctx, design_file, out, report_dir, lut_dir, fresh_mc, dataset, epochs, network, seed, transfer_every, jobs,
        scheduler, config_file, sets, measure_cpu, cache, resume, force, quiet):
    """The whole pipeline on a design: LUTs -> training (each seed) -> power -> one report.

    DESIGN.toml (see docs/designs.md) names the technology, corners, supply, the cell's netlist parameters,
    the population, the training task with its seeds and the power parameters; characterizations are cached
    by content, so an unchanged design simulates nothing again. With several corners or temperatures each is
    characterized and trained, and the report names the worst corner (the lowest accuracy). Without it: the
    embedded default (generic65, tt, 27 °C, the committed LUT population, mnist5k, seed 0). Options override
    the design's fields. Ends with the report's path and its headline numbers.
    """
    from pcmspice.cli.interrupt import on_interrupt
    from pcmspice.pipeline import default_out_dir, load_design, run_design
    from pcmspice.pipeline.design import apply_run_options, apply_sets
    from pcmspice.report import headline_lines
    if resume:
        design = _resumed_design(ctx, design_file, out)
    else:
        design = load_design(design_file)
        design = apply_run_options(design, luts=lut_dir, fresh_mc=fresh_mc, dataset=dataset, epochs=epochs,
                                   network=network, seed=seed, transfer_every=transfer_every,
                                   power=_config(config_file, ()) if config_file else None)
        design = apply_sets(design, sets)
    if out is None:
        out = default_out_dir(design) if design_file is not None else Path("runs/default")
    res = run_design(design, out, report_dir=report_dir, jobs=jobs, scheduler=scheduler, measure_cpu=measure_cpu,
                     progress=not quiet, echo=click.echo, force=force, cache=cache, resume=resume,
                     on_interrupt=on_interrupt,
                     source=(str(Path(out) / "design.toml") if resume else str(design_file)
                             if design_file is not None else "the default design"))
    click.echo(f"report: {res.html}")
    for line in headline_lines(res):
        click.echo("  " + line)


@click.command()
@click.argument("designs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=_PATH_DIR, default=Path("reports/compare"), show_default=True,
              help="Report folder (index.md, index.html, summary.json, figures/).")
@click.option("--title", default=None, help="Report title.")
@click.option("--force", is_flag=True, help="Replace OUT even if it holds something other than a comparison.")
def compare(designs, out, title, force):
    """Compare designs side by side: each DESIGN is a folder of its runs (training runs over seeds, power runs,
    corner runs), e.g. two `pcmspice run --out` folders. OUT may not be, hold or be inside a DESIGN folder."""
    from pcmspice.report.compare import compare as compare_designs
    res = compare_designs(designs, out, title, force=force)
    click.echo(f"comparison: {res.html}")
    for r in res.rows:
        gap = r["accuracy_gap_points_mean"]
        click.echo(f"  {r['column']}: gap {gap:+.2f} pp over {len(r['seeds'])} seed(s); LUTs {r.get('lut_dir')}"
                   if gap == gap else f"  {r['column']}: LUTs {r.get('lut_dir')}")

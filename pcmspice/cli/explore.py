"""`pcmspice explore SPACE.toml`: search a cell's design space for the designs that train to software accuracy
at the least energy and area."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.cli.options import INTEGER


@click.command()
@click.argument("space_file", metavar="SPACE.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The search's folder (its study, tables, Pareto designs, report); default: "
                   "runs/explore/<name>-<hash8>. Running the same space again into it resumes the search.")
@click.option("--trials", type=INTEGER, default=None, help="How many trials in all (default: the space's).")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Trials in parallel on this many local processes.")
@click.option("--scheduler", default=None,
              help="Dask distributed scheduler address (tcp://HOST:PORT): the trials run there.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The LUT cache the trials' characterizations come from and go to (see `pcmspice cache`).")
@click.option("--confirm", type=click.IntRange(min=0), default=0, show_default=True,
              help="Rerun the N best Pareto designs (lowest energy first) through `pcmspice run` with "
                   "--confirm-seeds and write predicted vs confirmed (confirm.csv).")
@click.option("--confirm-seeds", default="0,1,2", show_default=True, help="The seeds of --confirm's runs.")
@click.option("--confirm-dataset", "confirm_datasets", multiple=True, metavar="DATASET",
              help="Also confirm on this data set (e.g. fashion-mnist), beside the space's own. Repeatable.")
@click.option("--force", is_flag=True, help="Replace OUT even if it holds another search or something else.")
@click.option("--quiet", is_flag=True, help="Print only the last line.")
def explore(space_file, out, trials, jobs, scheduler, cache, confirm, confirm_seeds, confirm_datasets, force,
            quiet):
    """Search the design space of SPACE.toml with Optuna (see docs/explore.md).

    Each trial is a design (the space's fixed [design] with the sampled parameters), characterized through
    the shared LUT cache, trained per seed, corner and condition, and costed; the objectives are the accuracy
    gap to software (worst setting, mean over seeds), the energy per training example and the area per
    synapse (and optionally the latency). Hopeless trials stop early on their learning curves. The same
    space and seed give the same trials with any --jobs or --scheduler; a killed search resumes where it
    stopped when run again with the same --out. Writes trials.csv/.parquet, pareto.csv, one design file
    per Pareto design (pareto/), figures/pareto.png, importances.csv, report.html and summary.json.
    """
    from pcmspice.core.errors import ConfigError
    from pcmspice.core.outputs import default_dir
    from pcmspice.pipeline.explore import run_search
    from pcmspice.pipeline.explore_confirm import confirm_pareto
    from pcmspice.pipeline.space import load_space
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials {trials} is invalid; expected an integer >= 1")
    try:
        seeds = tuple(int(s) for s in confirm_seeds.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds or any(s < 0 for s in seeds):
        raise ConfigError(f"--confirm-seeds {confirm_seeds!r} is invalid; expected seeds such as 0,1,2")
    if out is None:
        space = load_space(space_file)
        out = default_dir("explore", [space.name], space.key)
    echo = (lambda m: None) if quiet else click.echo
    from pcmspice.cli.interrupt import on_interrupt
    on_interrupt(f"interrupted: the finished trials are kept in {out}/study.journal; continue with the same "
                 f"command (pcmspice explore {space_file} --out {out})")
    summary = run_search(space_file, out, jobs=jobs, scheduler=scheduler, trials=trials, force=force, cache=cache,
                         echo=echo)
    if confirm:
        rows = confirm_pareto(out, confirm, seeds, datasets=confirm_datasets, jobs=jobs, scheduler=scheduler,
                              cache=cache, echo=echo)
        click.echo(f"confirmed {len(rows)} Pareto designs with seeds {','.join(map(str, seeds))}: {out}/confirm.csv")
    click.echo(f"report: {Path(out) / 'report.html'} ({len(summary['pareto'])} Pareto designs)")

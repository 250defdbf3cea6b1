"""`pcmspice characterize` and `pcmspice corners`."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.cli.options import given
from pcmspice.cli.train import train_option
from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.limits import MAX_CELLS, MAX_EPOCHS, MAX_PCM_DEVICES, MAX_SEED


def _jobs_default() -> int:
    import os
    return max(1, min(os.cpu_count() or 1, 8))


def _echo_summary(res, summary: dict) -> None:
    from pcmspice.core.units import fmt_si
    click.echo(f"{res.computed} batches computed, {res.reused} reused, {res.seconds:.1f} s; "
               f"LUTs in {res.out_dir / 'luts'}")
    for c in summary["combos"]:
        click.echo(f"  {c['corner']:>3} {c['temp_c']:>5g} C {c['vdd_volts']:g} V: g {fmt_si(c['g_mean_siemens'], 'S')}"
                   f" ± {fmt_si(c['g_sigma_siemens'], 'S')}, up {fmt_si(c['dv_up_mean_volts'], 'V')},"
                   f" down {fmt_si(c['dv_down_mean_volts'], 'V')}, retention(10 mV) "
                   f"{fmt_si(c['retention_10mV_median_seconds'], 's')}")


@click.command()
@click.argument("sweep", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mc", type=click.IntRange(min=1, max=MAX_CELLS), default=None,
              help=f"Monte Carlo cells (overrides n_cells of the definition; at most {MAX_CELLS:,}).")
@click.option("--pcm-devices", type=click.IntRange(min=1, max=MAX_PCM_DEVICES), default=None,
              help=f"PCM devices (overrides pcm_devices of the definition; at most {MAX_PCM_DEVICES:,}).")
@click.option("--tech", "technology", default=None,
              help="Technology: generic65, sky130, or the path of a technology folder (overrides the definition's "
                   "technology; see docs/technologies.md).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a netlist parameter of the cell or the PCM (repeatable; on top of the definition's "
                   "[params]), e.g. --param c_store_farads=50e-15.")
@click.option("--jobs", type=click.IntRange(min=1), default=_jobs_default, show_default="CPU count",
              help="Parallel ngspice processes (one thread each).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Reuse finished batches of the same definition (an interrupted run continues).")
@click.option("--scheduler", default=None,
              help="Dask distributed scheduler address (tcp://HOST:PORT) to run batches on.")
@click.option("--engine", type=click.Choice(["auto", "shared", "subprocess"]), default="auto", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: runs/characterize/<name>).")
@click.option("--force", is_flag=True,
              help="Write into OUT even if it holds another run (its LUTs, figures and summary are replaced).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def characterize(sweep, mc, pcm_devices, technology, params, jobs, resume, scheduler, engine, out, force, quiet):
    """Characterize a Monte Carlo population into lookup tables.

    SWEEP is a sweep definition (TOML), e.g. characterization/default.toml.
    Writes OUT/luts/<tech>_<corner>_<T>C_<VDD>V/{cell,pcm}.lut.npz,
    OUT/summary.json and OUT/figures/*.png.
    """
    import dataclasses

    from pcmspice import characterize as ch
    cfg = ch.SweepConfig.from_toml(sweep)
    if mc is not None:
        cfg = dataclasses.replace(cfg, n_cells=mc)
    if pcm_devices is not None:
        cfg = dataclasses.replace(cfg, pcm_devices=pcm_devices)
    if technology is not None:
        cfg = dataclasses.replace(cfg, technology=technology)
    if params:
        from pcmspice.core.config import parse_assignments
        try:
            cfg = dataclasses.replace(cfg, params={**cfg.params, **parse_assignments(params)})
        except ConfigError as exc:   # name the option, as a file's error names the file
            raise ConfigError(str(exc).replace(f"{cfg._where}: [params] ", "--param ", 1)) from None
    out = out or Path("runs") / "characterize" / cfg.name
    _on_interrupt(out)
    res = ch.run_sweep(cfg, out, jobs=jobs, resume=resume, scheduler=scheduler, engine=engine, progress=not quiet,
                       force=force)
    import json
    _echo_summary(res, json.loads((out / "summary.json").read_text()))


def _on_interrupt(out: Path) -> None:
    from pcmspice.cli.interrupt import on_interrupt
    on_interrupt(f"interrupted: the finished batches are kept in {out / 'batches'}; run the same command again "
                 "to continue from them (--resume is the default)")


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--{what} '{text}' must be a comma-separated list of numbers, e.g. -40,27,85") from None


@click.command()
@click.option("--tech", "technology", default="generic65", show_default=True,
              help="Technology: generic65, sky130, or the path of a technology folder (docs/technologies.md).")
@click.option("--corners", default="tt,ff,ss,fs,sf", show_default=True, help="Comma-separated corners.")
@click.option("--temps", default="-40,27,85", show_default=True, help="Comma-separated temperatures (°C).")
@click.option("--vdd", default="", help="Comma-separated supplies (V); default: the technology's nominal.")
@click.option("--mc", type=click.IntRange(min=1, max=MAX_CELLS), default=100, show_default=True,
              help=f"Monte Carlo cells per combination (at most {MAX_CELLS:,}).")
@click.option("--pcm-devices", type=click.IntRange(min=1, max=MAX_PCM_DEVICES), default=200, show_default=True,
              help=f"PCM devices per combination (at most {MAX_PCM_DEVICES:,}).")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=1, show_default=True,
              help="Seed of the Monte Carlo population (the training seeds are --seeds).")
@click.option("--jobs", type=click.IntRange(min=1), default=_jobs_default, show_default="CPU count",
              help="Parallel processes: ngspice batches, then the corner x seed training runs.")
@click.option("--resume/--no-resume", default=True, show_default=True)
@click.option("--scheduler", default=None,
              help="Dask distributed scheduler address (tcp://HOST:PORT): batches and training runs go there.")
@click.option("--train", "do_train", is_flag=True,
              help="Also train on each combination's LUTs (once per seed of --seeds) and estimate its energy.")
@train_option("--dataset", default="digits", help="Data set for --train (as `pcmspice train --dataset`).")
@train_option("--network", default=None, show_default=False,
              help="Layer sizes for --train; without it, fitted to the data set (N-250-10).")
@train_option("--epochs", type=click.IntRange(min=1, max=MAX_EPOCHS), default=3, help="Epochs for --train.")
@train_option("--transfer-every")
@train_option("--learning-rate")
@train_option("--max-train")
@train_option("--max-test")
@click.option("--seeds", default="0", show_default=True, metavar="LIST",
              help="Training seeds for --train, e.g. 0,1,2: the table gives mean and sd over them.")
@click.option("--bias", type=click.Choice(["fixed", "replica"]), default="fixed", show_default=True,
              help="Pulse gate levels: fixed voltages, or regulated by a replica bias so that the nominal cell "
                   "steps as at tt, 27 °C.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder [default: runs/corners/TECH-HASH8, HASH8 of the sweep and training options; the "
                   "same options again reuse its finished batches].")
@click.option("--force", is_flag=True, help="Write into OUT even if it holds another run.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="LUT cache folder (default: $PCMSPICE_LUT_CACHE, else $PCMSPICE_CACHE/luts, else "
                   "~/.cache/pcmspice/luts); a combination characterized there by any run is reused.")
@click.option("--quiet", is_flag=True)
@click.pass_context
def corners(ctx, **opts):
    """Characterize every corner x temperature (x supply) and write a corner table (CSV + Markdown).

    With --train, every combination is trained once per seed of --seeds (the runs in parallel on
    --jobs processes or the --scheduler cluster); the table gives the final and the best test accuracy
    in % as mean ± sd over the seeds and flags the combinations whose last epoch had a transfer.
    """
    from pcmspice import characterize as ch
    from pcmspice.characterize import corners as cmod
    from pcmspice.pipeline.corners import run_corners
    from pcmspice.spice import tech as techmod
    try:   # every option checked before any work; an error names the option
        sweep = ch.SweepConfig(name=f"corners_{techmod.load(opts['technology']).name}",
                               technology=opts["technology"],
                               corners=tuple(c.strip() for c in opts["corners"].split(",") if c.strip()),
                               temps_c=_floats(opts["temps"], "temps"),
                               vdd_volts=_floats(opts["vdd"], "vdd") if opts["vdd"] else (),
                               n_cells=opts["mc"], seed=opts["seed"], pcm_devices=opts["pcm_devices"],
                               bias=opts["bias"])
    except PcmSpiceError as exc:
        msg = str(exc).replace(f"{ch.SweepConfig._where}: ", "", 1)
        for field, option in _CORNER_OPTIONS.items():
            if msg.startswith(field):
                msg = option + msg[len(field):]
        raise ConfigError(msg if msg.startswith("--") else f"--tech {opts['technology']}: {msg}") from None
    task = _task(ctx, opts) if opts["do_train"] else None
    out = opts["out"]
    if out is None:
        from pcmspice.core.outputs import default_dir, run_key
        out = default_dir("corners", [sweep.tech().name], run_key(
            ch.sweep.sweep_key(sweep), task.to_dict() if task is not None else None))
    from pcmspice.characterize.cache import cache_dir
    from pcmspice.cli.interrupt import on_interrupt
    on_interrupt(f"interrupted: the finished batches are kept in the LUT cache {cache_dir(opts['cache'])}; run "
                 "the same command again to continue from them (--resume is the default)")
    res = run_corners(sweep, out, task, jobs=opts["jobs"], scheduler=opts["scheduler"], resume=opts["resume"],
                      force=opts["force"], progress=not opts["quiet"], echo=click.echo, cache=opts["cache"])
    table = res.table
    click.echo(f"{res.sweep.computed} batches computed, {res.sweep.reused} reused, {res.sweep.seconds:.1f} s")
    shown = cmod.accuracy_columns(table)
    cols = [c for c in ("corner", "temp_c", "vdd_volts", "v_up_on_volts", "v_dn_on_volts", "g_mean_siemens",
                        "dv_up_mean_volts", "dv_down_mean_volts",
                        "asymmetry_mean", "retention_10mV_median_seconds", "final acc. (%)", "best acc. (%)",
                        "software_accuracy_mean_percent", "transfer in last epoch",
                        "energy_per_example_joules", "gops_per_watt") if c in shown]
    click.echo(shown[cols].rename(columns=cmod.COLUMNS).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if "last_epoch_transfer_seeds" in table and (table["last_epoch_transfer_seeds"] > 0).any():
        click.echo("⚠ " + cmod.TRANSFER_NOTE)
    click.echo(f"corner table: {out / 'corners.csv'} and {out / 'corners.md'}")


# the sweep fields `corners` sets from its options -> the options (its errors name the option)
_CORNER_OPTIONS = {"corners:": "--corners:", "temps_c =": "--temps =", "vdd_volts =": "--vdd =",
                   "technology =": "--tech =", "n_cells =": "--mc =", "pcm_devices =": "--pcm-devices ="}

# the options of `corners --train` -> the task's fields (set when given; dataset and epochs always)
_TASK_OPTIONS = {"network": "network", "transfer_every": "array.transfer_every", "learning_rate": "learning_rate",
                 "max_train": "max_train", "max_test": "max_test"}


def _task(ctx, opts):
    """The training task of --train, checked before any cell is simulated (one line, as `pcmspice train` says
    it): the data set loads and the network fits it."""
    from pcmspice import train
    from pcmspice.pipeline import TaskConfig
    from pcmspice.pipeline.corners import parse_seeds
    task = TaskConfig(dataset=opts["dataset"], epochs=opts["epochs"], seeds=parse_seeds(opts["seeds"]))
    task = task.with_overrides({path: opts[name] for name, path in _TASK_OPTIONS.items() if given(ctx, name)})
    train.prepare_data(train.fitted(task.train_config(task.seeds[0], None)))
    return task

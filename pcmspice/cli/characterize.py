"""`pcmspice characterize` and `pcmspice corners`."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.core.errors import ConfigError
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
def characterize(sweep, mc, technology, params, jobs, resume, scheduler, engine, out, force, quiet):
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
    if technology is not None:
        cfg = dataclasses.replace(cfg, technology=technology)
    if params:
        from pcmspice.core.config import parse_assignments
        cfg = dataclasses.replace(cfg, params={**cfg.params, **parse_assignments(params)})
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
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=1, show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=_jobs_default, show_default="CPU count")
@click.option("--resume/--no-resume", default=True, show_default=True)
@click.option("--scheduler", default=None, help="Dask distributed scheduler address.")
@click.option("--train", "do_train", is_flag=True,
              help="Also train on each combination's LUTs and estimate its energy.")
@click.option("--dataset", default="digits", show_default=True, help="Data set for --train.")
@click.option("--epochs", type=click.IntRange(min=1, max=MAX_EPOCHS), default=3, show_default=True,
              help="Epochs for --train.")
@click.option("--bias", type=click.Choice(["fixed", "replica"]), default="fixed", show_default=True,
              help="Pulse gate levels: fixed voltages, or regulated by a replica bias so that the nominal cell "
                   "steps as at tt, 27 °C.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/corners"),
              show_default=True)
@click.option("--force", is_flag=True, help="Write into OUT even if it holds another run.")
@click.option("--quiet", is_flag=True)
def corners(technology, corners, temps, vdd, mc, pcm_devices, seed, jobs, resume, scheduler, do_train, dataset, epochs,
            bias, out, force, quiet):
    """Characterize every corner x temperature (x supply) and write a corner table (CSV + Markdown)."""
    from pcmspice import characterize as ch
    from pcmspice.characterize import corners as cmod
    from pcmspice.pipeline import corner_trainer
    from pcmspice.spice import tech as techmod
    cfg = ch.SweepConfig(name=f"corners_{techmod.load(technology).name}", technology=technology,
                         corners=tuple(c.strip() for c in corners.split(",") if c.strip()),
                         temps_c=_floats(temps, "temps"), vdd_volts=_floats(vdd, "vdd") if vdd else (),
                         n_cells=mc, seed=seed, pcm_devices=pcm_devices, bias=bias)
    _on_interrupt(out)
    res = ch.run_sweep(cfg, out, jobs=jobs, resume=resume, scheduler=scheduler, progress=not quiet, force=force)
    train_fn = (corner_trainer(dataset=dataset, epochs=epochs, seed=seed, progress=not quiet, echo=click.echo)
                if do_train else None)
    table = cmod.write_corner_table(out, train_fn=train_fn)
    click.echo(f"{res.computed} batches computed, {res.reused} reused, {res.seconds:.1f} s")
    cols = [c for c in ("corner", "temp_c", "vdd_volts", "v_up_on_volts", "v_dn_on_volts", "g_mean_siemens",
                        "dv_up_mean_volts", "dv_down_mean_volts",
                        "asymmetry_mean", "retention_10mV_median_seconds", "analog_test_accuracy",
                        "baseline_test_accuracy", "energy_per_example_joules", "gops_per_watt") if c in table]
    click.echo(table[cols].rename(columns=cmod.COLUMNS).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo(f"corner table: {out / 'corners.csv'} and {out / 'corners.md'}")

"""`pcmspice power`, `pcmspice report` and `pcmspice run`."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.core import paths

_PATH_DIR = click.Path(file_okay=False, path_type=Path)


def _config(config_file: Path | None, sets: tuple[str, ...]):
    from pcmspice.power.config import load_config
    return load_config(config_file, sets)


def _echo_power(summary: dict) -> None:
    from pcmspice.report.build import fmt_num, fmt_si
    h = summary["headline"]
    lat = summary["latency"]
    click.echo(f"network {summary['network']}: {fmt_si(h['energy_per_example_joules'], 'J')} per training example, "
               f"{fmt_si(h['inference_energy_per_example_joules'], 'J')} per inference")
    click.echo(f"  training : {fmt_num(h['gops_per_watt_training'])} GOP/s/W, {h['tops_per_mm2_training']:.3g} TOP/s/mm^2")
    click.echo(f"  inference: {fmt_num(h['gops_per_watt_inference'])} GOP/s/W, {h['tops_per_mm2_inference']:.3g} TOP/s/mm^2")
    click.echo(f"  (paper's projection: {fmt_num(summary['paper']['gops_per_watt'])} GOP/s/W, "
               f"{summary['paper']['tops_per_mm2']:g} TOP/s/mm^2)")
    click.echo(f"  area {h['area_mm2']:.3g} mm^2; time per example {fmt_si(lat['time_per_example_seconds'], 's')} "
               f"(forward {fmt_si(lat['forward_seconds'], 's')}, backward {fmt_si(lat['backward_seconds'], 's')}, "
               f"update {fmt_si(lat['update_seconds'], 's')}), transfers add "
               f"{fmt_si(lat['transfer_per_example_seconds'], 's')} per example")
    click.echo(f"time_per_example_seconds = {lat['time_per_example_seconds']:.6g}")
    by = summary["energy_per_example_joules"]["by_component"]
    top = sorted(by.items(), key=lambda kv: -kv[1])[:4]
    click.echo("  largest components: " + ", ".join(f"{k} {fmt_si(v, 'J')}" for k, v in top))
    cpu = summary.get("cpu_measured")
    if cpu:
        click.echo(f"  this CPU (measured, batch 1): {fmt_si(cpu['seconds_per_example'], 's')} and "
                   f"{fmt_si(cpu['energy_per_example_joules'], 'J')} per example")
    for n in summary.get("notes", []):
        if "ESTIMATED" in n or "training run assumed" in n:
            click.echo(f"  note: {n}")


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
@click.option("--describe", is_flag=True, help="Print every parameter with its value, range and source, then exit.")
@click.option("--write-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the (default or given) parameters as commented TOML to this file, then exit.")
def power(lut_dir, network, training_dir, config_file, sets, out, measure_cpu, describe, write_config):
    """Energy, latency and area of training and inference, against GPU baselines.

    Costs every operation of one training example (reads, ADC conversions,
    neurons, drivers, buffers, 3T1C pulses, PCM program-and-verify) from the
    LUTs' SPICE energies and cited periphery parameters. Writes OUT/summary.json
    (kind "power"), power.md, breakdown.csv, gpu.csv, config.toml and figures,
    and prints the time per example for the training's leakage.
    """
    from pcmspice.core.errors import ConfigError
    from pcmspice.core.provenance import atomic_write_text
    from pcmspice.report import build as report
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
    summary = report.write_power_run(out, lut_dir or paths.default_lut_dir(), network, training_dir, cfg,
                                     measure_cpu=measure_cpu)
    _echo_power(summary)
    click.echo(f"wrote {out}/summary.json, power.md, figures")


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=_PATH_DIR, default=Path("reports/latest"), show_default=True,
              help="Report folder (index.md, index.html, figures/).")
@click.option("--title", default=None, help="Report title.")
def report(run_dirs, out, title):
    """Build a report (index.md + index.html) from run directories.

    RUN_DIRS may be characterization, corners, training, power, co-simulation
    or LUT folders; each says what it is in its summary.json.
    """
    from pcmspice.report import build as rep
    res = rep.build_report(run_dirs, out, title)
    click.echo(f"report: {res.html}")
    for line in res.verdict:
        click.echo("  " + line.replace("**", ""))


@click.command()
@click.option("--out", type=_PATH_DIR, default=Path("runs/default"), show_default=True,
              help="Folder for the intermediate runs (characterize/, train/, power/).")
@click.option("--report", "report_dir", type=_PATH_DIR, default=None, help="Report folder (default: OUT/report).")
@click.option("--luts", "lut_dir", type=_PATH_DIR, default=None,
              help="Use these LUTs instead of the committed set (skips characterization).")
@click.option("--fresh-mc", type=click.IntRange(min=2), default=None,
              help="Characterize a fresh Monte Carlo population of this many cells instead of using the committed LUTs.")
@click.option("--dataset", default="mnist5k", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs (default: the trainer's).")
@click.option("--network", default=None, help="Layer sizes (default: the trainer's for the data set).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--transfer-every", type=click.IntRange(min=0), default=8000, show_default=True,
              help="Examples between transfers to PCM (the paper's 8,000; on mnist5k's 4,000 training images, "
                   "every second epoch).")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Power parameters (TOML).")
@click.option("--set", "sets", multiple=True, metavar="SECTION.NAME=VALUE", help="Override one power parameter.")
@click.option("--cpu/--no-cpu", "measure_cpu", default=True, show_default=True)
@click.option("--quiet", is_flag=True)
def run(out, report_dir, lut_dir, fresh_mc, dataset, epochs, network, seed, transfer_every, jobs, config_file, sets,
        measure_cpu, quiet):
    """The whole pipeline on the embedded default: LUTs -> training -> power -> report.

    generic65, tt, 27 °C; the committed LUT population (or a fresh Monte
    Carlo with --fresh-mc); mnist5k. Ends with the report's path and its
    headline numbers.
    """
    from pcmspice.report import build as rep
    res = rep.run_pipeline(out, report_dir=report_dir, luts=lut_dir, fresh_mc=fresh_mc, dataset=dataset,
                           epochs=epochs, network=network, seed=seed, jobs=jobs, transfer_every=transfer_every,
                           config=_config(config_file, sets), measure_cpu=measure_cpu, progress=not quiet,
                           echo=click.echo)
    click.echo(f"report: {res.html}")
    for line in rep.headline_lines(res):
        click.echo("  " + line)

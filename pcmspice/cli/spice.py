"""`pcmspice simulate`: run one named testbench and write its table, summary and figure."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.cli.options import NUMBER
from pcmspice.core.errors import ConfigError


def _parse_params(items: tuple[str, ...]) -> dict[str, float]:
    from pcmspice.core.config import parse_assignments
    return parse_assignments(items)


class _TestbenchChoice(click.ParamType):
    name = "TESTBENCH"

    def convert(self, value, param, ctx):
        return value

    def get_metavar(self, param, ctx=None):
        return "TESTBENCH"


@click.command(epilog="Testbenches: read_curve, pulse_train, retention, energy, and the PCM / full-cell ones "
                      "listed by `pcmspice simulate --list`.")
@click.argument("testbench", required=False, type=_TestbenchChoice())
@click.option("--tech", "technology", default="generic65", show_default=True,
              help="Technology: generic65, sky130, or the path of a technology folder (its tech.toml and models).")
@click.option("--corner", default="tt", show_default=True, help="Process corner: tt, ff, ss, fs, sf.")
@click.option("--temp", type=NUMBER, default=27.0, show_default=True, help="Temperature (°C).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a netlist parameter (repeatable), e.g. --param c_store_farads=50e-15.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Draw the cell's mismatch from this seed (default: the nominal cell, no mismatch).")
@click.option("--engine", type=click.Choice(["auto", "shared", "subprocess"]), default="auto", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default runs/simulate/<testbench>).")
@click.option("--force", is_flag=True, help="Replace OUT even if it holds another run.")
@click.option("--list", "list_", is_flag=True, help="List the testbenches and exit.")
def simulate(testbench, technology, corner, temp, params, seed, engine, fmt, out, force, list_):
    """Simulate one testbench; write the result table, summary.json and a PNG of the main waveform."""
    from pcmspice import testbenches as tb
    if list_ or not testbench:
        for name, doc in tb.describe().items():
            click.echo(f"{name:22s} {doc}")
        if not list_:
            raise ConfigError("name a testbench (see the list above)")
        return
    from pcmspice.testbenches.simulate import simulate_testbench
    res, out = simulate_testbench(testbench, technology, corner, temp, _parse_params(params), seed, engine, fmt, out,
                                  force=force)
    for k, v in res.measures.items():
        click.echo(f"  {k} = {v:.6g}")
    for w in res.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"wrote {out}")

"""`pcmspice lut`: what a lookup-table set says (`lut stats`)."""
from __future__ import annotations

import json

import click

from pcmspice.core import paths
from pcmspice.lut.format import load_lut_set


@click.group("lut")
def lut():
    """Inspect lookup-table sets (a folder with cell.lut.npz and pcm.lut.npz)."""


@lut.command("stats")
@click.argument("lut_dir", required=False, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (SI units) instead of a table.")
def stats(lut_dir: str | None, as_json: bool):
    """What the LUT set in LUT_DIR implies (the committed default without LUT_DIR): PCM step mean and
    spread at 2/5/10/15 µS, the fraction of SET pulses that lower G, read noise, drift exponents, the
    3T1C's up/down step at its start voltage and its retention.  Keys: docs/characterization.md."""
    from pcmspice.lut.stats import format_stats, lut_stats

    s = lut_stats(load_lut_set(lut_dir or paths.default_lut_dir()))
    click.echo(json.dumps(s, indent=2) if as_json else format_stats(s))

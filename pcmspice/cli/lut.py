"""`pcmspice lut`: what a lookup-table set says (`lut stats`)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from pcmspice.core import paths
from pcmspice.core.errors import LutError
from pcmspice.lut.format import CELL_FILE, load_lut_set


@click.group("lut")
def lut():
    """Inspect lookup-table sets (a folder with cell.lut.npz and pcm.lut.npz)."""


def _lut_folder(path: str | None) -> Path:
    """The set folder ``path`` names (the committed default without one); a folder that only holds sets
    deeper down is refused with their names, so that pointing one level too high says where to point."""
    if not path:
        return paths.default_lut_dir()
    d = Path(path)
    if d.is_dir() and not (d / CELL_FILE).exists():
        inner = sorted(str(f.parent.relative_to(d)) for f in d.glob(f"**/{CELL_FILE}"))[:5]
        if inner:
            raise LutError(f"{d}: not a LUT set folder (no {CELL_FILE}); it holds the set(s) "
                           f"{', '.join(inner)}: pass one of them, e.g. {d / inner[0]}")
    return d


@lut.command("stats")
@click.argument("lut_dir", required=False, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (SI units) instead of a table.")
def stats(lut_dir: str | None, as_json: bool):
    """What the LUT set in LUT_DIR implies (the committed default without LUT_DIR): PCM step mean and
    spread at 2/5/10/15 uS, the fraction of SET pulses that lower G, read noise, drift exponents, the
    3T1C's up/down step at its start voltage and its retention.  Keys: docs/characterization.md."""
    from pcmspice.lut.stats import format_stats, lut_stats

    s = lut_stats(load_lut_set(_lut_folder(lut_dir)))
    click.echo(json.dumps(s, indent=2) if as_json else format_stats(s))

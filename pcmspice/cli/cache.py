"""``pcmspice cache``: the LUT cache (:mod:`pcmspice.characterize.cache`), listed and pruned."""
from __future__ import annotations

import time
from pathlib import Path

import click

_CACHE = click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help="The LUT cache (default: $PCMSPICE_LUT_CACHE, else $PCMSPICE_CACHE/luts, else "
                           "~/.cache/pcmspice/luts).")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _list(cache: Path | None) -> None:
    from pcmspice.characterize import cache as lc
    root = lc.cache_dir(cache)
    rows = lc.entries(root)
    click.echo(f"LUT cache {root}: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, "
               f"{_size(sum(r['size_bytes'] for r in rows))}")
    for r in rows:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["last_used"]))
        click.echo(f"  {r['key']}  {r['what']:<38}  {_size(r['size_bytes']):>9}  last used {used}")


@click.group(invoke_without_command=True)
@_CACHE
@click.pass_context
def cache(ctx, cache):
    """The LUT cache: every characterization `pcmspice run` made, stored once by content and reused by any run
    folder. Without a subcommand: the list (key, what, size, last used)."""
    ctx.ensure_object(dict)
    ctx.obj["cache"] = cache
    if ctx.invoked_subcommand is None:
        _list(cache)


@cache.command("list")
@_CACHE
@click.pass_context
def list_(ctx, cache):
    """Every entry: key, what (technology, corner, temperature, supply, cells), size, last used."""
    _list(cache or ctx.obj.get("cache"))


@cache.command()
@_CACHE
@click.option("--older-than", default=None, metavar="AGE", help="Remove the entries last used more than AGE ago "
              "(a number and s, min, h, d or w: 30d).")
@click.option("--all", "all_", is_flag=True, help="Remove every entry.")
@click.pass_context
def prune(ctx, cache, older_than, all_):
    """Remove entries (last used more than --older-than ago, or --all); an entry another pcmspice process is
    writing or reading is skipped."""
    from pcmspice.characterize import cache as lc
    from pcmspice.core.errors import ConfigError
    if all_ == (older_than is not None):
        raise ConfigError("pcmspice cache prune needs one of --older-than AGE (e.g. 30d) or --all")
    age = None if all_ else lc.parse_age(older_than)
    root = lc.cache_dir(cache or ctx.obj.get("cache"))
    removed, skipped = lc.prune(root, age)
    click.echo(f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} "
               f"({_size(sum(r['size_bytes'] for r in removed))}) from {root}"
               + (f"; skipped {len(skipped)} in use: {', '.join(skipped)}" if skipped else ""))

"""``pcmspice cache``: the LUT cache (:mod:`pcmspice.characterize.cache`) and the co-simulation's LUT cache,
listed and pruned together, each entry with its kind."""
from __future__ import annotations

import time
from pathlib import Path

import click

_CACHE = click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help="The LUT cache (default: $PCMSPICE_LUT_CACHE, else $PCMSPICE_CACHE/luts, else "
                           "~/.cache/pcmspice/luts).")
_COSIM = click.option("--cosim-cache", "cosim_cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                      help="The co-simulation's LUT cache (`pcmspice cosim --cache`; default: $PCMSPICE_CACHE/cosim, "
                           "else ~/.cache/pcmspice/cosim).")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _roots(cache: Path | None, cosim_cache: Path | None) -> list[tuple[str, Path]]:
    from pcmspice.characterize import cache as lc
    return [("luts", lc.cache_dir(cache)), ("pcm", lc.pcm_dir(cache)), ("cosim", lc.cosim_dir(cosim_cache))]


def _list(cache: Path | None, cosim_cache: Path | None) -> None:
    from pcmspice.characterize import cache as lc
    for kind, root in _roots(cache, cosim_cache):
        rows = lc.entries(root, kind)
        name = {"luts": "LUT cache", "pcm": "shared PCM devices", "cosim": "cosim LUT cache"}[kind]
        click.echo(f"{name} {root}: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, "
                   f"{_size(sum(r['size_bytes'] for r in rows))}")
        for r in rows:
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["last_used"]))
            click.echo(f"  {kind:<5}  {r['key']}  {r['what']:<38}  {_size(r['size_bytes']):>9}  last used {used}")


@click.group(invoke_without_command=True)
@_CACHE
@_COSIM
@click.pass_context
def cache(ctx, cache, cosim_cache):
    """The LUT caches: every characterization `pcmspice run`, `corners` or a design made (kind luts), the PCM
    devices they share across cell designs (kind pcm), and the tables of the co-simulation's arrays (kind cosim),
    each stored once by content and reused by any run.
    Without a subcommand: the list (kind, key, what, size, last used)."""
    ctx.ensure_object(dict)
    ctx.obj["cache"], ctx.obj["cosim_cache"] = cache, cosim_cache
    if ctx.invoked_subcommand is None:
        _list(cache, cosim_cache)


@cache.command("list")
@_CACHE
@_COSIM
@click.pass_context
def list_(ctx, cache, cosim_cache):
    """Every entry of both caches: kind, key, what (technology, corner, temperature, supply, cells; the array of
    a cosim entry), size, last used."""
    _list(cache or ctx.obj.get("cache"), cosim_cache or ctx.obj.get("cosim_cache"))


@cache.command()
@_CACHE
@_COSIM
@click.option("--older-than", default=None, metavar="AGE", help="Remove the entries last used more than AGE ago "
              "(a number and s, min, h, d or w: 30d).")
@click.option("--all", "all_", is_flag=True, help="Remove every entry.")
@click.pass_context
def prune(ctx, cache, cosim_cache, older_than, all_):
    """Remove entries of both caches (last used more than --older-than ago, or --all); an entry another pcmspice
    process is writing or reading is skipped."""
    from pcmspice.characterize import cache as lc
    from pcmspice.core.errors import ConfigError
    if all_ == (older_than is not None):
        raise ConfigError("pcmspice cache prune needs one of --older-than AGE (e.g. 30d) or --all")
    age = None if all_ else lc.parse_age(older_than)
    for kind, root in _roots(cache or ctx.obj.get("cache"), cosim_cache or ctx.obj.get("cosim_cache")):
        removed, skipped = lc.prune(root, age, kind)
        click.echo(f"removed {len(removed)} {kind} entr{'y' if len(removed) == 1 else 'ies'} "
                   f"({_size(sum(r['size_bytes'] for r in removed))}) from {root}"
                   + (f"; skipped {len(skipped)} in use: {', '.join(skipped)}" if skipped else ""))

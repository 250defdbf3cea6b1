"""Named testbenches: the circuits of `pcmspice simulate`, each returning a table, measured figures and a plot.

Layer: imports core, spice and circuits; nothing after it.  The registry is explicit: every
testbench module lists its testbenches in a ``TESTBENCHES`` table and this module gathers them;
nothing registers itself as a side effect of being imported.  :func:`register` adds a testbench
from outside the package (a user's own), by an explicit call.
"""
from __future__ import annotations

from collections.abc import Callable

from pcmspice.core.errors import SpiceError
from pcmspice.testbenches import c3t1c, pcm, unit_cell
from pcmspice.testbenches.base import TestbenchResult

_REGISTRY: dict[str, tuple[Callable[..., TestbenchResult], str]] = {
    **c3t1c.TESTBENCHES, **pcm.TESTBENCHES, **unit_cell.TESTBENCHES}


def register(name: str, fn: Callable[..., TestbenchResult], doc: str) -> None:
    """Add a testbench ``fn(run, seed=None) -> TestbenchResult`` under ``name``."""
    if name in _REGISTRY and _REGISTRY[name][0] is not fn:
        raise SpiceError(f"a testbench named '{name}' already exists", value=name)
    _REGISTRY[name] = (fn, doc)


def names() -> list[str]:
    return sorted(_REGISTRY)


def describe() -> dict[str, str]:
    return {k: v[1] for k, v in sorted(_REGISTRY.items())}


def get(name: str) -> Callable[..., TestbenchResult]:
    if name not in _REGISTRY:
        raise SpiceError(f"unknown testbench {name!r} (choose from {', '.join(sorted(_REGISTRY))})", value=name)
    return _REGISTRY[name][0]


__all__ = ["TestbenchResult", "describe", "get", "names", "register"]

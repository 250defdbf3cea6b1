"""What a lookup table records about how it was made, read by name.

A table's ``provenance`` is a JSON dict in its file (see :mod:`pcmspice.lut.format`);
:class:`LutProvenance` is the typed view of it that consumers read instead of
searching the dict.  Every part is optional: tables built in tests or by the
co-simulation record only some of it (no sweep, no cell parameters), and a
missing part reads as ``None`` or empty.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _number(v: Any) -> float | None:
    """A finite real number (not a bool) as float, else None."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _integer(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _mapping(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else {}


@dataclass(frozen=True)
class LutProvenance:
    """The recorded origin of one table (technology, corner, temperature, supply, cells, circuit)."""

    technology: str | None = None
    corner: str | None = None
    temp_c: float | None = None
    vdd_volts: float | None = None              # the supply the table was made at
    n_cells: int | None = None                  # Monte Carlo cells of the characterization
    seed: int | None = None
    cell_params: dict[str, float] = field(default_factory=dict)   # the cells' netlist parameters (numbers only)
    netlist_hashes: dict[str, str] = field(default_factory=dict)  # template -> SHA-256
    sweep: dict[str, Any] = field(default_factory=dict)           # the characterization's sweep definition
    read_time_seconds: float | None = None      # read integration time the tables' read energies assume
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, prov: Mapping[str, Any] | None) -> LutProvenance:
        """The typed view of a table's provenance dict; parts it lacks read as None or empty.

        ``vdd_volts`` is the recorded supply, or the cells' own netlist supply when only that
        is recorded; ``read_time_seconds`` is the sweep's."""
        p = _mapping(prov)
        cell_params = {str(k): n for k, v in _mapping(p.get("cell_params")).items() if (n := _number(v)) is not None}
        sweep = _mapping(p.get("sweep"))
        vdd = _number(p.get("vdd_volts"))
        return cls(
            technology=_text(p.get("technology")), corner=_text(p.get("corner")), temp_c=_number(p.get("temp_c")),
            vdd_volts=vdd if vdd is not None else cell_params.get("vdd_volts"),
            n_cells=_integer(p.get("n_cells")), seed=_integer(p.get("seed")), cell_params=cell_params,
            netlist_hashes={str(k): str(v) for k, v in _mapping(p.get("netlist_hashes")).items()},
            sweep=sweep, read_time_seconds=_number(sweep.get("read_time_seconds")),
            versions={str(k): str(v) for k, v in _mapping(p.get("versions")).items()})

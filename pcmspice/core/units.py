"""Numbers for people: SI prefixes with units, counts, percentages and ratios."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def fmt_si(v: Any, unit: str = "", digits: int = 3) -> str:
    """12.6e-9, "J" -> "12.6 nJ"."""
    if v is None:
        return "-"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(v):
        return f"{v} {unit}".strip()
    if v == 0:
        return f"0 {unit}".strip()
    prefixes = ((1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""),
                (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"))
    for f, pre in prefixes:
        if abs(v) < f * 999.5:
            return f"{v / f:.{digits}g} {pre}{unit}".strip()
    return f"{v:.{digits}g} {unit}".strip()


def fmt_num(v: Any, digits: int = 3) -> str:
    """A count or plain number for a table: 12345 -> "12,345", 0.000123 -> "0.000123", None -> "-"."""
    if v is None:
        return "-"
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v.is_integer() and abs(v) < 1e12:
        return f"{int(v):,}"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    return f"{v:,.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"


def fmt_pct(v: Any) -> str:
    """A fraction as a percentage: 0.933 -> "93.30 %"."""
    return "-" if v is None else f"{100 * float(v):.2f} %"


def fmt_ratio(v: float) -> str:
    """How many times more: 1234.5 -> "1,234x", 2.5 -> "2.5x"."""
    return f"{v:,.0f}x" if v >= 10 else f"{v:.2g}x"

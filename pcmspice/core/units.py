"""Numbers for people: SI prefixes with units."""
from __future__ import annotations

import math
from typing import Any


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
    prefixes = ((1e-18, "a"), (1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, ""),
                (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"))
    for f, pre in prefixes:
        if abs(v) < f * 999.5:
            return f"{v / f:.{digits}g} {pre}{unit}".strip()
    return f"{v:.{digits}g} {unit}".strip()

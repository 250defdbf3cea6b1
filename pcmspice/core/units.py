"""Numbers for people: SI prefixes with units, counts, percentages and ratios."""
from __future__ import annotations

import math
import re
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


#: SPICE's scale suffixes, as ngspice reads them: case-insensitive, so M and m are both milli, MEG is mega
SPICE_SUFFIXES = ("f", "p", "n", "u", "m", "k", "meg", "g", "t")
_SPICE_NUMBER = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?:(meg|[fpnumkgt])([a-z]*))?",
                           re.IGNORECASE)


def parse_spice_number(text: str) -> float:
    """A number as a SPICE user writes it: ``50e-15``, ``50f``, ``1.2u``, ``3meg``, ``10k`` (the suffixes
    f p n u m k meg g t, case-insensitive as in SPICE: ``M`` is milli, ``MEG`` mega, ``F`` femto, never
    farad).  As in SPICE, letters after a suffix are ignored: ``50fF`` is ``50f``, ``1.2uS`` is ``1.2u``;
    a unit with no suffix before it (``50F`` is 50 femto, ``10V`` is refused) is not.  SPICE's ``mil``
    (25.4e-6) is refused rather than read as milli.  Strict ASCII, no ``1_0``; else a ValueError saying
    what is accepted.

    The value is the plain number times the suffix's power of ten, computed as ``float("50e-15")`` is: the
    mantissa and the exponent are combined in the text, so ``50f`` gives exactly the float of ``50e-15``."""
    raw = text.strip() if isinstance(text, str) else text
    m = _SPICE_NUMBER.fullmatch(raw) if isinstance(raw, str) and raw.isascii() else None
    if not m or (m.group(2) or "").lower() == "m" and m.group(3).lower().startswith("il"):
        raise ValueError(f"{text!r} is not a number (write 50e-15 or, as in SPICE, 50f or 50fF; suffixes: "
                         + " ".join(SPICE_SUFFIXES) + ")")
    number, suffix = m.group(1), m.group(2)
    if not suffix:
        return float(number)
    return float(_shifted(number, _POWERS[suffix.lower()]))


_POWERS = {"f": -15, "p": -12, "n": -9, "u": -6, "m": -3, "k": 3, "meg": 6, "g": 9, "t": 12}


def _shifted(number: str, power: int) -> str:
    """``"50"``, -15 -> ``"50e-15"``; ``"1.5e-3"``, 6 -> ``"1.5e3"``: the decimal text scaled by 10**power."""
    mant, _, exp = number.lower().partition("e")
    return f"{mant}e{int(exp or 0) + power}"


def did_you_mean(value: float, fits) -> str:
    """For a number outside its range: the same digits at the SI scale that ``fits`` accepts, as a hint
    (``0.5`` for a conductance of at most 25 µS: ``"0.5e-6"``), or "" when no single scale fits."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value == 0:
        return ""
    for power in (-6, -9, -3, -12, -15, 3, 6, 9, 12):
        digits = repr(value)
        text = _shifted(digits[:-2] if digits.endswith(".0") else digits, power)
        if fits(float(text)):
            return text
    return ""

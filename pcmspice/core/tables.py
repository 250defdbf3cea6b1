"""The one CSV writer of pcmspice's result tables (history.csv, transfers.csv, table.csv, breakdown.csv, ...)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def csv_text(rows: Sequence[Mapping[str, Any]], float_format: str | None = ".6g",
             columns: Iterable[str] | None = None) -> str:
    """Rows of dicts as CSV text, one line per row (``\\n``), quoted where a value needs it.

    Columns: ``columns`` if given, else every key in the order first seen.  Floats are written
    with ``float_format`` (``None``: Python's shortest round-trip form), None as an empty field.
    """
    if not rows:
        return ""
    if columns is None:
        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]
    else:
        keys = list(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow(["" if r.get(k) is None else
                    (format(r[k], float_format) if float_format and isinstance(r[k], float) else r[k])
                    for k in keys])
    return buf.getvalue()

"""What a run directory holds: its kind (from summary.json ``kind`` or its files), its corner table, the worst corner.

A training summary without ``kind`` is recognised by ``analog_test_accuracy``;
a folder of LUT files (cell.lut.npz) or with a corners.csv by those files.  A folder
that holds LUT files has them loaded and checked first (as a set, with its summary.json):
a report never describes a corrupt or mismatched table by its intact summary.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import CELL_FILE, PCM_FILE, load_lut_set
from pcmspice.power import model as pw

#: how the worst-corner criterion names an accuracy column
ACCURACY_WORDS = {"final_accuracy_mean_percent": "final accuracy (mean over seeds)",
                  "analog_test_accuracy": "analog test accuracy", "test_accuracy": "test accuracy"}
KINDS = ("characterization", "corners", "training", "power", "cosim", "seeds", "luts")


@dataclass
class RunInput:
    """One input of a report: its kind, folder and summary.json (empty for LUT folders and bare corner tables)."""
    kind: str
    path: Path
    summary: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.path.name}"


def discover(path: str | Path) -> RunInput:
    """What a run directory holds, from its summary.json ``kind`` (or its files)."""
    p = Path(path)
    if not p.is_dir():
        raise ConfigError(f"{p}: not a directory (give run directories made by pcmspice)")
    if (p / CELL_FILE).exists() or (p / PCM_FILE).exists():
        load_lut_set(p)   # raises LutError on a corrupt, foreign or mismatched table
    sj = p / "summary.json"
    if sj.is_file():
        s = pw.load_summary(p)
        check_summary_shape(sj, s)
        kind = s.get("kind")
        if kind is None and "analog_test_accuracy" in s:
            kind = "training"
        if kind not in KINDS:
            raise ConfigError(f"{p}: summary.json kind {kind!r} is not one pcmspice report knows "
                              f"({', '.join(k for k in KINDS if k != 'luts')})")
        return RunInput(kind, p, s)
    if (p / "corners.csv").is_file():
        return RunInput("corners", p, {})
    if (p / CELL_FILE).is_file():
        return RunInput("luts", p, {})
    raise ConfigError(f"{p}: not a pcmspice run directory (no summary.json with a 'kind', no corners.csv, "
                      f"no {CELL_FILE})")


def check_summary_shape(sj: Path, s: dict[str, Any]) -> None:
    """The summary.json fields a report reads as tables have the JSON types pcmspice writes (``config`` an
    object, ``combos`` a list of objects), else one line naming the file, the field and what it holds."""
    cfg = s.get("config")
    if cfg is not None and not isinstance(cfg, dict):
        raise ConfigError(f"{sj}: 'config' is {_what(cfg)}, expected an object of settings "
                          "(this summary.json was not written by pcmspice, or was edited)")
    combos = s.get("combos")
    if combos is not None and not (isinstance(combos, list) and all(isinstance(c, dict) for c in combos)):
        raise ConfigError(f"{sj}: 'combos' is {_what(combos)}, expected a list of objects, one per corner "
                          "(this summary.json was not written by pcmspice, or was edited)")


def _what(v: Any) -> str:
    """``a string "x"``, ``a list [1, 2]``: the JSON type and the start of the value."""
    kind = {str: "a string", list: "a list", dict: "an object", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(v), type(v).__name__)
    text = json.dumps(v)
    return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}"


def discover_all(path: str | Path) -> list[RunInput]:
    """Like :func:`discover`; a characterization run with a corners.csv (``pcmspice corners``) gives both."""
    run = discover(path)
    if run.kind == "characterization" and (run.path / "corners.csv").is_file():
        return [run, RunInput("corners", run.path, run.summary)]
    return [run]


def corners_frame(run: RunInput):
    """The corner table of a run (corners.csv, else its summary's combos) as a DataFrame, or None."""
    import pandas as pd
    f = run.path / "corners.csv"
    if f.is_file():
        try:
            return pd.read_csv(f)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{f}: unreadable corners table ({exc})") from None
    combos = run.summary.get("combos") or run.summary.get("corners")
    if isinstance(combos, list) and combos:
        return pd.DataFrame(combos)
    return None


def worst_corner(df) -> dict[str, Any] | None:
    """The corner a review should worry about, and by which criterion."""
    if df is None or len(df) == 0 or "corner" not in df.columns:
        return None
    acc = first_col(df, ("final_accuracy_mean_percent", "analog_test_accuracy", "test_accuracy", "accuracy"))
    if acc:
        i = int(df[acc].astype(float).idxmin())
        return {"row": df.loc[i].to_dict(), "criterion": f"lowest {ACCURACY_WORDS.get(acc, acc)}", "column": acc}
    en = first_col(df, ("energy_per_example_joules",))
    if en:
        i = int(df[en].astype(float).idxmax())
        return {"row": df.loc[i].to_dict(), "criterion": "highest energy per example", "column": en}
    if "asymmetry_mean" in df.columns:
        i = int(df["asymmetry_mean"].astype(float).abs().idxmax())
        return {"row": df.loc[i].to_dict(), "criterion": "largest mean up/down asymmetry", "column": "asymmetry_mean"}
    if "dv_up_mean_volts" in df.columns and "dv_down_mean_volts" in df.columns:
        up, dn = df["dv_up_mean_volts"].astype(float), df["dv_down_mean_volts"].astype(float)
        asym = ((up + dn) / (up - dn)).abs()
        i = int(asym.idxmax())
        return {"row": df.loc[i].to_dict(), "criterion": "largest mean up/down asymmetry |up+down|/(up-down)",
                "column": "dv_up_mean_volts"}
    if "g_mean_siemens" in df.columns:
        i = int(df["g_mean_siemens"].astype(float).idxmin())
        return {"row": df.loc[i].to_dict(), "criterion": "lowest mean g", "column": "g_mean_siemens"}
    return None


def corner_label(row: dict[str, Any]) -> str:
    """How a corner row is named, e.g. "ss, 85 °C" (the corner alone without a temperature)."""
    t = row.get("temp_c")
    return f"{row.get('corner')}, {float(t):g} °C" if t is not None else str(row.get("corner"))


def first_col(df, names: Iterable[str]) -> str | None:
    """The first of ``names`` that is a column of ``df``."""
    for n in names:
        if n in df.columns:
            return n
    return None

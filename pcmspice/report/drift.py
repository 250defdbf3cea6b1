"""The drift-onset verdict in a report (issue 20): what ``benchmarks/verdict.py --t0 ... --publish`` measured
for the paper's scheme and the recommended drift remedies (characterization/train/drift-robust.toml) at each
drift onset t0, committed as ``characterization/drift_verdict.json`` with its provenance.

A report with a training run adds one verdict line (the t0 range over which each scheme holds within
0.5 pp of software, task by task) and a section with the table.  Nothing is trained for it: the default
run's own numbers are its own (the paper's scheme at the LUT's pessimistic t0); the table says where they
stand among the onsets nobody has pinned.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from pcmspice.core import paths
from pcmspice.core.document import Block
from pcmspice.core.units import fmt_si

SCHEMA = "pcmspice-drift-verdict-1"
FILE = "drift_verdict.json"
HOLDS_PP = 0.5     # |mean gap| at most this: the scheme holds (the criterion)
HEADLINE = ("paper", "robust")   # the schemes of the verdict line (the section's table has every scheme)


def verdict_path() -> Path:
    return paths.characterization_dir() / FILE


def load(path: str | Path | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """(the committed table, None), or (None, why it cannot be used) -- a foreign or damaged file is
    refused whole, never half-read; (None, None) when there is none."""
    p = Path(path) if path is not None else verdict_path()
    if not p.is_file():
        return None, None
    try:
        d = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"{p.name} is not readable JSON ({e.__class__.__name__})"
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        return None, f"{p.name} is not a drift verdict table (schema {SCHEMA})"
    rows = d.get("rows")
    keys = ("task", "scheme", "t0_seconds", "gap", "energy_per_example_joules")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and all(k in r for k in keys)
                                             and r["gap"] for r in rows):
        return None, f"{p.name}: its rows are incomplete"
    return d, None


def _mean(xs: list[float]) -> float:
    return statistics.mean(float(x) for x in xs)


def _cell(r: dict[str, Any]) -> str:
    g = [float(x) for x in r["gap"]]
    if len(g) > 1:
        return f"{statistics.mean(g):+.2f} ± {statistics.stdev(g):.2f} ({len(g)})"
    return f"{g[0]:+.2f} (1)"


def holds(d: dict[str, Any], task: str, scheme: str) -> tuple[list[float], list[float]]:
    """(the onsets where the scheme's mean gap is within HOLDS_PP of software, those where it is not)."""
    rs = sorted((r for r in d["rows"] if r["task"] == task and r["scheme"] == scheme), key=lambda r: r["t0_seconds"])
    ok = [r["t0_seconds"] for r in rs if abs(_mean(r["gap"])) <= HOLDS_PP]
    return ok, [r["t0_seconds"] for r in rs if abs(_mean(r["gap"])) > HOLDS_PP]


def _t0s(ts: list[float]) -> str:
    return ", ".join(fmt_si(t, "s") for t in ts) or "none"


def _span(xs: list[float], unit: str) -> str:
    lo, hi = min(xs), max(xs)
    return fmt_si(lo, unit) if fmt_si(lo, unit) == fmt_si(hi, unit) else f"{fmt_si(lo, unit)} - {fmt_si(hi, unit)}"


def verdict_item(d: dict[str, Any], run_t0: float | None) -> str:
    """One verdict line: per task, where the paper's scheme and the recommended combination hold."""
    parts = []
    named = {r["scheme"] for r in d["rows"]} & set(HEADLINE)
    for task in dict.fromkeys(r["task"] for r in d["rows"]):
        for scheme in dict.fromkeys(r["scheme"] for r in d["rows"] if r["task"] == task
                                    and (not named or r["scheme"] in named)):
            ok, bad = holds(d, task, scheme)
            gaps = [_mean(r["gap"]) for r in d["rows"] if r["task"] == task and r["scheme"] == scheme]
            where = f"at t0 = {_t0s(ok)}" if ok else "at none of them"
            parts.append(f"{task}, {scheme}: {min(gaps):+.1f} to {max(gaps):+.1f} pp over the "
                         f"{len(ok) + len(bad)} onsets run, within {HOLDS_PP:g} pp {where}")
    at = f"this run's t0 is {fmt_si(run_t0, 's')}; " if run_t0 else ""
    return (f"**Drift onset t0 (unknown between ~100 ns and 20 s): {at}" + "; ".join(parts)
            + f"** (committed sweep, {d.get('epochs', '?')} epochs; see *Drift onset t0*)")


def blocks(d: dict[str, Any]) -> list[Block]:
    """The section: one row per task and scheme, the gap (pp, mean ± sd over the seeds, their number) per
    t0, the energy and time per example, and where it holds."""
    t0s = sorted({r["t0_seconds"] for r in d["rows"]})
    rows = []
    for task in dict.fromkeys(r["task"] for r in d["rows"]):
        for scheme in dict.fromkeys(r["scheme"] for r in d["rows"] if r["task"] == task):
            rs = {r["t0_seconds"]: r for r in d["rows"] if r["task"] == task and r["scheme"] == scheme}
            es = [e for r in rs.values() for e in r["energy_per_example_joules"]]
            ts = [t for r in rs.values() for t in r.get("training_seconds_per_example", [])]
            ok, _ = holds(d, task, scheme)
            rows.append([task, scheme, *(_cell(rs[t]) if t in rs else "not run" for t in t0s),
                         _span(es, "J"), _span(ts, "s") if ts else "-", _t0s(ok)])
    schemes = d.get("schemes", {})
    out = [Block("h2", "Drift onset t0: the paper's scheme and the drift remedies"),
           Block("p", f"No published measurement pins the PCM drift onset t0: the records start between ~1 ms "
                      f"and 20 s after programming, and the default run trains at the LUT's pessimistic t0 "
                      f"(100 ns). This table (committed "
                      f"characterization/{FILE}, made by `{d.get('command', 'benchmarks/verdict.py')}` at commit "
                      f"{d.get('git_commit', '?')}, {d.get('created', '?')}) gives the gap to software "
                      f"(analog - software test accuracy, pp, mean ± sd over the seeds that ran, their number "
                      f"in brackets) at each t0, {d.get('epochs', '?')} epochs a run; energy and time per "
                      f"example from `pcmspice power --training` (the remedies' costs included). A scheme holds "
                      f"where its mean gap is within {HOLDS_PP:g} pp."),
           Block("table", columns=["task", "scheme", *(f"t0 = {fmt_si(t, 's')}" for t in t0s),
                                   "energy / example", "time / example", f"within {HOLDS_PP:g} pp at"], rows=rows)]
    if schemes:
        out.append(Block("ul", items=[f"{k}: `pcmspice train {' '.join(v)}`" if v else
                                      f"{k}: `pcmspice train` (the defaults)" for k, v in schemes.items()]))
    if d.get("not_run"):
        out.append(Block("p", "Not run (CPU time), of the planned sweep: " + "; ".join(d["not_run"]) + "."))
    return out

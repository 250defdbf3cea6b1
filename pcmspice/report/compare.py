"""Designs side by side (`pcmspice compare`): accuracy over seeds, energy, efficiency, area, the cell's own figures.

Each argument is one *design*: a folder holding runs of it — training runs (one per seed), power runs, corner
runs, LUT folders — at any depth (``pcmspice run`` output, a folder of ``train --seed N`` runs, a corners run).
Each design gives one column per corner (LUT set: :func:`corner_groups`), its numbers from that corner's runs and
LUTs alone (seeds are pooled only within a corner); the column is named by the design's folder and its corner;
rows whose fields differ (technology, bias mode, corner, task, cell parameters) are marked.
The worst corner is the one with the lowest accuracy (else the largest asymmetry), whatever the argument order.
"""
from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.characterize.stats import stats_at_start
from pcmspice.core.document import Block, render_html, render_markdown
from pcmspice.core.errors import ConfigError
from pcmspice.core.outputs import atomic_dir, read_marker, refuse_overlap, run_key
from pcmspice.core.provenance import atomic_write_text, versions, write_json
from pcmspice.core.units import fmt_si
from pcmspice.lut.format import CELL_FILE, load_lut_set
from pcmspice.report.discover import RunInput, corner_label, corners_frame, discover_all, worst_corner


@dataclass
class Design:
    """The runs found under one folder."""
    name: str
    path: Path
    trainings: list[RunInput] = field(default_factory=list)
    powers: list[RunInput] = field(default_factory=list)
    corners: list[RunInput] = field(default_factory=list)
    lut_dirs: list[Path] = field(default_factory=list)


def collect(path: str | Path) -> Design:
    """Every pcmspice run below ``path`` (itself included; hidden folders left out), grouped by kind."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory (give the folders of the designs to compare)")
    d = Design(root.resolve().name, root)
    # hidden folders are never results: a writer's staging (.NAME.*.partial) or moved-aside (.NAME.*.old)
    # folder left by a killed run, a checkpoint (.NAME.resume), a cache entry's lock or marker
    folders = [root] + sorted(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()
                              and not any(part.startswith(".") for part in p.relative_to(root).parts))
    for f in folders:
        if not ((f / "summary.json").is_file() or (f / "corners.csv").is_file() or (f / CELL_FILE).is_file()):
            continue
        try:
            runs = discover_all(f)
        except ConfigError:
            continue
        for r in runs:
            {"training": d.trainings, "power": d.powers, "corners": d.corners}.get(r.kind, []).append(r)
            if r.kind == "luts":
                d.lut_dirs.append(f)
    if not (d.trainings or d.powers or d.corners):
        raise ConfigError(f"{root}: holds no training, power or corner run to compare")
    return d


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    return (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0) if xs else (math.nan, math.nan)


def _resolved(p: Any) -> str | None:
    return str(Path(p).resolve()) if p else None


def _power_lut(p: RunInput) -> str | None:
    return _resolved(((p.summary.get("provenance") or {}).get("inputs") or {}).get("luts", {}).get("path"))


def _power_training(p: RunInput) -> str | None:
    return _resolved(((p.summary.get("provenance") or {}).get("inputs") or {}).get("training", {}).get("path"))


@dataclass
class Corner:
    """The runs of one design at one corner (one LUT set): its seeds' training runs and its power runs."""
    lut_dir: Path | None
    trainings: list[RunInput] = field(default_factory=list)
    powers: list[RunInput] = field(default_factory=list)


def corner_groups(d: Design) -> list[Corner]:
    """The design's runs by the LUT set they ran on (one group per corner; seeds are pooled only within one): a
    training run by its ``lut_dir``, a power run by the training run it costed, else by its LUT folder."""
    groups: dict[str | None, Corner] = {}
    by_train: dict[str, str | None] = {}
    for t in d.trainings:
        key = _resolved(t.summary.get("lut_dir"))
        groups.setdefault(key, Corner(Path(key) if key else None)).trainings.append(t)
        by_train[str(t.path.resolve())] = key
    for p in d.powers:
        key = by_train.get(_power_training(p) or "", _power_lut(p))
        groups.setdefault(key, Corner(Path(key) if key else None)).powers.append(p)
    if not groups:   # a corner table alone: one row, the design's
        groups[None] = Corner(d.lut_dirs[0].resolve() if d.lut_dirs else None)
    return list(groups.values())


def _components(power: RunInput) -> dict[str, float]:
    return power.summary["energy_per_example_joules"]["by_component"]


def _flat(prefix: str, d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(f"{prefix}{k}.", v))
        else:
            out[f"{prefix}{k}"] = v
    return out


def design_rows(d: Design) -> list[dict[str, Any]]:
    """The comparison's rows of one design: one per corner (NaN where the corner has no run of that kind)."""
    worst = None
    for c in d.corners:
        w = worst_corner(corners_frame(c))
        if w and (worst is None or _worse(w, worst)):
            worst = w
    worst_row = ({"label": corner_label(worst["row"]), "criterion": worst["criterion"],
                  "value": float(worst["row"][worst["column"]])} if worst else None)
    groups = corner_groups(d)
    rows = []
    for g in groups:
        row = corner_row(d, g)
        row["worst_corner"] = worst_row
        row["column"] = d.name if len(groups) == 1 else f"{d.name} ({row.get('corner') or '?'})"
        rows.append(row)
    return rows


def unique_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with no two columns named alike: a name that repeats (two folders of one name, e.g. a run nested
    in another) gets its folder after it, and a number if even that repeats."""
    names = [r["column"] for r in rows]
    for r in rows:
        if names.count(r["column"]) > 1:
            r["column"] = f"{r['column']} [{r['path']}]"
    seen: dict[str, int] = {}
    for r in rows:
        n = seen[r["column"]] = seen.get(r["column"], 0) + 1
        if n > 1:
            r["column"] = f"{r['column']} #{n}"
    return rows


def _cell_array_m2(p: Any) -> float:
    """A power run's area of the cells alone (the synapses and the g_shared cells), m²."""
    area = p.summary.get("area_m2") or {}
    return float(area.get("cells", 0.0)) + float(area.get("g_shared_cells", 0.0))


def design_row(d: Design) -> dict[str, Any]:
    """The first (or only) row of :func:`design_rows`."""
    return design_rows(d)[0]


def corner_row(d: Design, g: Corner) -> dict[str, Any]:
    """One design at one corner: its seeds' accuracy (mean ± sd), its power runs' energy, efficiency and area,
    its LUTs' asymmetry and retention, and every field that describes it (``fields``: technology, bias mode,
    corner, temperature, supply, the cell's netlist parameters, the training task)."""
    gaps = [t.summary["accuracy_gap_percentage_points"] for t in g.trainings
            if t.summary.get("accuracy_gap_percentage_points") is not None]
    acc = [100 * t.summary["analog_test_accuracy"] for t in g.trainings]
    g_mean, g_sd = _mean_sd(gaps)
    a_mean, a_sd = _mean_sd(acc)
    row: dict[str, Any] = {"design": d.name, "path": str(d.path),
                           "seeds": sorted(t.summary.get("seed") for t in g.trainings),
                           "accuracy_percent_mean": a_mean, "accuracy_percent_sd": a_sd,
                           "accuracy_gap_points_mean": g_mean, "accuracy_gap_points_sd": g_sd,
                           "networks": sorted({t.summary.get("network") for t in g.trainings} - {None}),
                           "datasets": sorted({t.summary.get("dataset") for t in g.trainings} - {None}),
                           "training_dirs": [str(t.path) for t in g.trainings]}
    if g.powers:
        h = [p.summary["headline"] for p in g.powers]
        row.update({"energy_per_example_joules": statistics.fmean(x["energy_per_example_joules"] for x in h),
                    "gops_per_watt_training": statistics.fmean(x["gops_per_watt_training"] for x in h),
                    "tops_per_mm2_training": statistics.fmean(x["tops_per_mm2_training"] for x in h),
                    "area_mm2": statistics.fmean(x["area_mm2"] for x in h),
                    "cell_array_area_mm2": statistics.fmean(_cell_array_m2(p) * 1e6 for p in g.powers),
                    "area_per_synapse_um2": statistics.fmean(p.summary["cell_area_m2"]["total_m2"] * 1e12
                                                             for p in g.powers),
                    "energy_by_component": {k: statistics.fmean(_components(p)[k] for p in g.powers)
                                            for k in _components(g.powers[0])}})
    lut = g.lut_dir if g.lut_dir is not None and (g.lut_dir / CELL_FILE).is_file() else None
    row["lut_dir"] = str(lut) if lut else None
    fields: dict[str, Any] = {}
    if lut is not None:
        luts = load_lut_set(lut)
        st = stats_at_start(luts)
        prov = luts.cell.provenance
        row.update({"asymmetry_mean": st["asymmetry_mean"], "asymmetry_sigma": st["asymmetry_sigma"],
                    "retention_10mV_median_seconds": st["retention_10mV_median_seconds"],
                    "cell_params": dict(prov.get("cell_params") or {}), "technology": prov.get("technology")})
        row["corner"] = corner_label(prov) if prov.get("corner") is not None else None
        fields.update({"technology": prov.get("technology"), "bias mode": (prov.get("sweep") or {}).get("bias"),
                       "corner": prov.get("corner"), "temperature (°C)": prov.get("temp_c"),
                       "supply (V)": prov.get("vdd_volts")})
    cfgs = [t.summary.get("config") for t in g.trainings if isinstance(t.summary.get("config"), dict)]
    if cfgs:
        fields.update({f"task {k}": v for k, v in _flat("", cfgs[0]).items() if k not in ("seed", "luts")})
    row["fields"] = fields
    return row


def _worse(a: dict[str, Any], b: dict[str, Any]) -> bool:
    va, vb = float(a["row"][a["column"]]), float(b["row"][b["column"]])
    if a["column"] != b["column"]:
        return False
    return abs(va) > abs(vb) if "asymmetry" in a["criterion"] else va < vb if "lowest" in a["criterion"] else va > vb


def _fmt(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return {"pct": f"{v:.2f} %", "pp": f"{v:+.2f} pp", "J": fmt_si(v, "J"), "s": fmt_si(v, "s"),
            "num": f"{v:,.0f}", "g3": f"{v:.3g}"}[kind]


def differing_params(rows: list[dict[str, Any]]) -> list[str]:
    """Cell netlist parameters whose values differ between the designs."""
    names = sorted({k for r in rows for k in (r.get("cell_params") or {})})
    return [n for n in names if len({repr((r.get("cell_params") or {}).get(n)) for r in rows}) > 1]


def _field(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def differing_fields(rows: list[dict[str, Any]]) -> list[str]:
    """Every other field (technology, bias mode, corner, temperature, supply, the training task) whose values
    differ between the rows, in the order the rows name them."""
    names: list[str] = []
    for r in rows:
        names += [k for k in r.get("fields", {}) if k not in names]
    return [n for n in names if len({repr(r.get("fields", {}).get(n)) for r in rows}) > 1]


def _figures(rows: list[dict[str, Any]], fig_dir: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from pcmspice.core.provenance import save_png
    out = []
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    for k, row in enumerate(rows):
        curves = []
        for t in row["training_dirs"]:
            h = Path(t) / "history.csv"
            if h.is_file():
                curves.append(pd.read_csv(h)["analog_test_accuracy"].to_numpy(float) * 100)
        if not curves:
            continue
        n = min(len(c) for c in curves)
        a = np.array([c[:n] for c in curves])
        ep = np.arange(1, n + 1)
        ax.plot(ep, a.mean(0), color=f"C{k}", lw=2, ls=("-", "--", ":", "-.")[k % 4], marker="os^D"[k % 4], ms=4,
                label=f"{row['column']} (analog, {len(curves)} seed(s))")
        if len(curves) > 1:
            ax.fill_between(ep, a.min(0), a.max(0), color=f"C{k}", alpha=0.2)
    if ax.lines:
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("Accuracy vs epoch (line: mean over seeds; band: min to max)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        save_png(fig, fig_dir / "accuracy.png")
        out.append("accuracy.png")
    plt.close(fig)
    with_energy = [r for r in rows if r.get("energy_by_component")]
    if with_energy:
        comps = list(with_energy[0]["energy_by_component"])
        fig, ax = plt.subplots(figsize=(7.2, 4.2))
        x = np.arange(len(comps))
        w = 0.8 / len(with_energy)
        for k, r in enumerate(with_energy):
            ax.bar(x + (k - (len(with_energy) - 1) / 2) * w, [r["energy_by_component"][c] * 1e9 for c in comps], w,
                   color=f"C{k}", label=r["column"])
        ax.set_xticks(x, [c.replace("_", " ") for c in comps], rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("energy per training example (nJ)")
        ax.set_title("Energy per training example by component")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
        save_png(fig, fig_dir / "energy.png")
        out.append("energy.png")
        plt.close(fig)
    return out


KIND = "comparison"


@dataclass
class ComparisonResult:
    out_dir: Path
    markdown: Path
    html: Path
    rows: list[dict[str, Any]]


def _previous_comparison(out: Path) -> bool:
    """``out`` holds a comparison (its marker, or, written before markers, its summary.json says so)."""
    m = read_marker(out)
    if m is not None:
        return m.get("kind") == KIND
    try:
        return json.loads((out / "summary.json").read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def compare(paths: Sequence[str | Path], out_dir: str | Path, title: str | None = None,
            force: bool = False) -> ComparisonResult:
    """Write ``out_dir/index.md``, ``index.html``, ``summary.json`` (kind "comparison") and figures.

    ``out_dir`` may not be, hold or be inside one of the designs' folders; a non-empty folder that is not a
    previous comparison is replaced only with ``force``; the folder is written aside and swapped in whole
    (:func:`pcmspice.core.outputs.atomic_dir`), under its lock."""
    if len(paths) < 2:
        raise ConfigError("compare needs at least two designs (folders of runs)")
    refuse_overlap(out_dir, [("DESIGN", p) for p in paths])
    designs = [collect(p) for p in paths]
    names = [d.name for d in designs]
    for d in designs:           # two folders named alike: tell them apart by their parents
        if names.count(d.name) > 1:
            d.name = f"{d.path.resolve().parent.name}/{d.name}"
    rows = unique_columns([r for d in designs for r in design_rows(d)])
    diff = differing_params(rows)
    others = differing_fields(rows)
    out = Path(out_dir)
    key = run_key(sorted(str(Path(p).resolve()) for p in paths), title)
    with atomic_dir(out, KIND, key, force or _previous_comparison(out)) as stage:
        _write(designs, rows, diff, others, stage, title)
    md, html_path = out / "index.md", out / "index.html"
    return ComparisonResult(out, md, html_path, rows)


def _write(designs: list, rows: list[dict[str, Any]], diff: list[str], others: list[str], out: Path,
           title: str | None) -> None:
    """The comparison's files, into (staging) folder ``out``."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figs = _figures(rows, out / "figures")
    title = title or "pcmspice: " + " vs ".join(d.name for d in designs)
    cols = ["quantity"] + [r["column"] for r in rows]

    def line(label: str, key: str, kind: str) -> list[str]:
        return [label] + [_fmt(r.get(key), kind) for r in rows]
    table = [
        ["LUTs"] + [f"`{r['lut_dir']}`" if r.get("lut_dir") else "-" for r in rows],
        ["seeds"] + [", ".join(str(s) for s in r["seeds"]) or "-" for r in rows],
        ["accuracy (analog)"] + [f"{_fmt(r['accuracy_percent_mean'], 'pct')} ± {r['accuracy_percent_sd']:.2f}"
                                 if r["seeds"] else "-" for r in rows],
        ["gap to software"] + [f"{_fmt(r['accuracy_gap_points_mean'], 'pp')} ± {r['accuracy_gap_points_sd']:.2f}"
                               if not math.isnan(r["accuracy_gap_points_mean"]) else "-" for r in rows],
        line("energy per training example", "energy_per_example_joules", "J"),
        line("GOP/s/W (training)", "gops_per_watt_training", "num"),
        line("TOP/s/mm² (training)", "tops_per_mm2_training", "g3"),
        line("chip area, cells + periphery (mm²)", "area_mm2", "g3"),
        line("cell array area (mm²)", "cell_array_area_mm2", "g3"),
        line("area per synapse (µm²)", "area_per_synapse_um2", "g3"),
        line("up/down asymmetry (mean)", "asymmetry_mean", "g3"),
        line("retention, 10 mV (median)", "retention_10mV_median_seconds", "s"),
        ["worst corner"] + [f"{r['worst_corner']['label']} ({r['worst_corner']['criterion']}: "
                            f"{r['worst_corner']['value']:.4g})" if r["worst_corner"] else "-" for r in rows],
    ]
    for p in others:
        table.append([f"**{p}** (differs)"] + [f"**{_field(r.get('fields', {}).get(p, '-'))}**" for r in rows])
    for p in diff:
        table.append([f"**{p}** (differs)"] + [f"**{(r.get('cell_params') or {}).get(p, '-')}**" for r in rows])
    blocks = [Block("h1", title),
              Block("p", "Each column is one design at one corner (one LUT set): the runs found in its folder that "
                         "ran on those LUTs. Accuracy is the mean ± sd over the training runs (seeds) of that corner "
                         "alone; energy, efficiency and area come from the power runs of that corner; asymmetry and "
                         "retention from that corner's LUTs. Bold rows are every field in which the columns differ "
                         "(technology, bias mode, corner, temperature, supply, training task, cell parameters)."),
              Block("table", columns=cols, rows=table)]
    for r in rows:
        blocks += [Block("h2", f"Design {r['column']}"),
                   Block("ul", items=[f"folder: `{r['path']}`", f"LUTs: `{r.get('lut_dir')}`",
                                      f"data sets: {', '.join(r['datasets']) or '-'}; networks: "
                                      f"{', '.join(r['networks']) or '-'}"])]
    for f in figs:
        blocks.append(Block("img", text=f.removesuffix(".png"), src=f"figures/{f}"))
    md, html_path = out / "index.md", out / "index.html"
    atomic_write_text(md, render_markdown(blocks))
    atomic_write_text(html_path, render_html(blocks, title))
    write_json(out / "summary.json", {"kind": "comparison", "title": title, "designs": rows,
                                      "differing_cell_params": diff, "differing_fields": others,
                                      "figures": figs, "versions": versions()})

"""Designs side by side (`pcmspice compare`): accuracy over seeds, energy, efficiency, area, the cell's own figures.

Each argument is one *design*: a folder holding runs of it — training runs (one per seed), power runs, corner
runs, LUT folders — at any depth (``pcmspice run`` output, a folder of ``train --seed N`` runs, a corners run).
The design is named by its folder and by the LUTs its training used; rows whose cell parameters differ are marked.
The worst corner is the one with the lowest accuracy (else the largest asymmetry), whatever the argument order.
"""
from __future__ import annotations

import math
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.characterize.stats import stats_at_start
from pcmspice.core.document import Block, render_html, render_markdown
from pcmspice.core.errors import ConfigError
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
    """Every pcmspice run below ``path`` (itself included), grouped by kind."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory (give the folders of the designs to compare)")
    d = Design(root.resolve().name, root)
    folders = [root] + sorted(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())
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


def _lut_dir(d: Design) -> Path | None:
    for t in d.trainings:
        if t.summary.get("lut_dir") and (Path(t.summary["lut_dir"]) / CELL_FILE).is_file():
            return Path(t.summary["lut_dir"])
    for p in d.powers:
        path = p.summary.get("provenance", {}).get("inputs", {}).get("luts", {}).get("path")
        if path and (Path(path) / CELL_FILE).is_file():
            return Path(path)
    return d.lut_dirs[0] if d.lut_dirs else None


def _components(power: RunInput) -> dict[str, float]:
    return power.summary["energy_per_example_joules"]["by_component"]


def design_row(d: Design) -> dict[str, Any]:
    """The comparison's numbers for one design (NaN where the design has no run of that kind)."""
    gaps = [t.summary["accuracy_gap_percentage_points"] for t in d.trainings
            if t.summary.get("accuracy_gap_percentage_points") is not None]
    acc = [100 * t.summary["analog_test_accuracy"] for t in d.trainings]
    g_mean, g_sd = _mean_sd(gaps)
    a_mean, a_sd = _mean_sd(acc)
    row: dict[str, Any] = {"design": d.name, "path": str(d.path), "seeds": sorted(t.summary.get("seed") for t in
                                                                                 d.trainings),
                           "accuracy_percent_mean": a_mean, "accuracy_percent_sd": a_sd,
                           "accuracy_gap_points_mean": g_mean, "accuracy_gap_points_sd": g_sd,
                           "networks": sorted({t.summary.get("network") for t in d.trainings} - {None}),
                           "datasets": sorted({t.summary.get("dataset") for t in d.trainings} - {None})}
    if d.powers:
        h = [p.summary["headline"] for p in d.powers]
        row.update({"energy_per_example_joules": statistics.fmean(x["energy_per_example_joules"] for x in h),
                    "gops_per_watt_training": statistics.fmean(x["gops_per_watt_training"] for x in h),
                    "tops_per_mm2_training": statistics.fmean(x["tops_per_mm2_training"] for x in h),
                    "area_mm2": statistics.fmean(x["area_mm2"] for x in h),
                    "area_per_synapse_um2": statistics.fmean(p.summary["cell_area_m2"]["total_m2"] * 1e12
                                                             for p in d.powers),
                    "energy_by_component": {k: statistics.fmean(_components(p)[k] for p in d.powers)
                                            for k in _components(d.powers[0])}})
    lut = _lut_dir(d)
    row["lut_dir"] = str(lut) if lut else None
    if lut is not None:
        luts = load_lut_set(lut)
        st = stats_at_start(luts)
        row.update({"asymmetry_mean": st["asymmetry_mean"], "asymmetry_sigma": st["asymmetry_sigma"],
                    "retention_10mV_median_seconds": st["retention_10mV_median_seconds"],
                    "cell_params": dict(luts.cell.provenance.get("cell_params") or {}),
                    "technology": luts.cell.provenance.get("technology")})
    worst = None
    for c in d.corners:
        w = worst_corner(corners_frame(c))
        if w and (worst is None or _worse(w, worst)):
            worst = w
    row["worst_corner"] = ({"label": corner_label(worst["row"]), "criterion": worst["criterion"],
                            "value": float(worst["row"][worst["column"]])} if worst else None)
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


def _figures(designs: list[Design], rows: list[dict[str, Any]], fig_dir: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from pcmspice.core.provenance import save_png
    out = []
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    for k, d in enumerate(designs):
        curves = []
        for t in d.trainings:
            h = t.path / "history.csv"
            if h.is_file():
                curves.append(pd.read_csv(h)["analog_test_accuracy"].to_numpy(float) * 100)
        if not curves:
            continue
        n = min(len(c) for c in curves)
        a = np.array([c[:n] for c in curves])
        ep = np.arange(1, n + 1)
        ax.plot(ep, a.mean(0), color=f"C{k}", lw=2, ls=("-", "--", ":", "-.")[k % 4], marker="os^D"[k % 4], ms=4,
                label=f"{d.name} (analog, {len(curves)} seed(s))")
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
                   color=f"C{k}", label=r["design"])
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


@dataclass
class ComparisonResult:
    out_dir: Path
    markdown: Path
    html: Path
    rows: list[dict[str, Any]]


def compare(paths: Sequence[str | Path], out_dir: str | Path, title: str | None = None) -> ComparisonResult:
    """Write ``out_dir/index.md``, ``index.html``, ``summary.json`` (kind "comparison") and figures."""
    if len(paths) < 2:
        raise ConfigError("compare needs at least two designs (folders of runs)")
    designs = [collect(p) for p in paths]
    names = [d.name for d in designs]
    for d in designs:           # two folders named alike: tell them apart by their parents
        if names.count(d.name) > 1:
            d.name = f"{d.path.resolve().parent.name}/{d.name}"
    rows = [design_row(d) for d in designs]
    diff = differing_params(rows)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out / "figures", ignore_errors=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figs = _figures(designs, rows, out / "figures")
    title = title or "pcmspice: " + " vs ".join(r["design"] for r in rows)
    cols = ["quantity"] + [r["design"] for r in rows]

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
        line("array area (mm²)", "area_mm2", "g3"),
        line("area per synapse (µm²)", "area_per_synapse_um2", "g3"),
        line("up/down asymmetry (mean)", "asymmetry_mean", "g3"),
        line("retention, 10 mV (median)", "retention_10mV_median_seconds", "s"),
        ["worst corner"] + [f"{r['worst_corner']['label']} ({r['worst_corner']['criterion']}: "
                            f"{r['worst_corner']['value']:.4g})" if r["worst_corner"] else "-" for r in rows],
    ]
    for p in diff:
        table.append([f"**{p}** (differs)"] + [f"**{(r.get('cell_params') or {}).get(p, '-')}**" for r in rows])
    blocks = [Block("h1", title),
              Block("p", "Each column is one design: the runs found in its folder. Accuracy is the mean ± sd over "
                         "the training runs (seeds) of the design; energy, efficiency and area come from its power "
                         "runs; asymmetry and retention from the LUTs its training used. Bold rows are the cell "
                         "parameters in which the designs differ."),
              Block("table", columns=cols, rows=table)]
    for r in rows:
        blocks += [Block("h2", f"Design {r['design']}"),
                   Block("ul", items=[f"folder: `{r['path']}`", f"LUTs: `{r.get('lut_dir')}`",
                                      f"data sets: {', '.join(r['datasets']) or '-'}; networks: "
                                      f"{', '.join(r['networks']) or '-'}"])]
    for f in figs:
        blocks.append(Block("img", text=f.removesuffix(".png"), src=f"figures/{f}"))
    md, html_path = out / "index.md", out / "index.html"
    atomic_write_text(md, render_markdown(blocks))
    atomic_write_text(html_path, render_html(blocks, title))
    write_json(out / "summary.json", {"kind": "comparison", "title": title, "designs": rows,
                                      "differing_cell_params": diff, "figures": figs, "versions": versions()})
    return ComparisonResult(out, md, html_path, rows)

"""Reports: what a designer takes to a review, built from run directories.

* :func:`write_power_run` - the output of ``pcmspice power``: summary.json
  (kind "power"), power.md, CSV tables, config.toml and figures.
* :func:`build_report` - ``index.md`` and ``index.html`` from any mix of
  characterization, corners, training, power, co-simulation and LUT
  directories; the first screen gives the verdict (accuracy vs software,
  energy vs GPUs, the worst corner), then every table and figure, then the
  config and provenance of every input.
* :func:`run_pipeline` - ``pcmspice run``: characterize (or use the committed
  LUTs), train, power, report.

A run directory says what it is in its summary.json ``kind``; a training
summary without ``kind`` is recognised by ``analog_test_accuracy``; a folder
of LUT files (cell.lut.npz) or with a corners.csv is recognised by those.
"""
from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
import math
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice import __version__
from pcmspice import power as pw
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.provenance import atomic_write_text, sha256_file, to_jsonable, versions, write_json
from pcmspice.core.units import fmt_si  # noqa: F401  (re-exported: the CLI and tests use report.fmt_si)
from pcmspice.lut.format import CELL_FILE, LutSet, load_lut_set
from pcmspice.power import gpu as power_gpu

# the recipe of the committed LUT population (fresh Monte Carlo runs reuse it with their own size)
KINDS = ("characterization", "corners", "training", "power", "cosim", "luts")
_KIND_ORDER = {"training": 0, "power": 1, "corners": 2, "characterization": 3, "luts": 4, "cosim": 5}
ACCURACY_EQUIVALENT_POINTS = 0.5   # |analog - software| below this counts as equivalent (percentage points)


# --------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------

def fmt_num(v: Any, digits: int = 3) -> str:
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
    return "-" if v is None else f"{100 * float(v):.2f} %"


def fmt_ratio(v: float) -> str:
    return f"{v:,.0f}x" if v >= 10 else f"{v:.2g}x"


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


_COLORS = {
    "array_read": "#1f77b4", "g_shared": "#aec7e8", "adc": "#ff7f0e", "integrator": "#ffbb78", "neuron": "#2ca02c",
    "pulse_drivers": "#98df8a", "routing_buffers": "#d62728", "cell_update_3t1c": "#9467bd", "pcm_program": "#8c564b",
    "g_reset": "#c49c94",
}


def _save(fig, path: Path) -> Path:
    from pcmspice.core.provenance import save_png
    _plt()
    return save_png(fig, path, tight=True)


def figure_power_breakdown(power: dict[str, Any], path: Path) -> Path:
    """Energy per training example by phase and component, and area by component."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
    table = power["energy_per_example_joules"]["by_phase_component"]
    phases = list(pw.PHASES)
    bottom = np.zeros(len(phases))
    for comp in pw.COMPONENTS:
        vals = np.array([table[ph][comp] for ph in phases]) * 1e9
        if vals.sum() <= 0:
            continue
        ax.bar(phases, vals, bottom=bottom, color=_COLORS[comp], label=comp.replace("_", " "))
        bottom += vals
    for x, tot in enumerate(bottom):
        ax.text(x, tot, f"{tot:.3g}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("energy per training example (nJ)")
    ax.set_xlabel("phase (transfer amortized over its interval)")
    total = power["headline"]["energy_per_example_joules"]
    ax.set_title(f"Energy per training example: {fmt_si(total, 'J')} ({power['network']})")
    ax.set_ylim(0, bottom.max() * 1.1)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    area = {k: power["area_m2"][k] for k in pw.AREA_COMPONENTS if k in power["area_m2"]}
    names = list(area)
    ax2.barh(names, [area[n] * 1e6 for n in names], color="#7f7f7f")
    ax2.set_xlabel("area (mm$^2$)")
    ax2.set_title(f"Area: {power['headline']['area_mm2']:.3g} mm$^2$")
    ax2.invert_yaxis()
    fig.tight_layout()
    return _save(fig, path)


def figure_gpu_comparison(power: dict[str, Any], gpus: list[dict[str, Any]], cpu: dict[str, Any] | None,
                          path: Path) -> Path:
    """Energy per training example: this design, the measured CPU, GPUs at peak and modelled."""
    plt = _plt()
    labels, vals, colors = [], [], []
    labels.append("2PCM+3T1C (this model)")
    vals.append(power["headline"]["energy_per_example_joules"])
    colors.append("#2ca02c")
    if cpu:
        labels.append("this CPU, measured (batch 1)")
        vals.append(cpu["energy_per_example_joules"])
        colors.append("#7f7f7f")
    for g in gpus:
        for key, what, col in (("energy_per_example_fp16_peak_joules", "FP16 tensor peak", "#aec7e8"),
                               ("energy_per_example_large_batch_joules", "large batch, modelled", "#1f77b4"),
                               ("energy_per_example_batch1_joules", "batch 1, modelled", "#d62728")):
            labels.append(f"{g['name']}: {what}")
            vals.append(g[key])
            colors.append(col)
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(labels) + 1.4))
    y = np.arange(len(labels))
    ax.barh(y, vals, color=colors)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("energy per training example (J, log scale)")
    ax.set_title(f"Energy per training example of {power['network']}: analog array vs CPU and GPUs")
    for yi, v in zip(y, vals):
        ax.text(v, yi, " " + fmt_si(v, "J"), va="center", fontsize=7)
    ax.set_xlim(min(vals) / 3, max(vals) * 30)
    fig.tight_layout()
    return _save(fig, path)


def figure_corners(df, path: Path) -> Path | None:
    plt = _plt()
    if df is None or len(df) == 0 or "corner" not in df.columns:
        return None
    labels = [f"{r.corner} {r.temp_c:g}°C" if "temp_c" in df.columns else str(r.corner) for r in df.itertuples()]
    panels = []
    acc = _first_col(df, ("analog_test_accuracy", "test_accuracy", "accuracy"))
    if acc:
        panels.append((acc, 100.0, "analog test accuracy (%)"))
    en = _first_col(df, ("energy_per_example_joules",))
    if en:
        panels.append((en, 1e9, "energy per training example (nJ)"))
    if "g_mean_siemens" in df.columns:
        panels.append(("g_mean_siemens", 1e6, "mean g at v_start (uS)"))
    if "dv_up_mean_volts" in df.columns and "dv_down_mean_volts" in df.columns and len(panels) < 3:
        panels.append(("dv_up_mean_volts", 1e3, "mean up step at v_start (mV)"))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8 + 0.1 * len(labels)))
    axes = np.atleast_1d(axes)
    for ax, (col, scale, lab) in zip(axes, panels):
        ax.barh(labels, df[col].astype(float) * scale, color="#1f77b4")
        ax.set_xlabel(lab)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=8)
    axes[0].set_ylabel("corner, temperature")
    fig.suptitle("Process corners and temperatures")
    fig.tight_layout()
    return _save(fig, path)


def figure_luts(luts: LutSet, path: Path, n_show: int = 30) -> Path:
    plt = _plt()
    c = luts.cell
    k = np.linspace(0, c.n_cells - 1, min(n_show, c.n_cells)).astype(int)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(c.vc_volts, c.g_siemens[k].T * 1e6, lw=0.7, color="#1f77b4", alpha=0.6)
    a1.axvline(c.v_start_volts, color="k", ls=":", lw=1)
    a1.set_xlabel("capacitor voltage Vc (V)")
    a1.set_ylabel("read conductance g (uS)")
    a1.set_title(f"3T1C g(Vc), {len(k)} of {c.n_cells} Monte Carlo cells")
    a2.plot(c.vc_volts, c.dv_up_volts[k].T * 1e3, lw=0.7, color="#2ca02c", alpha=0.6)
    a2.plot(c.vc_volts, c.dv_down_volts[k].T * 1e3, lw=0.7, color="#d62728", alpha=0.6)
    a2.axhline(0, color="k", lw=0.5)
    a2.set_xlabel("capacitor voltage Vc (V)")
    a2.set_ylabel("Vc change per pulse (mV)")
    a2.set_title("up (green) and down (red) step per pulse")
    fig.suptitle(f"Lookup tables {luts.name}")
    fig.tight_layout()
    return _save(fig, path)


def _first_col(df, names: Iterable[str]) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


# --------------------------------------------------------------------------------------
# pcmspice power: one run directory
# --------------------------------------------------------------------------------------

def _lut_inputs(lut_dir: Path) -> dict[str, Any]:
    files = {}
    for f in sorted(Path(lut_dir).glob("*.lut.npz")):
        files[f.name] = sha256_file(f)
    return {"path": str(lut_dir), "sha256": files}


def write_power_run(out_dir: str | Path, luts: LutSet | str | Path, network: str | None = None,
                    training: str | Path | None = None, config: pw.PowerConfig | None = None,
                    measure_cpu: bool = True) -> dict[str, Any]:
    """Estimate, compare with GPUs and the measured CPU, write everything to ``out_dir``.

    Returns the summary (also written as ``out_dir/summary.json``, kind "power").
    """
    cfg = config or pw.PowerConfig()
    out = Path(out_dir)
    lut_dir = None
    if not isinstance(luts, LutSet):
        lut_dir = Path(luts)
        luts = load_lut_set(lut_dir)
    est = pw.estimate(luts, network, training, cfg)
    net = pw.network_name(est.network)
    gpus = power_gpu.gpu_table(net, cfg)
    cpu = power_gpu.measure_cpu(net, cfg) if measure_cpu else None
    inputs: dict[str, Any] = {"luts": _lut_inputs(lut_dir) if lut_dir else {"name": luts.name},
                              "lut_provenance": _short_lut_provenance(luts)}
    if training is not None:
        tdir = Path(training)
        s = pw.load_summary(tdir)
        inputs["training"] = {"path": str(tdir), "summary_sha256": sha256_file(tdir / "summary.json"),
                              "config": s.get("config"), "provenance": s.get("provenance")}
    summary = {
        "kind": "power",
        **est.to_dict(),
        "gpu": gpus,
        "gpu_assumptions": power_gpu.gpu_assumptions(cfg),
        "cpu_measured": cpu,
        "time_per_example_seconds": est.latency.time_per_example_seconds,
        "config": cfg.to_dict(),
        "parameters": cfg.describe(),
        "provenance": {"versions": versions(), "inputs": inputs,
                       "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")},
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "summary.json", summary)
    atomic_write_text(out / "config.toml", cfg.to_toml())
    atomic_write_text(out / "breakdown.csv", _breakdown_csv(summary))
    atomic_write_text(out / "gpu.csv", _rows_csv(gpus))
    figure_power_breakdown(summary, out / "power_breakdown.png")
    figure_gpu_comparison(summary, gpus, cpu, out / "power_vs_gpu.png")
    atomic_write_text(out / "power.md", render_markdown(_power_blocks(summary, "")))
    return summary


def _short_lut_provenance(luts: LutSet) -> dict[str, Any]:
    p = luts.cell.provenance
    keep = ("technology", "corner", "temp_c", "vdd_volts", "seed", "n_cells", "sweep_key", "netlist_hashes")
    return {k: p[k] for k in keep if k in p}


def _breakdown_csv(summary: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["phase", *pw.COMPONENTS, "total_joules"])
    table = summary["energy_per_example_joules"]["by_phase_component"]
    for ph in pw.PHASES:
        vals = [table[ph][c] for c in pw.COMPONENTS]
        w.writerow([ph, *(f"{v:.6e}" for v in vals), f"{sum(vals):.6e}"])
    comp = summary["energy_per_example_joules"]["by_component"]
    w.writerow(["total", *(f"{comp[c]:.6e}" for c in pw.COMPONENTS),
                f"{summary['headline']['energy_per_example_joules']:.6e}"])
    return buf.getvalue()


def _rows_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# documents: a list of blocks rendered to Markdown and to HTML
# --------------------------------------------------------------------------------------

@dataclass
class Block:
    kind: str                  # h1 h2 h3 p ul table img details verdict
    text: str = ""
    items: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    src: str = ""


def _md_inline(text: str) -> str:
    return text


def _html_inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    return t


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out += ["#" * int(b.kind[1]) + " " + b.text, ""]
        elif b.kind == "p":
            out += [_md_inline(b.text), ""]
        elif b.kind in ("ul", "verdict"):
            out += [f"- {_md_inline(i)}" for i in b.items] + [""]
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
            out.append("|" + "|".join(" --- " for _ in b.columns) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
        elif b.kind == "img":
            out += [f"![{b.text}]({b.src})", ""]
        elif b.kind == "details":
            out += [f"<details><summary>{html.escape(b.text)}</summary>", "", "```", b.src, "```", "", "</details>",
                    ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.86em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}
.verdict{background:#f4f9f4;border:1px solid #9c9;border-radius:6px;padding:.6em 1.2em;font-size:1.05em}
.verdict li{margin:.3em 0}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em}
details{margin:.4em 0}code{background:#f3f3f3;padding:0 .2em}.small{color:#666;font-size:.85em}
"""

# sets data-images-loaded on <body> once every image has loaded (checked by the browser test)
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-loaded', ok ? 'all' : 'broken');
  document.body.setAttribute('data-images-count', String(imgs.length));
});
"""


def render_html(blocks: Sequence[Block], title: str) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
           f"<script>{_SCRIPT}</script></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{_html_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{_html_inline(b.text)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_html_inline(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "verdict":
            out.append('<div class="verdict"><ul>' + "".join(f"<li>{_html_inline(i)}</li>" for i in b.items)
                       + "</ul></div>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in b.columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "img":
            out.append(f'<figure><img src="{html.escape(b.src)}" alt="{html.escape(b.text)}" loading="eager">'
                       f'<figcaption class="small">{html.escape(b.text)}</figcaption></figure>')
        elif b.kind == "details":
            out.append(f"<details><summary>{html.escape(b.text)}</summary><pre>{html.escape(b.src)}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# run discovery
# --------------------------------------------------------------------------------------

@dataclass
class RunInput:
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
    sj = p / "summary.json"
    if sj.is_file():
        s = pw.load_summary(p)
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


def discover_all(path: str | Path) -> list[RunInput]:
    """Like :func:`discover`; a characterization run with a corners.csv (``pcmspice corners``) gives both."""
    run = discover(path)
    if run.kind == "characterization" and (run.path / "corners.csv").is_file():
        return [run, RunInput("corners", run.path, run.summary)]
    return [run]


def _corners_frame(run: RunInput):
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
    acc = _first_col(df, ("analog_test_accuracy", "test_accuracy", "accuracy"))
    if acc:
        i = int(df[acc].astype(float).idxmin())
        return {"row": df.loc[i].to_dict(), "criterion": f"lowest {acc}", "column": acc}
    en = _first_col(df, ("energy_per_example_joules",))
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


def _corner_label(row: dict[str, Any]) -> str:
    t = row.get("temp_c")
    return f"{row.get('corner')}, {float(t):g} °C" if t is not None else str(row.get("corner"))


# --------------------------------------------------------------------------------------
# report sections
# --------------------------------------------------------------------------------------

def _table_from_pairs(pairs: list[tuple[str, str]], head=("quantity", "value")) -> Block:
    return Block("table", columns=list(head), rows=[[a, b] for a, b in pairs])


def _training_blocks(run: RunInput) -> list[Block]:
    s = run.summary
    pairs = [("network", str(s.get("network", "-"))), ("data set", str(s.get("dataset", "-"))),
             ("mode", str(s.get("mode", "-"))), ("epochs", fmt_num(s.get("epochs"))),
             ("examples trained", fmt_num(s.get("examples_trained"))),
             ("analog test accuracy", fmt_pct(s.get("analog_test_accuracy"))),
             ("software test accuracy (same network)", fmt_pct(s.get("baseline_test_accuracy"))),
             ("analog train accuracy", fmt_pct(s.get("analog_train_accuracy"))),
             ("software train accuracy", fmt_pct(s.get("baseline_train_accuracy"))),
             ("3T1C up / down pulses", f"{fmt_num(s.get('pulses_up_total'))} / {fmt_num(s.get('pulses_down_total'))}"),
             ("transfers", fmt_num(s.get("transfers_total"))),
             ("PCM SET / RESET pulses",
              f"{fmt_num(s.get('pcm_set_pulses_total'))} / {fmt_num(s.get('pcm_reset_pulses_total'))}"),
             ("time per example assumed for leakage", fmt_si(s.get("time_per_example_seconds"), "s"))]
    return [Block("h2", f"Training: {run.path.name}"), _table_from_pairs(pairs)]


def _power_blocks(s: dict[str, Any], fig_prefix: str | None) -> list[Block]:
    h = s["headline"]
    paper = s.get("paper", {})
    blocks = [Block("h2", f"Energy, latency and area: {s['network']}")]
    blocks.append(Block("table", columns=["metric", "training", "inference", "paper's projection"], rows=[
        ["GOP/s/W", fmt_num(h["gops_per_watt_training"]), fmt_num(h["gops_per_watt_inference"]),
         fmt_num(paper.get("gops_per_watt"))],
        ["TOP/s/mm²", fmt_num(h["tops_per_mm2_training"]), fmt_num(h["tops_per_mm2_inference"]),
         fmt_num(paper.get("tops_per_mm2"))],
        ["energy per example", fmt_si(h["energy_per_example_joules"], "J"),
         fmt_si(h["inference_energy_per_example_joules"], "J"), "-"],
        ["time per example", fmt_si(h["training_seconds_per_example"], "s"),
         fmt_si(s["latency"]["inference_seconds_per_example"], "s"), "-"],
        ["throughput", fmt_si(h["throughput_gops_training"] * 1e9, "OP/s"),
         fmt_si(h["throughput_gops_inference"] * 1e9, "OP/s"), "-"],
    ]))
    ops = s["ops_per_example"]
    blocks.append(Block("p", f"Operations per example: {fmt_num(ops['ops_training'])} for training "
                             f"({fmt_num(ops['macs_forward'])} forward and {fmt_num(ops['macs_backward'])} backward "
                             f"multiply-accumulates, {fmt_num(ops['update_products'])} update products, "
                             f"{fmt_num(s['config']['workload']['ops_per_mac'])} operations each), "
                             f"{fmt_num(ops['ops_inference'])} for inference. Area {h['area_mm2']:.3g} mm², "
                             f"power while training {fmt_si(h['power_training_watts'], 'W')}. "
                             f"Time between examples (what the array simulator's leakage uses): "
                             f"**{fmt_si(s['latency']['time_per_example_seconds'], 's')}**."))
    bc = s["energy_per_example_joules"]["by_component"]
    tot = h["energy_per_example_joules"]
    top = sorted(bc.items(), key=lambda kv: -kv[1])[:3]
    area = s["area_m2"]
    ca = s["cell_area_m2"]
    cells_share = (area.get("cells", 0) + area.get("g_shared_cells", 0)) / area["total"]
    cap, tr = ca["capacitor_m2"] * 1e12, ca["transistors_m2"] * 1e12
    if s["config"]["area"]["capacitor_stacked"]:
        cell_text = (f"the {cap:.3g} µm² storage capacitor, stacked above {tr:.3g} µm² of transistors, sets a "
                     "synapse's footprint" if cap >= tr else
                     f"the {tr:.3g} µm² of transistors set a synapse's footprint (capacitor {cap:.3g} µm² above)")
    else:
        cell_text = f"the storage capacitor is {100 * cap / (cap + tr):.0f} % of a synapse's footprint"
    blocks.append(Block("p", "What dominates: " + ", ".join(f"{k.replace('_', ' ')} {100 * v / tot:.0f} %"
                                                             for k, v in top)
                        + f" of the training energy; the cell arrays take {100 * cells_share:.0f} % of the area; "
                        + cell_text + "."))
    if fig_prefix is not None:
        blocks.append(Block("img", "Energy per training example by phase and component; area by component",
                            src=f"{fig_prefix}power_breakdown.png"))
    table = s["energy_per_example_joules"]["by_phase_component"]
    comps = [c for c in pw.COMPONENTS if any(table[ph][c] for ph in pw.PHASES)]
    rows = [[ph, *(fmt_si(table[ph][c], "J") for c in comps), fmt_si(sum(table[ph].values()), "J")]
            for ph in pw.PHASES]
    rows.append(["total", *(fmt_si(bc[c], "J") for c in comps), fmt_si(h["energy_per_example_joules"], "J")])
    blocks += [Block("h3", "Energy per training example, by phase and component"),
               Block("table", columns=["phase", *(c.replace("_", " ") for c in comps), "total"], rows=rows)]
    lat = s["latency"]
    blocks += [Block("h3", "Latency"), _table_from_pairs([
        ("forward", fmt_si(lat["forward_seconds"], "s")), ("backward", fmt_si(lat["backward_seconds"], "s")),
        ("update", fmt_si(lat["update_seconds"], "s")),
        ("one transfer of every cell", fmt_si(lat["transfer_event_seconds"], "s")),
        ("transfer, amortized per example", fmt_si(lat["transfer_per_example_seconds"], "s")),
        ("time per example (forward + backward + update)", fmt_si(lat["time_per_example_seconds"], "s")),
        ("training time per example incl. transfers", fmt_si(lat["training_seconds_per_example"], "s"))],
        head=("phase", "time"))]
    blocks += [Block("h3", "Area"), Block("p", f"One synapse (2 PCM + 3T1C): {ca['total_m2'] * 1e12:.3g} µm² "
                                               f"(transistors {ca['transistors_m2'] * 1e12:.3g} µm², storage capacitor "
                                               f"{ca['capacitor_m2'] * 1e12:.3g} µm²)."),
               _table_from_pairs([(k.replace("_", " "), f"{area[k] * 1e6:.4g} mm²")
                                  for k in (*pw.AREA_COMPONENTS, "total") if k in area], head=("component", "area"))]
    gpus, cpu = s.get("gpu") or [], s.get("cpu_measured")
    if gpus:
        blocks.append(Block("h3", "Against GPUs and this machine's CPU (same network, same operations)"))
        if fig_prefix is not None:
            blocks.append(Block("img", "Energy per training example: this design, the measured CPU and GPUs",
                                src=f"{fig_prefix}power_vs_gpu.png"))
        e0 = h["energy_per_example_joules"]
        rows = [["2PCM+3T1C (this model)", "-", "-", fmt_si(e0, "J"), "-", "-", "-", "-"]]
        for g in gpus:
            rows.append([g["name"], f"{g['fp32_tflops']:g} / {g['fp16_tensor_tflops']:g}", f"{g['board_power_watts']:g}",
                         fmt_si(g["energy_per_example_fp16_peak_joules"], "J"),
                         fmt_si(g["energy_per_example_batch1_joules"], "J"), f"{100 * g['utilization_batch1']:.3g} %",
                         fmt_si(g["energy_per_example_large_batch_joules"], "J"),
                         f"{100 * g['utilization_large_batch']:.3g} %"])
        if cpu:
            rows.append(["this CPU, measured (batch 1)", "-", f"{cpu['watts_per_core']:g} per core", "-",
                         fmt_si(cpu["energy_per_example_joules"], "J"), "-", "-", "-"])
        blocks.append(Block("table", columns=["device", "peak TFLOPS FP32 / FP16 tensor", "board W",
                                              "J/example at FP16 peak", "J/example batch 1",
                                              "FP32 utilization batch 1", "J/example large batch",
                                              "FP32 utilization large batch"], rows=rows))
        if cpu:
            blocks.append(Block("p", f"Measured here: {cpu['name']}: {fmt_si(cpu['seconds_per_example'], 's')} per "
                                     f"example, {fmt_si(cpu['energy_per_example_joules'], 'J')} per example, "
                                     f"{cpu['gops_per_watt']:.3g} GOP/s/W. Method: {cpu['method']}."))
        blocks.append(Block("ul", items=[*s.get("gpu_assumptions", []), *(g["name"] + ": " + g["source"] for g in gpus)]))
    d = s.get("devices", {})
    if d:
        rc = d.get("read_energy_check", {})
        pairs = [("LUT set", str(d.get("lut"))), ("3T1C g at v_start (mean)", fmt_si(d["g_cell_siemens"], "S")),
                 ("PCM conductance during reads (mean)", fmt_si(d["g_pcm_siemens"], "S")),
                 ("energy per up / down pulse (SPICE)",
                  f"{fmt_si(d['e_up_joules'], 'J')} / {fmt_si(d['e_down_joules'], 'J')}"),
                 ("energy per PCM SET / RESET pulse",
                  f"{fmt_si(d['e_set_joules'], 'J')} / {fmt_si(d['e_reset_joules'], 'J')}"),
                 ("one full read of g: V²·g·t (this model)", fmt_si(rc.get("model_e_read_cell_joules"), "J"))]
        if rc.get("lut_e_read_cell_at_read_time_joules") is not None:
            pairs.append(("one read of g: SPICE (LUT, scaled to the read time)",
                          fmt_si(rc["lut_e_read_cell_at_read_time_joules"], "J")))
        blocks += [Block("h3", "Device costs from the characterization"), _table_from_pairs(pairs)]
    wl = s.get("workload", {})
    blocks += [Block("h3", "Counts and notes"), Block("ul", items=[
        f"update pulses per example: {fmt_num(wl.get('pulses_up_per_example'))} up, "
        f"{fmt_num(wl.get('pulses_down_per_example'))} down; cell transfers per example "
        f"{fmt_num(wl.get('cell_transfers_per_example'))}; PCM SET {fmt_num(wl.get('set_pulses_per_example'))} and "
        f"RESET {fmt_num(wl.get('reset_pulses_per_example'))} per example (source: {wl.get('source')})",
        *s.get("notes", [])])]
    params = s.get("parameters") or []
    if params:
        text = "\n".join(f"{r['parameter']} = {r['value']} [{r['unit']}; {r['range']}]  # {r['source']}" for r in params)
        blocks.append(Block("details", "All power parameters with their sources (change with --set or --config)",
                            src=text))
    return blocks


def _corners_blocks(run: RunInput, df, fig: str | None) -> list[Block]:
    blocks = [Block("h2", f"Corners: {run.path.name}")]
    if df is None:
        return blocks + [Block("p", "No corner table found.")]
    df = df.drop(columns=[c for c in ("lut_dir",) if c in df.columns])
    cols = list(df.columns)
    rows = []
    for r in df.itertuples(index=False):
        row = []
        for c, v in zip(cols, r):
            if isinstance(v, (float, np.floating)) and "accuracy" in c:
                row.append(fmt_pct(v))
            elif isinstance(v, (float, np.floating)) and c.endswith("_joules"):
                row.append(fmt_si(v, "J"))
            elif isinstance(v, (float, np.floating)) and c.endswith("_siemens"):
                row.append(fmt_si(v, "S"))
            elif isinstance(v, (float, np.floating)) and c.endswith("_volts"):
                row.append(fmt_si(v, "V"))
            elif isinstance(v, (float, np.floating)) and c.endswith("_seconds"):
                row.append(fmt_si(v, "s"))
            else:
                row.append(fmt_num(v))
        rows.append(row)
    blocks.append(Block("table", columns=cols, rows=rows))
    w = worst_corner(df)
    if w:
        blocks.append(Block("p", f"Worst corner ({w['criterion']}): **{_corner_label(w['row'])}**."))
    if fig:
        blocks.append(Block("img", "Corners and temperatures", src=fig))
    return blocks


def _characterization_blocks(run: RunInput) -> list[Block]:
    s = run.summary
    blocks = [Block("h2", f"Characterization: {run.path.name}")]
    cfg = s.get("config", {})
    if cfg:
        blocks.append(Block("p", f"Technology {cfg.get('technology', '-')}, {fmt_num(cfg.get('n_cells'))} Monte Carlo "
                                 f"cells, seed {cfg.get('seed', '-')}, corners {', '.join(map(str, cfg.get('corners', [])))}, "
                                 f"temperatures {', '.join(f'{t:g}' for t in cfg.get('temps_c', []))} °C."))
    combos = s.get("combos") or []
    if combos:
        keys = [k for k in combos[0] if k not in ("lut_dir",)]
        rows = [[_fmt_by_name(k, c.get(k)) for k in keys] for c in combos]
        blocks.append(Block("table", columns=keys, rows=rows))
    return blocks


def _fmt_by_name(name: str, v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        for suffix, unit in (("_joules", "J"), ("_siemens", "S"), ("_volts", "V"), ("_seconds", "s")):
            if name.endswith(suffix):
                return fmt_si(v, unit)
    return fmt_num(v)


def _lut_blocks(run: RunInput, luts: LutSet, fig: str | None) -> list[Block]:
    c, p = luts.cell, luts.pcm
    cells = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    g, up, dn = c.g(cells, v0), c.step_up(cells, v0), c.step_down(cells, v0)
    prov = c.provenance
    pairs = [("cells / PCM devices", f"{c.n_cells} / {p.n_devices}"),
             ("technology, corner, temperature",
              f"{prov.get('technology', '-')}, {prov.get('corner', '-')}, {prov.get('temp_c', '-')} °C"),
             ("g at v_start (mean ± sd)", f"{fmt_si(g.mean(), 'S')} ± {fmt_si(g.std(), 'S')}"),
             ("up step at v_start (mean ± sd)", f"{fmt_si(up.mean(), 'V')} ± {fmt_si(up.std(), 'V')}"),
             ("down step at v_start (mean ± sd)", f"{fmt_si(dn.mean(), 'V')} ± {fmt_si(dn.std(), 'V')}"),
             ("energy per up / down pulse",
              f"{fmt_si(c.e_up_joules.mean(), 'J')} / {fmt_si(c.e_down_joules.mean(), 'J')}"),
             ("PCM SET / RESET energy", f"{fmt_si(p.e_set_joules.mean(), 'J')} / {fmt_si(p.e_reset_joules.mean(), 'J')}")]
    blocks = [Block("h2", f"Lookup tables: {run.path.name}"), _table_from_pairs(pairs)]
    if fig:
        blocks.append(Block("img", "3T1C read conductance and per-pulse steps vs Vc", src=fig))
    return blocks


_COSIM_KEYS = ("passed", "vc_rms_error_volts", "vc_max_error_volts", "vc_bound_volts", "prediction_agreement",
               "prediction_agreement_bound", "test_accuracy_spice", "test_accuracy_lut", "weight_rms_error",
               "weight_rms", "transfers", "polarity_inversions", "pulses_total", "spice_seconds_per_example",
               "lut_seconds_per_example", "spice_over_lut_time")


def _cosim_blocks(run: RunInput) -> list[Block]:
    s = run.summary
    keys = [k for k in _COSIM_KEYS if k in s] or [
        k for k, v in s.items() if isinstance(v, (int, float, str)) and k != "kind"][:40]
    pairs = [(k.replace("_", " "), str(s[k]) if isinstance(s[k], bool) else _fmt_by_name(k, s[k])) for k in keys]
    return [Block("h2", f"SPICE in the loop: {run.path.name}"), _table_from_pairs(pairs)]


def _cosim_verdict(run: RunInput) -> str:
    s = run.summary
    if "passed" not in s:
        return f"SPICE in the loop ({run.path.name}): see its section"
    parts = [f"**SPICE in the loop: {'agrees with' if s['passed'] else 'DISAGREES with'} the LUT simulator**"]
    if "vc_rms_error_volts" in s and "vc_bound_volts" in s:
        parts.append(f"Vc rms error {fmt_si(s['vc_rms_error_volts'], 'V')} (bound {fmt_si(s['vc_bound_volts'], 'V')})")
    if "prediction_agreement" in s:
        parts.append(f"prediction agreement {fmt_pct(s['prediction_agreement'])}")
    return parts[0] + " (" + ", ".join(parts[1:]) + ")" if len(parts) > 1 else parts[0]


def _verdict(runs: list[RunInput], corner_frames: dict[Path, Any]) -> tuple[list[str], dict[str, Any]]:
    items: list[str] = []
    head: dict[str, Any] = {}
    train = next((r for r in runs if r.kind == "training"), None)
    if train:
        s = train.summary
        a, b = s.get("analog_test_accuracy"), s.get("baseline_test_accuracy")
        if a is not None and b is not None:
            d = 100 * (float(a) - float(b))
            word = ("equivalent to software" if abs(d) <= ACCURACY_EQUIVALENT_POINTS
                    else f"{abs(d):.2f} points {'below' if d < 0 else 'above'} software")
            items.append(f"**Accuracy: {fmt_pct(a)} analog vs {fmt_pct(b)} software** ({word}; "
                         f"{s.get('network', '?')} on {s.get('dataset', '?')}, {fmt_num(s.get('epochs'))} "
                         f"epoch{'' if s.get('epochs') == 1 else 's'})")
            head.update(analog_test_accuracy=float(a), baseline_test_accuracy=float(b), accuracy_delta_points=d)
        else:
            items.append("Accuracy: the training summary has no test accuracies")
    else:
        items.append("Accuracy: no training run in this report")
    power = next((r for r in runs if r.kind == "power"), None)
    if power:
        s = power.summary
        h = s["headline"]
        e = h["energy_per_example_joules"]
        gpus = s.get("gpu") or []
        parts = [f"**Energy: {fmt_si(e, 'J')} per training example, {fmt_num(h['gops_per_watt_training'])} GOP/s/W "
                 f"and {h['tops_per_mm2_training']:.3g} TOP/s/mm² training** (paper's projection: "
                 f"{fmt_num(pw.PAPER_GOPS_PER_WATT)} GOP/s/W, {pw.PAPER_TOPS_PER_MM2:g} TOP/s/mm²)"]
        if gpus:
            best_peak = min(gpus, key=lambda g: g["energy_per_example_fp16_peak_joules"])
            v100 = next((g for g in gpus if g["name"].startswith("V100")), gpus[0])
            parts.append(f"{fmt_ratio(best_peak['energy_per_example_fp16_peak_joules'] / e)} less energy than an "
                         f"{best_peak['name']} at its FP16 tensor peak, "
                         f"{fmt_ratio(v100['energy_per_example_batch1_joules'] / e)} less than a {v100['name']} "
                         "at batch 1 (modelled)")
            head.update(energy_vs_best_gpu_peak=best_peak["energy_per_example_fp16_peak_joules"] / e,
                        energy_vs_v100_batch1=v100["energy_per_example_batch1_joules"] / e)
        cpu = s.get("cpu_measured")
        if cpu:
            parts.append(f"{fmt_ratio(cpu['energy_per_example_joules'] / e)} less than this machine's CPU (measured)")
        items.append("; ".join(parts))
        head.update(energy_per_example_joules=e, gops_per_watt_training=h["gops_per_watt_training"],
                    tops_per_mm2_training=h["tops_per_mm2_training"],
                    gops_per_watt_inference=h["gops_per_watt_inference"],
                    tops_per_mm2_inference=h["tops_per_mm2_inference"],
                    time_per_example_seconds=s["latency"]["time_per_example_seconds"])
    else:
        items.append("Energy: no power estimate in this report")
    worst = None
    for r in runs:
        if r.kind == "corners":
            w = worst_corner(corner_frames.get(r.path))
            if w and (worst is None or "accuracy" in w["criterion"]):
                worst = w
    if worst:
        row = worst["row"]
        val = row.get(worst["column"])
        shown = fmt_pct(val) if "accuracy" in worst["column"] else _fmt_by_name(worst["column"], val)
        items.append(f"**Worst corner: {_corner_label(row)}** ({worst['criterion']}: {shown})")
        head.update(worst_corner=str(row.get("corner")), worst_corner_temp_c=row.get("temp_c"),
                    worst_corner_criterion=worst["criterion"])
    else:
        items.append("Worst corner: no corner run in this report")
    for r in runs:
        if r.kind == "cosim":
            items.append(_cosim_verdict(r))
            if "passed" in r.summary:
                head["cosim_passed"] = bool(r.summary["passed"])
    return items, head


# --------------------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------------------

@dataclass
class ReportResult:
    out_dir: Path
    markdown: Path
    html: Path
    headline: dict[str, Any]
    verdict: list[str]


def _copy_pngs(run: RunInput, fig_dir: Path, prefix: str) -> list[str]:
    out = []
    for src in sorted(list(run.path.glob("*.png")) + list((run.path / "figures").glob("*.png"))):
        dst = fig_dir / f"{prefix}{src.name}"
        shutil.copyfile(src, dst)
        out.append(dst.name)
    return out


def _title_from_png(name: str) -> str:
    stem = Path(name).stem
    return stem.replace("_", " ")


def _display_path(p: Path) -> str:
    """Relative to the working directory when inside it (reports get committed), else absolute."""
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p.resolve())


def build_report(run_dirs: Sequence[str | Path], out_dir: str | Path, title: str | None = None) -> ReportResult:
    """Write ``out_dir/index.md`` and ``out_dir/index.html`` (figures in ``out_dir/figures``)."""
    if not run_dirs:
        raise ConfigError("no run directories given to the report")
    runs = [r for d in run_dirs for r in discover_all(d)]
    n_dirs = len({r.path for r in runs})
    runs.sort(key=lambda r: _KIND_ORDER[r.kind])
    out = Path(out_dir)
    if any(out.resolve() == r.path.resolve() for r in runs):
        raise ConfigError(f"{out}: the report folder must not be one of its input run directories")
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for old in fig_dir.glob("*.png"):   # figures of an earlier build of this report (never other files)
        if re.match(r"^\d\d_(%s)_" % "|".join(KINDS), old.name):
            old.unlink()
    corner_frames = {r.path: _corners_frame(r) for r in runs if r.kind == "corners"}
    verdict, head = _verdict(runs, corner_frames)
    title = title or f"pcmspice report: {out.name}"
    blocks: list[Block] = [
        Block("h1", title),
        Block("p", f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by pcmspice "
                   f"{__version__} from {n_dirs} run director{'y' if n_dirs == 1 else 'ies'}."),
        Block("h2", "Verdict"), Block("verdict", items=verdict)]
    used = set()
    png_done: set[Path] = set()
    for i, r in enumerate(runs):
        prefix = f"{i:02d}_{r.kind}_"
        if r.kind == "training":
            blocks += _training_blocks(r)
        elif r.kind == "power":
            own = ("power_breakdown.png", "power_vs_gpu.png")
            have = all((r.path / n).is_file() for n in own)
            if have:
                used.update(own)
                for n in own:
                    shutil.copyfile(r.path / n, fig_dir / f"{prefix}{n}")
            blocks += _power_blocks(r.summary, f"figures/{prefix}" if have else None)
        elif r.kind == "corners":
            df = corner_frames[r.path]
            fig = figure_corners(df, fig_dir / f"{prefix}corners_overview.png") if df is not None else None
            blocks += _corners_blocks(r, df, f"figures/{fig.name}" if fig else None)
        elif r.kind == "characterization":
            blocks += _characterization_blocks(r)
        elif r.kind == "luts":
            luts = load_lut_set(r.path)
            fig = figure_luts(luts, fig_dir / f"{prefix}lut_curves.png")
            blocks += _lut_blocks(r, luts, f"figures/{fig.name}")
        elif r.kind == "cosim":
            blocks += _cosim_blocks(r)
        if r.path in png_done:
            continue
        png_done.add(r.path)
        for name in _copy_pngs(r, fig_dir, prefix):
            if name[len(prefix):] in used and r.kind == "power":
                continue
            blocks.append(Block("img", f"{r.kind} {r.path.name}: {_title_from_png(name[len(prefix):])}",
                                src=f"figures/{name}"))
    blocks.append(Block("h2", "Inputs, configuration and provenance"))
    listed: set[Path] = set()
    for r in runs:
        if r.path in listed:
            continue
        listed.add(r.path)
        info = {"path": _display_path(r.path), "kind": r.kind}
        if r.kind == "luts":
            info["lut_provenance"] = load_lut_set(r.path).cell.provenance
        else:
            for k in ("config", "provenance", "versions", "netlist_hashes", "sweep_key"):
                if k in r.summary:
                    info[k] = r.summary[k]
            if (r.path / "summary.json").is_file():
                info["summary_sha256"] = sha256_file(r.path / "summary.json")
        blocks.append(Block("details", f"{r.label}: config and provenance",
                            src=json.dumps(to_jsonable(info), indent=2, sort_keys=True, default=str)))
    blocks.append(Block("details", "This report's own environment",
                        src=json.dumps(versions(), indent=2, sort_keys=True)))
    md = render_markdown(blocks)
    page = render_html(blocks, title)
    atomic_write_text(out / "index.md", md)
    atomic_write_text(out / "index.html", page)
    write_json(out / "report.json", {"kind": "report", "headline": head, "verdict": verdict,
                                     "inputs": [{"kind": r.kind, "path": str(r.path)} for r in runs],
                                     "versions": versions()})
    return ReportResult(out, out / "index.md", out / "index.html", head, verdict)


def headline_lines(res: ReportResult) -> list[str]:
    """The three numbers `pcmspice run` prints: accuracy, energy efficiency, area efficiency."""
    h = res.headline
    lines = []
    if "analog_test_accuracy" in h:
        lines.append(f"accuracy: {fmt_pct(h['analog_test_accuracy'])} analog vs "
                     f"{fmt_pct(h['baseline_test_accuracy'])} software")
    if "gops_per_watt_training" in h:
        lines.append(f"energy: {fmt_num(h['gops_per_watt_training'])} GOP/s/W training "
                     f"({fmt_si(h['energy_per_example_joules'], 'J')} per example; paper "
                     f"{fmt_num(pw.PAPER_GOPS_PER_WATT)})")
        lines.append(f"area efficiency: {h['tops_per_mm2_training']:.3g} TOP/s/mm² training "
                     f"(paper {pw.PAPER_TOPS_PER_MM2:g})")
    if "worst_corner" in h:
        lines.append(f"worst corner: {h['worst_corner']} ({h['worst_corner_criterion']})")
    return lines


# --------------------------------------------------------------------------------------
# pcmspice run
# --------------------------------------------------------------------------------------

def _lut_dir_of_sweep(res: Any) -> Path:
    dirs = list(res.lut_dirs.values())
    if len(dirs) != 1:
        raise PcmSpiceError(f"the default sweep produced {len(dirs)} LUT sets; expected one (tt, 27 C)")
    return Path(dirs[0])


def _characterize_step(out: Path, fresh_mc: int, seed: int, jobs: int, progress: bool) -> tuple[Path, Path]:
    """A fresh Monte Carlo of the default cell (generic65, tt, 27 C): (run dir, LUT dir)."""
    import dataclasses as dc

    from pcmspice.characterize import sweep as ch  # imported here: it pulls in the SPICE layers
    if paths.default_sweep().is_file():
        sweep = ch.SweepConfig.from_toml(paths.default_sweep())
    else:
        sweep = ch.SweepConfig(name="default", technology="generic65", corners=("tt",), temps_c=(27.0,))
    sweep = dc.replace(sweep, corners=("tt",), temps_c=(27.0,), n_cells=fresh_mc, seed=seed)
    run_dir = out / "characterize"
    res = ch.run_sweep(sweep, run_dir, jobs=jobs, progress=progress)
    return run_dir, _lut_dir_of_sweep(res)


def _train_step(lut_dir: Path, out: Path, dataset: str, epochs: int | None, network: str | None, seed: int,
                cfg: pw.PowerConfig, progress: bool, echo: Callable[[str], Any],
                transfer_every: int | None = None) -> Path:
    """Train on ``lut_dir`` with pcmspice.train.loop, leakage timed by the latency model; returns the run dir."""
    from pcmspice.train import loop as train
    from pcmspice.train.datasets import load_dataset
    lut_set = load_lut_set(lut_dir)
    tcfg = train.TrainConfig(dataset=dataset, seed=seed, luts=str(lut_dir))
    tcfg = tcfg.replace(network=network or train.default_network(load_dataset(dataset)))
    if epochs is not None:
        tcfg = tcfg.replace(epochs=epochs)
    if transfer_every is not None:
        tcfg = tcfg.replace(array=tcfg.array.replace(transfer_every=transfer_every))
    # the chip's time per example with the training's own array settings (pulse slots, transfers)
    pcfg = cfg.with_overrides(dict(pw.overrides_from_training_config(tcfg.to_dict())))
    tpe = pw.time_per_example_seconds(tcfg.network, pcfg, lut_set)
    tcfg = tcfg.replace(array=tcfg.array.replace(time_per_example_seconds=tpe))
    echo(f"[2/4] training {tcfg.network} on {dataset} for {tcfg.epochs} epochs (time per example for leakage: "
         f"{fmt_si(tpe, 's')})")
    res = train.train(tcfg, lut_set, progress=progress)
    train.save_run(res, out)
    return out


def run_pipeline(out_dir: str | Path = "runs/default", report_dir: str | Path | None = None,
                 luts: str | Path | None = None, fresh_mc: int | None = None, dataset: str = "mnist5k",
                 epochs: int | None = None, network: str | None = None, seed: int = 1, jobs: int = 2,
                 transfer_every: int | None = None, config: pw.PowerConfig | None = None, measure_cpu: bool = True, progress: bool = True,
                 echo: Callable[[str], Any] = print) -> ReportResult:
    """Characterize (or take the committed LUTs), train, cost, report; returns the report."""
    import time
    cfg = config or pw.PowerConfig()
    out = Path(out_dir)
    t0 = time.perf_counter()
    inputs: list[Path] = []
    # 1. lookup tables
    if luts is not None:
        lut_dir = Path(luts)
        inputs.append(lut_dir)
        echo(f"[1/4] LUTs: {lut_dir}")
    elif fresh_mc is not None or not (paths.default_lut_dir() / CELL_FILE).is_file():
        n = fresh_mc or 100
        echo(f"[1/4] characterizing a fresh Monte Carlo population of {n} cells (generic65, tt, 27 C)")
        run_dir, lut_dir = _characterize_step(out, n, seed, jobs, progress)
        inputs.append(run_dir)
    else:
        lut_dir = paths.default_lut_dir()
        inputs.append(lut_dir)
        echo(f"[1/4] LUTs: the committed population {lut_dir}")
    # 2. training, with the latency model's time per example for leakage
    train_dir = _train_step(lut_dir, out / "train", dataset, epochs, network, seed, cfg, progress, echo,
                            transfer_every)
    inputs.append(train_dir)
    # 3. power
    echo("[3/4] energy, latency and area")
    write_power_run(out / "power", lut_dir, network, train_dir, cfg, measure_cpu=measure_cpu)
    inputs.append(out / "power")
    # 4. report
    echo("[4/4] report")
    res = build_report(inputs, Path(report_dir) if report_dir else out / "report",
                       title="pcmspice: the default cell (generic65, tt, 27 °C) trained on " + dataset)
    echo(f"done in {time.perf_counter() - t0:.0f} s")
    return res

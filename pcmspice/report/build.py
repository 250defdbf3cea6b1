"""A report from run directories: what a designer takes to a review.

:func:`build_report` writes ``index.md`` and ``index.html`` (figures in
``figures/``, and ``report.json`` with the headline numbers) from any mix of
characterization, corners, training, power, co-simulation and LUT
directories; the first screen gives the verdict (accuracy vs software, energy
vs GPUs, the worst corner), then every table and figure, then the config and
provenance of every input.  :func:`headline_lines` are the numbers
``pcmspice run`` prints.
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice import __version__
from pcmspice.core.document import Block, render_html, render_markdown
from pcmspice.core.errors import ConfigError
from pcmspice.core.outputs import atomic_dir, refuse_overlap, run_key
from pcmspice.core.provenance import atomic_write_text, sha256_file, to_jsonable, versions, write_json
from pcmspice.core.units import fmt_num, fmt_pct, fmt_ratio, fmt_si
from pcmspice.lut.format import load_lut_set
from pcmspice.power import model as pw
from pcmspice.power.outputs import power_blocks
from pcmspice.report import drift as drift_verdict
from pcmspice.report.blocks import (
    characterization_blocks,
    corners_blocks,
    cosim_blocks,
    fmt_by_name,
    lut_blocks,
    seeds_blocks,
    training_blocks,
)
from pcmspice.report.discover import RunInput, corner_label, corners_frame, discover_all, worst_corner
from pcmspice.report.figures import figure_corners, figure_luts
from pcmspice.report.headline import (
    ended_after_transfer_item,
    lut_label,
    pcm_caveat_item,
    training_groups,
    worst_area,
    worst_group,
    worst_power,
)

_KIND_ORDER = {"training": 0, "seeds": 1, "power": 2, "corners": 3, "characterization": 4, "luts": 5, "cosim": 6}
ACCURACY_EQUIVALENT_POINTS = 0.5   # |analog - software| below this counts as equivalent (percentage points)


def cosim_verdict(run: RunInput) -> str:
    """The verdict line of a co-simulation run."""
    s = run.summary
    if "passed" not in s:
        return f"SPICE in the loop ({run.path.name}): see its section"
    parts = [f"**SPICE in the loop: {'agrees with' if s['passed'] else 'DISAGREES with'} the LUT simulator**"]
    if "vc_rms_error_volts" in s and "vc_bound_volts" in s:
        parts.append(f"Vc rms error {fmt_si(s['vc_rms_error_volts'], 'V')} (bound {fmt_si(s['vc_bound_volts'], 'V')})")
    if "prediction_agreement" in s:
        parts.append(f"prediction agreement {fmt_pct(s['prediction_agreement'])}")
    return parts[0] + " (" + ", ".join(parts[1:]) + ")" if len(parts) > 1 else parts[0]


def _gap_text(gaps: list[float]) -> str:
    import statistics
    g = [float(x) for x in gaps if x is not None]
    if len(g) < 2:
        return f"{g[0]:+.2f} pp" if g else "-"
    return f"{statistics.mean(g):+.2f} ± {statistics.stdev(g):.2f} pp over {len(g)} seeds"


def verdict(runs: list[RunInput], corner_frames: dict[Path, Any]) -> tuple[list[str], dict[str, Any]]:
    """The verdict lines (Markdown) and the headline numbers of ``runs`` (corner tables in ``corner_frames``)."""
    items: list[str] = []
    head: dict[str, Any] = {}
    groups = training_groups(runs)
    worst_g = worst_group(groups)
    if worst_g:
        s = worst_g.runs[0].summary
        a, b = worst_g.mean, worst_g.values("baseline_test_accuracy")
        n = len(worst_g.runs)
        acc = f"{100 * a:.2f} ± {100 * worst_g.sd:.2f} %" if n > 1 else fmt_pct(a)
        where = []
        if len(groups) > 1:
            where.append(f"the worst of {len(groups)} corners: {worst_g.label or worst_g.runs[0].path.name}")
        elif worst_g.label:
            where.append(f"corner {worst_g.label}")
        if n > 1:
            where.append(f"mean ± sd over {n} seeds")
        lead = f"Accuracy ({'; '.join(where)})" if where else "Accuracy"
        if b:
            bm = sum(b) / len(b)
            d = 100 * (a - bm)
            word = ("equivalent to software" if abs(d) <= ACCURACY_EQUIVALENT_POINTS
                    else f"{abs(d):.2f} points {'below' if d < 0 else 'above'} software")
            items.append(f"**{lead}: {acc} analog vs {fmt_pct(bm)} software** ({word}; "
                         f"{s.get('network', '?')} on {s.get('dataset', '?')}, {fmt_num(s.get('epochs'))} "
                         f"epoch{'' if s.get('epochs') == 1 else 's'})")
            head.update(analog_test_accuracy=a, baseline_test_accuracy=bm, accuracy_delta_points=d)
        else:
            items.append(f"**{lead}: {acc} analog** (no software baseline)")
            head.update(analog_test_accuracy=a)
        head.update(analog_test_accuracy_sd=worst_g.sd, accuracy_seeds=n, accuracy_groups=len(groups))
        if worst_g.label:
            head["accuracy_corner"] = worst_g.label
        caveat, n_bad = pcm_caveat_item(runs)
        head["pcm_trained"] = n_bad == 0
        if caveat:
            items.append(caveat)
            head["pcm_untrained_runs"] = n_bad
        ended = ended_after_transfer_item(runs)
        head["ended_after_transfer"] = ended is not None
        if ended:
            items.append(ended)
    elif any(r.kind == "training" for r in runs):
        items.append("Accuracy: the training summary has no test accuracies")
    else:
        items.append("Accuracy: no training run in this report")
    training = [r for r in runs if r.kind == "training" and r.summary.get("mode", "cell") != "ideal"]
    if training:   # where the paper's scheme and the remedies hold over the unknown drift onset (issue 20)
        table, why = drift_verdict.load()
        if table is not None:
            items.append(drift_verdict.verdict_item(table, training[0].summary.get("drift_t0_seconds")))
        elif why:
            items.append(f"Drift onset t0: the committed drift verdict table is not used ({why})")
    for r in (r for r in runs if r.kind == "seeds"):
        gaps = [f"{x['task']} {_gap_text(x['gap'])}" for x in r.summary.get("rows", []) if x["variant"] == "default"]
        if gaps:
            items.append(f"**Over seeds (analog - software, the defaults): {'; '.join(gaps)}** (see *Accuracy over "
                         f"seeds* for the levers)")
    power, power_corner = worst_power(runs)
    if power:
        s = power.summary
        h = s["headline"]
        e = h["energy_per_example_joules"]
        gpus = s.get("gpu") or []
        n_power = sum(1 for r in runs if r.kind == "power")
        tops = worst_area(runs)
        at = (f" (the worst of {n_power} corners: {power_corner or power.path.name})" if n_power > 1 else
              f" (corner {power_corner})" if power_corner else "")
        parts = [f"**Energy{at}: {fmt_si(e, 'J')} per training example, {fmt_num(h['gops_per_watt_training'])} "
                 f"GOP/s/W and {tops:.3g} TOP/s/mm² training** (paper's projection: "
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
        if power_corner:
            head["energy_corner"] = power_corner
        head.update(energy_per_example_joules=e, gops_per_watt_training=h["gops_per_watt_training"],
                    tops_per_mm2_training=tops,
                    gops_per_watt_inference=h["gops_per_watt_inference"],
                    tops_per_mm2_inference=h["tops_per_mm2_inference"],
                    time_per_example_seconds=s["latency"]["time_per_example_seconds"],
                    time_per_example_incl_transfers_seconds=s["latency"]["training_seconds_per_example"])
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
        shown = (f"{float(val):.2f} %" if worst["column"].endswith("_percent") else fmt_pct(val)
                 if "accuracy" in worst["column"] else fmt_by_name(worst["column"], val))
        items.append(f"**Worst corner: {corner_label(row)}** ({worst['criterion']}: {shown})")
        head.update(worst_corner=str(row.get("corner")), worst_corner_temp_c=row.get("temp_c"),
                    worst_corner_criterion=worst["criterion"])
    else:
        items.append("Worst corner: no corner run in this report")
    for r in runs:
        if r.kind == "cosim":
            items.append(cosim_verdict(r))
            if "passed" in r.summary:
                head["cosim_passed"] = bool(r.summary["passed"])
    return items, head


@dataclass
class ReportResult:
    """Where a report was written, its headline numbers and its verdict lines."""
    out_dir: Path
    markdown: Path
    html: Path
    headline: dict[str, Any]
    verdict: list[str]


def _inside(src: Path, root: Path) -> bool:
    """Whether ``src`` (after following every link) is a file inside ``root``."""
    try:
        src.resolve(strict=True).relative_to(root.resolve())
    except (OSError, ValueError):
        return False
    return src.resolve().is_file()


def _copy_figure(src: Path, dst: Path, root: Path, skipped: list[str]) -> bool:
    """Copy one figure of a run; a link that leads out of the run folder is skipped with a note."""
    if not _inside(src, root):
        skipped.append(f"{src}: skipped (a link to a file outside its run folder {root})")
        return False
    shutil.copyfile(src, dst)
    return True


def _copy_pngs(run: RunInput, fig_dir: Path, prefix: str, skipped: list[str]) -> list[str]:
    """Copy the run's own figures (top level and figures/) into the report as ``prefix``+name."""
    out = []
    for src in sorted(list(run.path.glob("*.png")) + list((run.path / "figures").glob("*.png"))):
        dst = fig_dir / f"{prefix}{src.name}"
        if _copy_figure(src, dst, run.path, skipped):
            out.append(dst.name)
    return out


def _title_from_png(name: str) -> str:
    stem = Path(name).stem
    return stem.replace("_", " ")


def display_path(p: Path) -> str:
    """Relative to the working directory when inside it (reports get committed), else absolute."""
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p.resolve())


def build_report(run_dirs: Sequence[str | Path], out_dir: str | Path, title: str | None = None, *,
                 force: bool = False, design: dict[str, Any] | None = None) -> ReportResult:
    """Write ``out_dir/index.md`` and ``out_dir/index.html`` (figures in ``out_dir/figures``).

    The folder is written as a whole (:mod:`pcmspice.core.outputs`); a folder that is not this report
    is refused unless ``force``, and it may not hold any of the inputs.  ``design`` (from ``pcmspice run``
    on a design: its name, hash, LUT folder and TOML text) is named at the top and kept in report.json."""
    if not run_dirs:
        raise ConfigError("no run directories given to the report")
    out = Path(out_dir)
    runs = [r for d in run_dirs for r in discover_all(d)]
    runs.sort(key=lambda r: _KIND_ORDER[r.kind])
    for r in runs:
        if r.path.resolve() == out.resolve() or out.resolve() in r.path.resolve().parents:
            raise ConfigError(f"{out}: the report folder must not be, or hold, one of its input run directories "
                              f"({r.path})")
    refuse_overlap(out, [("RUN_DIR", r.path) for r in runs])    # nor be inside one
    key = run_key(sorted(str(r.path.resolve()) for r in runs), title, design)
    with atomic_dir(out, "report", key, force) as stage:
        head, items = _build(runs, stage, title or f"pcmspice report: {out.name}", design)
    return ReportResult(out, out / "index.md", out / "index.html", head, items)


def _design_blocks(design: dict[str, Any]) -> list[Block]:
    """The line naming the design (above the verdict); its file goes to the end (:func:`_design_file`)."""
    reuse = " (reused: nothing was simulated)" if design.get("luts_reused") else ""
    dirs = design.get("lut_dirs") or {}
    where = (f"the LUTs {display_path(Path(design['lut_dir']))}" if len(dirs) <= 1 else
             f"the LUTs of its {len(dirs)} corners " + ", ".join(f"{display_path(Path(d))}" for d in dirs.values()))
    return [Block("p", f"Design {design['design']}, hash {design['design_hash']} (sha256 "
                       f"{design['design_sha256']}), on {where}{reuse}; its design file is the last section.")]


def _power_corner(run: RunInput) -> str | None:
    """The corner of a power run's LUTs ("ss, 27 °C"), None when they name none."""
    return lut_label(((run.summary.get("provenance") or {}).get("inputs") or {}).get("lut_provenance"))


def _named_power_blocks(run: RunInput, fig_prefix: str | None, corners: set[str | None]) -> list[Block]:
    """The power section of ``run``; its title names its corner when the report costs more than one."""
    blocks = power_blocks(run.summary, fig_prefix)
    label = _power_corner(run)
    if len(corners) > 1 and label and blocks and blocks[0].kind == "h2":
        blocks[0] = Block("h2", f"{blocks[0].text} (corner {label})")
    return blocks


def _design_file(design: dict[str, Any]) -> list[Block]:
    return [Block("details", f"design {design['design']}: the design file", src=design.get("toml", ""))]


def _build(runs: list[RunInput], out: Path, title: str,
           design: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    n_dirs = len({r.path for r in runs})
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    corner_frames = {r.path: corners_frame(r) for r in runs if r.kind == "corners"}
    items, head = verdict(runs, corner_frames)
    blocks: list[Block] = [
        Block("h1", title),
        Block("p", f"Generated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by pcmspice "
                   f"{__version__} from {n_dirs} run director{'y' if n_dirs == 1 else 'ies'}."),
        *(_design_blocks(design) if design else []),
        Block("h2", "Verdict"), Block("verdict", items=items)]
    used = set()
    png_done: set[Path] = set()
    for i, r in enumerate(runs):
        prefix = f"{i:02d}_{r.kind}_"
        if r.kind == "training":
            blocks += training_blocks(r)
        elif r.kind == "power":
            own = ("power_breakdown.png", "power_vs_gpu.png")
            have = all((r.path / n).is_file() and _inside(r.path / n, r.path) for n in own)
            if have:
                used.update(own)
                for n in own:
                    _copy_figure(r.path / n, fig_dir / f"{prefix}{n}", r.path, skipped)
            blocks += _named_power_blocks(r, f"figures/{prefix}" if have else None,
                                          {_power_corner(p) for p in runs if p.kind == "power"})
        elif r.kind == "corners":
            df = corner_frames[r.path]
            fig = figure_corners(df, fig_dir / f"{prefix}corners_overview.png") if df is not None else None
            blocks += corners_blocks(r, df, f"figures/{fig.name}" if fig else None)
        elif r.kind == "characterization":
            blocks += characterization_blocks(r)
        elif r.kind == "luts":
            luts = load_lut_set(r.path)
            fig = figure_luts(luts, fig_dir / f"{prefix}lut_curves.png")
            blocks += lut_blocks(r, luts, f"figures/{fig.name}")
        elif r.kind == "cosim":
            blocks += cosim_blocks(r)
        elif r.kind == "seeds":
            blocks += seeds_blocks(r)
        if r.path in png_done:
            continue
        png_done.add(r.path)
        for name in _copy_pngs(r, fig_dir, prefix, skipped):
            if name[len(prefix):] in used and r.kind == "power":
                continue
            blocks.append(Block("img", f"{r.kind} {r.path.name}: {_title_from_png(name[len(prefix):])}",
                                src=f"figures/{name}"))
    if any(r.kind == "training" and r.summary.get("mode", "cell") != "ideal" for r in runs):
        table, _ = drift_verdict.load()
        if table is not None:
            blocks += drift_verdict.blocks(table)
            png = drift_verdict.verdict_path().with_suffix(".png")
            if png.is_file() and _copy_figure(png, fig_dir / "drift_verdict_t0.png", png.parent, skipped):
                blocks.append(Block("img", "Gap to software vs the drift onset t0 (the committed sweep)",
                                    src="figures/drift_verdict_t0.png"))
    if skipped:
        blocks.append(Block("p", "Figures not copied:"))
        blocks.append(Block("ul", items=skipped))
    blocks.append(Block("h2", "Inputs, configuration and provenance"))
    listed: set[Path] = set()
    for r in runs:
        if r.path in listed:
            continue
        listed.add(r.path)
        info = {"path": display_path(r.path), "kind": r.kind}
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
    if design:
        blocks += _design_file(design)
    blocks.append(Block("details", "This report's own environment",
                        src=json.dumps(versions(), indent=2, sort_keys=True)))
    md = render_markdown(blocks)
    page = render_html(blocks, title)
    atomic_write_text(out / "index.md", md)
    atomic_write_text(out / "index.html", page)
    extra = {"design": {k: v for k, v in design.items() if k != "toml"}} if design else {}
    write_json(out / "report.json", {"kind": "report", "headline": head, "verdict": items, **extra,
                                     "inputs": [{"kind": r.kind, "path": str(r.path)} for r in runs],
                                     "versions": versions()})
    return head, items


def headline_lines(res: ReportResult) -> list[str]:
    """The three numbers `pcmspice run` prints: accuracy, energy efficiency, area efficiency."""
    h = res.headline
    lines = []
    if "analog_test_accuracy" in h:
        n = h.get("accuracy_seeds", 1)
        acc = (f"{100 * h['analog_test_accuracy']:.2f} ± {100 * h['analog_test_accuracy_sd']:.2f} % (mean ± sd over "
               f"{n} seeds)" if n > 1 else fmt_pct(h["analog_test_accuracy"]))
        where = ""
        if h.get("accuracy_corner"):
            where = (f" at {h['accuracy_corner']}, the worst of {h['accuracy_groups']} corners"
                     if h.get("accuracy_groups", 1) > 1 else f" at {h['accuracy_corner']}")
        soft = f" vs {fmt_pct(h['baseline_test_accuracy'])} software" if "baseline_test_accuracy" in h else ""
        lines.append(f"accuracy: {acc} analog{soft}{where}")
    if h.get("pcm_trained") is False:
        lines.append("warning: the 3T1C alone was trained; the PCM never learned (no g -> PCM transfer; see the "
                     "report's verdict)")
    if "gops_per_watt_training" in h:
        at = f" at {h['energy_corner']}" if h.get("energy_corner") else ""
        lines.append(f"energy: {fmt_num(h['gops_per_watt_training'])} GOP/s/W training "
                     f"({fmt_si(h['energy_per_example_joules'], 'J')} per example{at}; paper "
                     f"{fmt_num(pw.PAPER_GOPS_PER_WATT)})")
        lines.append(f"area efficiency: {h['tops_per_mm2_training']:.3g} TOP/s/mm² training "
                     f"(paper {pw.PAPER_TOPS_PER_MM2:g})")
    if "worst_corner" in h:
        where = corner_label({"corner": h["worst_corner"], "temp_c": h.get("worst_corner_temp_c")})
        lines.append(f"worst corner: {where} ({h['worst_corner_criterion']})")
    return lines

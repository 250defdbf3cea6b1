"""The outputs of ``pcmspice explore`` (rewritten after every batch, each file atomically):

* ``trials.csv`` (and ``trials.parquet`` when pyarrow is installed): one row per trial - number, state, the
  parameters, the objectives and the other metrics of its worst setting, feasibility, pruning epoch, whether
  it is on the Pareto front, and its wall time (the one column that differs between two runs of a search);
* ``pareto.csv`` and ``pareto/design-NNNNN.toml``: the non-dominated feasible trials
  (:func:`~pcmspice.pipeline.trial.pareto_front`), each as a design file ``pcmspice run`` takes;
* ``figures/pareto.png``: gap against energy, area as marker size, the fixed design marked, the constraints
  drawn;
* ``importances.csv``: which parameters matter most for each objective (Optuna's fANOVA, seeded);
* ``report.md`` / ``report.html`` and ``summary.json`` (space hash, seed, versions, counts, the front).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pcmspice.core.document import Block, render_html, render_markdown
from pcmspice.core.provenance import atomic_write_parquet, atomic_write_text, save_png, versions, write_json
from pcmspice.core.units import fmt_si
from pcmspice.pipeline.space import OBJECTIVES, Space, apply_values
from pcmspice.pipeline.trial import pareto_front

METRICS = ("gap_pp", "energy_per_example_joules", "area_per_synapse_m2", "time_per_example_seconds",
           "analog_accuracy_percent", "software_accuracy_percent")


def describe(rec: dict[str, Any], space: Space) -> str:
    """One trial's result in a line."""
    if rec.get("state") == "pruned":
        return f"pruned after epoch {rec['pruned_at_epoch']} ({rec.get('reason', '')})"
    if rec.get("state") != "complete":
        return f"failed: {rec.get('error', '')}"
    m = rec["metrics"]
    parts = [f"gap {m['gap_pp']:+.2f} pp", f"energy {fmt_si(m['energy_per_example_joules'], 'J')}/example",
             f"area {fmt_si(m['area_per_synapse_m2'] * 1e12, 'µm²', 3)}/synapse"]
    if "latency" in space.objectives:
        parts.append(f"latency {fmt_si(m['time_per_example_seconds'], 's')}/example")
    bad = [v for v in space.violations(m) if v > 0]
    return ", ".join(parts) + (" (infeasible)" if bad else "")


def trial_rows(study: Any, space: Space) -> list[dict[str, Any]]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        m = t.user_attrs.get("metrics") or {}
        row: dict[str, Any] = {"number": t.number, "state": t.state.name.lower()}
        row.update({p.path: t.params.get(p.path) for p in space.parameters})
        row.update({k: m.get(k, math.nan) for k in METRICS})
        v = space.violations(m) if m else []
        row["feasible"] = bool(m) and all(x <= 0 for x in v)
        row["constraint_violation"] = max([0.0, *v]) if m else math.nan
        row["pruned_at_epoch"] = t.user_attrs.get("pruned_at_epoch")
        row["worst_setting"] = m.get("worst_setting")
        row["luts_reused"] = t.user_attrs.get("luts_reused")
        row["error"] = t.user_attrs.get("error")
        row["seconds"] = t.user_attrs.get("seconds")
        rows.append(row)
    cols = [OBJECTIVES[o][0] for o in space.objectives]
    ok = [r for r in rows if r["state"] == "complete" and r["feasible"]]
    front = {ok[i]["number"] for i in pareto_front([[r[c] for c in cols] for r in ok], space.directions())}
    for r in rows:
        r["pareto"] = r["number"] in front
    return rows


def _importances(study: Any, space: Space) -> list[dict[str, Any]]:
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(done) < 3 or len(space.parameters) < 1:
        return []
    rows = []
    for i, o in enumerate(space.objectives):
        try:
            imp = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=space.seed),
                                        target=lambda t, i=i: t.values[i], normalize=True)
        except (RuntimeError, ValueError, optuna.exceptions.OptunaError):
            continue
        rows += [{"objective": o, "parameter": p, "importance": float(v)} for p, v in imp.items()]
    return rows


def _figure(path: Path, rows: list[dict[str, Any]], ref: dict[str, Any] | None, space: Space) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    done = [r for r in rows if r["state"] == "complete"]
    areas = [r["area_per_synapse_m2"] for r in done] + ([ref["area_per_synapse_m2"]] if ref else [])
    lo, hi = (min(areas), max(areas)) if areas else (1.0, 1.0)

    def size(a: float) -> float:
        return 30 + 220 * ((a - lo) / (hi - lo) if hi > lo else 0.5)
    xs = [r["energy_per_example_joules"] for r in done] + ([ref["energy_per_example_joules"]] if ref else [])
    top = max(xs) if xs else 1.0
    scale, unit = next(((f, u) for f, u in ((1e12, "pJ"), (1e9, "nJ"), (1e6, "µJ")) if top * f < 1000), (1.0, "J"))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for group, color, label in ((False, "0.7", "trial"), (True, "tab:blue", "Pareto front")):
        pts = [r for r in done if r["pareto"] == group]
        if pts:
            ax.scatter([scale * r["energy_per_example_joules"] for r in pts], [r["gap_pp"] for r in pts],
                       s=[size(r["area_per_synapse_m2"]) for r in pts], c=color, alpha=0.8, edgecolors="k",
                       linewidths=0.5, label=label, zorder=3 if group else 2)
    for r in (x for x in done if x["pareto"]):
        ax.annotate(str(r["number"]), (scale * r["energy_per_example_joules"], r["gap_pp"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    if ref:
        ax.scatter([scale * ref["energy_per_example_joules"]], [ref["gap_pp"]], marker="*",
                   s=size(ref["area_per_synapse_m2"]) + 120, c="tab:red", edgecolors="k",
                   label="fixed design (reference)", zorder=4)
    for name, op, bound in space.constraints:
        if name == "gap":
            ax.axhline(bound, color="tab:red", ls="--", lw=1, label=f"constraint gap {op} {bound:g} pp")
        elif name == "energy":
            ax.axvline(scale * bound, color="tab:orange", ls="--", lw=1,
                       label=f"constraint energy {op} {fmt_si(bound, 'J')}")
    if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(f"training energy per example ({unit}), drift remedies included")
    ax.set_ylabel("accuracy gap to software (pp), worst setting, mean over seeds")
    ax.set_title(f"explore {space.name}: accuracy gap vs training energy\n(marker size: area per synapse, "
                 f"{lo * 1e12:.4g} to {hi * 1e12:.4g} µm²)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    save_png(fig, path)


# the report's columns in the units a designer reads (the CSV and Parquet tables keep SI units)
_SHOWN = {"number": ("trial", 1.0), "gap_pp": ("gap (pp)", 1.0),
          "energy_per_example_joules": ("energy per example (nJ)", 1e9),
          "area_per_synapse_m2": ("area per synapse (µm²)", 1e12),
          "time_per_example_seconds": ("time per example (µs)", 1e6),
          "worst_setting": ("worst setting", 1.0), "pruned_at_epoch": ("pruned at epoch", 1.0)}


def _table(rows: list[dict[str, Any]], cols: list[str]) -> Block:
    def cell(v: Any, scale: float) -> str:
        if isinstance(v, float):
            return f"{v * scale:.4g}"
        return "" if v is None else str(v)
    shown = [_SHOWN.get(c, (c, 1.0)) for c in cols]
    return Block("table", columns=[h for h, _ in shown],
                 rows=[[cell(r.get(c), k) for c, (_, k) in zip(cols, shown)] for r in rows])


def _write_table(out: Path, name: str, rows: list[dict[str, Any]]) -> None:
    import pandas as pd
    df = pd.DataFrame(rows)
    atomic_write_text(out / f"{name}.csv", df.to_csv(index=False))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    atomic_write_parquet(out / f"{name}.parquet",
                         df.astype({c: "string" for c in df.columns if df[c].dtype == object}))


def _designs(out: Path, study: Any, front: list[dict[str, Any]], space: Space) -> list[str]:
    d = out / "pareto"
    d.mkdir(exist_ok=True)
    keep = set()
    trials = study.get_trials(deepcopy=False)
    for r in front:
        t = trials[r["number"]]
        name = f"design-{r['number']:05d}.toml"
        keep.add(name)
        if (d / name).is_file():   # a trial's design never changes
            continue
        design = apply_values(space.design, t.params).replace(name=f"{space.name}-t{r['number']:05d}")
        head = (f"# pcmspice explore {space.name}: trial {r['number']} (Pareto front), "
                f"gap {r['gap_pp']:+.3f} pp, {r['energy_per_example_joules']:.4g} J/example\n"
                f"# run it: pcmspice run {name}\n")
        atomic_write_text(d / name, head + design.to_toml())
    for f in d.glob("design-*.toml"):
        if f.name not in keep:
            f.unlink()
    return sorted(keep)


def write_outputs(out: Path, study: Any, space: Space, n_total: int, seconds: float, final: bool = True
                  ) -> dict[str, Any]:
    """Write the outputs of the search in ``out`` from the study as it stands; the summary.  Between batches
    (not ``final``) the tables, design files, summary and report; the figure and the importances at the end."""
    import json

    import optuna
    rows = trial_rows(study, space)
    ref_file = out / "reference.json"
    ref_rec = json.loads(ref_file.read_text()) if ref_file.is_file() else None
    ref = ref_rec["metrics"] if ref_rec and ref_rec.get("state") == "complete" else None
    _write_table(out, "trials", rows)
    front = [r for r in rows if r["pareto"]]
    _write_table(out, "pareto", front)
    files = _designs(out, study, front, space)
    imp = _importances(study, space) if final else []
    if imp:
        _write_table(out, "importances", imp)
    if final:
        (out / "figures").mkdir(exist_ok=True)
        _figure(out / "figures" / "pareto.png", rows, ref, space)
    count = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail", "running")}
    dominating = [r["number"] for r in front if ref and _dominates(r, ref, space)]
    summary = {"kind": "explore", "space": space.name, "space_sha256": space.key, "space_hash": space.key[:8],
               "space_file": space.source, "seed": space.seed, "sampler": space.sampler, "batch": space.batch,
               "objectives": list(space.objectives), "constraints": [" ".join(map(str, c)) for c in space.constraints],
               "trials": {"asked": len(rows), "target": n_total, "complete": count["complete"],
                          "pruned": count["pruned"], "failed": count["fail"], "running": count["running"]},
               "pareto": [{k: r[k] for k in ("number", *METRICS[:4])} for r in front], "pareto_designs": files,
               "reference": ref, "dominate_reference": dominating, "wall_seconds": seconds,
               "design": space.design.to_dict(), "versions": {**versions(), "optuna": optuna.__version__}}
    write_json(out / "summary.json", summary)
    _report(out, rows, front, imp, ref, dominating, space, summary)
    return summary


def _dominates(r: dict[str, Any], ref: dict[str, Any], space: Space) -> bool:
    sign = [1 if d == "minimize" else -1 for d in space.directions()]
    a = [s * r[OBJECTIVES[o][0]] for s, o in zip(sign, space.objectives)]
    b = [s * ref[OBJECTIVES[o][0]] for s, o in zip(sign, space.objectives)]
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def _report(out: Path, rows, front, imp, ref, dominating, space: Space, summary) -> None:
    t = summary["trials"]
    title = f"pcmspice explore: {space.name} ({space.key[:8]})"
    verdict = [f"{t['complete']} trials complete, {t['pruned']} pruned, {t['failed']} failed of {t['target']}; "
               f"**{len(front)} on the Pareto front** (feasible, non-dominated in "
               f"{', '.join(space.objectives)})"]
    done = [r for r in rows if r["state"] == "complete"]
    if done and not front:
        near = min(done, key=lambda r: r["constraint_violation"])
        verdict.append(f"no complete trial meets the constraints ({', '.join(summary['constraints'])}); the "
                       f"closest is trial {near['number']} (gap {near['gap_pp']:+.2f} pp, violation "
                       f"{near['constraint_violation']:.3g})")
    if ref:
        verdict.append(f"the fixed design: gap {ref['gap_pp']:+.2f} pp, "
                       f"{fmt_si(ref['energy_per_example_joules'], 'J')}/example, "
                       f"{fmt_si(ref['area_per_synapse_m2'] * 1e12, 'µm²', 3)}/synapse")
        verdict.append(f"trials that dominate it: {', '.join(map(str, dominating))}" if dominating
                       else "no trial dominates the fixed design in every objective")
    cols = ["number", *[p.path for p in space.parameters], "gap_pp", "energy_per_example_joules",
            "area_per_synapse_m2", "time_per_example_seconds", "worst_setting"]
    blocks = [Block("h1", title), Block("verdict", items=verdict),
              Block("p", f"Sampler {space.sampler}, seed {space.seed}, batches of {space.batch}; objectives: "
                    + "; ".join(f"{o} ({OBJECTIVES[o][3]}, {OBJECTIVES[o][1]}, {OBJECTIVES[o][2]})"
                                for o in space.objectives)
                    + (f"; constraints: {', '.join(summary['constraints'])}" if space.constraints else "")),
              Block("h2", "Pareto front"), _table(front, cols),
              Block("p", "Each design of the front is a design file in `pareto/` "
                    "(`pcmspice run pareto/design-N.toml`).")]
    if (out / "figures" / "pareto.png").is_file():
        blocks.append(Block("img", "gap vs energy per example, area per synapse as marker size",
                            src="figures/pareto.png"))
    if imp:
        blocks += [Block("h2", "Which parameters matter"), _table(imp, ["objective", "parameter", "importance"])]
    blocks += [Block("h2", "All trials"), _table(rows, ["number", "state", *cols[1:], "pruned_at_epoch"]),
               Block("details", "the space file", src=space.text)]
    atomic_write_text(out / "report.md", render_markdown(blocks))
    atomic_write_text(out / "report.html", render_html(blocks, title))

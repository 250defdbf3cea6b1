"""``pcmspice explore --confirm N``: the N Pareto designs of lowest energy, each run again through
:func:`~pcmspice.pipeline.design_run.run_design` (``pcmspice run DESIGN.toml``) with more seeds (and on other
data sets), at every condition setting of the space; ``confirm.csv`` puts the search's prediction beside what
the runs confirm (the same objectives, from the runs' own folders)."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pcmspice.core.errors import ConfigError
from pcmspice.core.provenance import atomic_write_text
from pcmspice.pipeline.design import DesignConfig
from pcmspice.pipeline.space import load_space
from pcmspice.pipeline.trial import mean_over_seeds, run_metrics, worst


def folder_metrics(run_dir: Path, design: DesignConfig) -> dict[str, Any]:
    """The objectives of a finished ``pcmspice run`` folder: every training run in it, costed as a trial's
    (:func:`~pcmspice.pipeline.trial.run_metrics`), the seeds averaged per combination, the worst combination."""
    from pcmspice import train as tr
    groups: dict[str, list[dict[str, float]]] = {}
    for s in sorted(run_dir.glob("train*/**/summary.json")):
        rd = s.parent
        cfg = tr.TrainConfig.from_toml(rd / "config.toml")
        rel = rd.relative_to(run_dir).parts
        combo = rel[1] if len(rel) > 2 else "-"
        groups.setdefault(combo, []).append(run_metrics(Path(cfg.luts), rd, design.power))
    if not groups:
        raise ConfigError(f"{run_dir}: no finished training run to confirm")
    return worst([{"setting": k, **mean_over_seeds(v)} for k, v in groups.items()])


def confirm_pareto(out: str | Path, n: int, seeds: Sequence[int], *, datasets: Sequence[str] = (), jobs: int = 2,
                   scheduler: str | None = None, cache: str | Path | None = None,
                   echo: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Confirm the ``n`` Pareto designs of lowest energy of the search in ``out`` with ``seeds`` on the space's
    data set (and each of ``datasets``); rows of confirm.csv."""
    import pandas as pd

    from pcmspice.pipeline.design_run import run_design
    out = Path(out)
    summary = json.loads((out / "summary.json").read_text())
    space = load_space(out / "space.toml") if not Path(summary["space_file"]).is_file() \
        else load_space(summary["space_file"])
    front = sorted(summary["pareto"], key=lambda r: (r["energy_per_example_joules"], -r["gap_pp"]))[:n]
    rows = []
    for r in front:
        num = r["number"]
        base = DesignConfig.from_toml(out / "pareto" / f"design-{num:05d}.toml")
        for ds in [base.task.dataset, *[d for d in datasets if d != base.task.dataset]]:
            per = []
            for label, cond in space.settings():
                from pcmspice.pipeline.space import apply_values
                d = apply_values(base, cond).with_overrides({"task.seeds": tuple(seeds), "task.dataset": ds})
                where = out / "confirm" / f"{num:05d}" / "_".join(x for x in (ds, label) if x)
                echo(f"confirm trial {num} on {ds}{' at ' + label if label else ''} with seeds "
                     f"{','.join(map(str, seeds))} -> {where}")
                run_design(d, where, jobs=jobs, scheduler=scheduler, measure_cpu=False, progress=False,
                           echo=lambda m: None, force=True, cache=cache, source=str(out / "pareto"))
                per.append({**folder_metrics(where, d), "setting": label or "-"})
            got = min(per, key=lambda m: m["gap_pp"])
            row = {"number": num, "dataset": ds, "seeds": ",".join(map(str, seeds)),
                   "predicted_gap_pp": r["gap_pp"] if ds == base.task.dataset else float("nan"),
                   "confirmed_gap_pp": got["gap_pp"], "confirmed_worst_setting": got["setting"],
                   "predicted_energy_per_example_joules": r["energy_per_example_joules"],
                   "confirmed_energy_per_example_joules": max(m["energy_per_example_joules"] for m in per),
                   "predicted_area_per_synapse_m2": r["area_per_synapse_m2"],
                   "confirmed_area_per_synapse_m2": max(m["area_per_synapse_m2"] for m in per)}
            rows.append(row)
            echo(f"  trial {num} on {ds}: gap predicted {row['predicted_gap_pp']:+.2f} pp, confirmed "
                 f"{row['confirmed_gap_pp']:+.2f} pp; energy {row['predicted_energy_per_example_joules']:.4g} -> "
                 f"{row['confirmed_energy_per_example_joules']:.4g} J")
    atomic_write_text(out / "confirm.csv", pd.DataFrame(rows).to_csv(index=False))
    return rows

"""The corner table: one row per corner x temperature x supply of a characterization run.

With a ``train_fn`` each row also trains a network on that combination's LUTs (once per seed)
and costs it (the CLI passes :func:`pcmspice.pipeline.corner_trainer`): the final and best test
accuracy in % as mean and sd over the seeds, how many seeds had a transfer in their last epoch,
energy per example and GOP/s/W next to the circuit numbers.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pcmspice.core.errors import ConfigError
from pcmspice.core.provenance import atomic_write_text, write_json

COLUMNS = {
    "corner": "corner", "temp_c": "T (°C)", "vdd_volts": "VDD (V)",
    "v_up_on_volts": "up gate (V)", "v_dn_on_volts": "down gate (V)",
    "g_mean_siemens": "g mean (S)", "g_sigma_siemens": "g σ (S)",
    "dv_up_mean_volts": "up step (V)", "dv_down_mean_volts": "down step (V)",
    "asymmetry_mean": "up/down asym.", "retention_10mV_median_seconds": "retention 10 mV (s)",
    "pcm_set_step_at_5uS_mean_siemens": "PCM SET step (S)", "e_up_mean_joules": "E up (J)",
    "e_down_mean_joules": "E down (J)", "e_set_mean_joules": "E SET (J)", "e_reset_mean_joules": "E RESET (J)",
    "analog_test_accuracy": "analog acc.", "baseline_test_accuracy": "software acc.",
    "final_accuracy_mean_percent": "final acc. mean (%)", "final_accuracy_sd_percent": "final acc. sd (%)",
    "best_accuracy_mean_percent": "best acc. mean (%)", "best_accuracy_sd_percent": "best acc. sd (%)",
    "software_accuracy_mean_percent": "software acc. (%)", "last_epoch_transfer_seeds": "transfer in last epoch",
    "seeds": "seeds",
    "energy_per_example_joules": "E / example (J)", "gops_per_watt": "GOP/s/W",
}


TrainFn = Callable[[list[tuple[Path, Path]]], list[dict]]


def write_corner_table(run_dir: str | Path, train_fn: TrainFn | None = None) -> pd.DataFrame:
    """Write corners.csv / corners.md / corners.json for a characterization run.

    ``train_fn(combos)`` (given by the caller: training and power are higher
    layers) gets every combination's ``(lut_dir, out_dir)`` at once (so it can
    run them in parallel) and returns one dict per combination; its keys become
    columns, except ``runs`` (the per-seed records), which goes to corners.json.
    """
    run_dir = Path(run_dir)
    sp = run_dir / "summary.json"
    if not sp.exists():
        raise ConfigError(f"{run_dir}: no summary.json (run `pcmspice characterize` or `pcmspice corners` first)")
    summary = json.loads(sp.read_text())
    df = pd.DataFrame(summary["combos"])
    first = [c for c in COLUMNS if c in df.columns]
    df = df[first + [c for c in df.columns if c not in first]]
    if train_fn is not None:
        rows = train_fn([(run_dir / r["lut_dir"], run_dir / "train" / Path(r["lut_dir"]).name)
                         for _, r in df.iterrows()])
        runs = {Path(r["lut_dir"]).name: row.pop("runs", None) for (_, r), row in zip(df.iterrows(), rows)}
        df = pd.concat([df.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    else:
        runs = {}
    atomic_write_text(run_dir / "corners.csv", df.to_csv(index=False))
    atomic_write_text(run_dir / "corners.md", to_markdown(df))
    summary["kind"] = summary.get("kind", "characterization")
    write_json(run_dir / "corners.json", {"kind": "corners", "rows": df.to_dict(orient="records"),
                                          "source_summary": str(sp), "config": summary.get("config"),
                                          "training_runs": runs,
                                          "versions": summary.get("versions")})
    return df


TRANSFER_NOTE = ("transfer in last epoch: how many seeds had a g -> PCM transfer during their last epoch; their "
                 "final accuracy is measured right after it, before training has made up for it (compare the best)")


def accuracy_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The training columns merged for reading: "final acc. (%)" and "best acc. (%)" as "mean ± sd", the
    transfer flag as "⚠ k/n seeds" (empty when none); the other columns unchanged."""
    if "final_accuracy_mean_percent" not in df.columns:
        return df
    out = df.copy()
    n = [len(str(s).split(",")) for s in out["seeds"]] if "seeds" in out.columns else [1] * len(out)
    for name, label in (("final_accuracy", "final acc. (%)"), ("best_accuracy", "best acc. (%)")):
        out[label] = [f"{m:.2f} ± {s:.2f}" for m, s in zip(out[f"{name}_mean_percent"], out[f"{name}_sd_percent"])]
    out["transfer in last epoch"] = [f"⚠ {k}/{m} seeds" if k else "" for k, m in
                                     zip(out["last_epoch_transfer_seeds"], n)]
    out = out.drop(columns=["final_accuracy_mean_percent", "final_accuracy_sd_percent", "best_accuracy_mean_percent",
                            "best_accuracy_sd_percent", "last_epoch_transfer_seeds"])
    last = [c for c in ("seeds", "final acc. (%)", "best acc. (%)", "transfer in last epoch",
                        "software_accuracy_mean_percent", "energy_per_example_joules", "gops_per_watt")
            if c in out.columns]
    return out[[c for c in out.columns if c not in last] + last]


def to_markdown(df: pd.DataFrame) -> str:
    flagged = "last_epoch_transfer_seeds" in df.columns and bool((df["last_epoch_transfer_seeds"] > 0).any())
    df = accuracy_columns(df)
    cols = [c for c in df.columns if c != "lut_dir" and (c in COLUMNS or not c.endswith("sigma_volts"))]
    head = "| " + " | ".join(COLUMNS.get(c, c) for c in cols) + " |"
    sep = "|" + "---|" * len(cols)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        rows.append("| " + " | ".join(cells) + " |")
    note = ["", TRANSFER_NOTE + "."] if flagged else []
    return "\n".join([head, sep, *rows, *note]) + "\n"

"""The corner table: one row per corner x temperature x supply of a characterization run.

With ``training`` rows (computed by the pipeline layer, :func:`pcmspice.pipeline.run_corners`: each
combination trained once per seed on its LUTs and costed) each row also has the final and best test
accuracy in % as mean and sd over the seeds, how many seeds had a transfer in their last epoch, energy
per example and GOP/s/W next to the circuit numbers.  :func:`write_table` is the one writer of a corner
table (``pcmspice corners`` and the corner designs of ``pcmspice run`` both use it).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pcmspice.core import complete
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
    "pcm_untrained_seeds": "seeds without a transfer",
    "seeds": "seeds",
    "energy_per_example_joules": "E / example (J)", "gops_per_watt": "GOP/s/W",
}


def corner_combos(run_dir: str | Path) -> list[tuple[Path, Path]]:
    """Every combination of a characterization run as ``(lut_dir, train_dir)``, in the order of its summary
    (``train_dir`` = ``run_dir/train/<combination>``: where ``pcmspice corners --train`` trains it)."""
    run_dir = Path(run_dir)
    return [(run_dir / c["lut_dir"], run_dir / "train" / Path(c["lut_dir"]).name)
            for c in _summary(run_dir)["combos"]]


def _summary(run_dir: Path) -> dict:
    sp = run_dir / "summary.json"
    if not sp.exists():
        raise ConfigError(f"{run_dir}: no summary.json (run `pcmspice characterize` or `pcmspice corners` first)")
    if complete.is_characterization(run_dir):
        complete.require_complete(run_dir, needed=("summary.json",))
    return json.loads(sp.read_text())


def write_corner_table(run_dir: str | Path, training: list[dict] | None = None) -> pd.DataFrame:
    """Write corners.csv / corners.md / corners.json for a characterization run: one row per combination
    with its circuit numbers, and (``training``, one dict per combination in the order of
    :func:`corner_combos`, e.g. from :func:`pcmspice.pipeline.corners.corner_row`) its training columns;
    a ``runs`` entry (the per-seed records) goes to corners.json."""
    run_dir = Path(run_dir)
    summary = _summary(run_dir)
    df = _ordered(pd.DataFrame(summary["combos"]))
    if training is not None:
        df = pd.concat([df.reset_index(drop=True), pd.DataFrame([dict(r) for r in training])], axis=1)
    return write_table(run_dir, df, {"source_summary": str(run_dir / "summary.json"), "config": summary.get("config"),
                                     "versions": summary.get("versions")}, key="lut_dir", reorder=False)


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in COLUMNS if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def write_table(out: str | Path, rows: pd.DataFrame | list[dict], meta: dict | None = None,
                key: str = "combination", reorder: bool = True) -> pd.DataFrame:
    """The one corner-table writer: ``out/corners.csv``, ``corners.md`` and ``corners.json`` from one row per
    combination (the known columns first, in :data:`COLUMNS` order); each row's ``runs`` (the per-seed
    records) goes to corners.json's ``training_runs`` under the row's ``key`` column (its folder name)."""
    out = Path(out)
    df = pd.DataFrame(rows).reset_index(drop=True)
    runs = {}
    if "runs" in df.columns:
        runs = {Path(str(k)).name: r for k, r in zip(df[key], df["runs"])}
        df = df.drop(columns=["runs"])
    if reorder:
        df = _ordered(df)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "corners.csv", df.to_csv(index=False))
    atomic_write_text(out / "corners.md", to_markdown(df))
    m = dict(meta or {})
    write_json(out / "corners.json", {"kind": "corners", "rows": df.to_dict(orient="records"),
                                      **{k: m.pop(k) for k in ("source_summary", "config") if k in m},
                                      "training_runs": runs, **m})
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

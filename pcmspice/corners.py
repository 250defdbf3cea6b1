"""The corner table: one row per corner x temperature x supply of a characterization run.

With ``train=True`` each row also trains a network on that combination's LUTs
(pcmspice.train) and costs it (pcmspice.power): accuracy, energy per example
and GOP/s/W next to the circuit numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pcmspice.errors import ConfigError
from pcmspice.provenance import atomic_write_text, write_json

COLUMNS = {
    "corner": "corner", "temp_c": "T (°C)", "vdd_volts": "VDD (V)",
    "g_mean_siemens": "g mean (S)", "g_sigma_siemens": "g σ (S)",
    "dv_up_mean_volts": "up step (V)", "dv_down_mean_volts": "down step (V)",
    "asymmetry_mean": "up/down asym.", "retention_10mV_median_seconds": "retention 10 mV (s)",
    "pcm_set_step_at_5uS_mean_siemens": "PCM SET step (S)", "e_up_mean_joules": "E up (J)",
    "e_down_mean_joules": "E down (J)", "e_set_mean_joules": "E SET (J)", "e_reset_mean_joules": "E RESET (J)",
}


def write_corner_table(run_dir: str | Path, train: bool = False, dataset: str = "digits", epochs: int = 3,
                       progress: bool = True) -> pd.DataFrame:
    run_dir = Path(run_dir)
    sp = run_dir / "summary.json"
    if not sp.exists():
        raise ConfigError(f"{run_dir}: no summary.json (run `pcmspice characterize` or `pcmspice corners` first)")
    summary = json.loads(sp.read_text())
    df = pd.DataFrame(summary["combos"])
    if train:
        df = _add_training(df, run_dir, dataset, epochs, progress)
    df.to_csv(run_dir / "corners.csv.tmp", index=False)
    (run_dir / "corners.csv.tmp").replace(run_dir / "corners.csv")
    atomic_write_text(run_dir / "corners.md", to_markdown(df))
    summary["kind"] = summary.get("kind", "characterization")
    write_json(run_dir / "corners.json", {"kind": "corners", "rows": df.to_dict(orient="records"),
                                          "source_summary": str(sp), "config": summary.get("config"),
                                          "versions": summary.get("versions")})
    return df


def to_markdown(df: pd.DataFrame) -> str:
    cols = [c for c in df.columns if c != "lut_dir"]
    head = "| " + " | ".join(COLUMNS.get(c, c) for c in cols) + " |"
    sep = "|" + "---|" * len(cols)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *rows]) + "\n"


def _add_training(df: pd.DataFrame, run_dir: Path, dataset: str, epochs: int, progress: bool) -> pd.DataFrame:
    from pcmspice import power, train
    acc, base, e_ex, gops = [], [], [], []
    for _, r in df.iterrows():
        lut_dir = run_dir / r["lut_dir"]
        out = run_dir / "train" / Path(r["lut_dir"]).name
        s = train.train_from_cli_args(dataset=dataset, luts=lut_dir, epochs=epochs, out=out, progress=progress)
        pw = power.estimate_for_run(lut_dir, out)
        acc.append(s["analog_test_accuracy"])
        base.append(s["baseline_test_accuracy"])
        e_ex.append(pw["training"]["energy_per_example_joules"])
        gops.append(pw["training"]["gops_per_watt"])
    df = df.copy()
    df["analog_test_accuracy"] = acc
    df["baseline_test_accuracy"] = base
    df["energy_per_example_joules"] = e_ex
    df["gops_per_watt"] = gops
    return df

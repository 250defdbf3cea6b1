"""The corner table: one row per corner x temperature x supply of a characterization run.

With a ``train_fn`` each row also trains a network on that combination's LUTs
and costs it (the CLI passes one built on pcmspice.train.loop and pcmspice.power.model):
accuracy, energy per example and GOP/s/W next to the circuit numbers.
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
    "energy_per_example_joules": "E / example (J)", "gops_per_watt": "GOP/s/W",
}


def write_corner_table(run_dir: str | Path, train_fn: Callable[[Path, Path], dict] | None = None) -> pd.DataFrame:
    """Write corners.csv / corners.md / corners.json for a characterization run.

    ``train_fn(lut_dir, out_dir)`` (given by the caller: training and power are
    lower layers) trains on one combination's LUTs and returns a dict with
    ``analog_test_accuracy``, ``baseline_test_accuracy``,
    ``energy_per_example_joules`` and ``gops_per_watt``; its keys become columns.
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
        rows = [train_fn(run_dir / r["lut_dir"], run_dir / "train" / Path(r["lut_dir"]).name) for _, r in df.iterrows()]
        df = pd.concat([df.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    atomic_write_text(run_dir / "corners.csv", df.to_csv(index=False))
    atomic_write_text(run_dir / "corners.md", to_markdown(df))
    summary["kind"] = summary.get("kind", "characterization")
    write_json(run_dir / "corners.json", {"kind": "corners", "rows": df.to_dict(orient="records"),
                                          "source_summary": str(sp), "config": summary.get("config"),
                                          "versions": summary.get("versions")})
    return df


def to_markdown(df: pd.DataFrame) -> str:
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
    return "\n".join([head, sep, *rows]) + "\n"

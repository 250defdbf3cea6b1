"""Figures of the report's own: the corner overview and the LUT curves (run folders' PNGs are copied as they are)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcmspice.lut.format import LutSet
from pcmspice.report.discover import first_col


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> Path:
    from pcmspice.core.provenance import save_png
    _plt()
    return save_png(fig, path, tight=True)


def figure_corners(df, path: Path) -> Path | None:
    """Accuracy, energy or circuit numbers per corner and temperature (None when the table has none).

    Horizontal bars, one row per combination, the figure as tall as the rows need (labels stay readable
    at any number of combinations); with seeds, the final accuracy's bar carries its sd and a marker the
    best epoch's mean, and a combination with a transfer in its last epoch is hatched and marked ⚠.
    """
    plt = _plt()
    if df is None or len(df) == 0 or "corner" not in df.columns:
        return None
    several_vdd = "vdd_volts" in df.columns and df["vdd_volts"].nunique() > 1
    labels = [(f"{r.corner} {r.temp_c:g} °C" if "temp_c" in df.columns else str(r.corner))
              + (f" {r.vdd_volts:g} V" if several_vdd else "") for r in df.itertuples()]
    flagged = (df["last_epoch_transfer_seeds"].astype(int) > 0).to_numpy() if "last_epoch_transfer_seeds" in df \
        else np.zeros(len(df), bool)
    labels = [lab + (" ⚠" if f else "") for lab, f in zip(labels, flagged)]
    panels = []
    if "final_accuracy_mean_percent" in df.columns:
        panels.append(("final_accuracy_mean_percent", 1.0, "test accuracy (%): final, mean ± sd over seeds"))
    else:
        acc = first_col(df, ("analog_test_accuracy", "test_accuracy", "accuracy"))
        if acc:
            panels.append((acc, 100.0, "analog test accuracy (%)"))
    en = first_col(df, ("energy_per_example_joules",))
    if en:
        panels.append((en, 1e9, "energy per training example (nJ)"))
    if "g_mean_siemens" in df.columns:
        panels.append(("g_mean_siemens", 1e6, "mean g at v_start (µS)"))
    if "dv_up_mean_volts" in df.columns and "dv_down_mean_volts" in df.columns and len(panels) < 3:
        panels.append(("dv_up_mean_volts", 1e3, "mean up step at v_start (mV)"))
    if not panels:
        return None
    y = np.arange(len(df))
    width = 4.2 * len(panels) + 1.2
    fig, axes = plt.subplots(1, len(panels), figsize=(width + 1.6, 1.6 + 0.28 * len(df)), sharey=True)
    legend = None
    axes = np.atleast_1d(axes)
    for ax, (col, scale, lab) in zip(axes, panels):
        vals = df[col].astype(float).to_numpy() * scale
        sd_col = col.replace("_mean_", "_sd_")
        err = df[sd_col].astype(float).to_numpy() if sd_col != col and sd_col in df.columns else None
        bars = ax.barh(y, vals, xerr=err, color="#1f77b4", ecolor="k", capsize=2, height=0.7)
        for bar, f in zip(bars, flagged):
            if f and "accuracy" in col:
                bar.set_hatch("//")
                bar.set_facecolor("#ff7f0e")
        if "accuracy" in col:
            # bars start at 0 (their length is the accuracy) and the software reference is drawn on the axis
            if col == "final_accuracy_mean_percent" and "best_accuracy_mean_percent" in df.columns:
                ax.plot(df["best_accuracy_mean_percent"].astype(float), y, "k|", ms=12, mew=2,
                        label="best epoch (mean)")
            soft = first_col(df, ("software_accuracy_mean_percent", "baseline_test_accuracy"))
            if soft:
                ref = float(np.nanmean(df[soft].astype(float))) * (1.0 if soft.endswith("_percent") else 100.0)
                ax.axvline(ref, color="#d62728", ls="--", lw=1.5, label=f"software ({ref:.2f} %)")
            ax.set_xlim(0, 100)
            if ax.get_legend_handles_labels()[0]:   # right of the panels (never over a bar)
                legend = ax.get_legend_handles_labels()
        ax.set_xlabel(lab, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("corner, temperature")
    title = "Process corners and temperatures"
    if flagged.any():
        title += "\n⚠ hatched: a seed's last epoch had a transfer (its final accuracy is right after it)"
    fig.suptitle(title, fontsize=10)
    if legend:
        fig.legend(*legend, loc="center right", fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0, width / (width + 1.6), 1))
    else:
        fig.tight_layout()
    return _save(fig, path)


def figure_luts(luts: LutSet, path: Path, n_show: int = 30) -> Path:
    """g(Vc) and the up and down step per pulse of up to ``n_show`` Monte Carlo cells."""
    plt = _plt()
    c = luts.cell
    k = np.linspace(0, c.n_cells - 1, min(n_show, c.n_cells)).astype(int)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(c.vc_volts, c.g_siemens[k].T * 1e6, lw=0.7, color="#1f77b4", alpha=0.6)
    a1.axvline(c.v_start_volts, color="k", ls=":", lw=1)
    a1.set_xlabel("capacitor voltage Vc (V)")
    a1.set_ylabel("read conductance g (µS)")
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


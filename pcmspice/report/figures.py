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
    """Accuracy, energy or circuit numbers per corner and temperature (None when the table has none)."""
    plt = _plt()
    if df is None or len(df) == 0 or "corner" not in df.columns:
        return None
    labels = [f"{r.corner} {r.temp_c:g}°C" if "temp_c" in df.columns else str(r.corner) for r in df.itertuples()]
    panels = []
    acc = first_col(df, ("analog_test_accuracy", "test_accuracy", "accuracy"))
    if acc:
        panels.append((acc, 100.0, "analog test accuracy (%)"))
    en = first_col(df, ("energy_per_example_joules",))
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
    """g(Vc) and the up and down step per pulse of up to ``n_show`` Monte Carlo cells."""
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


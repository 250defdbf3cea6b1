"""Figures of a power estimate: energy by phase and component with the area; the comparison with GPUs and CPU."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.core.units import fmt_si
from pcmspice.power import model as pw


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


_COLORS = {
    "array_read": "#1f77b4", "g_shared": "#aec7e8", "adc": "#ff7f0e", "integrator": "#ffbb78", "gain_f": "#bcbd22",
    "neuron": "#2ca02c",
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

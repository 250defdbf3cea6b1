"""Figures of a characterization run (PNG, titled, axes with units)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pcmspice.characterize.stats import stats_at_start  # noqa: E402
from pcmspice.lut import format as lutmod  # noqa: E402


def _band(ax, x, y, label, color, scale=1.0):
    lo, med, hi = np.percentile(y * scale, [2.5, 50, 97.5], axis=0)
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, label=f"{label}: 95 % of cells")
    ax.plot(x, med, color=color, lw=1.8, label=f"{label}: median")


def _title(ls: lutmod.LutSet, pcm: bool = False) -> str:
    pv = ls.provenance
    pop = f"{ls.pcm.n_devices} PCM devices" if pcm else f"{ls.cell.n_cells} MC cells"
    return f"{pv.get('technology')} {pv.get('corner')}, {pv.get('temp_c'):g} °C, VDD {pv.get('vdd_volts'):g} V, {pop}"


def g_vs_vc(ls: lutmod.LutSet, path: Path) -> Path:
    c = ls.cell
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _band(ax, c.vc_volts, c.g_siemens, "g", "C0", 1e6)
    ax.axvline(c.v_start_volts, color="k", ls=":", lw=1, label=f"start voltage {c.v_start_volts:g} V")
    ax.set_xlabel("capacitor voltage Vc (V)")
    ax.set_ylabel("read conductance g (µS)")
    ax.set_title("3T1C read conductance vs Vc\n" + _title(ls), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def steps_vs_vc(ls: lutmod.LutSet, path: Path) -> Path:
    c = ls.cell
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _band(ax, c.vc_volts, c.dv_up_volts, "up pulse", "C3", 1e3)
    _band(ax, c.vc_volts, -c.dv_down_volts, "down pulse (|dVc|)", "C0", 1e3)
    ax.axvline(c.v_start_volts, color="k", ls=":", lw=1)
    ax.set_xlabel("capacitor voltage Vc before the pulse (V)")
    ax.set_ylabel("|Vc change| per pulse (mV)")
    ax.set_title("Voltage step per up / down pulse vs Vc\n" + _title(ls), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def histograms_at_start(ls: lutmod.LutSet, path: Path) -> Path:
    c = ls.cell
    n = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    fig, axs = plt.subplots(1, 3, figsize=(11, 3.6))
    data = [(c.g(n, v0) * 1e6, "read conductance g (µS)", "C0"),
            (c.step_up(n, v0) * 1e3, "Vc change per up pulse (mV)", "C3"),
            (-c.step_down(n, v0) * 1e3, "|Vc change| per down pulse (mV)", "C2")]
    for ax, (x, lab, col) in zip(axs, data):
        ax.hist(x, bins=30, color=col, alpha=0.8)
        ax.set_xlabel(lab)
        ax.set_ylabel("number of cells")
        ax.set_title(f"mean {x.mean():.3g}, σ {x.std():.2g}", fontsize=9)
    fig.suptitle(f"Distributions at Vc = {c.v_start_volts:g} V (cf. Ambrogio 2018, Ext. Data Fig. 10) - " + _title(ls),
                 fontsize=10)
    return _save(fig, path)


def retention_curves(ls: lutmod.LutSet, path: Path, t_max: float = 100e-3, marks: tuple[float, ...] = ()) -> Path:
    c = ls.cell
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ts = np.logspace(-6, np.log10(t_max), 61)
    starts = [0.3, c.v_start_volts, 0.7]
    cells = np.arange(min(c.n_cells, 40))
    for v0, col in zip(starts, ("C0", "C1", "C2")):
        vc = c.leak(cells, np.full(cells.size, v0), ts[0])
        traj = [vc]
        for dt in np.diff(ts):
            vc = c.leak(cells, vc, dt)
            traj.append(vc)
        traj = np.array(traj)
        ax.plot(ts * 1e3, traj, color=col, alpha=0.25, lw=0.8)
        ax.plot(ts * 1e3, np.median(traj, axis=1), color=col, lw=2,
                label=f"start {v0:g} V (median of {cells.size} cells)")
    for t in marks:
        ax.axvline(t * 1e3, color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("time with switches off (ms)")
    ax.set_ylabel("capacitor voltage Vc (V)")
    ax.set_title("Retention: Vc drift from leakage\n" + _title(ls), fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(0.01, 0.33))
    ax.grid(alpha=0.3)
    return _save(fig, path)


def pcm_g_vs_pulse(ls: lutmod.LutSet, path: Path, n_pulses: int = 40, seed: int = 0) -> Path:
    p = ls.pcm
    rng = np.random.default_rng(seed)
    dev = np.arange(min(p.n_devices, 50))
    g = p.g_reset_siemens[dev].copy()
    traj = [g]
    for _ in range(n_pulses):
        g = np.clip(g + p.set_step(dev, g, rng), p.g_reset_siemens[dev], p.g_max_siemens[dev])   # as the array does
        traj.append(g)
    traj = np.array(traj) * 1e6
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(np.arange(n_pulses + 1), traj, color="C4", alpha=0.3, lw=0.8)
    ax.plot(np.arange(n_pulses + 1), traj.mean(axis=1), color="k", lw=2, label=f"mean of {dev.size} devices")
    ax.axhline(20, color="C3", ls=":", label="20 µS: programming control degrades above")
    ax.set_xlabel("partial-SET pulse number (from RESET)")
    ax.set_ylabel("PCM conductance G (µS)")
    ax.set_title("PCM conductance per partial-SET pulse (from the LUT)\n" + _title(ls, pcm=True), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def corner_comparison(rows: list[dict], path: Path) -> Path:
    several_supplies = len({x['vdd_volts'] for x in rows}) > 1
    labels = [f"{r['corner']}\n{r['temp_c']:g}°C" + (f"\n{r['vdd_volts']:g}V" if several_supplies else "")
              for r in rows]
    x = np.arange(len(rows))
    fig, axs = plt.subplots(1, 3, figsize=(12, 3.8))
    axs[0].bar(x, [r["g_mean_siemens"] * 1e6 for r in rows], yerr=[r["g_sigma_siemens"] * 1e6 for r in rows],
               color="C0", capsize=3)
    axs[0].set_ylabel("g at start voltage (µS)")
    axs[1].bar(x - 0.2, [r["dv_up_mean_volts"] * 1e3 for r in rows], 0.4,
               yerr=[r["dv_up_sigma_volts"] * 1e3 for r in rows],
               color="C3", capsize=3, label="up")
    axs[1].bar(x + 0.2, [-r["dv_down_mean_volts"] * 1e3 for r in rows], 0.4,
               yerr=[r["dv_down_sigma_volts"] * 1e3 for r in rows], color="C2", capsize=3, label="|down|")
    axs[1].set_ylabel("|Vc step| per pulse at start (mV)")
    axs[1].legend(fontsize=8)
    ret = [r["retention_10mV_median_seconds"] * 1e3 for r in rows]
    axs[2].bar(x, ret, color="C1")
    axs[2].set_yscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axs[2].yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axs[2].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axs[2].yaxis.set_minor_formatter(NullFormatter())
    axs[2].set_ylabel("retention, 10 mV from start (ms)")
    axs[0].set_title("read conductance", fontsize=10)
    axs[1].set_title("step per pulse", fontsize=10)
    axs[2].set_title("retention (median cell)", fontsize=10)
    for ax in axs:
        ax.set_xticks(x, labels, fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Corner comparison (mean ± σ over Monte Carlo cells)", fontsize=11)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    from pcmspice.core.provenance import save_png
    return save_png(fig, path)


def write_all(cfg, lut_dirs: dict, out: Path) -> list[Path]:
    out = Path(out)
    paths = []
    rows = []
    for (corner, temp, vdd), d in lut_dirs.items():
        ls = lutmod.load_lut_set(d)
        tag = d.name
        fdir = out / "figures"
        paths += [g_vs_vc(ls, fdir / f"{tag}_g_vs_vc.png"), steps_vs_vc(ls, fdir / f"{tag}_steps_vs_vc.png"),
                  histograms_at_start(ls, fdir / f"{tag}_hist_at_start.png"),
                  retention_curves(ls, fdir / f"{tag}_retention.png",
                                   t_max=max(cfg.retention_times_seconds, default=100e-3),
                                   marks=cfg.retention_times_seconds),
                  pcm_g_vs_pulse(ls, fdir / f"{tag}_pcm_g_vs_pulse.png")]
        rows.append({"corner": corner, "temp_c": temp, "vdd_volts": vdd, **stats_at_start(ls)})
    if len(rows) > 1:
        paths.append(corner_comparison(rows, out / "figures" / "corner_comparison.png"))
    return paths

"""What a co-simulation run writes: the per-example and per-transfer tables (CSV), the summary, the end
state, the cells' LUTs, one netlist of each SPICE operation, and the figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcmspice.core.tables import csv_text
from pcmspice.cosim.run import VC_RMS_BOUND_VOLTS, CosimResult
from pcmspice.lut import format as lutmod

KIND = "cosim"   # the marker of a co-simulation folder


def run_folder_key(cfg) -> str:
    from pcmspice.core.outputs import run_key
    return run_key(cfg.to_dict())


def save_run(res: CosimResult, out_dir: str | Path, *, figures: bool = True, force: bool = False) -> Path:
    """Write table.csv, transfers.csv, summary.json, final_state.npz, the LUTs of the cells,
    one netlist of each SPICE operation and the figures into ``out_dir`` as a whole
    (:func:`pcmspice.core.outputs.atomic_dir`; another run's folder only with ``force``)."""
    from pcmspice.core.outputs import atomic_dir
    with atomic_dir(out_dir, KIND, run_folder_key(res.config), force) as stage:
        _write_run(res, stage, figures)
    return Path(out_dir)


def _write_run(res: CosimResult, out: Path, figures: bool) -> None:
    import io

    from pcmspice.core.provenance import atomic_write_bytes, atomic_write_text, write_json
    atomic_write_text(out / "table.csv", csv_text(res.rows, ".9g"))
    atomic_write_text(out / "transfers.csv", csv_text(res.transfers, ".9g"))
    buf = io.BytesIO()
    np.savez_compressed(buf, **res.final)
    atomic_write_bytes(out / "final_state.npz", buf.getvalue())
    lutmod.save_lut_set(res.luts, out / "luts")
    for name, text in res.netlists.items():
        atomic_write_text(out / "netlists" / name, text)
    paths = save_figures(res, out / "figures") if figures else []
    summary = dict(res.summary, outputs=sorted(str(p.relative_to(out)) for p in paths)
                   + ["table.csv", "transfers.csv", "final_state.npz", "luts/", "netlists/"])
    write_json(out / "summary.json", summary)


def save_figures(res: CosimResult, out: Path) -> list[Path]:
    """vc_scatter.png (LUT vs SPICE Vc) and error_vs_example.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig, name):
        from pcmspice.core.provenance import save_png
        return save_png(fig, out / name)

    cfg = res.config
    tag = f"{cfg.rows}x{cfg.cols} array, {cfg.examples} examples, {cfg.technology} {cfg.corner} {cfg.temp_c:g} °C"
    vs, vl = res.final["vc_history_spice_volts"], res.final["vc_history_lut_volts"]
    ex = np.repeat(np.arange(1, vs.shape[0] + 1), vs.shape[1])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.4), gridspec_kw={"width_ratios": [1.15, 1]})
    sc = ax.scatter(vs.ravel(), vl.ravel(), c=ex, s=4, cmap="viridis", alpha=0.6, linewidths=0)
    lo, hi = float(min(vs.min(), vl.min())), float(max(vs.max(), vl.max()))
    pad = 0.02 * (hi - lo + 1e-3)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8, label="LUT = SPICE")
    ax.set_xlabel("Vc from SPICE array (V)")
    ax.set_ylabel("Vc from LUT array (V)")
    ax.set_title(f"Vc after every example, every cell and g_shared\n{tag}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.colorbar(sc, ax=ax, label="example")
    d = (vl - vs).ravel() * 1e3
    ax2.hist(d, bins=60, color="C0")
    ax2.set_xlabel("Vc(LUT) - Vc(SPICE) (mV)")
    ax2.set_ylabel("cells x examples")
    ax2.set_title(f"Difference: RMS {float(np.sqrt(np.mean(d ** 2))):.4f} mV, "
                  f"max {float(np.abs(d).max()):.4f} mV\n(bound at the end: {1e3 * VC_RMS_BOUND_VOLTS:g} mV RMS)",
                  fontsize=9)
    paths = [save(fig, "vc_scatter.png")]
    # error vs example
    e = np.array([r["example"] for r in res.rows])
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8.0, 6.4), sharex=True)
    a1.semilogy(e, [1e3 * r["vc_rms_diff_volts"] for r in res.rows], "-", color="C0", label="RMS over cells")
    a1.semilogy(e, [1e3 * r["vc_max_diff_volts"] for r in res.rows], "-", color="C3", alpha=0.7, label="max over cells")
    a1.axhline(1e3 * VC_RMS_BOUND_VOLTS, color="k", ls=":", lw=1, label=f"bound {1e3 * VC_RMS_BOUND_VOLTS:g} mV")
    a1.set_ylabel("|Vc(LUT) - Vc(SPICE)| (mV)")
    a1.set_title(f"LUT array vs SPICE array, error after every example\n{tag}", fontsize=9)
    a2.plot(e, [r["w_rms_diff"] for r in res.rows], "-", color="C0", label="weight RMS difference (all)")
    a2.plot(e, [r["w_pcm_rms_diff"] for r in res.rows], "--", color="C1", label="PCM part F(G+ - G-)")
    a2.plot(e, [r["w_g_rms_diff"] for r in res.rows], ":", color="C2", label="3T1C part p(g - g_shared)")
    a2.set_ylabel("weight difference (weight units)")
    a2.set_xlabel("training example")
    a3 = a2.twinx()
    a3.plot(e, [100 * r["test_agreement"] for r in res.rows], "-", color="C4", alpha=0.6, lw=1,
            label="test-set prediction agreement")
    a3.set_ylabel("prediction agreement (%)", color="C4")
    a3.set_ylim(0, 102)
    for ax_ in (a1, a2):
        for i, tr in enumerate(t for t in res.transfers if t["event"] > 0):
            ax_.axvline(tr["example"] + 0.5, color="grey", ls="--", lw=0.7,
                        label="transfer + polarity flip" if (i == 0 and ax_ is a1) else None)
        ax_.grid(alpha=0.3)
    a1.legend(fontsize=8, loc="upper left")
    h1, l1 = a2.get_legend_handles_labels()
    h2, l2 = a3.get_legend_handles_labels()
    a2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    paths.append(save(fig, "error_vs_example.png"))
    return paths

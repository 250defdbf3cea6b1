"""A training run's figures: accuracy.png, weights.png, conductances.png, transfer_error.png."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pcmspice.train.result import TrainResult, history_rows


def save_figures(res: TrainResult, out: Path) -> list[Path]:
    """accuracy.png, weights.png, conductances.png, transfer_error.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    def save(fig, name):
        from pcmspice.core.provenance import save_png
        return save_png(fig, out / name)

    cfg, layers = res.config, res.analog.network.layers
    tag = f"{res.dataset.name}, {cfg.network}, mode {cfg.array.mode}"
    paths = []
    # accuracy vs epoch
    rows = history_rows(res)
    ep = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(ep, [100 * r["analog_test_accuracy"] for r in rows], "o-", color="C0", label="analog, test")
    ax.plot(ep, [100 * r["analog_train_accuracy"] for r in rows], "o--", color="C0", alpha=0.5, label="analog, train")
    if res.baseline:
        ax.plot(ep, [100 * r["baseline_test_accuracy"] for r in rows], "s-", color="C1", label="software, test")
        ax.plot(ep, [100 * r["baseline_train_accuracy"] for r in rows], "s--", color="C1", alpha=0.5,
                label="software, train")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Accuracy vs epoch\n{tag}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(save(fig, "accuracy.png"))
    # weight distributions
    n = len(layers)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    for k, ax in enumerate(axes[0]):
        wa = layers[k].weights().ravel()
        lo, hi = np.percentile(wa, [0.05, 99.95])
        if res.baseline:
            wb = res.baseline.network.layers[k].weights().ravel()
            lo, hi = min(lo, np.percentile(wb, 0.05)), max(hi, np.percentile(wb, 99.95))
            ax.hist(wb, bins=100, range=(lo, hi), histtype="step", color="C1", label="software")
        ax.hist(wa, bins=100, range=(lo, hi), histtype="step", color="C0", label="analog")
        ax.set_yscale("log")
        ax.set_xlabel("weight (dimensionless: W / siemens_per_unit_weight)")
        ax.set_ylabel("synapses")
        ax.set_title(f"layer {k} ({layers[k].shape[0]} x {layers[k].shape[1]})", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"Final weight distributions - {tag}", fontsize=10)
    paths.append(save(fig, "weights.png"))
    # G+/G- and Vc
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    analog = [l for l in layers if l.pcm_pair_siemens() is not None]   # the layers with PCMs
    if analog:
        pairs = [l.pcm_pair_siemens() for l in analog]
        gp = np.concatenate([g_plus.ravel() for g_plus, _ in pairs]) * 1e6
        gm = np.concatenate([g_minus.ravel() for _, g_minus in pairs]) * 1e6
        hi = max(gp.max(), gm.max())
        a1.hist(gp, bins=80, range=(0, hi), histtype="step", color="C3", label="G+")
        a1.hist(gm, bins=80, range=(0, hi), histtype="step", color="C2", label="G-")
        a1.set_yscale("log")
        a1.legend(fontsize=8)
    a1.set_xlabel("PCM conductance (µS)")
    a1.set_ylabel("devices")
    a1.set_title("G+ and G- (all layers)", fontsize=10)
    caps = [c for c in (l.capacitor_volts() for l in layers) if c is not None]   # the layers with 3T1C
    if caps:
        rng_v = (float(caps[0].v_lo_volts), float(caps[0].v_hi_volts))
        before = [c.vc_before_last_transfer_volts for c in caps if c.vc_before_last_transfer_volts is not None]
        if before:
            a2.hist(np.concatenate([v.ravel() for v in before]), bins=100, range=rng_v, histtype="step",
                    color="C1", label="Vc of g before the last transfer")
        a2.hist(np.concatenate([c.vc_volts.ravel() for c in caps]), bins=100, range=rng_v, histtype="step",
                color="C0", label="Vc of g at the end")
        a2.hist(np.concatenate([c.vref_volts.ravel() for c in caps]), bins=100, range=rng_v, histtype="step",
                color="C4", label="Vc of g_shared at the end")
        a2.axvline(caps[0].v_start_volts, color="k", lw=0.8, ls=":", label="v_start")
        a2.set_yscale("log")
        a2.legend(fontsize=7, loc="upper right")
    else:
        a2.text(0.5, 0.5, f"no 3T1C in mode {cfg.array.mode}", ha="center", va="center", transform=a2.transAxes)
    a2.set_xlabel("capacitor voltage Vc (V)")
    a2.set_ylabel("cells")
    a2.set_title("3T1C capacitor voltages (all layers)", fontsize=10)
    fig.suptitle(tag, fontsize=10)
    paths.append(save(fig, "conductances.png"))
    # transfer error
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    any_t = False
    for k, l in enumerate(analog):
        rep = l.last_transfer or l.initial_program
        if rep is not None:
            err = rep.error_siemens * 1e6
            a1.hist(err, bins=100, histtype="step", label=f"layer {k}")
            any_t = True
        log = l.transfer_log
        if log:
            a2.plot([t["examples"] / 1000 for t in log], [1e6 * t["rms_error_siemens"] for t in log], "o-",
                    label=f"layer {k}")
    what = "last transfer" if analog and analog[0].last_transfer else "initial programming"
    a1.set_xlabel("PCM pair error F(G+ - G-) - target (µS)")
    a1.set_ylabel("synapses")
    a1.set_yscale("log")
    a1.set_title(f"Programming error, {what}", fontsize=10)
    a2.set_xlabel("examples trained (thousands)")
    a2.set_ylabel("RMS pair error (µS)")
    a2.set_title("RMS programming error per transfer", fontsize=10)
    if any_t:
        a1.legend(fontsize=8)
    if a2.lines:
        a2.legend(fontsize=8)
    else:
        a2.text(0.5, 0.5, "no transfers", ha="center", va="center", transform=a2.transAxes)
    fig.suptitle(tag, fontsize=10)
    paths.append(save(fig, "transfer_error.png"))
    return paths

"""What a LUT set says about its cells: statistics at the start voltage, retention, the sweep summary."""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.characterize.sweep import SweepConfig, netlist_hashes
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.core.provenance import versions
from pcmspice.lut import format as lutmod
from pcmspice.lut.stats import retention_10mv_seconds


# ---------------------------------------------------------------- statistics
def stats_at_start(lut: lutmod.LutSet) -> dict[str, float]:
    c = lut.cell
    n = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    g = c.g(n, v0)
    up = c.step_up(n, v0)
    dn = c.step_down(n, v0)
    ret = retention_10mv_seconds(c)
    asym = (up + dn) / (up - dn) * 2  # (|up| - |down|) / mean(|up|, |down|)
    p = lut.pcm
    gmid = np.full(p.n_devices, 5e-6)
    set_step = p.set_step(np.arange(p.n_devices), gmid)
    fin = np.isfinite(ret)
    return {
        "g_mean_siemens": float(g.mean()), "g_sigma_siemens": float(g.std()),
        "dv_up_mean_volts": float(up.mean()), "dv_up_sigma_volts": float(up.std()),
        "dv_down_mean_volts": float(dn.mean()), "dv_down_sigma_volts": float(dn.std()),
        "asymmetry_mean": float(asym.mean()), "asymmetry_sigma": float(asym.std()),
        "retention_10mV_median_seconds": float(np.median(ret)) if fin.any() else float("inf"),
        "pcm_set_step_at_5uS_mean_siemens": float(set_step.mean()),
        "pcm_g_reset_mean_siemens": float(p.g_reset_siemens.mean()),
        "e_up_mean_joules": float(c.e_up_joules.mean()), "e_down_mean_joules": float(c.e_down_joules.mean()),
        "e_read_cell_mean_joules": float(c.e_read_joules.mean()),
        "e_set_mean_joules": float(p.e_set_joules.mean()), "e_reset_mean_joules": float(p.e_reset_joules.mean()),
    }


def summarize(cfg: SweepConfig, lut_dirs, key: str, seconds: float, computed: int, reused: int) -> dict[str, Any]:
    combos = []
    for (corner, temp, vdd), d in lut_dirs.items():
        ls = lutmod.load_lut_set(d)
        gates = ls.provenance["cell_params"]     # the levels the tables were made with
        combos.append({"corner": corner, "temp_c": temp, "vdd_volts": vdd, "lut_dir": str(d.relative_to(d.parents[1])),
                       **{k: gates[k] for k in cellmod.BIAS_LEVELS}, **stats_at_start(ls)})
    return {"kind": "characterization", "config": cfg.to_dict(), "sweep_key": key, "netlist_hashes": netlist_hashes(),
            "versions": versions(), "wall_seconds": seconds, "batches_computed": computed, "batches_reused": reused,
            "combos": combos}

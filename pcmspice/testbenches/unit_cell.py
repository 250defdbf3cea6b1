"""Named testbench of the full unit cell (`pcmspice simulate unit_cell_read`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pcmspice.circuits import pcm
from pcmspice.circuits.c3t1c import Run
from pcmspice.circuits.unit_cell import (
    READ_TEMPLATE,
    draw_population,
    nominal_population,
    read,
    read_parts,
    unit_cell_params,
)
from pcmspice.testbenches.base import TestbenchResult


def unit_cell_read(run: Run, seed: int | None = None) -> TestbenchResult:
    p = unit_cell_params(run.tech, run.params)
    v0 = p["v_start_volts"]
    step = 0.05 * p["vdd_volts"]
    vc = np.round(v0 + step * np.array([-1, 0, 0, 1, 2]), 2)
    x_plus = np.array([0.4, 0.4, 0.1, 0.6, 0.2])
    x_minus = np.array([0.1, 0.4, 0.5, 0.0, 0.2])
    pop = nominal_population(vc.size) if seed is None else draw_population(run, vc.size, seed)
    whole = read(run, pop, x_plus, x_minus, vc)
    parts = read_parts(run, pop, x_plus, x_minus, vc)
    df = pd.DataFrame({"x_plus": x_plus, "x_minus": x_minus, "vc_volts": vc,
                       "i_plus_amperes": whole.i_plus_amperes, "i_minus_amperes": whole.i_minus_amperes,
                       "i_g_amperes": whole.i_g_amperes, "i_shared_amperes": whole.i_shared_amperes,
                       "w_siemens": whole.w_siemens, "w_parts_siemens": parts.w_siemens})
    meas = {"f_gain": whole.f_gain, "v_read_volts": whole.v_read_volts,
            "max_abs_w_difference_siemens": float(np.abs(whole.w_siemens - parts.w_siemens).max())}

    def plot(ax):
        k = np.arange(vc.size)
        ax.bar(k - 0.2, whole.w_siemens * 1e6, 0.4, label="whole cell, one netlist")
        ax.bar(k + 0.2, parts.w_siemens * 1e6, 0.4, label="sum of parts read alone")
        ax.set_xticks(k, [f"x+ {a:g}\nx- {b:g}\nVc {c:g} V" for a, b, c in zip(x_plus, x_minus, vc)])
        ax.set_ylabel("weight W = F(G+ - G-) + (g - g_shared) (µS)")
        ax.set_title(f"unit cell read ({run.tech.name} {run.corner}, {run.temp_c:g} °C, F = {whole.f_gain:g})")
        ax.legend()
    draws = {f"{k}_plus": [float(x) for x in v] for k, v in pop.pcm_plus.items()}
    draws.update({f"{k}_minus": [float(x) for x in v] for k, v in pop.pcm_minus.items()})
    draws.update({k: [float(x) for x in v] for k, v in pop.mismatch.items()})
    return TestbenchResult(df, meas, plot, [READ_TEMPLATE, "testbenches/3t1c_dc.cir.j2",
                                               pcm.PULSES_TEMPLATE], draws)


# name -> (function, one-line description), gathered by pcmspice.testbenches
TESTBENCHES = {
    "unit_cell_read": (unit_cell_read, "Full unit cell (2 PCM + 3T1C) and g_shared: read currents of G+, G-, g at one read voltage, W = F (G+ - G-) + (g - g_shared), against the parts read alone"),
}

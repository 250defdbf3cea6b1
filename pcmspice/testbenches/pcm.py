"""Named PCM testbenches (`pcmspice simulate pcm_*`): partial-SET train, SET ramp-down, RESET, drift, energy."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pcmspice.circuits.c3t1c import Run
from pcmspice.circuits.pcm import (
    BIAS_TEMPLATE,
    DRIFT_TEMPLATE,
    PULSES_TEMPLATE,
    RAMP_STEPS,
    draw_variation,
    drift,
    drift_nu_of_g,
    g_of_state,
    nominal_variation,
    pcm_params,
    ramp_down_set,
    reset,
    run_ops,
    set_train,
)
from pcmspice.testbenches.base import TestbenchResult


def _var(run: Run, seed: int | None, n: int = 1) -> dict[str, np.ndarray]:
    return nominal_variation(n) if seed is None else draw_variation(n, seed, 0, run.params)

def _draws(var: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {k: [float(x) for x in v] for k, v in var.items()}

def _title(run: Run, what: str) -> str:
    return f"PCM {what} ({run.tech.name} {run.corner}, {run.temp_c:g} °C)"

def pcm_set_train(run: Run, seed: int | None = None, n_pulses: int = 20) -> TestbenchResult:
    var = _var(run, seed)
    g, e_set, e_reset = set_train(run, var, n_pulses, seed=seed)
    g = g[0, 0]
    df = pd.DataFrame({"pulse": np.arange(1, n_pulses + 1), "g_before_siemens": g[:-1],
                       "g_after_siemens": g[1:], "dg_siemens": np.diff(g), "energy_joules": e_set[0, 0]})
    meas = {"g_after_reset_siemens": float(g[0]), "dg_first_siemens": float(g[1] - g[0]),
            "g_after_last_siemens": float(g[-1]), "e_set_mean_joules": float(e_set.mean()),
            "e_reset_joules": float(e_reset[0, 0])}

    def plot(ax):
        ax.plot(np.arange(n_pulses + 1), g * 1e6, marker="o", ms=3)
        ax.set_xlabel("partial-SET pulse number (0 = after RESET)")
        ax.set_ylabel("read conductance G (µS)")
        ax.set_title(_title(run, "partial-SET train"))
    return TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var))

def pcm_ramp_down(run: Run, seed: int | None = None) -> TestbenchResult:
    var = _var(run, seed)
    steps = np.geomspace(1.7e-9, 550e-9, 8)
    g, e = ramp_down_set(run, var, steps)
    df = pd.DataFrame({"step_seconds": steps, "ramp_seconds": RAMP_STEPS * steps, "g_after_siemens": g[0],
                       "energy_joules": e[0]})
    meas = {"g_shortest_ramp_siemens": float(g[0, 0]), "g_longest_ramp_siemens": float(g[0, -1]),
            "e_longest_ramp_joules": float(e[0, -1])}

    def plot(ax):
        ax.semilogx(RAMP_STEPS * steps * 1e9, g[0] * 1e6, marker="o")
        ax.set_xlabel("total SET ramp-down duration (ns)")
        ax.set_ylabel("read conductance G after the ramp (µS)")
        ax.set_title(_title(run, "SET ramp-down"))
    return TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var))

def pcm_reset(run: Run, seed: int | None = None) -> TestbenchResult:
    x0 = np.linspace(0.0, 1.0, 6)
    var1 = _var(run, seed)
    var = {k: np.repeat(v, x0.size) for k, v in var1.items()}
    p = pcm_params(run.tech, run.params)
    g_after, e = reset(run, var, x0)
    g_before = g_of_state(x0, 0.0, var, p)
    df = pd.DataFrame({"x_before": x0, "g_before_siemens": g_before, "g_after_siemens": g_after,
                       "energy_joules": e})
    meas = {"g_after_reset_max_siemens": float(g_after.max()), "e_reset_mean_joules": float(e.mean())}

    def plot(ax):
        ax.plot(g_before * 1e6, g_after * 1e6, marker="o")
        ax.set_xlabel("G before the RESET (µS)")
        ax.set_ylabel("G after the RESET (µS)")
        ax.set_title(_title(run, "RESET"))
    return TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var1))

def pcm_drift(run: Run, seed: int | None = None) -> TestbenchResult:
    x0 = np.array([0.2, 0.5, 0.8])
    var1 = _var(run, seed)
    var = {k: np.repeat(v, x0.size) for k, v in var1.items()}
    times = np.geomspace(1e-3, 1e4, 29)
    g = drift(run, var, x0, times)
    df = pd.DataFrame({"time_seconds": times, **{f"g_from_x{x:g}_siemens": g[i] for i, x in enumerate(x0)}})
    p = pcm_params(run.tech, run.params)
    t0 = p["drift_t0_seconds"]
    nu_fit = -np.log(g[:, -1] / g[:, -5]) / np.log((times[-1] + t0) / (times[-5] + t0))
    nu_model = drift_nu_of_g(g_of_state(x0, 0.0, var, p), var["znu"], p)
    meas = {"nu_fit": float(nu_fit.mean()), "nu_model": float(nu_model.mean()),
            "g_ratio_1s": float((g[:, np.argmin(np.abs(times - 1.0))] / g[:, 0]).mean())}

    def plot(ax):
        for i, x in enumerate(x0):
            ax.loglog(times, g[i] * 1e6, label=f"x = {x:g}")
        ax.set_xlabel("time after programming (s)")
        ax.set_ylabel("read conductance G (µS)")
        ax.set_title(_title(run, "drift"))
        ax.legend()
    return TestbenchResult(df, meas, plot, [DRIFT_TEMPLATE], _draws(var1))

def pcm_energy(run: Run, seed: int | None = None) -> TestbenchResult:
    var = _var(run, seed)
    r = run_ops(run, var, [("read",), ("set",), ("reset",), ("ramp", 50e-9)], x0=0.5)
    names = ["read", "partial_set", "reset", "ramp_down_8x50ns"]
    df = pd.DataFrame({"operation": names, "energy_joules": r.energy_joules[0]})
    meas = {f"e_{k}_joules": float(e) for k, e in zip(names, r.energy_joules[0])}

    def plot(ax):
        ax.bar(names, r.energy_joules[0] * 1e12, color=["C0", "C2", "C3", "C1"])
        ax.set_yscale("log")
        ax.set_ylabel("energy per operation (pJ)")
        ax.set_title(_title(run, "energy per operation"))
    return TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var))


# name -> (function, one-line description), gathered by pcmspice.testbenches
TESTBENCHES = {
    "pcm_set_train": (pcm_set_train,
        "PCM: RESET then 20 partial-SET pulses; G after each pulse and energy per pulse (with --seed: "
        "device variation and cycle-to-cycle noise)"),
    "pcm_ramp_down": (pcm_ramp_down,
        "PCM: eight-step SET ramp-down from full RESET, step length 1.7 ns to 550 ns (13.6 ns to 4.4 us "
        "in total, as in the paper); G and energy per ramp"),
    "pcm_reset": (pcm_reset, "PCM: RESET (melt-quench) from crystalline fractions 0 to 1; G before and after, energy"),
    "pcm_drift": (pcm_drift, "PCM: G(t) of idle devices from 1 ms to 1e4 s after programming (power-law drift)"),
    "pcm_energy": (pcm_energy,
        "PCM energy per operation: partial SET, RESET, read, SET ramp-down (bit-line and word-line charge "
        "integrated over each operation)"),
}

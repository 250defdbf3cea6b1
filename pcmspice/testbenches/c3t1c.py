"""Named 3T1C testbenches (`pcmspice simulate`): read curve, pulse train, retention, energy per operation."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pcmspice.circuits import c3t1c as cell
from pcmspice.testbenches.base import TestbenchResult


def _mm(run: cell.Run, seed: int | None) -> dict[str, np.ndarray]:
    return cell.nominal_mismatch(1) if seed is None else cell.draw_mismatch(run.tech, 1, seed, run.params)


def _draws(mm: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {k: [float(x) for x in v] for k, v in mm.items()}


def read_curve(run: cell.Run, seed: int | None = None) -> TestbenchResult:
    mm = _mm(run, seed)
    p = cell.cell_params(run.tech, run.params)
    vc = np.round(np.arange(0.0, p["vdd_volts"] + 1e-9, 0.01), 6)
    g = cell.read_curve(run, mm, vc)[0]
    df = pd.DataFrame({"vc_volts": vc, "g_siemens": g, "i_read_amps": g * p["v_read_volts"]})
    v0 = p["v_start_volts"]
    meas = {"g_at_start_siemens": float(np.interp(v0, vc, g)),
            "g_at_vdd_siemens": float(g[-1]), "v_read_volts": p["v_read_volts"], "v_start_volts": v0}

    def plot(ax):
        ax.plot(vc, g * 1e6, lw=2)
        ax.axvline(v0, ls=":", color="k", label=f"start voltage {v0:g} V")
        ax.set_xlabel("capacitor voltage Vc (V)")
        ax.set_ylabel("read conductance g (µS)")
        ax.set_title(f"3T1C read curve ({run.tech.name} {run.corner}, {run.temp_c:g} °C, "
                     f"Vread {p['v_read_volts']:g} V)")
        ax.legend()
    return TestbenchResult(df, meas, plot, ["testbenches/3t1c_dc.cir.j2"], _draws(mm))


def pulse_train(run: cell.Run, seed: int | None = None, n_pulses: int = 100) -> TestbenchResult:
    mm = _mm(run, seed)
    p = cell.cell_params(run.tech, run.params)
    seq = np.r_[np.ones(n_pulses, int), -np.ones(n_pulses, int)]
    r = cell.pulses(run, mm, np.array([p["v_start_volts"]]), seq[None, :])
    vc = r.vc_volts[0]
    dv = np.diff(vc)
    df = pd.DataFrame({"pulse": np.arange(1, seq.size + 1), "direction": np.where(seq > 0, "up", "down"),
                       "vc_before_volts": vc[:-1], "vc_after_volts": vc[1:], "dvc_volts": dv,
                       "energy_joules": r.energy_joules[0]})
    meas = {"dv_up_first_volts": float(dv[0]), "dv_down_first_volts": float(dv[n_pulses]),
            "dv_up_mean_volts": float(dv[:n_pulses].mean()), "dv_down_mean_volts": float(dv[n_pulses:].mean()),
            "vc_peak_volts": float(vc.max()), "vc_end_volts": float(vc[-1]),
            "e_up_mean_joules": float(r.energy_joules[0, :n_pulses].mean()),
            "e_down_mean_joules": float(r.energy_joules[0, n_pulses:].mean())}

    def plot(ax):
        ax.plot(np.arange(seq.size + 1), vc, marker=".", ms=3)
        ax.axvline(n_pulses, ls=":", color="k", label="up -> down")
        ax.set_xlabel("pulse number")
        ax.set_ylabel("capacitor voltage Vc after the pulse (V)")
        ax.set_title(f"3T1C pulse train ({run.tech.name} {run.corner}, {run.temp_c:g} °C)")
        ax.legend()
    bad = cell.rail_excursion(vc, p["vdd_volts"])
    warn = [f"{bad} (c_store_farads = {p['c_store_farads']:g} F): the 3T1C model does not hold for this cell"
            ] if bad else []
    return TestbenchResult(df, meas, plot, ["testbenches/3t1c_pulses.cir.j2"], _draws(mm), warn)


def retention(run: cell.Run, seed: int | None = None, t_stop: float = 10e-3) -> TestbenchResult:
    p = cell.cell_params(run.tech, run.params)
    v0, vdd = p["v_start_volts"], p["vdd_volts"]
    starts = np.array([v0 - 0.2 * vdd, v0, v0 + 0.2 * vdd])
    mm1 = _mm(run, seed)
    mm = {k: np.repeat(v, starts.size) for k, v in mm1.items()}
    t, vc = cell.retention(run, mm, starts, t_stop)
    df = pd.DataFrame({"time_seconds": t, **{f"vc_from_{s:g}V_volts": vc[i] for i, s in enumerate(starts)}})
    i0 = int(np.argmin(np.abs(starts - p["v_start_volts"])))
    k1 = int(np.argmin(np.abs(t - 1e-3)))
    meas = {"vc_change_1ms_from_start_volts": float(vc[i0, k1] - vc[i0, 0]),
            "vc_change_end_from_start_volts": float(vc[i0, -1] - vc[i0, 0])}

    def plot(ax):
        for i, s in enumerate(starts):
            ax.plot(t * 1e3, vc[i], label=f"start {s:g} V")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("capacitor voltage Vc (V)")
        ax.set_title(f"3T1C retention ({run.tech.name} {run.corner}, {run.temp_c:g} °C)")
        ax.legend()
    return TestbenchResult(df, meas, plot, ["testbenches/3t1c_pulses.cir.j2"], _draws(mm1))


def energy(run: cell.Run, seed: int | None = None, read_time_seconds: float = 10e-9) -> TestbenchResult:
    mm = _mm(run, seed)
    p = cell.cell_params(run.tech, run.params)
    sm = cell.step_map(run, mm, np.array([p["v_start_volts"] - 0.05, p["v_start_volts"], p["v_start_volts"] + 0.05]))
    g0 = cell.read_curve(run, mm, np.array([p["v_start_volts"], p["v_start_volts"] + 0.01]))[0, 0]
    e_read = p["v_read_volts"] ** 2 * g0 * read_time_seconds
    c_up, c_dn = (float(c[0]) for c in cell.gate_load(run, mm))
    # the line driver charges each gate by the swing and discharges it again: C dV^2 per pulse
    e_gu = c_up * (p["v_up_off_volts"] - p["v_up_on_volts"]) ** 2
    e_gd = c_dn * (p["v_dn_on_volts"] - p["v_dn_off_volts"]) ** 2
    df = pd.DataFrame({"operation": ["read", "up_pulse_supply", "down_pulse_supply", "up_gate_drive",
                                     "down_gate_drive"],
                       "energy_joules": [e_read, sm.e_up_joules[0], sm.e_down_joules[0], e_gu, e_gd]})
    meas = {"e_read_joules": float(e_read), "e_up_joules": float(sm.e_up_joules[0]),
            "e_down_joules": float(sm.e_down_joules[0]), "c_gate_up_farads": c_up, "c_gate_down_farads": c_dn,
            "e_gate_up_joules": e_gu, "e_gate_down_joules": e_gd, "read_time_seconds": read_time_seconds}

    def plot(ax):
        ax.bar(df["operation"], np.maximum(df["energy_joules"], 1e-21) * 1e15, color=["C0", "C3", "C2", "C1", "C4"])
        ax.set_yscale("log")
        ax.set_ylabel("energy per operation (fJ)")
        ax.set_title(f"3T1C energy per operation at Vc = {p['v_start_volts']:g} V ({run.tech.name} {run.corner})")
    return TestbenchResult(df, meas, plot, ["testbenches/3t1c_step.cir.j2", "testbenches/3t1c_dc.cir.j2",
                                            "testbenches/3t1c_gate.cir.j2"], _draws(mm))


# name -> (function, one-line description), gathered by pcmspice.testbenches
TESTBENCHES = {
    "read_curve": (read_curve, "3T1C read current and conductance g vs capacitor voltage Vc (DC sweep)"),
    "pulse_train": (pulse_train,
        "3T1C: 100 up pulses then 100 down pulses from the start voltage; Vc and energy per pulse"),
    "retention": (retention,
        "3T1C: Vc vs time with both switches off, from the start voltage and +/-20 % of VDD around it, "
        "over 10 ms"),
    "energy": (energy, "3T1C energy per operation: read, the cell's supply per up / down pulse, and the gate "
               "drive C dV^2 of each switch (C = Q/dV of its gate over the pulse edge)"),
}

"""What a LUT set implies for training: the statistics ``pcmspice lut stats`` prints.

Every number is computed from the tables alone, the way the array simulator uses them:

* a partial-SET pulse on device d at conductance G changes it by a normal draw with the mean
  ``set_step_mean_siemens[d](G)`` and the std ``set_step_std_siemens[d](G)``; over a
  population (what a measurement of many devices reports) the step at G has the mean
  ``mean_d(mu_d)`` and the std ``sqrt(mean_d(s_d^2) + var_d(mu_d))``;
* the fraction of pulses that lower G is ``Phi(-mu_d / s_d)`` averaged over the devices and
  over G uniformly from 2 to 10 uS (the range of the published count, 18-44 %);
* read noise and drift exponents are the tables' values at G, averaged over the devices;
* the 3T1C numbers are at the cells' start voltage; retention is the time for Vc to move
  10 mV from it with both switches off (the leakage table integrated, per cell).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from pcmspice.lut.format import CellLut, LutSet, PcmLut, _interp_rows

#: conductances (uS) at which the PCM step and its spread are reported
G_POINTS_US = (2, 5, 10, 15)
NEGATIVE_RANGE_US = (2.0, 10.0)


def retention_10mv_seconds(lut: CellLut, dv_volts: float = 0.01, t_max: float = 10.0) -> np.ndarray:
    """Per cell: time for Vc to move ``dv_volts`` from v_start (idle), from the LUT's leakage (inf if never)."""
    n = lut.n_cells
    cells = np.arange(n)
    vc = np.full(n, lut.v_start_volts)
    t = 0.0
    out = np.full(n, np.inf)
    dt = 1e-7
    while t < t_max and np.isinf(out).any():
        new = lut.leak(cells, vc, dt, substeps=2)
        t += dt
        crossed = np.isinf(out) & (np.abs(new - lut.v_start_volts) >= dv_volts)
        if crossed.any():
            # linear interpolation inside the step
            prev = np.abs(vc[crossed] - lut.v_start_volts)
            now = np.abs(new[crossed] - lut.v_start_volts)
            frac = np.clip((dv_volts - prev) / np.maximum(now - prev, 1e-30), 0, 1)
            out[crossed] = t - dt + frac * dt
        vc = new
        dt = min(dt * 1.25, t_max / 50)
    return out


def _at(p: PcmLut, table: np.ndarray, g_siemens: float | np.ndarray) -> np.ndarray:
    """``table`` (device, g) of every device at ``g_siemens`` (one value, or one per device)."""
    devices = np.arange(p.n_devices)
    return _interp_rows(p.g_grid_siemens, table, devices, np.broadcast_to(g_siemens, (p.n_devices,)))


def pcm_step_population(p: PcmLut, g_siemens: float) -> tuple[float, float]:
    """(mean, std) of the step of one partial-SET pulse at ``g_siemens`` over the device population."""
    mu = _at(p, p.set_step_mean_siemens, g_siemens)
    s = _at(p, p.set_step_std_siemens, g_siemens)
    return float(mu.mean()), float(math.sqrt(np.mean(s ** 2) + np.var(mu)))


def negative_step_fraction(p: PcmLut, lo_siemens: float = NEGATIVE_RANGE_US[0] * 1e-6,
                           hi_siemens: float = NEGATIVE_RANGE_US[1] * 1e-6, points: int = 81) -> float:
    """Fraction of partial-SET pulses that lower G, for G uniform in [lo, hi] (the step law of the tables)."""
    from scipy.special import ndtr

    fr = []
    for g in np.linspace(lo_siemens, hi_siemens, points):
        mu = _at(p, p.set_step_mean_siemens, g)
        s = _at(p, p.set_step_std_siemens, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(s > 0, -mu / np.where(s > 0, s, 1.0), np.where(mu < 0, np.inf, -np.inf))
        fr.append(ndtr(z))
    return float(np.mean(fr))


def lut_stats(luts: LutSet) -> dict[str, Any]:
    """The statistics of one LUT set (keys as documented in docs/characterization.md, SI units)."""
    p, c = luts.pcm, luts.cell
    prov = luts.typed_provenance
    out: dict[str, Any] = {
        "lut": luts.name, "set_id": luts.set_id, "technology": prov.technology, "corner": prov.corner,
        "temp_c": prov.temp_c, "n_cells": c.n_cells, "n_pcm_devices": p.n_devices,
    }
    for g_us in G_POINTS_US:
        m, s = pcm_step_population(p, g_us * 1e-6)
        out[f"pcm_dg_mean_siemens_at_{g_us}us"] = m
        out[f"pcm_dg_std_siemens_at_{g_us}us"] = s
    out["pcm_negative_step_fraction"] = negative_step_fraction(p)
    first = _at(p, p.set_step_mean_siemens, p.g_reset_siemens)
    out["pcm_first_step_mean_siemens"] = float(first.mean())
    out["pcm_g_reset_mean_siemens"] = float(p.g_reset_siemens.mean())
    out["pcm_g_max_mean_siemens"] = float(p.g_max_siemens.mean())
    for g_us in (1, 5, 10, 20):
        out[f"pcm_read_noise_rel_at_{g_us}us"] = float(np.interp(g_us * 1e-6, p.g_grid_siemens, p.read_noise_rel))
    for g_us in (1, 20):
        nu = _at(p, p.drift_nu, g_us * 1e-6)
        out[f"drift_nu_mean_at_{g_us}us"] = float(nu.mean())
        out[f"drift_nu_std_at_{g_us}us"] = float(nu.std())
    out["drift_t0_seconds"] = float(p.drift_t0_seconds)
    cells = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    up, dn = c.step_up(cells, v0), c.step_down(cells, v0)
    ret = retention_10mv_seconds(c)
    fin = np.isfinite(ret)
    out.update({
        "cell_v_start_volts": float(c.v_start_volts),
        "cell_g_mean_siemens_at_start": float(c.g(cells, v0).mean()),
        "cell_dv_up_mean_volts": float(up.mean()), "cell_dv_up_std_volts": float(up.std()),
        "cell_dv_down_mean_volts": float(dn.mean()), "cell_dv_down_std_volts": float(dn.std()),
        "cell_read_noise_rel_mean_at_start": float(_interp_rows(c.vc_volts, c.read_noise_rel, cells, v0).mean()),
        "cell_c_gate_up_mean_farads": float(c.c_gate_up_farads.mean()),
        "cell_c_gate_down_mean_farads": float(c.c_gate_down_farads.mean()),
        "cell_retention_10mv_median_seconds": float(np.median(ret)) if fin.any() else math.inf,
        "cell_retention_10mv_p10_seconds": float(np.percentile(ret[fin], 10)) if fin.any() else math.inf,
    })
    return out


def _fmt(key: str, v: Any) -> str:
    if not isinstance(v, float):
        return str(v)
    unit = next((u for suffix, u in (("_siemens", "S"), ("_volts", "V"), ("_seconds", "s"), ("_farads", "F"))
                 if suffix in key), "")
    if not math.isfinite(v) or unit == "":
        return f"{v:.4g}"
    scale, prefix = next(((s, pre) for s, pre in ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"),
                                                   (1e-3, "m"), (1.0, "")) if abs(v) < s * 1000), (1.0, ""))
    return f"{v / scale:.4g} {prefix}{unit}"


def format_stats(stats: dict[str, Any]) -> str:
    """The statistics as aligned ``name  value unit`` lines."""
    w = max(len(k) for k in stats)
    return "\n".join(f"{k:<{w}}  {_fmt(k, v)}" for k, v in stats.items())

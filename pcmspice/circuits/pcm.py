"""The PCM device in SPICE: variation draws, programming operations, drift, and the PCM lookup table.

The model itself is ``netlists/cells/pcm.cir.j2`` (equations and citations
there); a device is driven through its access transistor (``pcm1t1r`` in
``netlists/cells/pcm_pair.cir.j2``) by bit-line, word-line and
rate-multiplier waveforms that :func:`run_ops` builds from an operation list.
Programming is current-controlled, as in a real PCM programming circuit: the
word-line level of each operation is the gate voltage at which a
diode-connected replica of the access NMOS carries the target current
(:func:`wl_levels`, one DC sweep per technology / corner / temperature), so
the same currents program the same way at every corner.  Operations:

* ``("set",)``          one partial-SET pulse (``i_set_amperes`` through the access device)
* ``("reset",)``        one RESET pulse (melt, fast trailing edge: quench)
* ``("ramp", step_s)``  the paper's eight-step SET ramp-down, each step ``step_s`` long
* ``("read",)``         one read pulse; G = I / V on the bit line
* ``("idle", seconds)`` nothing (cooling, drift)

Measurements built on it (all return numpy arrays):

* :func:`set_train`      G after each pulse of partial-SET trains from RESET
* :func:`ramp_down_set`  G after a SET ramp-down, per step length
* :func:`reset`          G and energy of a RESET from given states
* :func:`read`           G = I/V and energy of a read at given states
* :func:`drift`          G(t) of idle, just-programmed devices
* :func:`pcm_lut_arrays` everything :class:`pcmspice.lut.format.PcmLut` needs

Randomness.  Device-to-device variation (:func:`draw_variation`) and the
cycle-to-cycle multipliers of the crystallisation rate
(:func:`c2c_multipliers`) each come from a per-device stream
``SeedSequence([seed, k, tag])``, so device k is the same whatever the
population size or batching.  A multiplier is lognormal with mean 1 and
applies to one programming pulse: the PWL source on the device's ``rm`` node
steps to the next value in the idle gap before each pulse.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.circuits.c3t1c import Run
from pcmspice.core.errors import SpiceError
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl

PULSES_TEMPLATE = "testbenches/pcm_pulses.cir.j2"
DRIFT_TEMPLATE = "testbenches/pcm_drift.cir.j2"
BIAS_TEMPLATE = "testbenches/pcm_wl_bias.cir.j2"
MODEL_TEMPLATE = "cells/pcm.cir.j2"
#: templates whose hashes identify a PCM table (for provenance)
LUT_TEMPLATES = (PULSES_TEMPLATE, BIAS_TEMPLATE, "cells/pcm_pair.cir.j2", MODEL_TEMPLATE)
VARIATION_KEYS = ("gcm", "krm", "dvth", "num", "rthm")
#: instances per netlist: ngspice's per-instance cost of these B-source models
#: doubles between 40 and 100 instances (cache), so batches stay smaller than cell.py's
DEVICES_PER_NETLIST = 50
RAMP_STEPS = 8
_TAG_VARIATION = 0x50434D   # "PCM": keeps these streams apart from cell.draw_mismatch's
_TAG_C2C = 0x50434E


# ---------------------------------------------------------------- parameters and randomness
def _pcm_only(params: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` without the keys that belong to the rest of the unit cell (3T1C, F, supply).

    A run shared with the 3T1C (e.g. a characterization sweep overriding
    ``c_store_farads`` or ``vdd_volts``) can drive the PCM functions as is;
    a key that no unit-cell netlist declares is still refused by name.
    """
    if not params:
        return {}
    mine = nl.declared_params(PULSES_TEMPLATE)
    cell_keys = nl.declared_params("testbenches/unit_cell_read.cir.j2")
    return {k: v for k, v in params.items() if k in mine or k not in cell_keys}


def _pcm_run(run: Run) -> Run:
    return Run(run.tech, run.corner, run.temp_c, _pcm_only(run.params), run.engine)


def pcm_params(tech, params: dict[str, Any] | None = None) -> dict[str, float]:
    """All PCM model + access transistor + drive parameters, defaults resolved for ``tech``."""
    return nl.resolve_params(PULSES_TEMPLATE, _pcm_only(params), tech)


def _model_defaults(params: dict[str, Any] | None) -> dict[str, float]:
    decl = nl.declared_params(MODEL_TEMPLATE)
    out = {k: p.default for k, p in decl.items()}
    for k, v in (params or {}).items():
        if k in decl:
            out[k] = decl[k].check(v, MODEL_TEMPLATE)
    return out


def draw_variation(n: int, seed: int, first: int = 0, params: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Device-to-device variation of devices ``first .. first+n-1``.

    Returns multipliers ``gcm`` (x G_cryst), ``krm`` (x growth-rate prefactor),
    ``num`` (x drift nu), ``rthm`` (x thermal resistance), all lognormal with
    median 1, and ``dvth`` (V, normal, added to the amorphous threshold).  The
    spreads are the ``sigma_*`` parameters of ``cells/pcm.cir.j2`` (override
    them through ``params``).
    """
    if n < 0:
        raise SpiceError(f"number of devices {n} must be 0 or more", value=n)
    p = _model_defaults(params)
    sig = {"gcm": p["sigma_g_cryst_rel"], "krm": p["sigma_rate_rel"], "num": p["sigma_nu_rel"],
           "rthm": p["sigma_rth_rel"]}
    out = {k: np.empty(n) for k in VARIATION_KEYS}
    for i in range(n):
        z = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence([int(seed), first + i, _TAG_VARIATION]))).standard_normal(5)
        for j, k in enumerate(("gcm", "krm", "num", "rthm")):
            out[k][i] = float(np.exp(sig[k] * z[j]))
        out["dvth"][i] = p["sigma_vth_volts"] * z[4]
    return out


def nominal_variation(n: int = 1) -> dict[str, np.ndarray]:
    return {k: (np.zeros(n) if k == "dvth" else np.ones(n)) for k in VARIATION_KEYS}


def c2c_multipliers(n: int, n_pulses: int, seed: int, first: int = 0, sigma: float = 0.5) -> np.ndarray:
    """Cycle-to-cycle growth-rate multipliers, shape (n, n_pulses): lognormal, mean 1.

    Device k's sequence comes from its own stream, so it does not depend on
    the population size; pulse j of device k is always the same draw.
    """
    out = np.empty((n, n_pulses))
    for i in range(n):
        z = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence([int(seed), first + i, _TAG_C2C]))).standard_normal(n_pulses)
        out[i] = np.exp(sigma * z - 0.5 * sigma ** 2)
    return out


def g_of_state(x: np.ndarray, age_s: np.ndarray, var: dict[str, np.ndarray], p: dict[str, float]) -> np.ndarray:
    """Read conductance (S) of the model (equation 1 of pcm.cir.j2), numpy mirror of node ``gr``."""
    x = np.clip(np.asarray(x, float), 0.0, 1.0)
    g0 = p["g_amorph_siemens"] + (p["g_cryst_siemens"] * var["gcm"] - p["g_amorph_siemens"]) * x
    return g0 * ((np.asarray(age_s, float) + p["drift_t0_seconds"]) / p["drift_t0_seconds"]) ** (-p["drift_nu"] * var["num"])


def x_for_g(g_siemens: np.ndarray, var: dict[str, np.ndarray], p: dict[str, float]) -> np.ndarray:
    """Crystalline fraction that reads ``g_siemens`` just after programming (age 0)."""
    ga = p["g_amorph_siemens"]
    return np.clip((np.asarray(g_siemens, float) - ga) / (p["g_cryst_siemens"] * var["gcm"] - ga), 0.0, 1.0)


# ---------------------------------------------------------------- waveforms
def _op_check(op: Sequence[Any]) -> None:
    kind = op[0]
    if kind not in ("set", "reset", "read", "ramp", "idle"):
        raise SpiceError(f"unknown PCM operation '{kind}' (use set, reset, read, ramp, idle)", value=kind)
    if kind in ("ramp", "idle"):
        if len(op) < 2 or not np.isfinite(float(op[1])) or float(op[1]) <= 0:
            raise SpiceError(f"PCM operation {kind} needs a positive duration in seconds (got {op[1:]})",
                             value=op[1] if len(op) > 1 else None)


_BIAS_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def wl_bias_curve(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(word-line volts, drain current A) of the diode-connected replica of the access NMOS."""
    run = _pcm_run(run)
    p = pcm_params(run.tech, run.params)
    key = (run.tech.name, run.corner, float(run.temp_c), p["w_acc_um"], p["l_acc_um"], p["v_wl_max_volts"],
           run.engine)
    if key not in _BIAS_CACHE:
        text, _ = run.render(BIAS_TEMPLATE)
        res = spice.run(text, "pcm_wl_bias", run.engine)
        v = res.scale
        i = np.maximum.accumulate(np.abs(res["i(vg)"]))
        _BIAS_CACHE[key] = (np.asarray(v, float), i)
    return _BIAS_CACHE[key]


def wl_levels(run: Run, currents_amperes: Sequence[float]) -> np.ndarray:
    """Word-line levels (V) that make the access device carry ``currents_amperes`` (1:1 replica mirror)."""
    v, i = wl_bias_curve(run)
    cur = np.asarray(currents_amperes, float)
    if np.any(cur > i[-1]):
        p = pcm_params(run.tech, run.params)
        raise SpiceError(f"a programming current of {cur.max() * 1e6:.0f} uA needs a word line above "
                         f"v_wl_max_volts={p['v_wl_max_volts']:g} V (the access NMOS gives {i[-1] * 1e6:.0f} uA "
                         f"there at {run.corner}, {run.temp_c:g} degC): lower the current or widen w_acc_um",
                         value=float(cur.max()))
    keep = np.concatenate([[True], np.diff(i) > 0])
    return np.interp(cur, i[keep], v[keep])


def _levels(run: Run, p: dict[str, float]) -> dict[str, Any]:
    ramp_i = np.linspace(p["i_ramp_start_amperes"], p["i_ramp_stop_amperes"], RAMP_STEPS)
    lv = wl_levels(run, np.concatenate([[p["i_set_amperes"], p["i_reset_amperes"]], ramp_i]))
    return {"set": float(lv[0]), "reset": float(lv[1]), "ramp": lv[2:], "read": p["v_wl_read_volts"]}


def _waves(ops: Sequence[Sequence[Any]], p: dict[str, float], mults: Sequence[float] | None,
           levels: dict[str, Any]):
    """Bit-line, word-line and rate-multiplier PWL points and the slot end times of ``ops``."""
    te, gap = p["t_edge_pcm_seconds"], p["t_gap_pcm_seconds"]
    bl, wl, rm = [(0.0, 0.0)], [(0.0, 0.0)], [(0.0, 1.0 if mults is None else float(mults[0]))]
    ends, pulse = [], []
    s = 0.0
    for j, op in enumerate(ops):
        _op_check(op)
        kind = op[0]
        if mults is not None and j > 0 and mults[j] != mults[j - 1]:
            rm += [(s, float(mults[j - 1])), (s + 0.25 * gap, float(mults[j]))]
        if kind == "idle":
            s += float(op[1])
            ends.append(s)
            pulse.append((s, s))
            continue
        a = s + 0.5 * gap
        if kind == "ramp":
            step = float(op[1])
            vb = p["v_bl_reset_volts"]
            ramp = levels["ramp"]
            tr = min(te, 0.25 * step)
            bl += [(a, 0.0), (a + te, vb)]
            wl += [(a, 0.0), (a + te, ramp[0])]
            t = a + te
            for i in range(1, RAMP_STEPS):
                t += step
                wl += [(t - tr, ramp[i - 1]), (t, ramp[i])]
            t += step
            bl += [(t, vb), (t + te, 0.0)]
            wl += [(t, ramp[-1]), (t + te, 0.0)]
            pulse.append((a + te, t))
            end = t + te
        else:
            vb, tw = {"set": ("v_bl_set_volts", "t_set_seconds"),
                      "reset": ("v_bl_reset_volts", "t_reset_seconds"),
                      "read": ("v_read_pcm_volts", "t_read_pcm_seconds")}[kind]
            vb, tw, vw = p[vb], p[tw], levels[kind]
            bl += [(a, 0.0), (a + te, vb), (a + te + tw, vb), (a + 2 * te + tw, 0.0)]
            wl += [(a, 0.0), (a + te, vw), (a + te + tw, vw), (a + 2 * te + tw, 0.0)]
            pulse.append((a + te, a + te + tw))
            end = a + 2 * te + tw
        s = end + 0.5 * gap
        ends.append(s)
    return bl, wl, rm, np.asarray(ends), pulse


@dataclass
class OpsResult:
    """What :func:`run_ops` measured, one row per device and one column per operation."""

    g_after_siemens: np.ndarray   # read conductance of the model (node gr) at the end of each operation
    energy_joules: np.ndarray     # bit-line + word-line energy of each operation
    g_read_siemens: np.ndarray    # I/V during read operations (NaN for other operations)
    t_end_seconds: np.ndarray     # end time of each operation's slot
    t_peak_kelvin: np.ndarray     # peak cell temperature in each slot (NaN unless probe_state)
    params: dict[str, float]
    netlist_hash: str


def _device_ctx(k: int, var: dict[str, np.ndarray], i: int, bl, wl, rm, x0: float, age0: float) -> dict[str, Any]:
    d = {key: float(var[key][i]) for key in VARIATION_KEYS}
    rm_text = nl.fmt(rm[0][1]) if len(rm) == 1 else nl.pwl(rm)
    d.update(k=k, bl=nl.pwl(bl), wl=nl.pwl(wl), rm=rm_text, x0=float(x0), age0=float(age0))
    return d


def run_ops(run: Run, var: dict[str, np.ndarray], ops: Sequence[Sequence[Sequence[Any]]] | Sequence[Sequence[Any]],
            x0: np.ndarray | float = 0.0, age0: np.ndarray | float = 0.0,
            multipliers: np.ndarray | None = None, probe_state: bool = False,
            per_netlist: int = DEVICES_PER_NETLIST) -> OpsResult:
    """Apply operation lists to devices (one list for all, or one per device).

    ``multipliers`` (devices x operations) are the per-operation growth-rate
    multipliers (None: all 1).  Devices are split into netlists of
    ``per_netlist``.  Every device's lists must have the same length.
    """
    run = _pcm_run(run)
    n = len(var["gcm"])
    per_device = len(ops) > 0 and isinstance(ops[0], (list, tuple)) and len(ops[0]) > 0 \
        and isinstance(ops[0][0], (list, tuple))
    op_lists = list(ops) if per_device else [list(ops)] * n
    if len(op_lists) != n:
        raise SpiceError(f"{len(op_lists)} operation lists for {n} devices")
    m = len(op_lists[0])
    if m == 0 or any(len(o) != m for o in op_lists):
        raise SpiceError("every device needs the same, non-zero number of operations")
    x0 = np.broadcast_to(np.asarray(x0, float), (n,))
    age0 = np.broadcast_to(np.asarray(age0, float), (n,))
    if np.any((x0 < 0) | (x0 > 1)):
        raise SpiceError("initial crystalline fractions x0 must lie in 0..1", value=x0)
    if multipliers is not None:
        multipliers = np.asarray(multipliers, float)
        if multipliers.shape != (n, m) or np.any(multipliers < 0):
            raise SpiceError(f"multipliers must be non-negative, shape ({n}, {m})")
    p = pcm_params(run.tech, run.params)
    levels = _levels(run, p)
    g_after = np.empty((n, m))
    energy = np.empty((n, m))
    g_read = np.full((n, m), np.nan)
    t_end = np.empty((n, m))
    t_peak = np.full((n, m), np.nan)
    h = ""
    for lo in range(0, n, per_netlist):
        idx = range(lo, min(lo + per_netlist, n))
        devices, meta = [], []
        for k, i in enumerate(idx):
            bl, wl, rm, ends, pulse = _waves(op_lists[i], p, None if multipliers is None else multipliers[i], levels)
            devices.append(_device_ctx(k, var, i, bl, wl, rm, x0[i], age0[i]))
            meta.append((ends, pulse))
        t_stop = max(e[-1] for e, _ in meta)
        shortest = min(min((b - a) for a, b in pl if b > a) if any(b > a for a, b in pl) else t_stop
                       for _, pl in meta)
        t_max = min(p["t_max_step_pcm_seconds"], max(shortest / 4, 1e-12))
        idle = [float(op[1]) for i in idx for op in op_lists[i] if op[0] == "idle"]
        if idle:
            t_max = max(t_max, max(idle) / 200)
        text, _ = run.render(PULSES_TEMPLATE, devices=devices, probe_state=probe_state,
                             t_step=min(p["t_edge_pcm_seconds"] / 10, t_max), t_stop=t_stop, t_max=t_max)
        res = spice.run(text, "pcm_pulses", run.engine)
        h = res.netlist_hash
        t = res["time"]
        for k, i in enumerate(idx):
            ends, pulse = meta[k]
            g_after[i] = 1e-6 * np.interp(ends, t, res[f"v(x{k}.xd.gr)"])
            vb, ib = res[f"v(bl{k})"], res[f"i(vbl{k})"]
            power = -(vb * ib + res[f"v(wl{k})"] * res[f"i(vwl{k})"])
            cum = np.concatenate([[0.0], np.cumsum(0.5 * (power[1:] + power[:-1]) * np.diff(t))])
            energy[i] = np.diff(np.interp(np.concatenate([[0.0], ends]), t, cum))
            t_end[i] = ends
            if probe_state:
                tk = res[f"v(x{k}.xd.tk)"]
                slot = np.searchsorted(np.concatenate([[0.0], ends]), t, side="right") - 1
                for j in range(m):
                    sel = slot == j
                    t_peak[i, j] = tk[sel].max() if sel.any() else np.nan
            for j, op in enumerate(op_lists[i]):
                if op[0] == "read":
                    a, b = pulse[j]
                    sel = (t >= a + 0.5 * (b - a)) & (t <= b)
                    g_read[i, j] = float(np.mean(-ib[sel] / vb[sel])) if sel.any() else np.nan
    return OpsResult(g_after, energy, g_read, t_end, t_peak, p, h)


# ---------------------------------------------------------------- measurements
def set_train(run: Run, var: dict[str, np.ndarray], n_pulses: int, seed: int | None = 0,
              n_cycles: int = 1, first: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial-SET trains from RESET: each cycle is one RESET then ``n_pulses`` SET pulses.

    ``seed`` seeds the cycle-to-cycle multipliers (None: no cycle-to-cycle noise).
    Returns (G, shape (devices, n_cycles, n_pulses + 1): after the RESET and
    after every pulse; SET energy per pulse, shape (devices, n_cycles,
    n_pulses); RESET energy, shape (devices, n_cycles)).
    """
    if n_pulses < 1 or n_cycles < 1:
        raise SpiceError(f"n_pulses={n_pulses} and n_cycles={n_cycles} must be at least 1")
    n = len(var["gcm"])
    ops = ([("reset",)] + [("set",)] * n_pulses) * n_cycles
    mult = None
    if seed is not None:
        sigma = pcm_params(run.tech, run.params)["sigma_c2c_rel"]
        mult = c2c_multipliers(n, len(ops), seed, first, sigma)
    r = run_ops(run, var, ops, x0=0.0, multipliers=mult)
    g = r.g_after_siemens.reshape(n, n_cycles, n_pulses + 1)
    e = r.energy_joules.reshape(n, n_cycles, n_pulses + 1)
    return g, e[:, :, 1:], e[:, :, 0]


def ramp_down_set(run: Run, var: dict[str, np.ndarray], step_seconds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """G after an eight-step SET ramp-down from full RESET, for each step length.

    Returns (G (devices, len(step_seconds)), energy of each ramp (same shape)).
    Each (device, step length) pair is its own instance, starting from x = 0.
    """
    steps = [float(s) for s in step_seconds]
    n = len(var["gcm"])
    rep = {k: np.repeat(v, len(steps)) for k, v in var.items()}
    ops = [[("reset",), ("ramp", s)] for _ in range(n) for s in steps]
    r = run_ops(run, rep, ops, x0=0.0)
    g = r.g_after_siemens[:, 1].reshape(n, len(steps))
    e = r.energy_joules[:, 1].reshape(n, len(steps))
    return g, e


def reset(run: Run, var: dict[str, np.ndarray], x0: np.ndarray | float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """RESET from crystalline fractions ``x0``: returns (G after (S), energy (J)), one per device."""
    r = run_ops(run, var, [("reset",)], x0=x0)
    return r.g_after_siemens[:, 0], r.energy_joules[:, 0]


def read(run: Run, var: dict[str, np.ndarray], x0: np.ndarray | float, age0: np.ndarray | float = 0.0):
    """Electrical read (bit line at v_read_pcm_volts): returns (G = I/V (S), probe G (S), energy (J))."""
    r = run_ops(run, var, [("read",)], x0=x0, age0=age0)
    return r.g_read_siemens[:, 0], r.g_after_siemens[:, 0], r.energy_joules[:, 0]


def drift(run: Run, var: dict[str, np.ndarray], x0: np.ndarray | float, times_seconds: Sequence[float]) -> np.ndarray:
    """Read conductance (S) at ``times_seconds`` after programming, shape (devices, times).

    The devices start just programmed (drift clock at 0) in state ``x0`` and
    sit idle (word line off) for max(times); G comes from the model's probe.
    """
    run = _pcm_run(run)
    times = np.asarray(times_seconds, float)
    if times.size == 0 or np.any(times <= 0) or not np.all(np.isfinite(times)):
        raise SpiceError("drift times must be positive and finite", value=times_seconds)
    n = len(var["gcm"])
    x0 = np.broadcast_to(np.asarray(x0, float), (n,))
    t_stop = float(times.max())
    out = np.empty((n, times.size))
    for lo in range(0, n, DEVICES_PER_NETLIST):
        idx = range(lo, min(lo + DEVICES_PER_NETLIST, n))
        devices = [dict({key: float(var[key][i]) for key in VARIATION_KEYS}, k=k, x0=float(x0[i]))
                   for k, i in enumerate(idx)]
        text, _ = run.render(DRIFT_TEMPLATE, devices=devices, t_stop=t_stop,
                             t_max=t_stop / 1000, t_step=min(t_stop / 1000, times.min() / 10))
        res = spice.run(text, "pcm_drift", run.engine)
        t = res["time"]
        for k, i in enumerate(idx):
            out[i] = 1e-6 * np.interp(times, t, res[f"v(x{k}.xd.gr)"])
    return out


# ---------------------------------------------------------------- lookup table
def _lognormal_nodes(sigma: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights of a lognormal multiplier with mean 1."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return np.exp(sigma * z - 0.5 * sigma ** 2), w / w.sum()


def set_step_map(run: Run, var: dict[str, np.ndarray], x_grid: Sequence[float] = (0.0, 0.3, 0.6, 0.9)):
    """One nominal partial-SET pulse from each state of ``x_grid``, for every device.

    Returns (integrated growth rate K (devices, x): the pulse takes x to
    1 - (1 - x) exp(-m K) for a rate multiplier m; SET energy (devices, x)).
    The model's growth term is m k(T) (1 - x), so K = -ln(1 - dx / (1 - x))
    measured at m = 1 gives the step for any m, as long as the heating does
    not depend on the small change of x within one pulse (tests check this
    against full SPICE trains with cycle-to-cycle noise).  K falls smoothly,
    about exponentially, with x (less heating as the threshold voltage
    drops), so four states interpolated in log K reproduce a ten-state map
    within 0.5 %.
    """
    xs = np.asarray(x_grid, float)
    if xs.ndim != 1 or xs.size < 2 or np.any(np.diff(xs) <= 0) or xs[0] < 0 or xs[-1] >= 1:
        raise SpiceError("x_grid must be increasing, within [0, 1)", value=x_grid)
    n = len(var["gcm"])
    rep = {k: np.repeat(v, xs.size) for k, v in var.items()}
    x0 = np.tile(xs, n)
    r = run_ops(run, rep, [("set",)], x0=x0)
    p = r.params
    x1 = x_for_g(r.g_after_siemens[:, 0], rep, p)
    frac = np.clip((x1 - x0) / (1.0 - x0), 0.0, 1.0 - 1e-12)
    return -np.log1p(-frac).reshape(n, xs.size), r.energy_joules[:, 0].reshape(n, xs.size)


def _steps_from_map(k_map: np.ndarray, xs: np.ndarray, var: dict[str, np.ndarray], p: dict[str, float],
                    g_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, w = _lognormal_nodes(p["sigma_c2c_rel"])
    n = k_map.shape[0]
    mean = np.zeros((n, g_grid.size))
    std = np.zeros((n, g_grid.size))
    ga = p["g_amorph_siemens"]
    for i in range(n):
        span = p["g_cryst_siemens"] * var["gcm"][i] - ga
        x = np.clip((g_grid - ga) / span, 0.0, 1.0)
        k = np.exp(np.interp(x, xs, np.log(np.maximum(k_map[i], 1e-30))))
        dg = span * (1.0 - x)[:, None] * (1.0 - np.exp(-k[:, None] * m[None, :]))
        mu = dg @ w
        mean[i] = mu
        std[i] = np.sqrt(np.maximum((dg ** 2) @ w - mu ** 2, 0.0))
    return mean, std


def _steps_from_trains(g: np.ndarray, g_max: np.ndarray, g_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kernel (Gaussian) regression of the steps of sampled trains onto the G grid.

    ``g``: (devices, cycles, pulses + 1).  Beyond the largest sampled G the
    mean falls linearly to 0 at the device's g_max (soft bound), below the
    smallest it is held.
    """
    n = g.shape[0]
    mean = np.zeros((n, g_grid.size))
    std = np.zeros((n, g_grid.size))
    h = max(1.0e-6, 2.0 * float(np.median(np.diff(g_grid))) if g_grid.size > 1 else 1.0e-6)
    for i in range(n):
        gb = g[i, :, :-1].ravel()
        dg = np.diff(g[i], axis=1).ravel()
        wts = np.exp(-0.5 * ((g_grid[:, None] - gb[None, :]) / h) ** 2) + 1e-300
        mu = (wts @ dg) / wts.sum(axis=1)
        var_ = (wts @ dg ** 2) / wts.sum(axis=1) - mu ** 2
        sd = np.sqrt(np.maximum(var_, 0.0))
        lo, hi = gb.min(), gb.max()
        above = g_grid > hi
        if above.any():
            j = np.argmin(np.abs(g_grid - hi))
            scale = np.clip((g_max[i] - g_grid[above]) / max(g_max[i] - g_grid[j], 1e-12), 0.0, 1.0)
            mu[above] = mu[j] * scale
            sd[above] = sd[j] * scale
        below = g_grid < lo
        if below.any():
            j = np.argmin(np.abs(g_grid - lo))
            mu[below], sd[below] = mu[j], sd[j]
        mean[i] = np.maximum(mu, 0.0)
        std[i] = sd
    return mean, std


def pcm_lut_arrays(run: Run, n_devices: int, seed: int, g_grid_siemens: np.ndarray, n_pulses: int = 20,
                   n_cycles: int = 3, method: str = "map", first: int = 0) -> dict[str, np.ndarray | float]:
    """The keyword arguments of :class:`pcmspice.lut.format.PcmLut` (all but ``provenance``) from SPICE.

    Devices ``first .. first+n_devices-1`` of population ``seed``
    (:func:`draw_variation`).  Partial-SET statistics per device and G grid point:

    * ``method="map"`` (default, fast): every device gets one nominal SET
      pulse from each of six states (:func:`set_step_map`); the mean and
      std of the step under the lognormal cycle-to-cycle multiplier
      (``sigma_c2c_rel``) are then exact expectations (Gauss-Hermite), which
      is what ``n_cycles`` x ``n_pulses`` seeded trains estimate by sampling
      (``n_pulses`` and ``n_cycles`` are used by the trains method only).
    * ``method="trains"``: ``n_cycles`` SPICE trains of RESET + ``n_pulses``
      partial-SET pulses per device with the seeded multipliers stepped per
      pulse, steps regressed onto the grid with a Gaussian kernel.

    Energies: ``e_set`` the mean bit-line + word-line energy of a partial-SET
    pulse over the states visited; ``e_reset`` of a RESET from x = 0.5 (map)
    or from the train's top (trains); ``e_read`` of one read pulse
    (``t_read_pcm_seconds`` at ``v_read_pcm_volts``) at x = 0.5.
    ``g_reset``: G after a RESET; ``g_max``: G of the fully crystalline
    device; ``drift_nu`` the device's exponent; ``read_noise_rel`` the
    ``read_noise_rel`` parameter (the SPICE model has no read noise: 0 unless set).
    """
    if n_devices < 1:
        raise SpiceError(f"n_devices={n_devices} must be at least 1", value=n_devices)
    g_grid = np.asarray(g_grid_siemens, float)
    if g_grid.ndim != 1 or g_grid.size < 2 or np.any(np.diff(g_grid) <= 0):
        raise SpiceError("g_grid_siemens must be a strictly increasing 1-D array of 2 or more points")
    if method not in ("map", "trains"):
        raise SpiceError(f"unknown method '{method}' (map or trains)", value=method)
    run = _pcm_run(run)
    p = pcm_params(run.tech, run.params)
    var = draw_variation(n_devices, seed, first, run.params)
    g_max = p["g_cryst_siemens"] * var["gcm"]
    # a read at x = 0.5, then a RESET from there
    rr = run_ops(run, var, [("read",), ("reset",)], x0=0.5)
    e_read = rr.energy_joules[:, 0]
    e_reset = rr.energy_joules[:, 1]
    g_reset = rr.g_after_siemens[:, 1]
    if method == "map":
        xs = np.array([0.0, 0.3, 0.6, 0.9])
        k_map, e_map = set_step_map(run, var, xs)
        mean, std = _steps_from_map(k_map, xs, var, p, g_grid)
        e_set = e_map.mean(axis=1)
    else:
        g, e_s, e_r = set_train(run, var, n_pulses, seed=seed, n_cycles=n_cycles, first=first)
        mean, std = _steps_from_trains(g, g_max, g_grid)
        e_set = e_s.reshape(n_devices, -1).mean(axis=1)
        e_reset = e_r.mean(axis=1)
        g_reset = g[:, :, 0].mean(axis=1)
    return dict(
        g_grid_siemens=g_grid,
        set_step_mean_siemens=mean,
        set_step_std_siemens=std,
        g_reset_siemens=g_reset,
        g_max_siemens=g_max,
        drift_nu=p["drift_nu"] * var["num"],
        drift_t0_seconds=float(p["drift_t0_seconds"]),
        read_noise_rel=float(p["read_noise_rel"]),
        e_set_joules=e_set,
        e_reset_joules=e_reset,
        e_read_joules=e_read,
    )


# ---------------------------------------------------------------- named testbenches (`pcmspice simulate`)
def _register_testbenches() -> None:
    import pandas as pd

    from pcmspice.testbenches import c3t1c as tb

    def _var(run: Run, seed: int | None, n: int = 1) -> dict[str, np.ndarray]:
        return nominal_variation(n) if seed is None else draw_variation(n, seed, 0, run.params)

    def _draws(var: dict[str, np.ndarray]) -> dict[str, list[float]]:
        return {k: [float(x) for x in v] for k, v in var.items()}

    def _title(run: Run, what: str) -> str:
        return f"PCM {what} ({run.tech.name} {run.corner}, {run.temp_c:g} °C)"

    @tb.register("pcm_set_train", "PCM: RESET then 20 partial-SET pulses; G after each pulse and energy per pulse "
                                  "(with --seed: device variation and cycle-to-cycle noise)")
    def pcm_set_train(run: Run, seed: int | None = None, n_pulses: int = 20) -> tb.TestbenchResult:
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
        return tb.TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var))

    @tb.register("pcm_ramp_down", "PCM: eight-step SET ramp-down from full RESET, step length 1.7 ns to 550 ns "
                                  "(13.6 ns to 4.4 us in total, as in the paper); G and energy per ramp")
    def pcm_ramp_down(run: Run, seed: int | None = None) -> tb.TestbenchResult:
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
        return tb.TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var))

    @tb.register("pcm_reset", "PCM: RESET (melt-quench) from crystalline fractions 0 to 1; G before and after, energy")
    def pcm_reset(run: Run, seed: int | None = None) -> tb.TestbenchResult:
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
        return tb.TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var1))

    @tb.register("pcm_drift", "PCM: G(t) of idle devices from 1 ms to 1e4 s after programming (power-law drift)")
    def pcm_drift(run: Run, seed: int | None = None) -> tb.TestbenchResult:
        x0 = np.array([0.2, 0.5, 0.8])
        var1 = _var(run, seed)
        var = {k: np.repeat(v, x0.size) for k, v in var1.items()}
        times = np.geomspace(1e-3, 1e4, 29)
        g = drift(run, var, x0, times)
        df = pd.DataFrame({"time_seconds": times, **{f"g_from_x{x:g}_siemens": g[i] for i, x in enumerate(x0)}})
        nu_fit = -np.log(g[:, -1] / g[:, -5]) / np.log((times[-1] + 1) / (times[-5] + 1))
        p = pcm_params(run.tech, run.params)
        meas = {"nu_fit": float(nu_fit.mean()), "nu_model": float(p["drift_nu"] * var1["num"][0]),
                "g_ratio_1s": float((g[:, np.argmin(np.abs(times - 1.0))] / g[:, 0]).mean())}

        def plot(ax):
            for i, x in enumerate(x0):
                ax.loglog(times, g[i] * 1e6, label=f"x = {x:g}")
            ax.set_xlabel("time after programming (s)")
            ax.set_ylabel("read conductance G (µS)")
            ax.set_title(_title(run, "drift"))
            ax.legend()
        return tb.TestbenchResult(df, meas, plot, [DRIFT_TEMPLATE], _draws(var1))

    @tb.register("pcm_energy", "PCM energy per operation: partial SET, RESET, read, SET ramp-down "
                               "(bit-line and word-line charge integrated over each operation)")
    def pcm_energy(run: Run, seed: int | None = None) -> tb.TestbenchResult:
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
        return tb.TestbenchResult(df, meas, plot, [PULSES_TEMPLATE, BIAS_TEMPLATE], _draws(var))


_register_testbenches()

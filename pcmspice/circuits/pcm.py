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
from pcmspice.circuits.pcm_physics import drift_nu_of_g, kick_sigma_of_g, read_noise_rel_of_g  # noqa: F401 (re-exported)
from pcmspice.core.errors import SpiceError
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl

PULSES_TEMPLATE = "testbenches/pcm_pulses.cir.j2"
DRIFT_TEMPLATE = "testbenches/pcm_drift.cir.j2"
BIAS_TEMPLATE = "testbenches/pcm_wl_bias.cir.j2"
MODEL_TEMPLATE = "cells/pcm.cir.j2"
#: templates whose hashes identify a PCM table (for provenance)
LUT_TEMPLATES = (PULSES_TEMPLATE, BIAS_TEMPLATE, "cells/pcm_pair.cir.j2", MODEL_TEMPLATE)
VARIATION_KEYS = ("gcm", "krm", "dvth", "znu", "rthm")
#: instances per netlist: ngspice's per-instance cost of these B-source models
#: doubles between 40 and 100 instances (cache), so batches stay smaller than cell.py's
DEVICES_PER_NETLIST = 50
RAMP_STEPS = 8
_TAG_VARIATION = 0x50434D   # "PCM": keeps these streams apart from cell.draw_mismatch's
_TAG_C2C = 0x50434E
_TAG_KICK = 0x50434B


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


def cell_only(params: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` without the keys only the PCM declares (``drift_t0_seconds``, ``i_set_amperes``, ...):
    the mirror of :func:`_pcm_only`, so that one override set (``characterize --param``) drives both
    halves; a key that neither declares is kept, to be refused by name."""
    if not params:
        return {}
    mine = nl.declared_params("testbenches/3t1c_pulses.cir.j2")
    pcm_keys = nl.declared_params(PULSES_TEMPLATE)
    return {k: v for k, v in params.items() if k in mine or k not in pcm_keys}


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
    ``rthm`` (x thermal resistance), all lognormal with median 1, ``dvth`` (V,
    normal, added to the amorphous threshold) and ``znu``, the device's
    standard-normal drift quantile (its exponent at conductance G is
    :func:`drift_nu_of_g`).  The spreads are the ``sigma_*`` parameters of
    ``cells/pcm.cir.j2`` (override them through ``params``).
    """
    if n < 0:
        raise SpiceError(f"number of devices {n} must be 0 or more", value=n)
    p = _model_defaults(params)
    sig = {"gcm": p["sigma_g_cryst_rel"], "krm": p["sigma_rate_rel"], "rthm": p["sigma_rth_rel"]}
    out = {k: np.empty(n) for k in VARIATION_KEYS}
    for i in range(n):
        z = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence([int(seed), first + i, _TAG_VARIATION]))).standard_normal(5)
        for j, k in enumerate(("gcm", "krm", "rthm")):
            out[k][i] = float(np.exp(sig[k] * z[j]))
        out["znu"][i] = z[3]
        out["dvth"][i] = p["sigma_vth_volts"] * z[4]
    return out


def nominal_variation(n: int = 1) -> dict[str, np.ndarray]:
    return {k: (np.zeros(n) if k in ("dvth", "znu") else np.ones(n)) for k in VARIATION_KEYS}


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


def kick_draws(n: int, n_ops: int, seed: int, first: int = 0) -> np.ndarray:
    """Per-pulse standard-normal kicks z, shape (n, n_ops), one stream per device (like :func:`c2c_multipliers`).

    Pulse j of device k drives the model's kick port with z[k, j] during its
    flat top (equation 5 of ``cells/pcm.cir.j2``); only SET pulses use it.
    """
    out = np.empty((n, n_ops))
    for i in range(n):
        out[i] = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence([int(seed), first + i, _TAG_KICK]))).standard_normal(n_ops)
    return out


def g_of_state(x: np.ndarray, age_s: np.ndarray, var: dict[str, np.ndarray], p: dict[str, float]) -> np.ndarray:
    """Read conductance (S) of the model (equation 1 of pcm.cir.j2), numpy mirror of node ``gr``."""
    x = np.clip(np.asarray(x, float), 0.0, 1.0)
    g0 = p["g_amorph_siemens"] + (p["g_cryst_siemens"] * var["gcm"] - p["g_amorph_siemens"]) * x
    t0 = p["drift_t0_seconds"]
    return g0 * ((np.asarray(age_s, float) + t0) / t0) ** (-drift_nu_of_g(g0, var["znu"], p))


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
           levels: dict[str, Any], kicks: Sequence[float] | None = None):
    """Bit-line, word-line, rate-multiplier and kick PWL points and the slot end times of ``ops``.

    The kick port carries a trapezoid over a SET pulse's trailing edge and
    the first quarter of the following gap, as the cell cools: its integral
    is exactly z.  Applied there, the kick does not change the pulse's
    heating (a kick during the flat top would, and its effect on growth near
    the cut-off at x ~ 0.45 is not linear).
    """
    te, gap = p["t_edge_pcm_seconds"], p["t_gap_pcm_seconds"]
    bl, wl, rm = [(0.0, 0.0)], [(0.0, 0.0)], [(0.0, 1.0 if mults is None else float(mults[0]))]
    kz = [(0.0, 0.0)]
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
            if kind == "set" and kicks is not None and kicks[j] != 0:
                # the kick window: the trailing edge and the first quarter of the gap (the cell cooling)
                k0, k1 = a + te + tw, a + 2 * te + tw + 0.25 * gap
                r = 0.25 * (k1 - k0)
                lvl = float(kicks[j]) / (k1 - k0 - r)
                kz += [(k0, 0.0), (k0 + r, lvl), (k1 - r, lvl), (k1, 0.0)]
            end = a + 2 * te + tw
        s = end + 0.5 * gap
        ends.append(s)
    return bl, wl, rm, kz, np.asarray(ends), pulse


@dataclass
class OpsResult:
    """What :func:`run_ops` measured, one row per device and one column per operation."""

    g_after_siemens: np.ndarray   # read conductance of the model (node gr) at the end of each operation
    g0_after_siemens: np.ndarray  # programmed (drift-free, age 0) conductance G0 (node g0) at the end of each operation
    energy_joules: np.ndarray     # bit-line + word-line energy of each operation
    g_read_siemens: np.ndarray    # I/V during read operations (NaN for other operations)
    t_end_seconds: np.ndarray     # end time of each operation's slot
    t_peak_kelvin: np.ndarray     # peak cell temperature in each slot (NaN unless probe_state)
    params: dict[str, float]
    netlist_hash: str


def _device_ctx(k: int, var: dict[str, np.ndarray], i: int, bl, wl, rm, kz, x0: float, age0: float) -> dict[str, Any]:
    d = {key: float(var[key][i]) for key in VARIATION_KEYS}
    rm_text = nl.fmt(rm[0][1]) if len(rm) == 1 else nl.pwl(rm)
    kz_text = "0" if len(kz) == 1 else nl.pwl(kz)
    d.update(k=k, bl=nl.pwl(bl), wl=nl.pwl(wl), rm=rm_text, kz=kz_text, x0=float(x0), age0=float(age0))
    return d


def run_ops(run: Run, var: dict[str, np.ndarray], ops: Sequence[Sequence[Sequence[Any]]] | Sequence[Sequence[Any]],
            x0: np.ndarray | float = 0.0, age0: np.ndarray | float = 0.0,
            multipliers: np.ndarray | None = None, probe_state: bool = False,
            per_netlist: int | None = None, kicks: np.ndarray | None = None) -> OpsResult:
    """Apply operation lists to devices (one list for all, or one per device).

    ``multipliers`` (devices x operations) are the per-operation growth-rate
    multipliers (None: all 1); ``kicks`` (devices x operations) the
    standard-normal per-pulse kicks of SET operations (None: no kick; see
    :func:`kick_draws`).  Devices are split into netlists of
    ``per_netlist`` (None: :data:`DEVICES_PER_NETLIST`, read when called).  Every device's lists must have
    the same length.
    """
    run = _pcm_run(run)
    per_netlist = DEVICES_PER_NETLIST if per_netlist is None else per_netlist
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
    if kicks is not None:
        kicks = np.asarray(kicks, float)
        if kicks.shape != (n, m) or not np.all(np.isfinite(kicks)):
            raise SpiceError(f"kicks must be finite, shape ({n}, {m})")
    p = pcm_params(run.tech, run.params)
    levels = _levels(run, p)
    g_after = np.empty((n, m))
    g0_after = np.empty((n, m))
    energy = np.empty((n, m))
    g_read = np.full((n, m), np.nan)
    t_end = np.empty((n, m))
    t_peak = np.full((n, m), np.nan)
    h = ""
    for lo in range(0, n, per_netlist):
        idx = range(lo, min(lo + per_netlist, n))
        devices, meta = [], []
        for k, i in enumerate(idx):
            bl, wl, rm, kz, ends, pulse = _waves(op_lists[i], p, None if multipliers is None else multipliers[i],
                                                 levels, None if kicks is None else kicks[i])
            devices.append(_device_ctx(k, var, i, bl, wl, rm, kz, x0[i], age0[i]))
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
            g0_after[i] = 1e-6 * np.interp(ends, t, res[f"v(x{k}.xd.g0)"])
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
    return OpsResult(g_after, g0_after, energy, g_read, t_end, t_peak, p, h)


# ---------------------------------------------------------------- measurements
def set_train(run: Run, var: dict[str, np.ndarray], n_pulses: int, seed: int | None = 0,
              n_cycles: int = 1, first: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial-SET trains from RESET: each cycle is one RESET then ``n_pulses`` SET pulses.

    ``seed`` seeds the cycle-to-cycle multipliers and the per-pulse kicks (None: no cycle-to-cycle noise).
    Returns (G, shape (devices, n_cycles, n_pulses + 1): the programmed
    (drift-free) conductance G0 after the RESET and after every pulse; SET energy per pulse, shape (devices, n_cycles,
    n_pulses); RESET energy, shape (devices, n_cycles)).
    """
    if n_pulses < 1 or n_cycles < 1:
        raise SpiceError(f"n_pulses={n_pulses} and n_cycles={n_cycles} must be at least 1")
    n = len(var["gcm"])
    ops = ([("reset",)] + [("set",)] * n_pulses) * n_cycles
    mult = kick = None
    if seed is not None:
        sigma = pcm_params(run.tech, run.params)["sigma_c2c_rel"]
        mult = c2c_multipliers(n, len(ops), seed, first, sigma)
        kick = kick_draws(n, len(ops), seed, first)
    r = run_ops(run, var, ops, x0=0.0, multipliers=mult, kicks=kick)
    g = r.g0_after_siemens.reshape(n, n_cycles, n_pulses + 1)
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

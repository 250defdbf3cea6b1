"""The 3T1C cell in SPICE: mismatch draws and the four measurements every layer above uses.

* :func:`read_curve`  - g(Vc) of each cell (DC sweep of the storage node)
* :func:`leak_curve`  - dVc/dt(Vc) of each idle cell (DC sweep, probe current / C)
* :func:`pulses`      - Vc after every pulse of an arbitrary up/down sequence, and
                        the energy each pulse drew from the supply and the drivers
* :func:`retention`   - Vc(t) of idle cells from given start voltages (transient)

Many cells go into one netlist (about 100 is the sweet spot measured for
ngspice); :func:`chunks` splits larger populations.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.core.errors import SpiceError
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl
from pcmspice.spice.tech import Technology

MISMATCH_KEYS = ("dvt_up", "dvt_dn", "dvt_rd", "mu_up", "mu_dn", "mu_rd")
_DEVICES = {"up": ("p", "w_up_um", "l_up_um"), "dn": ("n", "w_dn_um", "l_dn_um"), "rd": ("n", "w_rd_um", "l_rd_um")}
CELLS_PER_NETLIST = 100


def cell_params(tech: Technology, params: dict[str, Any] | None = None) -> dict[str, float]:
    """All 3T1C + drive parameters with defaults resolved for ``tech``."""
    return nl.resolve_params("testbenches/3t1c_pulses.cir.j2", params, tech)


def draw_mismatch(tech: Technology, n: int, seed: int, params: dict[str, Any] | None = None,
                  avt_scale: float = 1.0, first: int = 0) -> dict[str, np.ndarray]:
    """Pelgrom mismatch of cells ``first .. first+n-1``.

    Cell k's draws come from its own stream (SeedSequence([seed, k])), so a cell
    is the same whatever the population size or batching.  ``avt_scale``
    multiplies both Pelgrom coefficients (for sensitivity studies).
    """
    if n < 0:
        raise SpiceError(f"number of cells {n} must be 0 or more", value=n)
    p = cell_params(tech, params)
    sig_vt = {d: tech.sigma_vt_volts(k, p[w], p[l]) * avt_scale for d, (k, w, l) in _DEVICES.items()}
    sig_mu = {d: tech.sigma_beta_rel(k, p[w], p[l]) * avt_scale for d, (k, w, l) in _DEVICES.items()}
    out = {k: np.empty(n) for k in MISMATCH_KEYS}
    for i in range(n):
        z = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), first + i]))).standard_normal(6)
        for j, d in enumerate(("up", "dn", "rd")):
            out[f"dvt_{d}"][i] = sig_vt[d] * z[j]
            out[f"mu_{d}"][i] = max(1.0 + sig_mu[d] * z[3 + j], 0.05)
    return out


def nominal_mismatch(n: int = 1) -> dict[str, np.ndarray]:
    return {k: (np.ones(n) if k.startswith("mu") else np.zeros(n)) for k in MISMATCH_KEYS}


def _cells(mm: dict[str, np.ndarray], **per_cell: Sequence[Any]) -> list[dict[str, Any]]:
    n = len(mm["dvt_up"])
    cells = []
    for k in range(n):
        c = {key: float(mm[key][k]) for key in MISMATCH_KEYS}
        c["k"] = k
        for key, vals in per_cell.items():
            c[key] = vals[k]
        cells.append(c)
    return cells


@dataclass(frozen=True)
class Run:
    """Where and how: technology, corner, temperature, parameter overrides, engine."""

    tech: Technology
    corner: str = "tt"
    temp_c: float = 27.0
    params: dict[str, Any] | None = None
    engine: str = "auto"

    def render(self, template: str, **ctx: Any) -> tuple[str, dict[str, float]]:
        return nl.render(template, self.tech, self.corner, self.temp_c, self.params, **ctx)


def _dc(run: Run, mm: dict[str, np.ndarray], read_on: bool, vc_grid: np.ndarray):
    vc_grid = np.asarray(vc_grid, dtype=float)
    step = float(np.round(vc_grid[1] - vc_grid[0], 12))
    if not np.allclose(np.diff(vc_grid), step, atol=1e-9):
        raise SpiceError("the Vc grid must be uniform")
    ov = dict(run.params or {})
    ov.update(vc_min_volts=vc_grid[0], vc_max_volts=vc_grid[-1] + step * 1e-3, vc_step_volts=step)
    text, p = nl.render("testbenches/3t1c_dc.cir.j2", run.tech, run.corner, run.temp_c, ov,
                        cells=_cells(mm), read_on=read_on)
    res = spice.run(text, "3t1c_dc", run.engine)
    sweep = res.scale
    idx = np.clip(np.round((sweep - vc_grid[0]) / step).astype(int), 0, len(vc_grid) - 1)
    return res, p, idx


def read_curve(run: Run, mm: dict[str, np.ndarray], vc_grid: np.ndarray) -> np.ndarray:
    """Read conductance g (S), shape (cells, len(vc_grid)): i_drain / v_read."""
    res, p, idx = _dc(run, mm, True, vc_grid)
    n = len(mm["dvt_up"])
    g = np.empty((n, len(vc_grid)))
    for k in range(n):
        g[k, idx] = -res[f"i(vrd{k})"] / p["v_read_volts"]
    return g


def leak_curve(run: Run, mm: dict[str, np.ndarray], vc_grid: np.ndarray) -> np.ndarray:
    """dVc/dt (V/s) of idle cells, shape (cells, len(vc_grid))."""
    res, p, idx = _dc(run, mm, False, vc_grid)
    n = len(mm["dvt_up"])
    out = np.empty((n, len(vc_grid)))
    for k in range(n):
        out[k, idx] = -res[f"i(vs{k})"] / p["c_store_farads"]
    return out


def _drive(seq: np.ndarray, p: dict[str, float], on: float, off: float, sign: int) -> str:
    """PWL gate drive: a pulse in every slot whose code equals ``sign``."""
    T, tw, te = p["t_period_seconds"], p["t_pulse_seconds"], p["t_edge_seconds"]
    lead = 0.1 * T
    pts = [(0.0, off)]
    for i in np.flatnonzero(np.asarray(seq) == sign):
        t0 = i * T + lead
        pts += [(t0, off), (t0 + te, on), (t0 + te + tw, on), (t0 + 2 * te + tw, off)]
    return nl.pwl(pts)


@dataclass
class PulseResult:
    vc_volts: np.ndarray          # (cells, n_pulses + 1): Vc before the first slot and after every slot
    energy_joules: np.ndarray     # (cells, n_pulses): energy drawn from supply + gate drivers per slot
    params: dict[str, float]
    netlist_hash: str


def pulses(run: Run, mm: dict[str, np.ndarray], vc0: np.ndarray, sequences: np.ndarray) -> PulseResult:
    """Apply ``sequences`` (cells x slots; +1 up, -1 down, 0 idle) from start voltages ``vc0``."""
    seq = np.atleast_2d(np.asarray(sequences, dtype=int))
    n, m = seq.shape
    if len(mm["dvt_up"]) != n or len(vc0) != n:
        raise SpiceError("mismatch draws, start voltages and sequences must cover the same cells")
    p = cell_params(run.tech, run.params)
    T = p["t_period_seconds"]
    if p["t_pulse_seconds"] + 2 * p["t_edge_seconds"] > 0.8 * T:
        raise SpiceError(f"pulse ({p['t_pulse_seconds']:g} s + edges) does not fit in the period "
                         f"t_period_seconds={T:g} s (leave 20 % idle)", value=T)
    up = [_drive(seq[k], p, p["v_up_on_volts"], p["v_up_off_volts"], +1) for k in range(n)]
    dn = [_drive(seq[k], p, p["v_dn_on_volts"], p["v_dn_off_volts"], -1) for k in range(n)]
    t_stop = m * T
    tmax = min(p["t_step_seconds"], p["t_edge_seconds"] * 2)
    text, _ = run.render("testbenches/3t1c_pulses.cir.j2", cells=_cells(mm, vc0=list(vc0), up_drive=up, dn_drive=dn),
                         t_stop=t_stop, t_max_step=tmax)
    res = spice.run(text, "3t1c_pulses", run.engine)
    t = res["time"]
    samples = np.arange(m + 1) * T
    samples[-1] = t[-1]
    vc = np.empty((n, m + 1))
    energy = np.empty((n, m))
    for k in range(n):
        v = res[f"v(c{k})"]
        vc[k] = np.interp(samples, t, v)
        vc[k, 0] = vc0[k]
        power = -(p["vdd_volts"] * res[f"i(vdd{k})"] + res[f"v(gup{k})"] * res[f"i(vgu{k})"]
                  + res[f"v(gdn{k})"] * res[f"i(vgd{k})"])
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (power[1:] + power[:-1]) * np.diff(t))])
        e_at = np.interp(samples, t, cum)
        energy[k] = np.diff(e_at)
    return PulseResult(vc, energy, p, res.netlist_hash)


def retention(run: Run, mm: dict[str, np.ndarray], vc0: np.ndarray, t_stop: float, n_samples: int = 101):
    """Vc(t) of idle cells: returns (t (n_samples,), vc (cells, n_samples))."""
    p = cell_params(run.tech, run.params)
    n = len(vc0)
    up = [f"{nl.fmt(p['v_up_off_volts'])}"] * n
    dn = [f"{nl.fmt(p['v_dn_off_volts'])}"] * n
    tmax = t_stop / 200
    text, _ = run.render("testbenches/3t1c_pulses.cir.j2", cells=_cells(mm, vc0=list(vc0), up_drive=up, dn_drive=dn),
                         t_stop=t_stop, t_max_step=tmax)
    res = spice.run(text, "3t1c_retention", run.engine)
    ts = np.linspace(0, t_stop, n_samples)
    vc = np.stack([np.interp(ts, res["time"], res[f"v(c{k})"]) for k in range(n)])
    vc[:, 0] = vc0
    return ts, vc


def chunks(n: int, size: int = CELLS_PER_NETLIST) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def subset(mm: dict[str, np.ndarray], sl: slice | np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[sl] for k, v in mm.items()}


@dataclass
class StepMap:
    dv_up_volts: np.ndarray      # (cells, len(vc_grid))
    dv_down_volts: np.ndarray    # (cells, len(vc_grid))
    e_up_joules: np.ndarray      # (cells,) supply energy of one up pulse at the metered start voltage
    e_down_joules: np.ndarray    # (cells,)
    netlist_hash: str


def step_map(run: Run, mm: dict[str, np.ndarray], vc_grid: np.ndarray, meter_vc: float | None = None) -> StepMap:
    """Vc change of one up and one down pulse from every start voltage in ``vc_grid``.

    Energy is metered at the grid point nearest ``meter_vc`` (default v_start).
    """
    p = cell_params(run.tech, run.params)
    vc_grid = np.asarray(vc_grid, dtype=float)
    n, nv = len(mm["dvt_up"]), len(vc_grid)
    jm = int(np.argmin(np.abs(vc_grid - (p["v_start_volts"] if meter_vc is None else meter_vc))))
    insts = []
    for k in range(n):
        base = {key: float(mm[key][k]) for key in MISMATCH_KEYS}
        for j, v in enumerate(vc_grid):
            for d, tag in ((1, "u"), (-1, "d")):
                insts.append({**base, "name": f"{tag}{k}_{j}", "dir": d, "vc0": float(v), "meter": j == jm})
    T = p["t_period_seconds"]
    one = np.array([1])
    up = _drive(one, p, p["v_up_on_volts"], p["v_up_off_volts"], +1)
    dn = _drive(-one, p, p["v_dn_on_volts"], p["v_dn_off_volts"], -1)
    tmax = min(p["t_step_seconds"], p["t_edge_seconds"] * 2)
    text, _ = run.render("testbenches/3t1c_step.cir.j2", insts=insts, up_drive=up, dn_drive=dn,
                         t_stop=T, t_max_step=tmax)
    res = spice.run(text, "3t1c_step", run.engine)
    t = res["time"]
    dv_up = np.empty((n, nv))
    dv_dn = np.empty((n, nv))
    e_up = np.empty(n)
    e_dn = np.empty(n)
    for k in range(n):
        for j, v in enumerate(vc_grid):
            dv_up[k, j] = res[f"v(cu{k}_{j})"][-1] - v
            dv_dn[k, j] = res[f"v(cd{k}_{j})"][-1] - v
        for tag, out in (("u", e_up), ("d", e_dn)):
            pw = -p["vdd_volts"] * res[f"i(vdd{tag}{k}_{jm})"]
            out[k] = float(np.sum(0.5 * (pw[1:] + pw[:-1]) * np.diff(t)))
    # Only the cell's supply: the pulse line's driver pays C dV^2 per pulse for every gate on the line
    # (gate_load; pcmspice.power counts it), not the net integral of v i of an ideal source, which gets
    # the gate charge back on the falling edge.
    return StepMap(dv_up, dv_dn, e_up, e_dn, res.netlist_hash)


#: the gate levels a replica bias sets, and the sign of d(step)/d(level) for each
BIAS_LEVELS = {"v_up_on_volts": -1.0, "v_dn_on_volts": +1.0}


def replica_bias(run: Run, reference: Run, rtol: float = 1e-3, max_iter: int = 12) -> dict[str, float]:
    """Pulse gate levels that give the nominal cell at ``run`` the steps it has at ``reference``.

    A chip does not drive its update switches from fixed voltages across
    process, temperature and supply: a bias generator with replica devices
    regulates the pulse gate levels so that a pulse moves a nominal cell by
    the designed amount.  This models an ideal one.  The target is the
    nominal (no-mismatch) cell's up and down step at v_start under
    ``reference`` (typically tt, 27 degC, nominal supply, with the same
    parameters); at ``run`` the up-pulse level (PMOS gate) and the
    down-pulse level (NMOS gate) are solved by a secant iteration on
    log(step), both at once (each step depends only on its own level), until
    both steps are within ``rtol`` of the target.  Mismatch is untouched:
    what remains at the corner is each cell's deviation from the nominal one.
    """
    mm = nominal_mismatch(1)
    p_ref = cell_params(reference.tech, reference.params)
    vc = np.array([p_ref["v_start_volts"]])

    def steps(r: Run) -> np.ndarray:
        sm = step_map(r, mm, vc)
        return np.array([sm.dv_up_volts[0, 0], -sm.dv_down_volts[0, 0]])

    target = steps(reference)
    if not np.all(target > 1e-5):
        raise SpiceError(f"replica bias: the reference cell does not step at v_start (up, down steps "
                         f"{np.round(target * 1e3, 4)} mV; a pulse must move Vc by more than 0.01 mV)")
    keys = list(BIAS_LEVELS)
    p = cell_params(run.tech, run.params)
    x0 = np.array([p[k] for k in keys])
    x1 = x0 + 0.02 * np.array([BIAS_LEVELS[k] for k in keys])

    def err(x: np.ndarray) -> np.ndarray:
        r = Run(run.tech, run.corner, run.temp_c, {**(run.params or {}), **dict(zip(keys, map(float, x)))},
                run.engine)
        s = steps(r)
        if not np.all(s > 0):
            raise SpiceError(f"replica bias at {run.corner}, {run.temp_c:g} degC: gate levels {x.round(4)} V "
                             f"give no step ({s} V)")
        return np.log(s / target)

    f0, f1 = err(x0), err(x1)
    for _ in range(max_iter):
        if np.all(np.abs(f1) < np.log1p(rtol)):
            return dict(zip(keys, map(float, x1)))
        slope = np.where(np.abs(f1 - f0) > 1e-12, (f1 - f0) / (x1 - x0), 1.0)
        x2 = x1 - np.clip(f1 / slope, -0.2, 0.2)
        x0, f0, x1 = x1, f1, x2
        f1 = err(x1)
    if np.all(np.abs(f1) < np.log1p(rtol)):
        return dict(zip(keys, map(float, x1)))
    raise SpiceError(f"replica bias at {run.corner}, {run.temp_c:g} degC did not converge: steps off the "
                     f"target by {np.round(np.expm1(f1) * 100, 2)} % after {max_iter} iterations")


def gate_load(run: Run, mm: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Gate load (F) each cell's up and down switch presents to its pulse line: Q / dV over one edge.

    The storage node is held at v_start; each gate is ramped from its idle level to its pulse level
    over ``t_edge_seconds`` and the charge its source delivers (the integral of its current over the
    ramp and 1 ns of settling) is divided by the swing.  Returns (c_up, c_down), each (cells,).
    """
    p = cell_params(run.tech, run.params)
    te = p["t_edge_seconds"]
    t0, t_stop = 0.1e-9, 0.1e-9 + te + 1e-9

    def ramp(off: float, on: float) -> str:
        return nl.pwl([(0.0, off), (t0, off), (t0 + te, on)])

    up = ramp(p["v_up_off_volts"], p["v_up_on_volts"])
    dn = ramp(p["v_dn_off_volts"], p["v_dn_on_volts"])
    text, _ = run.render("testbenches/3t1c_gate.cir.j2", cells=_cells(mm), up_drive=up, dn_drive=dn,
                         t_stop=t_stop, t_max_step=te / 50)
    res = spice.run(text, "3t1c_gate", run.engine)
    t = res["time"]
    n = len(mm["dvt_up"])
    out = []
    for src, off, on in (("vgu", "v_up_off_volts", "v_up_on_volts"), ("vgd", "v_dn_off_volts", "v_dn_on_volts")):
        swing = p[on] - p[off]
        if abs(swing) < 1e-6:
            raise SpiceError(f"gate load: the pulse level {on} equals the idle level {off} (no swing)")
        q = np.array([np.trapezoid(-res[f"i({src}{k})"], t) for k in range(n)])
        out.append(q / swing)
    return out[0], out[1]


#: lower edge of the flicker-noise band of one read (Hz): see read_noise
NOISE_F_LOW_HZ = 1.0


def read_noise(run: Run, mm: dict[str, np.ndarray], vc_grid: np.ndarray, read_time_seconds: float,
               f_low: float = NOISE_F_LOW_HZ, per_netlist: int = 128) -> np.ndarray:
    """std / mean of one read of each cell's read current at every Vc of ``vc_grid``: (cells, len(vc_grid)).

    ngspice's noise analysis (``.noise``) of the read transistor at its read bias gives the drain
    current's thermal + flicker (+ gate shot) noise, integrated from ``f_low`` to the noise
    bandwidth of an integration over ``read_time_seconds``, 1 / (2 T) (a boxcar integrator:
    exact for white noise; for 1/f noise a brick wall at 1/(2T) is within ~10 % of the sinc^2
    weighting).  Divided by the read current at the same bias.
    """
    p = cell_params(run.tech, run.params)
    vc_grid = np.asarray(vc_grid, dtype=float)
    f_high = 1.0 / (2.0 * read_time_seconds)
    if not f_high > f_low > 0:
        raise SpiceError(f"read noise: the read bandwidth 1/(2 x {read_time_seconds:g} s) = {f_high:g} Hz must "
                         f"lie above the flicker band's lower edge {f_low:g} Hz", value=read_time_seconds)
    n, nv = len(mm["dvt_up"]), len(vc_grid)
    insts = []
    for k in range(n):
        base = {key: float(mm[key][k]) for key in MISMATCH_KEYS}
        insts += [{**base, "name": f"n{k}_{j}", "vc": float(v), "k": k, "j": j} for j, v in enumerate(vc_grid)]
    sigma = np.empty((n, nv))
    for s in range(0, len(insts), per_netlist):
        part = insts[s:s + per_netlist]
        text, _ = run.render("testbenches/3t1c_noise.cir.j2", insts=part, f_low=f_low, f_high=f_high,
                             points_per_decade=10)
        want = {f"v(onoise_total.m.x{c['name']}.mrd)": c for c in part}
        res = spice.run(text, "3t1c_noise", run.engine, vectors=want)   # one of ~80 vectors per instance
        for key, c in want.items():
            sigma[c["k"], c["j"]] = float(res[key][0])
    g = read_curve_at(run, mm, vc_grid)
    i_read = np.maximum(g * p["v_read_volts"], 1e-30)
    return sigma / i_read


def read_curve_at(run: Run, mm: dict[str, np.ndarray], vc: np.ndarray) -> np.ndarray:
    """g (S) at arbitrary, possibly non-uniform Vc points: the DC sweep on a uniform grid through them."""
    vc = np.asarray(vc, dtype=float)
    if vc.size >= 2 and np.allclose(np.diff(vc), vc[1] - vc[0], atol=1e-9) and vc[1] > vc[0]:
        return read_curve(run, mm, vc)
    grid = np.round(np.arange(vc.min(), vc.max() + 0.005, 0.005), 9)
    g = read_curve(run, mm, grid if grid.size >= 2 else np.array([vc.min(), vc.min() + 0.005]))
    return np.stack([np.interp(vc, grid, r) for r in g])


RAIL_MARGIN_VOLTS = 0.1   # how far the storage node may go beyond the rails (0 V, VDD) before a cell is refused


def rail_excursion(vc: np.ndarray, vdd: float, margin: float = RAIL_MARGIN_VOLTS) -> str | None:
    """A description of where storage-node voltages ``vc`` leave [-margin, VDD + margin] (the peak and the
    lowest), or None when they stay inside.  A cell whose node leaves the rails is not the 3T1C the model
    assumes (a capacitor too small for the charge its transistors inject)."""
    vc = np.asarray(vc, float)
    hi, lo = float(np.nanmax(vc)), float(np.nanmin(vc))
    out = [f"peak {hi:.4g} V > VDD + {margin:g} V" if hi > vdd + margin else "",
           f"lowest {lo:.4g} V < -{margin:g} V" if lo < -margin else ""]
    out = [o for o in out if o]
    if not out:
        return None
    return f"the storage node Vc leaves the supply rails (0 to {vdd:g} V): {' and '.join(out)}"

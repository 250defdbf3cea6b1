"""The full unit cell in SPICE: 2 PCM + 3T1C (5 transistors, 1 capacitor, 2 PCM) and g_shared.

    W = F (G+ - G-) + (g - g_shared)

:func:`read` biases every cell's four read paths at once in one netlist
(``testbenches/unit_cell_read.cir.j2``): G+ and G- through their access
transistors on bit lines at ``v_read_volts``, g on the 3T1C read drain at the
same voltage, and one g_shared per netlist (a column).  It returns the
currents and W.  :func:`read_parts` measures the same parts separately, each
in its own testbench (:func:`pcmspice.circuits.pcm.read` for the PCM devices,
:func:`pcmspice.circuits.c3t1c.read_curve` for the 3T1C cells and g_shared), so tests can
check that the assembled cell is exactly the sum of its parts.

Randomness: PCM G+ of cell k is PCM device 2k and G- device 2k+1 of
:func:`pcmspice.circuits.pcm.draw_variation`; the 3T1C of cell k is cell k of
:func:`pcmspice.circuits.c3t1c.draw_mismatch`; g_shared is 3T1C cell ``GSHARED_INDEX``
of the same seed (a stream no array cell uses).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm as pcm
from pcmspice.circuits.c3t1c import Run
from pcmspice.core.errors import SpiceError
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl

READ_TEMPLATE = "testbenches/unit_cell_read.cir.j2"
GSHARED_INDEX = 2 ** 31 - 1
CELLS_PER_NETLIST = 50


def unit_cell_params(tech, params: dict[str, Any] | None = None) -> dict[str, float]:
    """All unit-cell parameters (PCM, access devices, 3T1C, drives, F) resolved for ``tech``."""
    return nl.resolve_params(READ_TEMPLATE, params, tech)


@dataclass
class Population:
    """Variation of ``n`` unit cells and their g_shared."""

    pcm_plus: dict[str, np.ndarray]
    pcm_minus: dict[str, np.ndarray]
    mismatch: dict[str, np.ndarray]
    mismatch_shared: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.pcm_plus["gcm"])


def draw_population(run: Run, n: int, seed: int, first: int = 0) -> Population:
    """Cells ``first .. first+n-1`` (each from its own seed streams) and the g_shared reference."""
    both = pcm.draw_variation(2 * n, seed, 2 * first, run.params)
    plus = {k: v[0::2].copy() for k, v in both.items()}
    minus = {k: v[1::2].copy() for k, v in both.items()}
    mm = cellmod.draw_mismatch(run.tech, n, seed, run.params, first=first)
    mms = cellmod.draw_mismatch(run.tech, 1, seed, run.params, first=GSHARED_INDEX)
    return Population(plus, minus, mm, mms)


def nominal_population(n: int = 1) -> Population:
    return Population(pcm.nominal_variation(n), pcm.nominal_variation(n), cellmod.nominal_mismatch(n),
                      cellmod.nominal_mismatch(1))


@dataclass
class UnitCellRead:
    """Read currents (A, into the cell from the read lines) and the weight W (S), per cell."""

    i_plus_amperes: np.ndarray
    i_minus_amperes: np.ndarray
    i_g_amperes: np.ndarray
    i_shared_amperes: float
    v_read_volts: float
    f_gain: float

    @property
    def i_w_amperes(self) -> np.ndarray:
        """The weight as a current at the read voltage: F (I+ - I-) + (I_g - I_shared)."""
        return self.f_gain * (self.i_plus_amperes - self.i_minus_amperes) + (self.i_g_amperes - self.i_shared_amperes)

    @property
    def w_siemens(self) -> np.ndarray:
        return self.i_w_amperes / self.v_read_volts


def _bcast(v, n: int, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(v, float), (n,)).copy()
    if not np.all(np.isfinite(a)):
        raise SpiceError(f"{name} must be finite", value=v)
    return a


def read(run: Run, pop: Population, x_plus, x_minus, vc, vc_shared: float | None = None,
         age_plus=0.0, age_minus=0.0) -> UnitCellRead:
    """Read whole unit cells: PCM states (crystalline fractions, drift ages in s), Vc (V).

    ``vc_shared`` defaults to ``v_start_volts``.  All four paths are biased at
    ``v_read_volts`` with the word line at ``v_wl_read_volts``.
    """
    n = pop.n
    p = unit_cell_params(run.tech, run.params)
    xp, xm = _bcast(x_plus, n, "x_plus"), _bcast(x_minus, n, "x_minus")
    if np.any((xp < 0) | (xp > 1) | (xm < 0) | (xm > 1)):
        raise SpiceError("PCM crystalline fractions must lie in 0..1")
    vcs = _bcast(vc, n, "vc")
    ap, am = _bcast(age_plus, n, "age_plus"), _bcast(age_minus, n, "age_minus")
    vsh = p["v_start_volts"] if vc_shared is None else float(vc_shared)
    shared = {k: float(v[0]) for k, v in pop.mismatch_shared.items()}
    shared["vc"] = vsh
    ip, im, ig, ish = np.empty(n), np.empty(n), np.empty(n), []
    for sl in cellmod.chunks(n, CELLS_PER_NETLIST):
        cells = []
        for k, i in enumerate(range(sl.start, sl.stop)):
            c = {f"{key}_p": float(pop.pcm_plus[key][i]) for key in pcm.VARIATION_KEYS}
            c.update({f"{key}_m": float(pop.pcm_minus[key][i]) for key in pcm.VARIATION_KEYS})
            c.update({key: float(pop.mismatch[key][i]) for key in cellmod.MISMATCH_KEYS})
            c.update(k=k, vc=vcs[i], x_p=xp[i], x_m=xm[i], age_p=ap[i], age_m=am[i])
            cells.append(c)
        text, _ = run.render(READ_TEMPLATE, cells=cells, s=shared)
        res = spice.run(text, "unit_cell_read", run.engine)
        for k, i in enumerate(range(sl.start, sl.stop)):
            ip[i] = -res[f"i(vbp{k})"][-1]
            im[i] = -res[f"i(vbm{k})"][-1]
            ig[i] = -res[f"i(vrd{k})"][-1]
        ish.append(-res["i(vrds)"][-1])
    return UnitCellRead(ip, im, ig, float(np.mean(ish)), p["v_read_volts"], p["f_gain"])


def read_parts(run: Run, pop: Population, x_plus, x_minus, vc, vc_shared: float | None = None,
               age_plus=0.0, age_minus=0.0, vc_step: float = 0.01) -> UnitCellRead:
    """The same read, part by part: PCM devices in the PCM read testbench, 3T1C cells
    and g_shared in the 3T1C DC testbench (g at the nearest point of a ``vc_step`` grid:
    pass Vc values on that grid for an exact comparison)."""
    n = pop.n
    p = unit_cell_params(run.tech, run.params)
    v = p["v_read_volts"]
    ov = dict(run.params or {})
    ov.update(v_read_pcm_volts=v)
    prun = Run(run.tech, run.corner, run.temp_c, {k: x for k, x in ov.items()
                                                  if k in nl.declared_params(pcm.PULSES_TEMPLATE)}, run.engine)
    var2 = {k: np.concatenate([pop.pcm_plus[k], pop.pcm_minus[k]]) for k in pcm.VARIATION_KEYS}
    x2 = np.concatenate([_bcast(x_plus, n, "x_plus"), _bcast(x_minus, n, "x_minus")])
    a2 = np.concatenate([_bcast(age_plus, n, "age_plus"), _bcast(age_minus, n, "age_minus")])
    g_pcm, _, _ = pcm.read(prun, var2, x2, a2)
    vsh = p["v_start_volts"] if vc_shared is None else float(vc_shared)
    vcs = _bcast(vc, n, "vc")
    crun = Run(run.tech, run.corner, run.temp_c, {k: x for k, x in (run.params or {}).items()
                                                  if k in nl.declared_params("testbenches/3t1c_dc.cir.j2")},
               run.engine)
    allv = np.concatenate([vcs, [vsh]])
    lo = np.floor(allv.min() / vc_step) * vc_step
    grid = lo + vc_step * np.arange(int(np.round((allv.max() - lo) / vc_step)) + 2)
    mm_all = {k: np.concatenate([pop.mismatch[k], pop.mismatch_shared[k]]) for k in cellmod.MISMATCH_KEYS}
    g = cellmod.read_curve(crun, mm_all, grid)
    idx = np.clip(np.round((allv - lo) / vc_step).astype(int), 0, grid.size - 1)
    g_at = g[np.arange(n + 1), idx]
    return UnitCellRead(g_pcm[:n] * v, g_pcm[n:] * v, g_at[:n] * v, float(g_at[n] * v), v, p["f_gain"])

"""Fast per-cell table look-ups and leakage maps for the array simulator.

:class:`RowTable` evaluates ``table[row, :]`` at a point by linear
interpolation, exactly as :func:`pcmspice.lut.format._interp_rows` does (same grid
clamping, same end-value hold), but with the grid analysed once and the row
offsets precomputed by the caller, so that one evaluation over the ~200,000
cells of a 784-250-10 network is a handful of numpy passes.

:func:`leak_flow_map` tabulates where leakage takes every Vc of the grid after
a fixed time (the LUT's own RK2 integrator, :meth:`CellLut.leak`, run on the
grid); applying a leakage chunk to the whole array is then one table look-up.

:func:`leak_time_constant_seconds` gives the time a cell needs to lose 1 - 1/e
of the way from its start voltage to its leakage equilibrium: the leak time
constant the leakage ablation scales.  (Not the characterization's retention,
the time Vc needs to move 10 mV.)
"""
from __future__ import annotations

import numpy as np

from pcmspice.lut.format import CellLut

_TOP = 1e-12  # same end clamp as pcmspice.lut.format._interp_rows


class RowTable:
    """``table[rows, :]`` on ``grid``, evaluated at ``x`` by linear interpolation.

    Rows are addressed by *offsets* ``row * n_grid`` (see :meth:`offsets`),
    which the array computes once per cell.
    """

    def __init__(self, grid: np.ndarray, table: np.ndarray):
        grid = np.asarray(grid, dtype=np.float64)
        table = np.ascontiguousarray(table, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] != grid.size or grid.size < 2:
            raise ValueError(f"table of shape {table.shape} does not match a grid of {grid.size} points")
        self.grid = grid
        self.n = grid.size
        step = (grid[-1] - grid[0]) / (self.n - 1)
        self.uniform = bool(np.allclose(np.diff(grid), step, rtol=1e-9, atol=0))
        self.x0 = float(grid[0])
        self.step = float(step)
        self.inv_step = 1.0 / self.step
        self.lo = table.ravel()
        slope = np.zeros_like(table)
        slope[:, :-1] = np.diff(table, axis=1)
        self.slope = slope.ravel()
        self.n_rows = table.shape[0]

    def offsets(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, dtype=np.int64) * self.n

    def __call__(self, offsets: np.ndarray, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.uniform:
            pos = x * self.inv_step
            if self.x0 != 0.0:
                pos -= self.x0 * self.inv_step
            np.minimum(pos, self.n - 1 - _TOP, out=pos)   # (two ufuncs: faster than np.clip)
            np.maximum(pos, 0.0, out=pos)
            i0 = pos.astype(np.int64)
            frac = pos - i0
        else:
            g = self.grid
            i0 = np.clip(np.searchsorted(g, x, side="right") - 1, 0, self.n - 2)
            frac = np.clip((x - g[i0]) / (g[i0 + 1] - g[i0]), 0.0, 1.0)
        k = offsets + i0
        return self.lo[k] + self.slope[k] * frac


    def inrange(self, offsets: np.ndarray, x: np.ndarray) -> np.ndarray:
        """As ``__call__`` for x known to lie on the grid's span (the array keeps every Vc
        there): no clamping, fewer passes.  The last column's slope is 0, so x at the
        grid end reads the end value exactly."""
        if not self.uniform:
            return self(offsets, x)
        pos = x * self.inv_step
        if self.x0 != 0.0:
            pos -= self.x0 * self.inv_step
        i0 = pos.astype(np.int64)
        pos -= i0
        i0 += offsets
        out = self.lo.take(i0)
        out += self.slope.take(i0) * pos
        return out


def leak_substeps(lut: CellLut, seconds: float) -> int:
    """RK2 sub-steps for ``seconds`` of leakage: each moves Vc by at most ~2 mV."""
    rate = float(np.max(np.abs(lut.leak_volts_per_s))) if lut.leak_volts_per_s.size else 0.0
    return int(np.clip(np.ceil(rate * seconds / 2e-3), 4, 20000))


def leak_flow_map(lut: CellLut, seconds: float) -> np.ndarray:
    """Vc after ``seconds`` of leakage from every grid voltage, for every LUT cell.

    Shape (n_cells, n_vc).  Built with :meth:`CellLut.leak` on the grid; the
    array interpolates it at each cell's Vc, so the chunk costs one look-up.
    """
    n, m = lut.n_cells, lut.vc_volts.size
    rows = np.repeat(np.arange(n), m)
    vc = np.tile(lut.vc_volts, n)
    out = lut.leak(rows, vc, seconds, substeps=leak_substeps(lut, seconds))
    return out.reshape(n, m)


def equilibrium_volts(lut: CellLut) -> np.ndarray:
    """Per LUT cell, the voltage leakage drives Vc to from ``v_start`` (first zero of dVc/dt
    in the flow direction; the grid end if the rate never changes sign)."""
    v = lut.vc_volts
    v0 = lut.v_start_volts
    out = np.empty(lut.n_cells)
    for c in range(lut.n_cells):
        rate = lut.leak_volts_per_s[c]
        r0 = np.interp(v0, v, rate)
        if r0 == 0:
            out[c] = v0
            continue
        if r0 > 0:
            idx = np.flatnonzero((v > v0) & (rate <= 0))
            if idx.size == 0:
                out[c] = v[-1]
                continue
            i = idx[0]
        else:
            idx = np.flatnonzero((v < v0) & (rate >= 0))
            if idx.size == 0:
                out[c] = v[0]
                continue
            i = idx[-1] + 1
        # zero crossing between grid points i-1 and i
        a, b = rate[i - 1], rate[i]
        out[c] = v[i - 1] + (v[i] - v[i - 1]) * (a / (a - b) if a != b else 0.5)
    return out


def leak_time_constant_seconds(lut: CellLut, fraction: float = 1 - np.exp(-1)) -> np.ndarray:
    """Per LUT cell, the time leakage needs to carry Vc ``fraction`` of the way from
    ``v_start`` to its equilibrium: t = integral dV / |dVc/dt| (exact for the ODE).

    ``inf`` for a cell that does not leak.  The population's median is the
    leak time constant of the technology.
    """
    v0 = lut.v_start_volts
    veq = equilibrium_volts(lut)
    out = np.full(lut.n_cells, np.inf)
    for c in range(lut.n_cells):
        v1 = v0 + fraction * (veq[c] - v0)
        if abs(v1 - v0) < 1e-9:
            continue
        vs = np.linspace(v0, v1, 2001)
        rate = np.abs(np.interp(vs, lut.vc_volts, lut.leak_volts_per_s[c]))
        if np.any(rate <= 0):
            continue
        out[c] = float(np.trapezoid(1.0 / rate, vs) * np.sign(v1 - v0))
    return np.abs(out)

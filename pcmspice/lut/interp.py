"""Row-wise linear interpolation of the tables (every cell or device has its own curve)."""
from __future__ import annotations

import numpy as np


def interp_rows(x_grid: np.ndarray, table: np.ndarray, rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``table[rows[k], :]`` at ``x[k]`` for every k, vectorized.

    Outside the grid the end values are held (no extrapolation): the grid is
    chosen to span every state the circuit can reach.
    """
    n = x_grid.size
    x = np.asarray(x, dtype=np.float64)
    rows = np.asarray(rows)
    # uniform grids (the usual case) get an O(1) index; others use searchsorted
    step = (x_grid[-1] - x_grid[0]) / (n - 1)
    if np.allclose(np.diff(x_grid), step, rtol=1e-9, atol=0):
        pos = np.clip((x - x_grid[0]) / step, 0.0, n - 1 - 1e-12)
        i0 = pos.astype(np.intp)
        frac = pos - i0
    else:
        i0 = np.clip(np.searchsorted(x_grid, x, side="right") - 1, 0, n - 2)
        frac = np.clip((x - x_grid[i0]) / (x_grid[i0 + 1] - x_grid[i0]), 0.0, 1.0)
        i0 = np.minimum(i0, n - 2)
    i1 = np.minimum(i0 + 1, n - 1)
    lo = table[rows, i0]
    hi = table[rows, i1]
    return lo + (hi - lo) * frac

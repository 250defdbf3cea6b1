"""The Monte Carlo cells of an R x C array, shared by both paths of the co-simulation: position (i, j) is
3T1C cell k = i * C + j, the g_shared of column j is cell R * C + j, and G+ / G- of cell k are PCM devices
2k / 2k + 1."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm as pcmmod
from pcmspice.core.errors import ConfigError


@dataclass(frozen=True)
class ArrayCells:
    """The Monte Carlo draws of an R x C array: 3T1C mismatch and PCM variation."""

    rows: int
    cols: int
    seed: int
    mismatch: dict[str, np.ndarray]     # R*C unit cells then C references (cell.MISMATCH_KEYS)
    variation: dict[str, np.ndarray]    # 2*R*C PCM devices: G+ of cell k = 2k, G- = 2k + 1

    @property
    def n_cells(self) -> int:
        return self.rows * self.cols

    def cell_index(self) -> np.ndarray:
        """k[i, j] = i * C + j: the Monte Carlo cell at physical row i, column j."""
        return np.arange(self.n_cells).reshape(self.rows, self.cols)

    def ref_index(self) -> np.ndarray:
        return self.n_cells + np.arange(self.cols)


def draw_cells(tech, rows: int, cols: int, seed: int, params: dict[str, Any] | None = None) -> ArrayCells:
    if rows < 1 or cols < 1:
        raise ConfigError(f"array shape {rows} x {cols} is invalid; rows and columns must be >= 1")
    n = rows * cols
    mm = cellmod.draw_mismatch(tech, n + cols, seed, params)
    var = pcmmod.draw_variation(2 * n, seed, params=params)
    return ArrayCells(rows, cols, seed, mm, var)

"""The update of one example as stochastic row and column pulses in time slots: the pulses both paths
of the co-simulation apply."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcmspice.core.errors import ConfigError


@dataclass
class Schedule:
    """The update of one example as row and column pulses in time slots.

    ``row_fire`` (R, S) and ``col_fire`` (C, S): which line fires in which slot.
    ``sign`` (C, R): the weight direction (+1 raises W[j, i]) of a coincidence
    at cell (i, j): -sign(delta_j) sign(x_i), as dW = -lr delta x^T.
    ``counts`` (C, R): coincidences x sign, the pulse counts both paths apply.
    """

    row_fire: np.ndarray
    col_fire: np.ndarray
    sign: np.ndarray
    counts: np.ndarray

    @property
    def n_slots(self) -> int:
        return int(self.row_fire.shape[1])


def coincidence_schedule(x: np.ndarray, delta: np.ndarray, lr: float, dw_nominal: float, bit_length: int,
                         rng: np.random.Generator) -> Schedule:
    """Stochastic pulse coincidence (Gokmen and Vlasov, Front. Neurosci. 10, 333 (2016)).

    Row i fires in each of ``bit_length`` slots with probability |x_i| (x in
    [-1, 1]), column j with probability min(1, lr |delta_j| / (dw_nominal
    bit_length)); a cell gets one pulse per slot in which both fire, so its
    expected count is lr |x_i delta_j| / dw_nominal, the requested update in
    pulses (at most ``bit_length``).  Slots without any coincidence are
    dropped (they would only be idle time, which the idle transient covers).
    """
    x = np.asarray(x, float)
    delta = np.asarray(delta, float)
    if np.any(np.abs(x) > 1 + 1e-12):
        raise ConfigError("inputs must lie in [-1, 1] (they are encoded as pulse probabilities)")
    p_row = np.clip(np.abs(x), 0.0, 1.0)
    p_col = np.clip(lr * np.abs(delta) / (dw_nominal * bit_length), 0.0, 1.0)
    row = rng.random((x.size, bit_length)) < p_row[:, None]
    col = rng.random((delta.size, bit_length)) < p_col[:, None]
    hit = col.astype(np.int64) @ row.T.astype(np.int64)          # (C, R) coincidences
    sign = (-np.sign(delta)[:, None] * np.sign(x)[None, :]).astype(np.int64)
    keep = (col[:, None, :] & row[None, :, :]).any(axis=(0, 1))
    return Schedule(row[:, keep], col[:, keep], sign, hit * sign)

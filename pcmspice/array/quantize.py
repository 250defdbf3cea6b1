"""Pulse matrices and the quantization of a requested update into pulses (see
:class:`~pcmspice.array.config.ArrayConfig`, "Pulse quantization")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.array.cache import check_version
from pcmspice.array.config import ArrayConfig

VERSION = 1
_POOL = 1 << 20  # uniform numbers kept for stochastic rounding
_EVERY_CELL = 8192  # arrays up to this many cells take every cell as an update candidate (fewer calls)


def every_cell(x: np.ndarray, delta: np.ndarray) -> bool:
    """Whether an update takes every cell as a candidate (a small array: fewer calls) rather
    than only the coincident ones; the numpy path and the compiled kernel both follow it."""
    return x.size * delta.size <= _EVERY_CELL


@dataclass
class Pulses:
    """A sparse pulse matrix: ``counts[k]`` pulses on cell (``rows[k]``, ``cols[k]``).

    Counts are in the *weight* direction (+ raises the weight); the array
    turns them into up (+) or down (-) pulses of g with its polarity p.
    """

    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_dense(cls, counts: np.ndarray) -> Pulses:
        counts = np.asarray(counts)
        r, c = np.nonzero(counts)
        return cls(r.astype(np.int64), c.astype(np.int64), counts[r, c].astype(np.int64))

    def to_dense(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, dtype=np.int64)
        out[self.rows, self.cols] = self.counts
        return out

    @property
    def total(self) -> int:
        return int(np.abs(self.counts).sum())


class PulseQuantizer:
    """dW = -lr delta x^T -> pulse counts n = clip(R(dW / dw_nominal), -m, m), R stochastic rounding
    (uniforms from a seeded pool, as hardware reuses an LFSR sequence) or rounding to nearest."""

    def __init__(self, config: ArrayConfig, shape: tuple[int, int], rng: np.random.Generator):
        self.config, self.shape, self.rng = config, shape, rng
        self.all_rows, self.all_cols = np.arange(shape[0]), np.arange(shape[1])
        self.pool = rng.random(_POOL, dtype=np.float32)
        self.starts, self.starts_i = np.zeros(0), 0

    def uniform(self, n: int) -> np.ndarray:
        """n uniforms in [0, 1) for stochastic rounding: a window of a seeded pool at a
        seeded random offset (as hardware reuses an LFSR sequence); fresh draws beyond it."""
        if n > _POOL // 2:
            return self.rng.random(n, dtype=np.float32)
        if self.starts_i >= self.starts.size:    # window starts, drawn 4,096 at a time
            self.starts = self.rng.random(4096)
            self.starts_i = 0
        o = int(self.starts[self.starts_i] * (_POOL // 2))
        self.starts_i += 1
        return self.pool[o: o + n]

    def quantize(self, a: np.ndarray) -> np.ndarray:
        if self.config.rounding == "stochastic":
            n = np.floor(a + self.uniform(a.size).reshape(a.shape))
        else:
            n = np.rint(a)
        m = self.config.max_pulses_per_example
        return np.clip(n, -m, m, out=n)

    def candidates(self, x: np.ndarray, delta: np.ndarray, lr: float, dw_nominal: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The cells an update dW = -lr * outer(delta, x) considers, as (rows, cols, d, xc):
        the requested pulses are outer(d, xc) (float32; d = -lr delta / dw_nominal).

        Only cells whose input and error are both non-zero are candidates (pulse
        coincidence; None if there are none), except in a small array, where
        every cell is one (fewer calls)."""
        x = np.asarray(x)
        delta = np.asarray(delta)
        if every_cell(x, delta):
            return (self.all_rows, self.all_cols, (delta * (-lr / dw_nominal)).astype(np.float32),
                    x.astype(np.float32))
        cols = np.flatnonzero(x)
        rows = np.flatnonzero(delta)
        if cols.size == 0 or rows.size == 0:
            return None
        return rows, cols, (delta[rows] * (-lr / dw_nominal)).astype(np.float32), x[cols].astype(np.float32)

    def pulse_counts(self, x: np.ndarray, delta: np.ndarray, lr: float, dw_nominal: float) -> Pulses:
        """Pulses for the update dW = -lr * outer(delta, x), one example."""
        cand = self.candidates(x, delta, lr, dw_nominal)
        if cand is None:
            return Pulses(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        rows, cols, d, xc = cand
        a = np.multiply.outer(d, xc)
        m = self.config.max_pulses_per_example
        if self.config.rounding == "stochastic":
            a += self.uniform(a.size).reshape(a.shape)
            np.floor(a, out=a)
        else:
            np.rint(a, out=a)
        if float(np.abs(d).max()) * float(np.abs(xc).max()) + 1.0 > m:
            np.clip(a, -m, m, out=a)
        idx = np.flatnonzero(a != 0)   # (a boolean mask is ~4x faster than float nonzero)
        r, c = np.divmod(idx, cols.size)
        return Pulses(rows[r], cols[c], a.ravel()[idx].astype(np.int64))

    def pulse_counts_dense(self, dw: np.ndarray, dw_nominal: float) -> Pulses:
        """Pulses for an arbitrary requested change ``dw`` (weight units; minibatch mode)."""
        return Pulses.from_dense(self.quantize((np.asarray(dw) / dw_nominal).astype(np.float32)))

    def state_dict(self) -> dict[str, Any]:
        """Where in the pool the next window starts (the pool itself is redrawn from the seed)."""
        return {"version": VERSION, "starts": self.starts.copy(), "starts_i": int(self.starts_i)}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        check_version("pulse quantizer", st, VERSION)
        self.starts, self.starts_i = st["starts"].copy(), int(st["starts_i"])

"""The ideal weight model: float weights and exact SGD, the software reference run
through the array interface (``ArrayConfig(mode="ideal")``; no LUTs needed)."""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.array.cache import WeightCache

_Array = Any   # a pcmspice.array.crossbar.AnalogArray (that module imports this one)


class IdealWeights:
    """W is a float64 matrix (the cache is the state: always valid); updates are exact, reads
    noiseless, and hardware time changes nothing (no leakage, no transfers)."""

    mode = "ideal"
    pairs = None
    capacitors = None
    kernel = "numpy"
    spu = 1.0
    dw_nominal = 0.0

    def __init__(self, shape: tuple[int, int]):
        self.shape = shape

    def rebuild_w(self, cache: WeightCache, polarity: int) -> None:
        cache.w = np.zeros(self.shape)

    def drift_w(self, cache: WeightCache, polarity: int) -> None:
        return None

    def rebuild_var(self, cache: WeightCache) -> None:
        cache.var = None

    def set(self, cache: WeightCache, w: np.ndarray) -> None:
        cache.w = np.array(w, dtype=np.float64).reshape(self.shape)

    def update(self, arr: _Array, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Exact float SGD; no pulses (returns 0)."""
        arr.cache.w -= lr * np.outer(delta, x)
        return 0

    def idle(self, seconds: float) -> bool:
        return False

    def after_examples(self, n_examples: int) -> bool:
        return False

    def before_transfer(self) -> bool:
        return False

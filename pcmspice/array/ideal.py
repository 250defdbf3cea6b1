"""The ideal weight model: float weights and exact SGD, the software reference run
through the array interface (``ArrayConfig(mode="ideal")``; no LUTs needed)."""
from __future__ import annotations

import numpy as np

from pcmspice.array.crossbar import AnalogArray, Pulses
from pcmspice.array.layer import TransferReport
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet


class IdealArray(AnalogArray, mode="ideal"):
    """W is a float64 matrix; updates are exact, reads noiseless, and hardware time
    changes nothing (no leakage, no transfers)."""

    def _build(self, luts: LutSet | None, assignment: dict[str, np.ndarray], kernel: str) -> None:
        self.spu = 1.0
        self.dw_nominal = 0.0
        self._w = np.zeros(self.shape)

    def read_weights(self) -> np.ndarray:
        return self.weights()

    def set_weights(self, w: np.ndarray) -> None:
        """Set W exactly."""
        self._w = np.array(w, dtype=np.float64).reshape(self.shape)

    def program(self, w: np.ndarray) -> TransferReport | None:
        """W = ``w`` exactly; there is no programming to report."""
        self.set_weights(np.asarray(w, dtype=np.float64).reshape(self.shape))
        return None

    def apply_pulses(self, pulses: Pulses | np.ndarray) -> None:
        raise ConfigError("an ideal array has no pulses; use update() or set_weights()")

    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Exact float SGD; no pulses (returns 0)."""
        self._w -= lr * np.outer(delta, x)
        return 0

    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        dw = -(lr / x.shape[0]) * (delta.T @ x)
        self._w += dw
        return 0

    def _transfer(self) -> TransferReport | None:
        return None

"""What every layer of a network offers the trainer, whatever holds its weights.

:class:`Layer` is implemented by the three weight models of
:class:`~pcmspice.array.crossbar.AnalogArray` and by the software baseline's
float layer (:class:`pcmspice.train.network.FloatLayer`).  The training loop,
its summary, its saved state and its figures call only these, so they never
ask which model a layer is: a layer without some device answers with an empty
value (no counters, no transfers, ``None`` for a PCM pair or capacitors it
does not have).

:class:`TransferReport` is what one transfer (or the initial programming) of
an analog array did; :class:`CapacitorVolts` the capacitor voltages of the
3T1C cells, for plotting.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TransferReport:
    """What one transfer did.  Siemens unless named otherwise."""

    examples_seen: int
    polarity_after: int
    target_siemens: np.ndarray = field(repr=False)      # PCM pair target F(G+ - G-) after the offset
    achieved_siemens: np.ndarray = field(repr=False)    # what programming reached
    w_before: np.ndarray = field(repr=False)            # weights (units) just before
    w_after: np.ndarray = field(repr=False)             # and just after
    set_pulses: int = 0
    reset_pulses: int = 0
    not_converged: int = 0

    @property
    def error_siemens(self) -> np.ndarray:
        return self.achieved_siemens - self.target_siemens


@dataclass
class CapacitorVolts:
    """The capacitor voltages of an array's 3T1C cells (g) and shared references (g_shared)."""

    vc_volts: np.ndarray
    vref_volts: np.ndarray
    vc_before_last_transfer_volts: np.ndarray | None   # None before the first transfer
    v_lo_volts: float                                  # the LUT's Vc grid span
    v_hi_volts: float
    v_start_volts: float


class Layer(ABC):
    """One weight matrix (n_out x n_in) of a network, as the trainer uses it.

    Attributes every layer has: ``mode`` (the name of its weight model),
    ``shape``, ``counters`` (device event counts, summed over the network in
    the summary; empty without devices), ``time_seconds`` (hardware time),
    ``transfer_log`` (one row per transfer), ``last_transfer`` and
    ``initial_program`` (:class:`TransferReport` or None).
    """

    mode: str = ""
    shape: tuple[int, int]
    counters: dict[str, int]
    time_seconds: float
    transfer_log: list[dict]
    last_transfer: TransferReport | None
    initial_program: TransferReport | None

    @abstractmethod
    def weights(self) -> np.ndarray:
        """W (n_out, n_in) in weight units."""

    @abstractmethod
    def forward(self, x: np.ndarray, noise: bool = True) -> np.ndarray:
        """W x (x: (n_in,) or (batch, n_in))."""

    @abstractmethod
    def backward(self, delta: np.ndarray, noise: bool = True) -> np.ndarray:
        """W^T delta (delta: (n_out,) or (batch, n_out))."""

    @abstractmethod
    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """dW = -lr * outer(delta, x), one example; returns the pulses applied."""

    @abstractmethod
    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """dW = -lr * mean_b outer(delta_b, x_b); returns the pulses applied."""

    @abstractmethod
    def advance(self, n_examples: int = 1) -> TransferReport | None:
        """``n_examples`` examples of hardware time; the transfer report if one happened."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The layer's complete mutable state: a tree of dicts, lists, arrays, numbers and
        :class:`TransferReport` records with a ``version`` (see :mod:`pcmspice.array.snapshot`)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Write a :meth:`state_dict` over a layer built the same way (refused if of another
        format or version)."""

    def state(self) -> dict[str, np.ndarray]:
        """Every state array, for saving (.npz)."""
        return {"w": self.weights()}

    def summary(self) -> dict[str, Any]:
        """The layer's entry in a run's summary (None where the layer has no such quantity)."""
        return {"shape": list(self.shape), "siemens_per_unit_weight": None, "dw_nominal": None,
                "leak_every_examples": None, "pcm_tolerance_siemens": None, "w_max": None,
                "pcm_drift_ratio_mean": None, "drift_refreshes": None, "drift_t0_seconds": None}

    def pcm_pair_siemens(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(G+, G-) of every PCM pair as programmed, or None without PCMs."""
        return None

    def pcm_drift_ratios(self) -> np.ndarray | None:
        """G read now / G programmed of every PCM device (drift, no read noise), or None without PCMs."""
        return None

    def capacitor_volts(self) -> CapacitorVolts | None:
        """The 3T1C capacitor voltages, or None without 3T1C cells."""
        return None

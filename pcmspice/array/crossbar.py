"""The crossbar: one weight matrix of a network on an array of unit cells, and its interface.

One :class:`AnalogArray` is one weight matrix (n_out x n_in; a network layer,
its bias as an extra input fixed at 1).  Every array position is a Monte
Carlo cell: its 3T1C is a row of the cell LUT and its two PCMs are rows of
the PCM LUT, drawn with replacement by a seeded generator; each group of
``cells_per_reference`` cells along a row shares one g_shared, itself a LUT
cell.  State: Vc of every g and every g_shared, G+ and G- of every PCM (as
programmed, with their programming time for drift), the polarity p of g and
the hardware time.

Weight models.  ``AnalogArray(n_out, n_in, luts, config, ...)`` builds the
model ``config.mode`` names, each a subclass with the same interface:

=============  ==========================================  ===========================
``ideal``      float weights, exact SGD                    :mod:`pcmspice.array.ideal`
``pcm-only``   the PCM pair alone (Burr et al. 2015)       :mod:`pcmspice.array.pcm_only`
``cell``       the full 2PCM + 3T1C cell                   :mod:`pcmspice.array.cell`
=============  ==========================================  ===========================

The two with PCMs share :class:`~pcmspice.array.pcm_pair.PcmPairArray` (the
pair, its closed-loop programming, the pulse quantization).  Each model
registers itself by its mode when its module is imported (the package
``pcmspice.array`` imports all three).

Operations, each a method the training loop (or a SPICE co-simulation) calls:

=====================  ======================================================
``weights()``          W in weight units (cached; see the weight mapping in
                       :class:`~pcmspice.array.config.ArrayConfig`)
``read_weights()``     W recomputed from the device state, no cache
``forward(x)``         W x with read noise (the array read row-wise)
``backward(delta)``    W^T delta with read noise (read column-wise)
``pulse_counts``       the quantized pulse matrix for dW = -lr delta x^T
``apply_pulses``       n pulses per cell, each a LUT step at the present Vc
``update``             pulse_counts + apply_pulses (ideal: exact SGD)
``leak(seconds)``      idle time: the clock moves, every Vc leaks for ``seconds``
                       (the LUT's RK2), the PCMs drift
``advance(n)``         n examples of hardware time: leakage, drift, and a
                       transfer every ``transfer_every`` examples
``transfer()``         g -> PCM by closed-loop programming, g reset, p flips
                       (``transfer_seconds`` of hardware time)
=====================  ======================================================

Speed.  W is cached.  An update changes only cells that received pulses
(the pulse matrix is sparse: most |lr x delta| round to no pulse), so only
those entries are re-interpolated.  Leakage is slow on the scale of one
example, so during training it is applied in chunks of ``leak_every``
examples through a tabulated flow map (see
:meth:`~pcmspice.array.cell.CellArray._auto_leak_every` for why the chunk is
short enough), and W is refreshed then.

Kernels.  In the full cell the pulses (``update``, ``apply_pulses``) run in
one of two implementations with bit-identical results, chosen by the
``kernel`` argument: ``"numba"``, the compiled loops of
:mod:`pcmspice.array.kernel` (an update's quantization and pulses in one
call, without the numpy path's temporaries; training 1.5-3x faster), or
``"numpy"``, the vectorized reference (``pulse_counts`` +
:meth:`~pcmspice.array.cell.CellArray._pulse_cells_numpy`).  ``"auto"`` (the
default) takes numba when it is installed and the cell LUT's Vc grid is
uniform (the kernel's look-up assumes it), numpy otherwise.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.array.layer import Layer, TransferReport
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet

KERNELS = ("auto", "numba", "numpy")   # see "Kernels" above
_MODELS: dict[str, type[AnalogArray]] = {}   # mode -> weight model, filled as the models are defined

__all__ = ["KERNELS", "AnalogArray", "Pulses", "TransferReport"]


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


class AnalogArray(Layer):
    """A crossbar of ``n_out`` x ``n_in`` unit cells (see the module docstring).

    Build it with the LUTs and a config, then :meth:`program` the initial
    weights::

        arr = AnalogArray(250, 785, luts, ArrayConfig(), seed=1)
        arr.program(w0)
        y = arr.forward(x); arr.update(x, delta, lr); arr.advance()

    The instance is of the weight model ``config.mode`` names (a subclass).
    ``assignment`` optionally fixes the LUT row of every position (keys as in
    :meth:`state`: ``lut_cell``, ``lut_cell_shared``, ``pcm_device_plus``,
    ``pcm_device_minus``), e.g. to mirror a SPICE netlist cell for cell.

    ``kernel`` picks the implementation of the full cell's pulses, one of
    :data:`KERNELS` (see the module docstring; same results either way);
    :attr:`kernel` is the one in use ("numpy" in the other models).

    Shared state: :attr:`config`, :attr:`shape`, :attr:`polarity`,
    :attr:`time_seconds`, :attr:`examples_seen`, :attr:`counters`,
    :attr:`transfer_log`, :attr:`spu` (siemens per unit weight) and
    :attr:`dw_nominal` (the weight change of one nominal pulse).
    """

    def __init_subclass__(cls, mode: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if mode is not None:
            cls.mode = mode
            _MODELS[mode] = cls

    def __new__(cls, n_out: int = 1, n_in: int = 1, luts: LutSet | None = None,
                config: ArrayConfig | None = None, *args: Any, **kwargs: Any):
        if cls is AnalogArray:   # the factory: the weight model the config names
            cls = _MODELS[(config or ArrayConfig()).validate().mode]
        return super().__new__(cls)

    def __init__(self, n_out: int, n_in: int, luts: LutSet | None = None,
                 config: ArrayConfig | None = None, seed: int = 0,
                 assignment: dict[str, np.ndarray] | None = None, kernel: str = "auto"):
        self.config = cfg = (config or ArrayConfig()).validate()
        if cfg.mode != self.mode:
            raise ConfigError(f"{type(self).__name__} is the weight model of mode '{self.mode}', "
                              f"not of mode '{cfg.mode}'")
        if n_out < 1 or n_in < 1:
            raise ConfigError(f"array shape ({n_out}, {n_in}) is invalid; both sizes must be >= 1")
        if kernel not in KERNELS:
            raise ConfigError(f"kernel '{kernel}' is unknown; expected one of {', '.join(KERNELS)}")
        self.kernel = "numpy"
        self.shape = (int(n_out), int(n_in))
        self._all_rows, self._all_cols = np.arange(self.shape[0]), np.arange(self.shape[1])
        self.luts = luts
        ss = np.random.SeedSequence(seed)
        (self._rng_assign, self._rng_prog, self._rng_pulse, self._rng_noise) = \
            [np.random.default_rng(s) for s in ss.spawn(4)]
        self.polarity = 1
        self.time_seconds = 0.0
        self.examples_seen = 0
        self._since_transfer = 0
        self.counters = dict(pulses_up=0, pulses_down=0, transfers=0, pcm_set_pulses=0,
                             pcm_reset_pulses=0, pcm_set_pulses_update=0, pcm_not_converged=0)
        self.transfer_log: list[dict] = []   # per transfer: examples, rms error, pulses
        self.last_transfer: TransferReport | None = None
        self.initial_program: TransferReport | None = None
        self._var: np.ndarray | None = None   # read-noise variance of every cell (None: no read noise)
        self._w: np.ndarray
        self.spu: float
        self.dw_nominal: float
        self._build(luts, dict(assignment or {}), kernel)

    @abstractmethod
    def _build(self, luts: LutSet | None, assignment: dict[str, np.ndarray], kernel: str) -> None:
        """The model's devices and state: sets :attr:`spu`, :attr:`dw_nominal` and the W cache."""

    # ------------------------------------------------------------ weight read
    def weights(self) -> np.ndarray:
        """W (n_out, n_in) in weight units, as the array holds it now (float64 copy)."""
        return self._w.astype(np.float64)

    @abstractmethod
    def read_weights(self) -> np.ndarray:
        """W recomputed from the device state (G+, G-, Vc, Vref), bypassing every cache."""

    def weights_siemens(self) -> np.ndarray:
        return self.weights() * self.spu

    def read_noise_sigma(self) -> np.ndarray:
        """Each cell's read-noise standard deviation now, in weight units (zeros without read noise)."""
        return np.zeros(self.shape) if self._var is None else np.sqrt(self._var.astype(np.float64))

    # ------------------------------------------------------------------- MACs
    def forward(self, x: np.ndarray, noise: bool = True) -> np.ndarray:
        """y = W x (x: (n_in,) or (batch, n_in)), plus the read noise of every cell read.

        Read noise is drawn per MAC output with the exact variance of
        independent per-cell noise: var(y_j) = sum_i var_ij x_i^2.
        """
        x = np.asarray(x, dtype=self._w.dtype)
        y = x @ self._w.T if x.ndim == 2 else self._w @ x
        if noise and self._var is not None:
            x2 = x * x
            s = x2 @ self._var.T if x.ndim == 2 else self._var @ x2
            y = y + np.sqrt(s) * self._rng_noise.standard_normal(y.shape, dtype=np.float32)
        return y.astype(np.float64)

    def backward(self, delta: np.ndarray, noise: bool = True) -> np.ndarray:
        """W^T delta (delta: (n_out,) or (batch, n_out)), with read noise as in :meth:`forward`."""
        d = np.asarray(delta, dtype=self._w.dtype)
        y = d @ self._w if d.ndim == 2 else self._w.T @ d
        if noise and self._var is not None:
            d2 = d * d
            s = d2 @ self._var if d.ndim == 2 else self._var.T @ d2
            y = y + np.sqrt(s) * self._rng_noise.standard_normal(y.shape, dtype=np.float32)
        return y.astype(np.float64)

    # ------------------------------------------------------- writes, updates
    @abstractmethod
    def program(self, w: np.ndarray) -> TransferReport | None:
        """Write initial weights ``w`` (weight units); the programming report, if any."""

    @abstractmethod
    def set_weights(self, w: np.ndarray) -> None:
        """Set W exactly (float weights only)."""

    @abstractmethod
    def apply_pulses(self, pulses: Pulses | np.ndarray) -> None:
        """Apply pulse counts (weight direction; a :class:`Pulses` or a dense int matrix)."""

    @abstractmethod
    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Request dW = -lr * outer(delta, x) (one example; x, delta 1-D) and apply it.

        Returns the number of pulses applied."""

    @abstractmethod
    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Minibatch: request dW = -lr * mean_b outer(delta_b, x_b), quantized once."""

    # ------------------------------------------------------------ time, leak
    def leak(self, seconds: float) -> None:
        """``seconds`` of idle hardware time: the clock moves, every Vc leaks (x leak_scale)
        and the PCMs drift; nothing but the clock in a model without devices."""
        if seconds <= 0:
            return
        self.time_seconds += seconds
        self._idle(seconds)

    def _idle(self, seconds: float) -> None:
        """What the devices do over ``seconds`` of idle time (after the clock moved)."""
        return None

    def advance(self, n_examples: int = 1) -> TransferReport | None:
        """``n_examples`` examples of hardware time: leakage in chunks of ``leak_every``
        examples, a transfer each ``transfer_every`` examples.  Returns the transfer
        report when one happened."""
        self.examples_seen += n_examples
        self.time_seconds += n_examples * self.config.time_per_example_seconds
        return self._after_examples(n_examples)

    def _after_examples(self, n_examples: int) -> TransferReport | None:
        """What the devices do over ``n_examples`` examples (float weights: nothing)."""
        return None

    # --------------------------------------------------------------- transfer
    def transfer(self) -> TransferReport | None:
        """Move the model's volatile weight part into its PCM pairs (see the models);
        counted even where there is nothing to move.  The event takes
        ``transfer_seconds`` of hardware time: the clock moves first, so the reads and
        the devices' programming are stamped at its end."""
        self._since_transfer = 0
        self.time_seconds += self.config.transfer_seconds
        self.counters["transfers"] += 1
        return self._transfer()

    @abstractmethod
    def _transfer(self) -> TransferReport | None:
        """The model's transfer (after the bookkeeping of :meth:`transfer`)."""

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        """Every state array, for saving (.npz) or comparison against SPICE."""
        return {"w": self.weights(), "polarity": np.array(self.polarity),
                "time_seconds": np.array(self.time_seconds), "examples_seen": np.array(self.examples_seen),
                "siemens_per_unit_weight": np.array(self.spu), "dw_nominal": np.array(self.dw_nominal)}

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "siemens_per_unit_weight": self.spu, "dw_nominal": self.dw_nominal,
                "w_max": self.config.w_max}

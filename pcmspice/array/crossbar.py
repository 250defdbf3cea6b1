"""The crossbar of 2PCM + 3T1C unit cells, vectorized over all cells with numpy.

One :class:`AnalogArray` is one weight matrix (n_out x n_in; a network layer,
its bias as an extra input fixed at 1).  Every array position is a Monte
Carlo cell: its 3T1C is a row of the cell LUT and its two PCMs are rows of
the PCM LUT, drawn with replacement by a seeded generator; each group of
``cells_per_reference`` cells along a row shares one g_shared, itself a LUT
cell.  State: Vc of every g and every g_shared, G+ and G- of every PCM (as
programmed, with their programming time for drift), the polarity p of g and
the hardware time.

Operations, each a method the training loop (or a SPICE co-simulation) calls:

=====================  ======================================================
``weights()``          W in weight units (cached; see the weight mapping in
                       :class:`~pcmspice.array.config.ArrayConfig`)
``read_weights()``     W recomputed from the device state, no cache
``forward(x)``         W x with read noise (the array read row-wise)
``backward(delta)``    W^T delta with read noise (read column-wise)
``pulse_counts``       the quantized pulse matrix for dW = -lr delta x^T
``apply_pulses``       n pulses per cell, each a LUT step at the present Vc
``update``             pulse_counts + apply_pulses (ideal mode: exact SGD)
``leak(seconds)``      every Vc leaks for ``seconds`` (the LUT's RK2)
``advance(n)``         n examples of hardware time: leakage, and a transfer
                       every ``transfer_every`` examples
``transfer()``         g -> PCM by closed-loop programming, g reset, p flips
=====================  ======================================================

Speed.  W is cached.  An update changes only cells that received pulses
(the pulse matrix is sparse: most |lr x delta| round to no pulse), so only
those entries are re-interpolated.  Leakage is slow on the scale of one
example, so during training it is applied in chunks of :attr:`leak_every`
examples through a tabulated flow map (see :meth:`AnalogArray.leak_every`
for why the chunk is short enough), and W is refreshed then.

Kernels.  In mode ``cell`` the pulses (``update``, ``apply_pulses``) run in
one of two implementations with bit-identical results, chosen by the
``kernel`` argument: ``"numba"``, the compiled loops of
:mod:`pcmspice.array.kernel` (an update's quantization and pulses in one
call, without the numpy path's temporaries; training 1.5-3x faster), or
``"numpy"``, the vectorized reference below (:meth:`AnalogArray.pulse_counts`
+ :meth:`AnalogArray._pulse_cells_numpy`).  ``"auto"`` (the default) takes
numba when it is installed and the cell LUT's Vc grid is uniform (the
kernel's look-up assumes it), numpy otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.array.pcm import PcmModel, ProgramResult, program
from pcmspice.array.tables import RowTable, leak_flow_map, leak_substeps, retention_seconds
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import LutSet

_POOL = 1 << 20  # uniform numbers kept for stochastic rounding
_EVERY_CELL = 8192  # arrays up to this many cells take every cell as an update candidate (fewer calls)
KERNELS = ("auto", "numba", "numpy")   # see "Kernels" above
_NONE32, _NONE64 = np.zeros(0, np.float32), np.zeros(0)   # "no such array" for the compiled kernel


@cache
def _compiled_kernel() -> ModuleType | None:
    """:mod:`pcmspice.array.kernel`, or None without numba (imported on first use: numba
    takes ~0.5 s to import)."""
    try:
        from pcmspice.array import kernel as array_kernel
    except ImportError:
        return None
    return array_kernel


def _every_cell(x: np.ndarray, delta: np.ndarray) -> bool:
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


class AnalogArray:
    """A crossbar of ``n_out`` x ``n_in`` unit cells (see the module docstring).

    Build it with the LUTs and a config, then :meth:`program` the initial
    weights::

        arr = AnalogArray(250, 785, luts, ArrayConfig(), seed=1)
        arr.program(w0)
        y = arr.forward(x); arr.update(x, delta, lr); arr.advance()

    ``assignment`` optionally fixes the LUT row of every position (keys as in
    :meth:`state`: ``lut_cell``, ``lut_cell_shared``, ``pcm_device_plus``,
    ``pcm_device_minus``), e.g. to mirror a SPICE netlist cell for cell.

    ``kernel`` picks the implementation of the cell-mode pulses, one of
    :data:`KERNELS` (see the module docstring; same results either way);
    :attr:`kernel` is the one in use ("numpy" in the other modes).
    """

    def __init__(self, n_out: int, n_in: int, luts: LutSet | None = None,
                 config: ArrayConfig | None = None, seed: int = 0,
                 assignment: dict[str, np.ndarray] | None = None, kernel: str = "auto"):
        self.config = cfg = (config or ArrayConfig()).validate()
        if n_out < 1 or n_in < 1:
            raise ConfigError(f"array shape ({n_out}, {n_in}) is invalid; both sizes must be >= 1")
        if kernel not in KERNELS:
            raise ConfigError(f"kernel '{kernel}' is unknown; expected one of {', '.join(KERNELS)}")
        self.kernel = "numpy"
        self.shape = (int(n_out), int(n_in))
        self._all_rows, self._all_cols = np.arange(self.shape[0]), np.arange(self.shape[1])
        self.mode = cfg.mode
        self.luts = luts
        ss = np.random.SeedSequence(seed)
        (self._rng_assign, self._rng_prog, self._rng_pulse, self._rng_noise) = \
            [np.random.default_rng(s) for s in ss.spawn(4)]
        self.polarity = 1
        self.time_seconds = 0.0
        self.examples_seen = 0
        self._since_transfer = 0
        self._pending_leak = 0
        # closed-loop PCM programming: array_pcm.program's signature (the co-simulation
        # replaces it to replay the SPICE chip's pulses)
        self.programmer = program
        self.counters = dict(pulses_up=0, pulses_down=0, transfers=0, pcm_set_pulses=0,
                             pcm_reset_pulses=0, pcm_set_pulses_update=0, pcm_not_converged=0)
        self.transfer_log: list[dict] = []   # per transfer: examples, rms error, pulses
        self.last_transfer: TransferReport | None = None
        self.initial_program: TransferReport | None = None
        self.vc_before_last_transfer: np.ndarray | None = None
        self._var = None
        if self.mode == "ideal":
            self.spu = 1.0
            self.dw_nominal = 0.0
            self._w = np.zeros(self.shape)
            return
        if luts is None:
            raise LutError(f"array mode '{self.mode}' needs lookup tables (only mode 'ideal' runs without)")
        # explicit LUT rows per position (keys as in state(): lut_cell, lut_cell_shared,
        # pcm_device_plus, pcm_device_minus); a key not given is drawn by the seeded generator
        self._assignment = dict(assignment or {})
        self._setup_devices(luts)
        if self.mode == "cell":
            self._select_kernel(kernel)

    # ------------------------------------------------------------------ set-up
    def _setup_devices(self, luts: LutSet) -> None:
        cfg, (n_out, n_in) = self.config, self.shape
        cell, pcm = luts.cell, luts.pcm
        self.pcm = PcmModel(pcm)
        F = cfg.gain_f
        self.g_cap = min(cfg.pcm_g_program_max_siemens, float(np.median(pcm.g_max_siemens)))
        g_reset_med = float(np.median(pcm.g_reset_siemens))
        if self.g_cap <= g_reset_med:
            raise LutError(f"PCM programming range is empty: cap {self.g_cap:.3g} S <= median RESET "
                           f"conductance {g_reset_med:.3g} S")
        self.spu = cfg.siemens_per_unit_weight or F * (self.g_cap - g_reset_med) / cfg.w_max
        ra = self._rng_assign
        self.dev_p = self._assign("pcm_device_plus", ra, pcm.n_devices, self.shape)
        self.dev_m = self._assign("pcm_device_minus", ra, pcm.n_devices, self.shape)
        self.gp = self.pcm.g_reset[self.dev_p].astype(np.float64)
        self.gm = self.pcm.g_reset[self.dev_m].astype(np.float64)
        self.tp = np.zeros(self.shape)
        self.tm = np.zeros(self.shape)
        self.tol = cfg.pcm_tolerance_siemens or self._default_tolerance()
        if self.mode == "pcm-only":
            # nominal step: median device, mean SET step averaged over the lower half of the range
            gs = np.linspace(g_reset_med, 0.5 * (g_reset_med + self.g_cap), 16)
            steps = [np.median(pcm.set_step_mean_siemens[:, i]) for i in
                     np.searchsorted(pcm.g_grid_siemens, gs).clip(0, pcm.g_grid_siemens.size - 1)]
            self.dw_nominal = F * float(np.mean(steps)) / self.spu
        else:
            self.cell = cell
            self.n_ref = -(-n_in // cfg.cells_per_reference)
            self.cell_idx = self._assign("lut_cell", ra, cell.n_cells, self.shape)
            self.ref_idx = self._assign("lut_cell_shared", ra, cell.n_cells, (n_out, self.n_ref))
            self._g_tab = RowTable(cell.vc_volts, cell.g_siemens)
            # a pulse cannot carry Vc past the rails (the grid ends): with the steps clipped
            # there, Vc stays on the grid after any number of steps and needs no clamping
            v = cell.vc_volts
            up = np.minimum(cell.dv_up_volts, v[-1] - v[None, :])
            down = np.maximum(cell.dv_down_volts, v[0] - v[None, :])
            self._step_tab = RowTable(v, np.vstack([up, down]))
            self._down_shift = cell.n_cells * cell.vc_volts.size
            # int32 offsets and a float32 wbase halve the memory the per-pulse gathers touch
            self._off = self._g_tab.offsets(self.cell_idx).ravel().astype(np.int32)
            self._off_ref = self._g_tab.offsets(self.ref_idx).ravel().astype(np.int32)
            self.v_lo, self.v_hi = float(cell.vc_volts[0]), float(cell.vc_volts[-1])
            self.v_start = float(cell.v_start_volts)
            self.vc = np.full(self.shape, self.v_start)
            self.vref = np.full((n_out, self.n_ref), self.v_start)
            self._g0 = self._g_tab(self._off, self.vc.ravel()).reshape(self.shape)
            self._gref0 = self._g_tab(self._off_ref, self.vref.ravel()).reshape(self.vref.shape)
            self.gref = self._gref0.copy()
            self._gref0_exp = self._expand_ref(self._gref0)
            self._gref_exp = self._gref0_exp.copy()
            v0 = np.full(cell.n_cells, self.v_start)
            rows = np.arange(cell.n_cells)
            g_0 = cell.g(rows, v0)
            dg_up = cell.g(rows, v0 + cell.step_up(rows, v0)) - g_0
            dg_dn = g_0 - cell.g(rows, v0 + cell.step_down(rows, v0))
            self.dw_nominal = float(np.median(0.5 * (dg_up + dg_dn))) / self.spu
            if not self.dw_nominal > 0:
                raise LutError("the cell LUT gives no conductance change per pulse at v_start "
                               f"({cell.v_start_volts} V): g is flat there")
            self._flow_cache: dict[int, RowTable] = {}
            # p g / spu per polarity: a pulse's weight update is one look-up
            self._gw_tab = {p: RowTable(cell.vc_volts, cell.g_siemens * (p / self.spu)) for p in (1, -1)}
            self.leak_every = cfg.leak_every_examples or self._auto_leak_every()
        self._pool = self._rng_pulse.random(_POOL, dtype=np.float32)
        self._starts, self._starts_i = np.zeros(0), 0
        self._refresh_pcm()
        self._refresh_w()

    def _select_kernel(self, kernel: str) -> None:
        """Set :attr:`kernel` (cell mode) and the compiled kernel's buffers and tables."""
        if kernel == "numpy":
            return
        kern = _compiled_kernel()
        why = ("numba is not installed" if kern is None else
               None if self._step_tab.uniform else "the cell LUT's Vc grid is not uniform")
        if why is None:
            self.kernel = "numba"
            # quantize() writes an update's pulses here (at most one per cell)
            self._flat_buf = np.empty(self.shape[0] * self.shape[1], np.int64)
            self._count_buf = np.empty_like(self._flat_buf)
            pairs = kern.lut_pairs
            self._step_pairs = pairs(self._step_tab.lo, self._step_tab.slope)
            self._gw_pairs = {p: pairs(t.lo, t.slope) for p, t in self._gw_tab.items()}
            self._g_pairs = pairs(self._g_tab.lo, self._g_tab.slope)
        elif kernel == "numba":
            raise ConfigError(f"kernel 'numba' is unavailable: {why}; use kernel 'numpy' or 'auto'")

    def _assign(self, key: str, rng: np.random.Generator, high: int, shape: tuple[int, ...]) -> np.ndarray:
        """LUT rows for every position: the explicit ``assignment[key]`` or a seeded draw."""
        if key not in self._assignment:
            return rng.integers(0, high, shape)
        a = np.asarray(self._assignment[key])
        if a.shape != shape or a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= high:
            raise ConfigError(f"assignment '{key}' must be integers in 0..{high - 1} of shape {shape}")
        return np.ascontiguousarray(a, dtype=np.int64)   # C order: state updates go through ravel()

    def _default_tolerance(self) -> float:
        """Half the partial-SET step at RESET (the largest step) of the 95th-percentile
        device: the verify window (2 x tolerance) is then wider than one step of 95 % of
        the devices, so program-and-verify can always land in it."""
        p = self.pcm.lut
        at_reset = np.array([np.interp(p.g_reset_siemens[d], p.g_grid_siemens, p.set_step_mean_siemens[d])
                             for d in range(p.n_devices)])
        return 0.5 * float(np.percentile(at_reset, 95))

    def _auto_leak_every(self) -> int:
        """Examples per leakage chunk, K.

        During training, leakage is applied to the whole array every K
        examples (one flow-map look-up over K x time_per_example of leakage,
        exact for that interval); in between, forward passes see W as it was
        at the last chunk.  Leakage is a relaxation of every Vc toward its
        equilibrium with the retention time tau (see
        :func:`~pcmspice.array.tables.retention_seconds`), so delaying its
        effect by at most K examples changes the decayed amount at any time by
        a relative error of at most K t / tau.  K is chosen so that this is
        <= 2 % for the fastest-leaking 10 % of the LUT cells:
        K = floor(tau_10% / (50 t leak_scale)), clipped to [1, 1000].
        Pulses in between act on Vc values that are stale by the same
        amount: second order, since the step size varies slowly with Vc.
        """
        tau = retention_seconds(self.cell)
        tau = tau[np.isfinite(tau)]
        if tau.size == 0 or self.config.leak_scale == 0:
            return 1000
        t = self.config.time_per_example_seconds * self.config.leak_scale
        k = float(np.percentile(tau, 10)) / (50.0 * t)
        return int(np.clip(np.floor(k), 1, 1000))

    # ------------------------------------------------------------ weight read
    def _pcm_effective(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.config.pcm_drift:
            return self.gp, self.gm
        age = self.time_seconds - min(self.tp.min(), self.tm.min())
        if age <= self.pcm.t0:
            return self.gp, self.gm
        return (self.pcm.drifted(self.dev_p, self.gp, self.time_seconds - self.tp),
                self.pcm.drifted(self.dev_m, self.gm, self.time_seconds - self.tm))

    def _refresh_pcm(self) -> None:
        gp, gm = self._pcm_effective()
        self._pcm_w = self.config.gain_f * (gp - gm) / self.spu
        if self.config.read_noise and self.pcm.read_noise_rel > 0:
            k = (self.pcm.read_noise_rel * self.config.gain_f / self.spu) ** 2
            var = k * (gp * gp + gm * gm)
            if self.mode == "cell" and self.config.g_read_noise_rel > 0:
                self._pcm_var = var
                kg = (self.config.g_read_noise_rel / self.spu) ** 2
                var = var + kg * (self.g * self.g + self._gref_exp ** 2)
            self._var = var.astype(np.float32)
        else:
            self._var = None

    def _expand_ref(self, a: np.ndarray) -> np.ndarray:
        k = self.config.cells_per_reference
        return np.ascontiguousarray(np.repeat(a, k, axis=1)[:, : self.shape[1]]) if k > 1 else a

    @property
    def g(self) -> np.ndarray:
        """g(Vc) of every cell (S), from the present Vc."""
        return self._g_tab(self._off, self.vc.reshape(-1)).reshape(self.shape)

    def _refresh_w(self, g: np.ndarray | None = None) -> None:
        """Recompute the cached W from the device state.

        W = wbase + (p / spu) g(Vc), with wbase = F (G+ - G-) / spu - (p / spu)
        g_shared kept (float32) so that a pulse rewrites only its cells' entries.  The copy the MACs use is float32 (the cell's own precision is
        far coarser); every entry is recomputed from float64 state, never
        accumulated, so no rounding error builds up."""
        if self.mode == "cell":
            wbase = self._pcm_w - (self.polarity / self.spu) * self._gref_exp
            self._wbase = wbase.astype(np.float32)
            w = wbase + (self.polarity / self.spu) * (self.g if g is None else g)
        else:
            w = self._pcm_w
        self._w = w.astype(np.float32)

    def weights(self) -> np.ndarray:
        """W (n_out, n_in) in weight units, as the array holds it now (float64 copy)."""
        return self._w.astype(np.float64)

    def read_weights(self) -> np.ndarray:
        """W recomputed from the device state (G+, G-, Vc, Vref), bypassing every cache."""
        if self.mode == "ideal":
            return self.weights()
        gp, gm = self._pcm_effective()
        w = self.config.gain_f * (gp - gm) / self.spu
        if self.mode == "cell":
            g = self.cell.g(self.cell_idx.ravel(), self.vc.ravel()).reshape(self.shape)
            gref = self.cell.g(self.ref_idx.ravel(), self.vref.ravel()).reshape(self.vref.shape)
            w = w + (self.polarity / self.spu) * (g - self._expand_ref(gref))
        return w

    def weights_siemens(self) -> np.ndarray:
        return self.weights() * self.spu

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

    # ---------------------------------------------------------------- updates
    def _uniform(self, n: int) -> np.ndarray:
        """n uniforms in [0, 1) for stochastic rounding: a window of a seeded pool at a
        seeded random offset (as hardware reuses an LFSR sequence); fresh draws beyond it."""
        if n > _POOL // 2:
            return self._rng_pulse.random(n, dtype=np.float32)
        if self._starts_i >= self._starts.size:    # window starts, drawn 4,096 at a time
            self._starts = self._rng_pulse.random(4096)
            self._starts_i = 0
        o = int(self._starts[self._starts_i] * (_POOL // 2))
        self._starts_i += 1
        return self._pool[o: o + n]

    def _quantize(self, a: np.ndarray) -> np.ndarray:
        if self.config.rounding == "stochastic":
            n = np.floor(a + self._uniform(a.size).reshape(a.shape))
        else:
            n = np.rint(a)
        m = self.config.max_pulses_per_example
        return np.clip(n, -m, m, out=n)

    def _candidates(self, x: np.ndarray, delta: np.ndarray, lr: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The cells an update dW = -lr * outer(delta, x) considers, as (rows, cols, d, xc):
        the requested pulses are outer(d, xc) (float32; d = -lr delta / dw_nominal).

        Only cells whose input and error are both non-zero are candidates (pulse
        coincidence; None if there are none), except in a small array, where
        every cell is one (fewer calls)."""
        x = np.asarray(x)
        delta = np.asarray(delta)
        if _every_cell(x, delta):
            return (self._all_rows, self._all_cols, (delta * (-lr / self.dw_nominal)).astype(np.float32),
                    x.astype(np.float32))
        cols = np.flatnonzero(x)
        rows = np.flatnonzero(delta)
        if cols.size == 0 or rows.size == 0:
            return None
        return rows, cols, (delta[rows] * (-lr / self.dw_nominal)).astype(np.float32), x[cols].astype(np.float32)

    def pulse_counts(self, x: np.ndarray, delta: np.ndarray, lr: float) -> Pulses:
        """Pulses for the update dW = -lr * outer(delta, x), one example (see ArrayConfig).

        delta is dLoss/dy of this array's outputs.  Only cells whose input
        and error are both non-zero are considered (pulse coincidence).
        """
        cand = self._candidates(x, delta, lr)
        if cand is None:
            return Pulses(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        rows, cols, d, xc = cand
        a = np.multiply.outer(d, xc)
        m = self.config.max_pulses_per_example
        if self.config.rounding == "stochastic":
            a += self._uniform(a.size).reshape(a.shape)
            np.floor(a, out=a)
        else:
            np.rint(a, out=a)
        if float(np.abs(d).max()) * float(np.abs(xc).max()) + 1.0 > m:
            np.clip(a, -m, m, out=a)
        idx = np.flatnonzero(a != 0)   # (a boolean mask is ~4x faster than float nonzero)
        r, c = np.divmod(idx, cols.size)
        return Pulses(rows[r], cols[c], a.ravel()[idx].astype(np.int64))

    def pulse_counts_dense(self, dw: np.ndarray) -> Pulses:
        """Pulses for an arbitrary requested change ``dw`` (weight units; minibatch mode)."""
        n = self._quantize((np.asarray(dw) / self.dw_nominal).astype(np.float32))
        return Pulses.from_dense(n)

    def apply_pulses(self, pulses: Pulses | np.ndarray) -> None:
        """Apply pulse counts (weight direction; a :class:`Pulses` or a dense int matrix).

        In the full cell each pulse moves Vc by the cell's LUT step at its
        present Vc (so n pulses are n successive, state-dependent steps); a
        weight-direction count n becomes p*n pulses of g (+ up, - down).
        In pcm-only mode each pulse is a stochastic partial SET of G+ (n > 0)
        or G- (n < 0).  A :class:`Pulses` lists each cell at most once; a zero
        count is no pulse.
        """
        if self.mode == "ideal":
            raise ConfigError("an ideal array has no pulses; use update() or set_weights()")
        if not isinstance(pulses, Pulses):
            pulses = Pulses.from_dense(pulses)
        elif not pulses.counts.all():
            keep = pulses.counts != 0
            pulses = Pulses(pulses.rows[keep], pulses.cols[keep], pulses.counts[keep])
        if pulses.rows.size == 0:
            return
        flat = pulses.rows * self.shape[1] + pulses.cols
        if self.mode == "cell":
            self._pulse_cells(flat, pulses.counts * self.polarity)
        else:
            self._pulse_pcm(flat, pulses.counts)

    def _kernel_state(self) -> tuple:
        """The compiled pulse kernel's arguments after the pulse list: state views and tables."""
        st = self._step_tab
        if self._var is not None and self.config.g_read_noise_rel > 0:
            var, pcm_var, gref = self._var.reshape(-1), self._pcm_var.reshape(-1), self._gref_exp.reshape(-1)
        else:
            var, pcm_var, gref = _NONE32, _NONE64, _NONE64
        return (self.vc.reshape(-1), self._off, self._step_pairs, self._down_shift, self._gw_pairs[self.polarity],
                st.inv_step, st.x0 * st.inv_step, self._wbase.reshape(-1), self._w.reshape(-1),
                var, pcm_var, gref, self._g_pairs, (self.config.g_read_noise_rel / self.spu) ** 2)

    def _update_compiled(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """update() in cell mode with the compiled kernel: :meth:`pulse_counts` (the kernel
        takes the candidates of :meth:`_candidates`, in the same order, with the same
        uniforms) + :meth:`apply_pulses`, without their temporaries."""
        x = np.asarray(x)
        delta = np.asarray(delta)
        every = _every_cell(x, delta)
        n_cand = x.size * delta.size if every else np.count_nonzero(x) * np.count_nonzero(delta)
        if n_cand == 0:
            return 0
        u = self._uniform(n_cand) if self.config.rounding == "stochastic" else _NONE32
        d = (delta * (-lr / self.dw_nominal)).astype(np.float32)
        return self._count_pulses(*_compiled_kernel().update_cells(
            x, delta, x.astype(np.float32), d, every, u, self.config.max_pulses_per_example, self.polarity,
            self._flat_buf, self._count_buf, *self._kernel_state()))

    def _pulse_cells(self, flat: np.ndarray, cell_n: np.ndarray) -> int:
        """Pulses (cell direction) on the cells ``flat``, each listed once, with the selected
        kernel; counts them and returns the total."""
        if self.kernel == "numba":
            return self._count_pulses(*_compiled_kernel().pulse_cells(flat, cell_n, *self._kernel_state()))
        return self._count_pulses(*self._pulse_cells_numpy(flat, cell_n))

    def _count_pulses(self, n_up: int, n_down: int) -> int:
        """Add g pulses (up, down) to the counters; returns their total."""
        self.counters["pulses_up"] += n_up
        self.counters["pulses_down"] += n_down
        return n_up + n_down

    def _pulse_cells_numpy(self, flat: np.ndarray, cell_n: np.ndarray) -> tuple[int, int]:
        """The numpy reference of the pulses (every step a pass over the cells still
        pulsing); returns the (up, down) pulse totals."""
        up = cell_n > 0
        off = self._off[flat]
        soff = np.where(up, off, off + np.int32(self._down_shift))
        vcf = self.vc.reshape(-1)
        vc = vcf[flat]                          # every Vc lies on the LUT grid span
        vc += self._step_tab.inrange(soff, vc)
        k = np.abs(cell_n)
        total = int(k.sum())
        if total > k.size:     # some cells get more pulses: step t acts on the cells with k >= t
            multi = np.flatnonzero(k > 1)
            km = k[multi]
            order = np.argsort(-km, kind="stable")
            idx = multi[order]
            v, so = vc[idx], soff[idx]
            n_at_least = np.cumsum(np.bincount(km, minlength=int(km.max()) + 1)[::-1])[::-1]
            for t in range(2, n_at_least.size):
                m = int(n_at_least[t])          # cells sorted by count: a prefix, no gathers
                v[:m] += self._step_tab.inrange(so[:m], v[:m])
            vc[idx] = v
        vcf[flat] = vc
        w = self._gw_tab[self.polarity].inrange(off, vc)      # p g(Vc) / spu
        w += self._wbase.reshape(-1)[flat]
        self._w.reshape(-1)[flat] = w
        n_up = (total + int(cell_n.sum())) // 2
        if self._var is not None and self.config.g_read_noise_rel > 0:
            kg = (self.config.g_read_noise_rel / self.spu) ** 2
            g = self._g_tab.inrange(off, vc)
            pcm_var = self._pcm_var.reshape(-1)[flat]
            self._var.reshape(-1)[flat] = pcm_var + kg * (g ** 2 + self._gref_exp.reshape(-1)[flat] ** 2)
        return n_up, total - n_up

    def _pulse_pcm(self, flat: np.ndarray, n: np.ndarray) -> None:
        k = np.abs(n)
        plus = n > 0
        gpf, gmf = self.gp.reshape(-1), self.gm.reshape(-1)
        dev = np.where(plus, self.dev_p.reshape(-1)[flat], self.dev_m.reshape(-1)[flat])
        g = np.where(plus, gpf[flat], gmf[flat])
        gmax = self.pcm.g_max[dev]
        step = self.pcm.set_step
        g = np.minimum(g + step(dev, g, self._rng_prog), gmax)
        multi, t = np.flatnonzero(k > 1), 1
        while multi.size:
            t += 1
            g[multi] = np.minimum(g[multi] + step(dev[multi], g[multi], self._rng_prog), gmax[multi])
            multi = multi[k[multi] > t]
        gpf[flat[plus]] = g[plus]
        gmf[flat[~plus]] = g[~plus]
        now = self.time_seconds
        self.tp.reshape(-1)[flat[plus]] = now
        self.tm.reshape(-1)[flat[~plus]] = now
        total = int(k.sum())
        self.counters["pcm_set_pulses"] += total
        self.counters["pcm_set_pulses_update"] += total
        w = self.config.gain_f * (gpf[flat] - gmf[flat]) / self.spu
        self._pcm_w.reshape(-1)[flat] = w
        self._w.reshape(-1)[flat] = w
        if self._var is not None:
            kk = (self.pcm.read_noise_rel * self.config.gain_f / self.spu) ** 2
            self._var.reshape(-1)[flat] = kk * (gpf[flat] ** 2 + gmf[flat] ** 2)

    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Request dW = -lr * outer(delta, x) (one example; x, delta 1-D) and apply it.

        Returns the number of pulses applied (0 in ideal mode, where the
        update is exact float SGD)."""
        if self.mode == "ideal":
            self._w -= lr * np.outer(delta, x)
            return 0
        if self.kernel == "numba":
            return self._update_compiled(x, delta, lr)
        p = self.pulse_counts(x, delta, lr)
        self.apply_pulses(p)
        return p.total

    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Minibatch: request dW = -lr * mean_b outer(delta_b, x_b), quantized once."""
        dw = -(lr / x.shape[0]) * (delta.T @ x)
        if self.mode == "ideal":
            self._w += dw
            return 0
        p = self.pulse_counts_dense(dw)
        self.apply_pulses(p)
        return p.total

    def set_weights(self, w: np.ndarray) -> None:
        """Ideal mode only: set W exactly."""
        if self.mode != "ideal":
            raise ConfigError("set_weights() is for ideal arrays; program() an analog array")
        self._w = np.array(w, dtype=np.float64).reshape(self.shape)

    # ------------------------------------------------------------ time, leak
    def leak(self, seconds: float) -> None:
        """Let every Vc (cells and references) leak for ``seconds`` (x leak_scale), with
        the LUT's RK2 integrator :meth:`CellLut.leak`; PCM drift follows the clock."""
        if self.mode != "cell" or seconds <= 0:
            return
        s = seconds * self.config.leak_scale
        n = leak_substeps(self.cell, s)
        self.vc = self.cell.leak(self.cell_idx.ravel(), self.vc.ravel(), s, substeps=n).reshape(self.shape)
        self.vref = self.cell.leak(self.ref_idx.ravel(), self.vref.ravel(), s,
                                   substeps=n).reshape(self.vref.shape)
        self._refresh_g()

    def _refresh_g(self) -> None:
        g = self.g
        self.gref = self._g_tab(self._off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self._gref_exp = self._expand_ref(self.gref)
        self._refresh_pcm()
        self._refresh_w(g)

    def _flow(self, n_examples: int) -> RowTable:
        tab = self._flow_cache.get(n_examples)
        if tab is None:
            s = n_examples * self.config.time_per_example_seconds * self.config.leak_scale
            tab = RowTable(self.cell.vc_volts, leak_flow_map(self.cell, s))
            if len(self._flow_cache) < 8:
                self._flow_cache[n_examples] = tab
        return tab

    def _flush_leak(self) -> None:
        """Apply the leakage of the examples since the last chunk (one flow-map look-up)."""
        n, self._pending_leak = self._pending_leak, 0
        if n == 0 or self.mode != "cell" or self.config.leak_scale == 0:
            return
        flow = self._flow(n)
        self.vc = flow(self._off, self.vc.ravel()).reshape(self.shape)
        self.vref = flow(self._off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self._refresh_g()

    def advance(self, n_examples: int = 1) -> TransferReport | None:
        """``n_examples`` examples of hardware time: leakage in chunks of :attr:`leak_every`
        examples, a transfer each ``transfer_every`` examples.  Returns the transfer
        report when one happened."""
        self.examples_seen += n_examples
        self.time_seconds += n_examples * self.config.time_per_example_seconds
        if self.mode == "ideal":
            return None
        if self.mode == "cell":
            self._pending_leak += n_examples
            if self._pending_leak >= self.leak_every:
                self._flush_leak()
        te = self.config.transfer_every
        if te:
            self._since_transfer += n_examples
            if self._since_transfer >= te:
                return self.transfer()
        return None

    # --------------------------------------------------------------- transfer
    def _pair_targets(self, t_pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device targets for a pair weight F (G+ - G-) = t_pair: one device at RESET."""
        F = self.config.gain_f
        rp, rm = self.pcm.g_reset[self.dev_p], self.pcm.g_reset[self.dev_m]
        tp = np.where(t_pair > 0, rm + t_pair / F, rp)
        tm = np.where(t_pair < 0, rp - t_pair / F, rm)
        return np.minimum(tp, self.g_cap), np.minimum(tm, self.g_cap)

    def _program_pairs(self, t_pair: np.ndarray, gp_now: np.ndarray, gm_now: np.ndarray,
                       idx: np.ndarray | None = None) -> ProgramResult:
        """Program pairs (all, or the flat indices ``idx``) to F (G+ - G-) = t_pair.

        ``gp_now``/``gm_now`` are the conductances the devices have now (after
        drift); devices the loop does not touch keep their programmed state.
        :attr:`programmer` (:func:`~pcmspice.array.pcm.program`, or the
        co-simulation's replay of the chip's pulses) sees every device."""
        tp, tm = self._pair_targets(t_pair)
        cells = np.arange(self.shape[0] * self.shape[1]) if idx is None else np.asarray(idx)
        res = self.programmer(self.pcm,
                              np.concatenate([self.dev_p.reshape(-1)[cells], self.dev_m.reshape(-1)[cells]]),
                              np.concatenate([gp_now.reshape(-1)[cells], gm_now.reshape(-1)[cells]]),
                              np.concatenate([tp.reshape(-1)[cells], tm.reshape(-1)[cells]]),
                              tolerance=self.tol, max_pulses=self.config.pcm_max_pulses, rng=self._rng_prog,
                              read_noise=self.config.read_noise)
        touched = (res.set_pulses + res.reset_pulses) > 0
        n = cells.size
        for g_state, t_state, part in ((self.gp, self.tp, slice(0, n)), (self.gm, self.tm, slice(n, None))):
            hit = touched[part]
            g_state.reshape(-1)[cells[hit]] = res.g_siemens[part][hit]
            t_state.reshape(-1)[cells[hit]] = self.time_seconds
        self.counters["pcm_set_pulses"] += int(res.set_pulses.sum())
        self.counters["pcm_reset_pulses"] += int(res.reset_pulses.sum())
        self.counters["pcm_not_converged"] += int((~res.converged).sum())
        return res

    def program(self, w: np.ndarray) -> TransferReport | None:
        """Write initial weights ``w`` (weight units): g at v_start, the PCM pair programmed
        closed-loop to the rest (no offset: there is no g history to correct yet)."""
        w = np.asarray(w, dtype=np.float64).reshape(self.shape)
        if self.mode == "ideal":
            self.set_weights(w)
            return None
        t_pair = w * self.spu
        if self.mode == "cell":
            t_pair = t_pair - self.polarity * (self._g0 - self._gref0_exp)
        before = self.weights()
        res = self._program_pairs(t_pair, self.gp, self.gm)
        self._refresh_pcm()
        self._refresh_w()
        F = self.config.gain_f
        self.initial_program = TransferReport(self.examples_seen, self.polarity, t_pair.ravel(),
                              F * (self.gp - self.gm).ravel(), before, self.weights(),
                              int(res.set_pulses.sum()), int(res.reset_pulses.sum()),
                              int((~res.converged).sum()))
        return self.initial_program

    def _offset(self, t: np.ndarray, p_next: int) -> np.ndarray:
        """The paper's offset: the PCM target is W - offset, so programming errors tend to
        leave the weight low and g (which has more room upward from v_start) corrects
        them; a target that the offset would push through zero RESETs both PCMs."""
        off = self.config.transfer_offset_siemens
        scheme = self.config.offset_scheme
        if off == 0 or scheme == "none":
            return t
        if scheme == "signed":   # the remainder is always an *up* correction of g
            t2 = t - p_next * off
            return np.where(np.sign(t2) == np.sign(t), t2, 0.0)
        return np.sign(t) * np.maximum(np.abs(t) - off, 0.0)   # magnitude: toward zero

    def transfer(self) -> TransferReport | None:
        """Move g - g_shared into the PCM pair, reset g, flip the polarity.

        Reads the pair and g - g_shared (with read noise), forms the PCM
        target W - p_next (g(v_start) - g_shared(v_start)) with the offset
        scheme, programs the pair closed-loop, resets every Vc and Vref to
        v_start, and inverts p (unless polarity inversion is off).  In
        pcm-only mode, instead RESETs and reprograms pairs whose larger device
        exceeds pcm_refresh_fraction x the programming maximum.
        """
        self._since_transfer = 0
        self.counters["transfers"] += 1
        if self.mode == "ideal":
            return None
        self._flush_leak()
        rng = self._rng_noise if self.config.read_noise else None
        F = self.config.gain_f
        gp, gm = self._pcm_effective()
        before = self.weights()
        pair = F * (self.pcm.read(gp, rng) - self.pcm.read(gm, rng))
        if self.mode == "pcm-only":
            # Burr et al. 2015: RESET both devices of a pair near saturation and reprogram
            # its weight into one of them; other pairs are left alone
            full = np.flatnonzero(np.maximum(gp, gm) > self.config.pcm_refresh_fraction * self.g_cap)
            t_pair = F * (gp - gm)
            t_pair.ravel()[full] = pair.ravel()[full]
            gp0, gm0 = gp.copy(), gm.copy()
            gp0.ravel()[full] = self.pcm.g_reset[self.dev_p.ravel()[full]]
            gm0.ravel()[full] = self.pcm.g_reset[self.dev_m.ravel()[full]]
            self.gp.ravel()[full], self.gm.ravel()[full] = gp0.ravel()[full], gm0.ravel()[full]
            self.tp.ravel()[full] = self.tm.ravel()[full] = self.time_seconds
            self.counters["pcm_reset_pulses"] += 2 * int(full.size)
            res = self._program_pairs(t_pair, gp0, gm0, idx=full)
            p_next = self.polarity
        else:
            gdiff = self.g - self._gref_exp
            if self.config.g_read_noise_rel > 0:
                s = self.config.g_read_noise_rel * np.sqrt(self.g ** 2 + self._gref_exp ** 2)
                gdiff = gdiff + s * self._rng_noise.standard_normal(self.shape)
            self.vc_before_last_transfer = self.vc.copy()
            p_next = -self.polarity if self.config.polarity_inversion else self.polarity
            t_pair = self._offset(pair + self.polarity * gdiff
                                  - p_next * (self._g0 - self._gref0_exp), p_next)
            self.vc[...] = self.v_start
            self.vref[...] = self.v_start
            self.gref = self._gref0.copy()
            self._gref_exp = self._gref0_exp.copy()
            self.polarity = p_next
            res = self._program_pairs(t_pair, gp, gm)
        self._refresh_pcm()
        self._refresh_w()
        achieved = F * (self.gp - self.gm)
        rep = TransferReport(self.examples_seen, self.polarity, t_pair.ravel(), achieved.ravel(),
                             before, self.weights(),
                             int(res.set_pulses.sum()) if res is not None else 0,
                             int(res.reset_pulses.sum()) if res is not None else 0,
                             int((~res.converged).sum()) if res is not None else 0)
        err = rep.error_siemens
        self.transfer_log.append(dict(examples=self.examples_seen, polarity_after=self.polarity,
                                      rms_error_siemens=float(np.sqrt(np.mean(err ** 2))),
                                      set_pulses=rep.set_pulses, reset_pulses=rep.reset_pulses,
                                      not_converged=rep.not_converged))
        self.last_transfer = rep
        return rep

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        """Every state array, for saving (.npz) or comparison against SPICE."""
        out = {"w": self.weights(), "polarity": np.array(self.polarity),
               "time_seconds": np.array(self.time_seconds), "examples_seen": np.array(self.examples_seen),
               "siemens_per_unit_weight": np.array(self.spu), "dw_nominal": np.array(self.dw_nominal)}
        if self.mode == "ideal":
            return out
        out.update(g_plus_siemens=self.gp.copy(), g_minus_siemens=self.gm.copy(),
                   pcm_device_plus=self.dev_p.copy(), pcm_device_minus=self.dev_m.copy())
        if self.mode == "cell":
            out.update(vc_volts=self.vc.copy(), vref_volts=self.vref.copy(), g_siemens=self.g.copy(),
                       g_shared_siemens=self.gref.copy(), lut_cell=self.cell_idx.copy(),
                       lut_cell_shared=self.ref_idx.copy())
        return out

"""The crossbar: one weight matrix of a network on an array of unit cells, composed of parts.

One :class:`AnalogArray` is one weight matrix (n_out x n_in; a network layer,
its bias as an extra input fixed at 1).  Every array position is a Monte
Carlo cell: its 3T1C is a row of the cell LUT and its two PCMs are rows of
the PCM LUT, drawn with replacement by a seeded generator; each group of
``cells_per_reference`` cells along a row shares one g_shared, itself a LUT
cell.

Parts.  The array is one class; what it models is in the parts it is built from
(:func:`~pcmspice.array.factory.build_parts` picks them for ``config.mode``, or pass your own):

=========================  ===========================================================
``pcm_pairs``              :class:`~pcmspice.array.pcm_pair.PcmPairs`: G+, G- of every
                           cell, their drift clock and drift cache (None: ideal)
``capacitors``             :class:`~pcmspice.array.capacitors.Capacitors`: the 3T1C g
                           and g_shared, pulses, leakage (None: ideal, pcm-only)
``model``                  the weight model: how the parts make W and where a pulse
                           goes (:class:`~pcmspice.array.ideal.IdealWeights`,
                           :class:`~pcmspice.array.pcm_only.PcmOnlyWeights`,
                           :class:`~pcmspice.array.cell.CellWeights`)
``cache``                  :class:`~pcmspice.array.cache.WeightCache`: W and the
                           read-noise variances the MACs read, explicit invalidation
``quantizer``              :class:`~pcmspice.array.quantize.PulseQuantizer`
``programmer``             the closed-loop PCM programming strategy
                           (:func:`~pcmspice.array.pcm.program`; the co-simulation passes
                           its replay of the chip's pulses)
``transfer``               the transfer strategy (:mod:`pcmspice.array.transfer`)
=========================  ===========================================================

The array itself holds what every part shares: the config, the clock (hardware
time, examples), the polarity p, the seeded generators, the counters and the
transfer log.  :meth:`state_dict` / :meth:`load_state_dict` carry all of it (each
part its own versioned dict): that is the checkpoint format.

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
``transfer()``         the transfer strategy (``transfer_seconds`` of hardware time)
=====================  ======================================================

Speed.  W is cached.  An update changes only cells that received pulses
(the pulse matrix is sparse: most |lr x delta| round to no pulse), so only
those entries are re-interpolated.  Leakage is slow on the scale of one
example, so during training it is applied in chunks of ``leak_every``
examples through a tabulated flow map (see
:meth:`~pcmspice.array.capacitors.Capacitors._auto_leak_every` for why the chunk is
short enough), and W is rebuilt then.

Kernels.  In the full cell the pulses (``update``, ``apply_pulses``) run in
one of two implementations with bit-identical results, chosen by the
``kernel`` argument: ``"numba"``, the compiled loops of
:mod:`pcmspice.array.kernel` (an update's quantization and pulses in one
call, without the numpy path's temporaries; training 1.5-3x faster), or
``"numpy"``, the vectorized reference
(:meth:`~pcmspice.array.capacitors.Capacitors.pulse_numpy`).  ``"auto"`` (the
default) takes numba when it is installed and the cell LUT's Vc grid is
uniform (the kernel's look-up assumes it), numpy otherwise.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.array import drift
from pcmspice.array.cache import WeightCache, check_version
from pcmspice.array.capacitors import Capacitors
from pcmspice.array.config import ArrayConfig
from pcmspice.array.factory import build_parts
from pcmspice.array.layer import CapacitorVolts, Layer, TransferReport
from pcmspice.array.pcm import ProgramResult, program
from pcmspice.array.pcm_pair import PcmPairs, Programmer, assigner
from pcmspice.array.quantize import PulseQuantizer, Pulses
from pcmspice.array.transfer import TransferStrategy
from pcmspice.array.views import PartViews
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet

KERNELS = ("auto", "numba", "numpy")   # see "Kernels" above
FORMAT, VERSION = "pcmspice-analog-array", 1

__all__ = ["FORMAT", "KERNELS", "VERSION", "AnalogArray", "Pulses", "TransferReport"]


class AnalogArray(PartViews, Layer):
    """A crossbar of ``n_out`` x ``n_in`` unit cells (see the module docstring).

    Build it with the LUTs and a config, then :meth:`program` the initial
    weights::

        arr = AnalogArray(250, 785, luts, ArrayConfig(), seed=1)
        arr.program(w0)
        y = arr.forward(x); arr.update(x, delta, lr); arr.advance()

    ``assignment`` optionally fixes the LUT row of every position (keys as in
    :meth:`state`: ``lut_cell``, ``lut_cell_shared``, ``pcm_device_plus``,
    ``pcm_device_minus``), e.g. to mirror a SPICE netlist cell for cell.
    ``kernel`` picks the implementation of the full cell's pulses, one of
    :data:`KERNELS` (same results either way); :attr:`kernel` is the one in use.
    ``programmer`` (default :func:`~pcmspice.array.pcm.program`) and ``transfer``
    (default the weight model's) are strategies; ``pcm_pairs`` and ``capacitors``
    the classes of those parts (see :func:`~pcmspice.array.factory.build_parts`).
    """

    def __init__(self, n_out: int, n_in: int, luts: LutSet | None = None,
                 config: ArrayConfig | None = None, seed: int = 0,
                 assignment: dict[str, np.ndarray] | None = None, kernel: str = "auto", *,
                 programmer: Programmer | None = None, transfer: TransferStrategy | None = None,
                 pcm_pairs: type = PcmPairs, capacitors: type = Capacitors):
        self.config = cfg = (config or ArrayConfig()).validate()
        if n_out < 1 or n_in < 1:
            raise ConfigError(f"array shape ({n_out}, {n_in}) is invalid; both sizes must be >= 1")
        if kernel not in KERNELS:
            raise ConfigError(f"kernel '{kernel}' is unknown; expected one of {', '.join(KERNELS)}")
        self.mode = cfg.mode
        self.shape = (int(n_out), int(n_in))
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
        self.programmer: Programmer = programmer or program
        self.model, default_transfer = build_parts(cfg.mode, self.shape, luts, cfg,
                                                   assigner(assignment, self._rng_assign), kernel,
                                                   pcm_pairs, capacitors)
        self.transfer_strategy = transfer or default_transfer
        self.pcm_pairs: PcmPairs | None = self.model.pairs
        self.capacitors: Capacitors | None = self.model.capacitors
        self.kernel = self.model.kernel
        self.spu: float = self.model.spu
        self.dw_nominal: float = self.model.dw_nominal
        self.quantizer = None if self.pcm_pairs is None else PulseQuantizer(cfg, self.shape, self._rng_pulse)
        self.cache = WeightCache(lambda c: self.model.rebuild_w(c, self.polarity), self.model.rebuild_var)
        self.compensation, self.reverify = drift.build(self)     # drift remedies (array/drift.py)
        if self.pcm_pairs is not None:
            self.pcm_pairs.refresh(self.time_seconds)
        self.cache.fresh()

    def set_programmer(self, programmer: Programmer) -> None:
        """The closed-loop PCM programming from now on (the signature of :func:`~pcmspice.array.pcm.program`)."""
        self.programmer = programmer

    # ------------------------------------------------------------ weight read
    def weights(self) -> np.ndarray:
        """W (n_out, n_in) in weight units, as the array holds it now (float64 copy)."""
        return self.cache.fresh().w.astype(np.float64)

    def read_weights(self) -> np.ndarray:
        """W recomputed from the device state (G+, G-, Vc, Vref; PCM drift exact), bypassing every cache."""
        if self.pcm_pairs is None:
            return self.weights()
        return self.model.read_weights(self.time_seconds, self.polarity)

    def weights_siemens(self) -> np.ndarray:
        return self.weights() * self.spu

    def read_noise_sigma(self) -> np.ndarray:
        """Each cell's read-noise standard deviation now, in weight units (zeros without read noise)."""
        var = self.cache.fresh().var
        return np.zeros(self.shape) if var is None else np.sqrt(var.astype(np.float64))

    def pcm_effective(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(G+, G-) of every PCM pair as they read now (drifted, without read noise), exactly;
        None without PCMs."""
        return None if self.pcm_pairs is None else self.pcm_pairs.effective(self.time_seconds)

    # ------------------------------------------------------------------- MACs
    def forward(self, x: np.ndarray, noise: bool = True) -> np.ndarray:
        """y = W x (x: (n_in,) or (batch, n_in)), plus the read noise of every cell read.

        Read noise is drawn per MAC output with the exact variance of
        independent per-cell noise: var(y_j) = sum_i var_ij x_i^2.
        """
        c = self.cache.fresh()
        w, var = c.w, c.var
        x = np.asarray(x, dtype=w.dtype)
        y = x @ w.T if x.ndim == 2 else w @ x
        if noise and var is not None:
            x2 = x * x
            s = x2 @ var.T if x.ndim == 2 else var @ x2
            y = y + np.sqrt(s) * self._rng_noise.standard_normal(y.shape, dtype=np.float32)
        return y.astype(np.float64)

    def backward(self, delta: np.ndarray, noise: bool = True) -> np.ndarray:
        """W^T delta (delta: (n_out,) or (batch, n_out)), with read noise as in :meth:`forward`."""
        c = self.cache.fresh()
        w, var = c.w, c.var
        d = np.asarray(delta, dtype=w.dtype)
        y = d @ w if d.ndim == 2 else w.T @ d
        if noise and var is not None:
            d2 = d * d
            s = d2 @ var if d.ndim == 2 else var.T @ d2
            y = y + np.sqrt(s) * self._rng_noise.standard_normal(y.shape, dtype=np.float32)
        return y.astype(np.float64)

    # ------------------------------------------------------- writes, updates
    def _pulsed(self, what: str) -> PulseQuantizer:
        if self.quantizer is None:
            raise ConfigError(f"an ideal array has no pulses; use update() or set_weights(), not {what}")
        return self.quantizer

    def pulse_counts(self, x: np.ndarray, delta: np.ndarray, lr: float) -> Pulses:
        """Pulses for the update dW = -lr * outer(delta, x), one example (see ArrayConfig).

        delta is dLoss/dy of this array's outputs.  Only cells whose input
        and error are both non-zero are considered (pulse coincidence).
        """
        return self._pulsed("pulse_counts()").pulse_counts(x, delta, lr, self.dw_nominal)

    def pulse_counts_dense(self, dw: np.ndarray) -> Pulses:
        """Pulses for an arbitrary requested change ``dw`` (weight units; minibatch mode)."""
        return self._pulsed("pulse_counts_dense()").pulse_counts_dense(dw, self.dw_nominal)

    def apply_pulses(self, pulses: Pulses | np.ndarray) -> None:
        """Apply pulse counts (weight direction; a :class:`Pulses` or a dense int matrix).

        Where a pulse goes is the weight model's.  A :class:`Pulses` lists each cell at
        most once; a zero count is no pulse.
        """
        self._pulsed("apply_pulses()")
        if not isinstance(pulses, Pulses):
            pulses = Pulses.from_dense(pulses)
        elif not pulses.counts.all():
            keep = pulses.counts != 0
            pulses = Pulses(pulses.rows[keep], pulses.cols[keep], pulses.counts[keep])
        if pulses.rows.size == 0:
            return
        self.cache.fresh()
        self.model.pulse(self, pulses.rows * self.shape[1] + pulses.cols, pulses.counts)

    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Request dW = -lr * outer(delta, x) (one example; x, delta 1-D) and apply it.

        Returns the number of pulses applied."""
        return self.model.update(self, x, delta, lr)

    def _update_with_pulses(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        p = self.pulse_counts(x, delta, lr)
        self.apply_pulses(p)
        return p.total

    def _count_pulses(self, n_up: int, n_down: int) -> int:
        """Add g pulses (up, down) to the counters; returns their total."""
        self.counters["pulses_up"] += n_up
        self.counters["pulses_down"] += n_down
        return n_up + n_down

    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """Minibatch: request dW = -lr * mean_b outer(delta_b, x_b), quantized once."""
        dw = -(lr / x.shape[0]) * (delta.T @ x)
        if self.quantizer is None:
            self.cache.w += dw
            return 0
        p = self.pulse_counts_dense(dw)
        self.apply_pulses(p)
        return p.total

    def set_weights(self, w: np.ndarray) -> None:
        """Set W exactly (float weights only)."""
        if self.pcm_pairs is not None:
            raise ConfigError("set_weights() is for ideal arrays; program() an analog array")
        self.model.set(self.cache, w)

    def program_pairs(self, t_pair: np.ndarray, gp_now: np.ndarray, gm_now: np.ndarray,
                      idx: np.ndarray | None = None, device_targets=None, only=None) -> ProgramResult:
        """Program the PCM pairs (all, or the flat indices ``idx``) to F (G+ - G-) = t_pair with
        :attr:`programmer`, now; counts the pulses.  The drift cache is refreshed by the caller."""
        res = self.pcm_pairs.program(self.programmer, t_pair, gp_now, gm_now, self.time_seconds,
                                     self._rng_prog, idx, device_targets, only)
        self.counters["pcm_set_pulses"] += int(res.set_pulses.sum())
        self.counters["pcm_reset_pulses"] += int(res.reset_pulses.sum())
        self.counters["pcm_not_converged"] += int((~res.converged).sum())
        return res

    def program(self, w: np.ndarray) -> TransferReport | None:
        """Write initial weights ``w`` (weight units): the PCM pair programmed closed-loop to
        what the model's other devices do not hold (no offset: there is no g history to
        correct yet); ideal: W = ``w`` exactly, no report."""
        w = np.asarray(w, dtype=np.float64).reshape(self.shape)
        pairs = self.pcm_pairs
        if pairs is None:
            self.set_weights(w)
            return None
        t_pair = self.model.initial_target(w * self.spu, self.polarity)
        before = self.weights()
        res = self.program_pairs(t_pair, pairs.gp, pairs.gm)
        self._pairs_programmed()
        self.initial_program = TransferReport(self.examples_seen, self.polarity, t_pair.ravel(),
                              pairs.F * (pairs.gp - pairs.gm).ravel(), before, self.weights(),
                              int(res.set_pulses.sum()), int(res.reset_pulses.sum()),
                              int((~res.converged).sum()))
        return self.initial_program

    def _pairs_programmed(self) -> None:
        if self.compensation is not None:
            self.compensation.programmed(self)
        self.pcm_pairs.refresh(self.time_seconds)
        self.cache.invalidate()

    # ------------------------------------------------------------ time, drift
    def leak(self, seconds: float) -> None:
        """``seconds`` of idle hardware time: the clock moves, every Vc leaks (x leak_scale)
        and the PCMs drift; nothing but the clock in a model without devices."""
        if seconds <= 0:
            return
        self.time_seconds += seconds
        if self.model.idle(seconds):
            self.cache.invalidate()
        self._check_drift()

    def advance(self, n_examples: int = 1) -> TransferReport | None:
        """``n_examples`` examples of hardware time: leakage in chunks of ``leak_every``
        examples, a transfer each ``transfer_every`` examples.  Returns the transfer
        report when one happened."""
        self.examples_seen += n_examples
        self.time_seconds += n_examples * self.config.time_per_example_seconds
        if self.model.after_examples(n_examples):
            self.cache.invalidate()
        if self.pcm_pairs is None:
            return None
        self._check_drift()
        if self.compensation is not None or self.reverify is not None:
            drift.after_examples(self, n_examples)
        te = self.config.transfer_every
        if te:
            self._since_transfer += n_examples
            if self._since_transfer >= te:
                return self.transfer()
        return None

    def _check_drift(self) -> None:
        """Refresh the drift cache if drift may have moved a cached conductance by more than eps
        (see :mod:`pcmspice.array.pcm_pair`): W's PCM part moves alone, the variances every fourth time."""
        pairs = self.pcm_pairs
        if pairs is None or not pairs.due(self.time_seconds):
            return
        self.cache.fresh()
        if pairs.refresh_drift(self.time_seconds):
            self.cache.invalidate(w=False)
        self.model.drift_w(self.cache, self.polarity)

    # --------------------------------------------------------------- transfer
    def transfer(self) -> TransferReport | None:
        """Move the model's volatile weight part into its PCM pairs (the transfer strategy);
        counted even where there is nothing to move.  The event takes
        ``transfer_seconds`` of hardware time: the clock moves first, so the reads and
        the devices' programming are stamped at its end."""
        self._since_transfer = 0
        self.time_seconds += self.config.transfer_seconds
        self.counters["transfers"] += 1
        if self.transfer_strategy is None:
            return None
        if self.model.before_transfer():
            self.cache.invalidate()
        pairs = self.pcm_pairs
        rng = self._rng_noise if self.config.read_noise else None
        F = pairs.F
        gp, gm = pairs.effective(self.time_seconds)      # exact drift at the transfer
        before = self.weights()
        pair = F * (pairs.pcm.read(gp, rng) - pairs.pcm.read(gm, rng))   # as the network sees it:
        pair = pair if pairs.gain is None else pair * pairs.gain_of()     # with the compensation's gain
        t_pair, res = self.transfer_strategy.targets(self, pair, gp, gm)
        self._pairs_programmed()
        achieved = F * (pairs.gp - pairs.gm)
        rep = TransferReport(self.examples_seen, self.polarity, t_pair.ravel(), achieved.ravel(),
                             before, self.weights(), int(res.set_pulses.sum()), int(res.reset_pulses.sum()),
                             int((~res.converged).sum()))
        err = rep.error_siemens
        self.transfer_log.append(dict(examples=self.examples_seen, polarity_after=self.polarity,
                                      rms_error_siemens=float(np.sqrt(np.mean(err ** 2))),
                                      set_pulses=rep.set_pulses, reset_pulses=rep.reset_pulses,
                                      not_converged=rep.not_converged))
        self.last_transfer = rep
        return rep

    # --------------------------------------------------------- parts' views
    def pcm_pair_siemens(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.pcm_pairs is None else (self.pcm_pairs.gp, self.pcm_pairs.gm)

    def pcm_drift_ratios(self) -> np.ndarray | None:
        return None if self.pcm_pairs is None else self.pcm_pairs.drift_ratios(self.time_seconds)

    def capacitor_volts(self) -> CapacitorVolts | None:
        return None if self.capacitors is None else self.capacitors.volts()

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        """Every state array, for saving (.npz) or comparison against SPICE."""
        out = {"w": self.weights(), "polarity": np.array(self.polarity),
               "time_seconds": np.array(self.time_seconds), "examples_seen": np.array(self.examples_seen),
               "siemens_per_unit_weight": np.array(self.spu), "dw_nominal": np.array(self.dw_nominal)}
        p, c = self.pcm_pairs, self.capacitors
        if p is not None:
            out.update(g_plus_siemens=p.gp.copy(), g_minus_siemens=p.gm.copy(),
                       pcm_device_plus=p.dev_p.copy(), pcm_device_minus=p.dev_m.copy(),
                       pcm_programmed_seconds_plus=p.tp.copy(), pcm_programmed_seconds_minus=p.tm.copy(),
                       drift_nu_plus=p.nup.copy(), drift_nu_minus=p.num.copy())
        if c is not None:
            out.update(vc_volts=c.vc.copy(), vref_volts=c.vref.copy(), g_siemens=c.g.copy(),
                       g_shared_siemens=c.gref.copy(), lut_cell=c.cell_idx.copy(), lut_cell_shared=c.ref_idx.copy())
        return out

    def summary(self) -> dict[str, Any]:
        out = {**super().summary(), "siemens_per_unit_weight": self.spu, "dw_nominal": self.dw_nominal,
               "w_max": self.config.w_max}
        if self.pcm_pairs is not None:
            r = self.pcm_drift_ratios()
            out.update(pcm_tolerance_siemens=self.pcm_pairs.tol, pcm_drift_ratio_mean=float(r.mean()),
                       drift_refreshes=self.pcm_pairs.refreshes, drift_t0_seconds=self.pcm_pairs.pcm.t0)
        if self.capacitors is not None:
            out["leak_every_examples"] = self.capacitors.leak_every
        return out

    _RNGS = ("_rng_assign", "_rng_prog", "_rng_pulse", "_rng_noise")

    def state_dict(self) -> dict[str, Any]:
        """The array's complete mutable state, each part's as its own versioned dict: the
        checkpoint format.  Load it with :meth:`load_state_dict` into an array built the same
        way (config, LUTs, seed, assignment); it then continues bit-identically."""
        parts: dict[str, Any] = {"cache": self.cache.state_dict()}
        for name in ("pcm_pairs", "capacitors", "quantizer"):
            part = getattr(self, name)
            if part is not None:
                parts[name] = part.state_dict()
        for name in ("compensation", "reverify"):
            if getattr(self, name) is not None:
                parts[name] = getattr(self, name).state_dict(self)
        return {"format": FORMAT, "version": VERSION, "mode": self.mode, "shape": list(self.shape),
                "polarity": int(self.polarity), "time_seconds": float(self.time_seconds),
                "examples_seen": int(self.examples_seen), "since_transfer": int(self._since_transfer),
                "counters": dict(self.counters), "transfer_log": [dict(r) for r in self.transfer_log],
                "last_transfer": self.last_transfer, "initial_program": self.initial_program,
                "rng": {n: g.bit_generator.state for n, g in zip(self._RNGS, self._rngs())},
                "parts": parts}

    def _rngs(self) -> list[np.random.Generator]:
        return [getattr(self, n) for n in self._RNGS]

    def load_state_dict(self, st: dict[str, Any]) -> None:
        """Write a :meth:`state_dict` over this array (refused unless of this format, version,
        mode and shape)."""
        if not isinstance(st, dict) or st.get("format") != FORMAT:
            raise ConfigError(f"not an analog array state ({FORMAT}); refusing it")
        check_version("analog array", st, VERSION)
        if st["mode"] != self.mode or list(st["shape"]) != list(self.shape):
            raise ConfigError(f"the state is of a {st['mode']} array of shape {tuple(st['shape'])}, not of "
                              f"this {self.mode} array of shape {self.shape}")
        parts = st["parts"]
        for name in ("pcm_pairs", "capacitors", "quantizer"):
            part = getattr(self, name)
            if (part is None) != (name not in parts):
                raise ConfigError(f"the state's parts {sorted(parts)} do not fit this {self.mode} array")
            if part is not None:
                part.load_state_dict(parts[name])
        self.polarity, self.time_seconds = int(st["polarity"]), float(st["time_seconds"])
        self.examples_seen, self._since_transfer = int(st["examples_seen"]), int(st["since_transfer"])
        self.counters.clear()
        self.counters.update(st["counters"])
        self.transfer_log = [dict(r) for r in st["transfer_log"]]
        self.last_transfer, self.initial_program = st["last_transfer"], st["initial_program"]
        for g, s in zip(self._rngs(), (st["rng"][n] for n in self._RNGS)):
            g.bit_generator.state = s
        self.cache.load_state_dict(parts["cache"])
        for name in ("compensation", "reverify"):
            part = getattr(self, name)
            if (part is None) != (name not in parts):
                raise ConfigError(f"the state's drift remedies {sorted(parts)} do not match this array's config")
            if part is not None:
                part.load_state_dict(self, parts[name])

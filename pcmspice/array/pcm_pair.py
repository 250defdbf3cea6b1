"""What the two weight models with PCMs share: the PCM pair of every cell, its
closed-loop programming, drift, read noise, and the quantization of updates into pulses.

A cell's PCM pair holds F (G+ - G-) of its weight (F = ``gain_f``); both
devices are rows of the PCM LUT, drawn per position by the array's seeded
generator.  :class:`PcmPairArray` is the base of
:class:`~pcmspice.array.pcm_only.PcmOnlyArray` and
:class:`~pcmspice.array.cell.CellArray`; each supplies where a pulse goes
and what a transfer moves.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from pcmspice.array.crossbar import AnalogArray, Pulses
from pcmspice.array.layer import TransferReport
from pcmspice.array.pcm import PcmModel, ProgramResult, program
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import LutSet

_POOL = 1 << 20  # uniform numbers kept for stochastic rounding
_EVERY_CELL = 8192  # arrays up to this many cells take every cell as an update candidate (fewer calls)


def _every_cell(x: np.ndarray, delta: np.ndarray) -> bool:
    """Whether an update takes every cell as a candidate (a small array: fewer calls) rather
    than only the coincident ones; the numpy path and the compiled kernel both follow it."""
    return x.size * delta.size <= _EVERY_CELL


class PcmPairArray(AnalogArray):
    """An array whose cells hold (at least part of) their weight in a PCM pair."""

    def _build(self, luts: LutSet | None, assignment: dict[str, np.ndarray], kernel: str) -> None:
        if luts is None:
            raise LutError(f"array mode '{self.mode}' needs lookup tables (only mode 'ideal' runs without)")
        # closed-loop PCM programming: array_pcm.program's signature (the co-simulation
        # replaces it to replay the SPICE chip's pulses)
        self.programmer = program
        # explicit LUT rows per position (keys as in state(): lut_cell, lut_cell_shared,
        # pcm_device_plus, pcm_device_minus); a key not given is drawn by the seeded generator
        self._assignment = assignment
        self._setup_devices(luts)

    # ------------------------------------------------------------------ set-up
    def _setup_devices(self, luts: LutSet) -> None:
        cfg = self.config
        pcm = luts.pcm
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
        self._setup_model(luts, g_reset_med)
        self._pool = self._rng_pulse.random(_POOL, dtype=np.float32)
        self._starts, self._starts_i = np.zeros(0), 0
        self._refresh_pcm()
        self._refresh_w()

    @abstractmethod
    def _setup_model(self, luts: LutSet, g_reset_med: float) -> None:
        """The model's own devices (after the PCM pairs); sets :attr:`dw_nominal`."""

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
            var = self._with_g_read_variance(k * (gp * gp + gm * gm))
            self._var = var.astype(np.float32)
        else:
            self._var = None

    def _with_g_read_variance(self, pcm_var: np.ndarray) -> np.ndarray:
        """The read-noise variance of every cell given its PCM pair's (no other devices here)."""
        return pcm_var

    @abstractmethod
    def _refresh_w(self) -> None:
        """Recompute the cached W from the device state."""

    def read_weights(self) -> np.ndarray:
        gp, gm = self._pcm_effective()
        return self.config.gain_f * (gp - gm) / self.spu

    def pcm_pair_siemens(self) -> tuple[np.ndarray, np.ndarray]:
        return self.gp, self.gm

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

        Where a pulse goes is the model's (:meth:`_pulse`).  A :class:`Pulses`
        lists each cell at most once; a zero count is no pulse.
        """
        if not isinstance(pulses, Pulses):
            pulses = Pulses.from_dense(pulses)
        elif not pulses.counts.all():
            keep = pulses.counts != 0
            pulses = Pulses(pulses.rows[keep], pulses.cols[keep], pulses.counts[keep])
        if pulses.rows.size == 0:
            return
        self._pulse(pulses.rows * self.shape[1] + pulses.cols, pulses.counts)

    @abstractmethod
    def _pulse(self, flat: np.ndarray, counts: np.ndarray) -> None:
        """Weight-direction pulse ``counts`` (non-zero) on the cells ``flat``, each listed once."""

    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        p = self.pulse_counts(x, delta, lr)
        self.apply_pulses(p)
        return p.total

    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        dw = -(lr / x.shape[0]) * (delta.T @ x)
        p = self.pulse_counts_dense(dw)
        self.apply_pulses(p)
        return p.total

    def set_weights(self, w: np.ndarray) -> None:
        raise ConfigError("set_weights() is for ideal arrays; program() an analog array")

    # --------------------------------------------------------------- transfer
    def _after_examples(self, n_examples: int) -> TransferReport | None:
        te = self.config.transfer_every
        if te:
            self._since_transfer += n_examples
            if self._since_transfer >= te:
                return self.transfer()
        return None

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

    def _initial_pair_target(self, w_siemens: np.ndarray) -> np.ndarray:
        """The pair target F (G+ - G-) for initial weights of ``w_siemens`` (the whole weight)."""
        return w_siemens

    def program(self, w: np.ndarray) -> TransferReport:
        """Write initial weights ``w`` (weight units): the PCM pair programmed closed-loop
        to what the model's other devices do not hold (no offset: there is no g history
        to correct yet)."""
        w = np.asarray(w, dtype=np.float64).reshape(self.shape)
        t_pair = self._initial_pair_target(w * self.spu)
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

    def _transfer(self) -> TransferReport:
        """Read the pairs (with read noise), reprogram them with the model's targets
        (:meth:`_transfer_targets`), log the result."""
        rng = self._rng_noise if self.config.read_noise else None
        F = self.config.gain_f
        gp, gm = self._pcm_effective()
        before = self.weights()
        pair = F * (self.pcm.read(gp, rng) - self.pcm.read(gm, rng))
        t_pair, res = self._transfer_targets(pair, gp, gm)
        self._refresh_pcm()
        self._refresh_w()
        achieved = F * (self.gp - self.gm)
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

    @abstractmethod
    def _transfer_targets(self, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                          ) -> tuple[np.ndarray, ProgramResult]:
        """Given the pairs' read weight ``pair`` (S) and their present conductances, program
        the pairs; returns (the pair targets, the programming result)."""

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        out = super().state()
        out.update(g_plus_siemens=self.gp.copy(), g_minus_siemens=self.gm.copy(),
                   pcm_device_plus=self.dev_p.copy(), pcm_device_minus=self.dev_m.copy())
        return out

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "pcm_tolerance_siemens": self.tol}

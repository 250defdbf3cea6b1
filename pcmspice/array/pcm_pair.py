"""What the two weight models with PCMs share: the PCM pair of every cell, its
closed-loop programming, drift, read noise, and the quantization of updates into pulses.

A cell's PCM pair holds F (G+ - G-) of its weight (F = ``gain_f``); both
devices are rows of the PCM LUT, drawn per position by the array's seeded
generator.

Drift.  Every device keeps its programmed conductance, the hardware time its
programming ended and its drift exponent nu (the LUT's ``drift_nu`` at the
conductance it was programmed to); it reads G_prog ((t - t_prog + t0) / t0)^-nu
(:meth:`~pcmspice.array.pcm.PcmModel.drifted`).  Transfers, read-outs and
:meth:`pcm_drift_ratios` use that exact law.  The W cache the MACs read (and
the read-noise variances) hold the drifted conductances of the last *drift
refresh*; recomputing ~400,000 devices every example would cost more than the
example.  Since drift is a power law in time, a refresh is needed only when
some device may have drifted by more than eps x ``pcm_g_program_max_siemens``
(eps = ``pcm_drift_refresh_rel``) since its cache entry was made:

* a device programmed to G_prog at t_p whose entry was made at time r >= t_p
  has |G_cache - G_exact(t)| <= G_prog nu L, with L = ln((t - t_p + t0) / (r - t_p + t0)),
  largest for the youngest device (t_p latest);
* so with k = max over the devices of G_prog nu, t_y the latest programming
  before the last refresh t_r and t_a the earliest programming after it, the
  refresh is due when L of the youngest reaches eps G_cap / k:
  t = min(t_y - t0 + (t_r - t_y + t0) e^(eps G_cap / k), t_a - t0 + t0 e^(eps G_cap / k)).

Between refreshes every cached conductance is therefore within eps G_cap (0.2 uS at
the default eps = 0.01 and G_cap = 20 uS, a third of the read noise of one read at
10-20 uS) of the exact drifted value, and the cached weight within 2 eps F G_cap / spu
of it.  The schedule is geometric in the age of the youngest device: after a transfer
the refreshes come eps G_cap / k apart in log time (with k ~ 20 uS x 0.07, about 6 per
decade of time).  A drift refresh moves only the PCM part of W (the 3T1C part is kept
from the cache, so it costs a third of a full one); the read-noise variances follow at
every fourth drift refresh (their G is then at most 4 eps G_cap old).  eps = 0
refreshes on every example (the exact reference the tests compare against).
:class:`PcmPairArray` is the base of
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
        spu = cfg.siemens_per_unit_weight
        self.spu = spu if spu is not None else F * (self.g_cap - g_reset_med) / cfg.w_max
        ra = self._rng_assign
        self.dev_p = self._assign("pcm_device_plus", ra, pcm.n_devices, self.shape)
        self.dev_m = self._assign("pcm_device_minus", ra, pcm.n_devices, self.shape)
        self.gp = self.pcm.g_reset[self.dev_p].astype(np.float64)
        self.gm = self.pcm.g_reset[self.dev_m].astype(np.float64)
        self.tp = np.zeros(self.shape)          # hardware time each device's programming ended
        self.tm = np.zeros(self.shape)
        self.nup = self.pcm.nu_at(self.dev_p, self.gp)   # drift exponent at the programmed conductance
        self.num = self.pcm.nu_at(self.dev_m, self.gm)
        self._drift_t_ref = self._drift_t_young = 0.0    # the drift schedule (see the module docstring)
        self._drift_t_after: float | None = None
        self._drift_next = np.inf
        self.drift_refreshes = 0
        self._drift_only = 0
        self._drift_k = 0.0
        tol = cfg.pcm_tolerance_siemens
        self.tol = tol if tol is not None else self._default_tolerance()
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
        """(G+, G-) as they read now (drifted, without read noise), exactly."""
        if not self.config.pcm_drift:
            return self.gp, self.gm
        now = self.time_seconds
        return (self.pcm.drifted(self.gp, self.nup, now - self.tp),
                self.pcm.drifted(self.gm, self.num, now - self.tm))

    def pcm_drift_ratios(self) -> np.ndarray:
        """G read now / G programmed of every device (G+ then G-, flat), without read noise."""
        if not self.config.pcm_drift:
            return np.ones(2 * self.gp.size)
        now = self.time_seconds
        return np.concatenate([self.pcm.drift_factor(self.nup, now - self.tp).ravel(),
                               self.pcm.drift_factor(self.num, now - self.tm).ravel()])

    def _pcm_noise(self) -> bool:
        return self.config.read_noise and self.pcm.has_read_noise

    def _refresh_pcm(self) -> None:
        """A drift refresh: the cached PCM weight and read-noise variance from the exact
        drifted conductances now; schedules the next refresh."""
        gp, gm = self._pcm_effective()
        self._pcm_w = self.config.gain_f * (gp - gm) / self.spu
        self._pcm_var = self._pcm_variance(gp, gm) if self._pcm_noise() else None
        self._refresh_var()
        self._schedule_drift(full=True)

    def _refresh_drift(self) -> None:
        """A drift refresh (module docstring): the PCM part of W from the drifted conductances
        now, the variances every fourth time; schedules the next one."""
        gp, gm = self._pcm_effective()
        self._pcm_w = self.config.gain_f * (gp - gm) / self.spu
        self._drift_only += 1
        if self._pcm_noise() and self._drift_only % 4 == 0:
            self._pcm_var = self._pcm_variance(gp, gm)
            self._refresh_var()
        self._refresh_w_drift()
        self._schedule_drift(full=True)

    def _pcm_variance(self, gp: np.ndarray, gm: np.ndarray) -> np.ndarray:
        """Read-noise variance (weight units^2) of the pairs (G+, G-): F^2 (sigma+^2 + sigma-^2) / spu^2."""
        sp, sm = self.pcm.read_sigma(gp), self.pcm.read_sigma(gm)
        return (self.config.gain_f / self.spu) ** 2 * (sp * sp + sm * sm)

    def _refresh_w_drift(self) -> None:
        """W after the PCM part changed alone (default: a full recompute)."""
        self._refresh_w()

    def _refresh_var(self) -> None:
        """The read-noise variance of every cell (weight units^2, float32; None: no read noise)."""
        self._var = None if self._pcm_var is None else self._pcm_var.astype(np.float32)

    def _schedule_drift(self, full: bool = False) -> None:
        """The time of the next drift refresh (the module docstring's bound); ``full``: the
        cache was just refreshed."""
        if not self.config.pcm_drift:
            return
        now = self.time_seconds
        if full:
            self._drift_t_ref = now
            self._drift_t_young = float(max(self.tp.max(), self.tm.max()))
            self._drift_t_after = None
            self.drift_refreshes += 1
            self._drift_k = float(max((self.gp * self.nup).max(), (self.gm * self.num).max()))
        k = self._drift_k
        if k <= 0:
            self._drift_next = np.inf
            return
        t0 = self.pcm.t0
        e = float(np.exp(min(self.config.pcm_drift_refresh_rel * self.g_cap / k, 700.0)))
        ty = self._drift_t_young
        nxt = ty - t0 + (self._drift_t_ref - ty + t0) * e
        if self._drift_t_after is not None:
            nxt = min(nxt, self._drift_t_after - t0 + t0 * e)
        self._drift_next = nxt

    def _programmed_since_refresh(self, k: float) -> None:
        """Some devices were programmed (their cache entries made now) without a full refresh;
        ``k``: the largest G_prog nu among them."""
        if self._drift_t_after is None:
            self._drift_t_after = self.time_seconds
        self._drift_k = max(self._drift_k, float(k))
        self._schedule_drift()

    def _drift_due(self) -> bool:
        return self.time_seconds >= self._drift_next

    def _check_drift(self) -> None:
        """Refresh the cached conductances if drift may have moved them by more than eps."""
        if self._drift_due():
            self._refresh_drift()

    @abstractmethod
    def _refresh_w(self) -> None:
        """Recompute the cached W from the device state."""

    def read_weights(self) -> np.ndarray:
        """W from the device state now: PCM drift exact (not the cache's last refresh)."""
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
    def _idle(self, seconds: float) -> None:
        self._check_drift()

    def _after_examples(self, n_examples: int) -> TransferReport | None:
        self._check_drift()
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
        for g_state, t_state, nu_state, dev, part in ((self.gp, self.tp, self.nup, self.dev_p, slice(0, n)),
                                                      (self.gm, self.tm, self.num, self.dev_m, slice(n, None))):
            hit = touched[part]
            at = cells[hit]
            g_new = res.g_siemens[part][hit]
            g_state.reshape(-1)[at] = g_new
            t_state.reshape(-1)[at] = self.time_seconds
            nu_state.reshape(-1)[at] = self.pcm.nu_at(dev.reshape(-1)[at], g_new)
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
        gp, gm = self._pcm_effective()      # exact drift at the transfer
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
                   pcm_device_plus=self.dev_p.copy(), pcm_device_minus=self.dev_m.copy(),
                   pcm_programmed_seconds_plus=self.tp.copy(), pcm_programmed_seconds_minus=self.tm.copy(),
                   drift_nu_plus=self.nup.copy(), drift_nu_minus=self.num.copy())
        return out

    def summary(self) -> dict[str, Any]:
        r = self.pcm_drift_ratios()
        return {**super().summary(), "pcm_tolerance_siemens": self.tol,
                "pcm_drift_ratio_mean": float(r.mean()), "drift_refreshes": self.drift_refreshes}

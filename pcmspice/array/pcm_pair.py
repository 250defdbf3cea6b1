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
:class:`PcmPairs` is this part: the devices, the drift clock (:meth:`~PcmPairs.schedule`) and the
drift cache (``pcm_w``, ``pcm_var``); the weight models of
:mod:`~pcmspice.array.pcm_only` and :mod:`~pcmspice.array.cell` compose it, and
:class:`~pcmspice.array.cache.WeightCache` is rebuilt from it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pcmspice.array import options
from pcmspice.array.cache import check_version
from pcmspice.array.config import ArrayConfig
from pcmspice.array.pcm import PcmModel, ProgramResult
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import PcmLut

VERSION = 1
#: closed-loop programming: :func:`~pcmspice.array.pcm.program`'s signature (the co-simulation passes
#: its replay of the chip's pulses)
Programmer = Callable[..., ProgramResult]
Assign = Callable[[str, int, tuple[int, ...]], np.ndarray]


def assigner(assignment: dict[str, np.ndarray] | None, rng: np.random.Generator) -> Assign:
    """LUT rows for every position: ``assignment[key]`` when given (keys as in the array's
    :meth:`state`: lut_cell, lut_cell_shared, pcm_device_plus, pcm_device_minus), else a seeded draw."""
    given = dict(assignment or {})

    def assign(key: str, high: int, shape: tuple[int, ...]) -> np.ndarray:
        if key not in given:
            return rng.integers(0, high, shape)
        a = np.asarray(given[key])
        if a.shape != shape or a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= high:
            raise ConfigError(f"assignment '{key}' must be integers in 0..{high - 1} of shape {shape}")
        return np.ascontiguousarray(a, dtype=np.int64)   # C order: state updates go through ravel()
    return assign


class PcmPairs:
    """The PCM pair of every cell (module docstring): the devices, their programmed conductances,
    programming times and drift exponents; the drift clock (when the cached drifted conductances
    must be refreshed) and the drift cache (``pcm_w``, the pairs' weight F (G+ - G-) / spu, and
    ``pcm_var``, its read-noise variance, as of the last refresh).

    ``drifts``: whether the devices drift (``pcm_drift``); a part without drift sets it False.
    """

    def __init__(self, lut: PcmLut, config: ArrayConfig, shape: tuple[int, int], assign: Assign):
        cfg = self.config = config
        self.shape = shape
        self.drifts = bool(cfg.pcm_drift)
        self.pcm = PcmModel(lut)
        t0 = options.drift_t0_seconds(cfg)
        if t0 is not None:       # the run's drift onset; nu(G) and its spread stay the LUT's
            self.pcm.t0 = float(t0)
        self.pcm.settle_seconds = float(cfg.verify_settle_seconds)
        self.F = F = cfg.gain_f
        self.g_cap = min(cfg.pcm_g_program_max_siemens, float(np.median(lut.g_max_siemens)))
        self.g_reset_median = g_reset_med = float(np.median(lut.g_reset_siemens))
        if self.g_cap <= g_reset_med:
            raise LutError(f"PCM programming range is empty: cap {self.g_cap:.3g} S <= median RESET "
                           f"conductance {g_reset_med:.3g} S")
        spu = options.siemens_per_unit_weight(cfg)
        self.spu = spu if spu is not None else F * (self.g_cap - g_reset_med) / cfg.w_max
        self.dev_p = assign("pcm_device_plus", lut.n_devices, shape)
        self.dev_m = assign("pcm_device_minus", lut.n_devices, shape)
        self.gp = self.pcm.g_reset[self.dev_p].astype(np.float64)
        self.gm = self.pcm.g_reset[self.dev_m].astype(np.float64)
        self.tp = np.zeros(shape)          # hardware time each device's programming ended
        self.tm = np.zeros(shape)
        self.nup = self.pcm.nu_at(self.dev_p, self.gp)   # drift exponent at the programmed conductance
        self.num = self.pcm.nu_at(self.dev_m, self.gm)
        self.t_ref = self.t_young = 0.0    # the drift clock (see the module docstring)
        self.t_after: float | None = None
        self.next_refresh = np.inf
        self.refreshes = 0
        self.drift_only = 0
        self.k = 0.0
        tol = options.pcm_tolerance_siemens(cfg)
        self.tol = tol if tol is not None else self.default_tolerance()
        self.pcm_w = np.zeros(shape)
        self.pcm_var: np.ndarray | None = None
        #: drift compensation's digital gain on the PCM part of each output, (rows, 1); None: off
        self.gain: np.ndarray | None = None
        self._predistort = self._predistort_table() if cfg.drift_predistort else None

    def default_tolerance(self) -> float:
        """Half the partial-SET step at RESET (the largest step) of the 95th-percentile
        device: the verify window (2 x tolerance) is then wider than one step of 95 % of
        the devices, so program-and-verify can always land in it."""
        p = self.pcm.lut
        at_reset = np.array([np.interp(p.g_reset_siemens[d], p.g_grid_siemens, p.set_step_mean_siemens[d])
                             for d in range(p.n_devices)])
        return 0.5 * float(np.percentile(at_reset, 95))

    def _predistort_table(self, interval_seconds: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(G grid, E[G(t_mid) / G_prog] over the LUT's devices programmed to G) for pre-distortion,
        t_mid the middle of the transfer interval (``interval_seconds``: given by a caller that transfers
        the array itself, as the co-simulation does; else transfer_every x time_per_example_seconds)."""
        cfg = self.config
        if interval_seconds is None:
            if cfg.transfer_every <= 0:
                raise ConfigError("array.drift_predistort needs array.transfer_every > 0 (it aims at the middle "
                                  "of the transfer interval)")
            interval_seconds = cfg.transfer_every * cfg.time_per_example_seconds
        t_mid = 0.5 * interval_seconds
        nu, d = self.pcm.lut.drift_nu, cfg.verify_settle_seconds
        t0 = cfg.drift_predistort_t0_seconds
        f = self.pcm.drift_factor if t0 is None else (lambda n, t: ((t + t0) / t0) ** -n)   # the assumed onset
        if d > 0:    # verified d after its last pulse: the device drifts on by f(t + d) / f(d) from there
            return self.pcm.g_grid, (f(nu, t_mid + d) / f(nu, d)).mean(axis=0)
        return self.pcm.g_grid, f(nu, t_mid).mean(axis=0)

    def predistort_over(self, interval_seconds: float) -> None:
        """Switch pre-distortion on for transfers ``interval_seconds`` apart (the co-simulation's transfers
        are called by it, not by the array's own interval)."""
        self._predistort = self._predistort_table(interval_seconds)

    def predistort(self, target: np.ndarray) -> np.ndarray:
        """G_prog with G_prog E(G_prog) = ``target`` (fixed point; E the mean drift factor at the middle
        of the interval, interpolated in G): the population's mean read is then on target there."""
        grid, e = self._predistort
        g = np.asarray(target, dtype=np.float64)
        for _ in range(8):
            g = target / np.interp(g, grid, e)
        return g

    def weight(self, gp: np.ndarray, gm: np.ndarray, flat: np.ndarray | None = None) -> np.ndarray:
        """The pairs' weight F (G+ - G-) / spu, times the drift compensation's gain when it is on
        (``flat``: the cells' flat indices, when the arrays are those cells only)."""
        w = self.F * (gp - gm) / self.spu
        return w if self.gain is None else w * self.gain_of(flat)

    def gain_of(self, flat: np.ndarray | None = None) -> np.ndarray:
        """The compensation gain broadcast over all cells, or of the cells ``flat``."""
        g = np.broadcast_to(self.gain, (self.shape[0], 1))
        return g if flat is None else g[np.asarray(flat) // self.shape[1], 0]

    # ------------------------------------------------------------ reads
    def effective(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G-) as they read at time ``now`` (drifted, without read noise), exactly."""
        if not self.drifts:
            return self.gp, self.gm
        return (self.pcm.drifted(self.gp, self.nup, now - self.tp),
                self.pcm.drifted(self.gm, self.num, now - self.tm))

    def drift_ratios(self, now: float) -> np.ndarray:
        """G read now / G programmed of every device (G+ then G-, flat), without read noise."""
        if not self.drifts:
            return np.ones(2 * self.gp.size)
        return np.concatenate([self.pcm.drift_factor(self.nup, now - self.tp).ravel(),
                               self.pcm.drift_factor(self.num, now - self.tm).ravel()])

    @property
    def noisy(self) -> bool:
        return self.config.read_noise and self.pcm.has_read_noise

    def variance(self, gp: np.ndarray, gm: np.ndarray, flat: np.ndarray | None = None) -> np.ndarray:
        """Read-noise variance (weight units^2) of the pairs (G+, G-): F^2 (sigma+^2 + sigma-^2) / spu^2."""
        sp, sm = self.pcm.read_sigma(gp), self.pcm.read_sigma(gm)
        v = (self.F / self.spu) ** 2 * (sp * sp + sm * sm)
        if self.gain is None:
            return v
        return v * self.gain_of(flat) ** 2

    def cached_pair(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G-) of the cells ``flat`` as the drift cache holds them: drifted to the last
        refresh, or to now for a device programmed since (factor 1)."""
        gp, gm = self.gp.reshape(-1)[flat], self.gm.reshape(-1)[flat]
        if not self.drifts:
            return gp, gm
        out = []
        for g, t, nu in ((gp, self.tp, self.nup), (gm, self.tm, self.num)):
            t, nu = t.reshape(-1)[flat], nu.reshape(-1)[flat]
            at = np.maximum(self.t_ref, t)
            out.append(self.pcm.drifted(g, nu, at - t))
        return out[0], out[1]

    # ------------------------------------------------------------ drift clock and cache
    def refresh(self, now: float) -> None:
        """A full refresh of the drift cache (weight and variance) from the exact drifted
        conductances now; schedules the next refresh."""
        gp, gm = self.effective(now)
        self.pcm_w = self.weight(gp, gm)
        self.pcm_var = self.variance(gp, gm) if self.noisy else None
        self.schedule(now, full=True)

    def set_gain(self, gain: np.ndarray) -> None:
        """A new drift-compensation gain (rows, 1) on the drift cache as it stands: the cached weight
        and variance are rescaled by new / old gain (and its square), not recomputed from the
        conductances now; the drift refreshes keep their own schedule (a gain read does not move
        a device, so the cache's drift bound still holds)."""
        old = self.gain_of()
        self.gain = np.asarray(gain, dtype=np.float64)
        ratio = self.gain_of() / old
        self.pcm_w = self.pcm_w * ratio
        if self.pcm_var is not None:
            self.pcm_var = self.pcm_var * (ratio * ratio)

    def due(self, now: float) -> bool:
        return now >= self.next_refresh

    def refresh_drift(self, now: float) -> bool:
        """A drift refresh (module docstring): the cached weight from the drifted conductances
        now, the variance every fourth time; schedules the next one.  Returns whether the
        variance changed."""
        gp, gm = self.effective(now)
        self.pcm_w = self.weight(gp, gm)
        self.drift_only += 1
        var = self.noisy and self.drift_only % 4 == 0
        if var:
            self.pcm_var = self.variance(gp, gm)
        self.schedule(now, full=True)
        return var

    def schedule(self, now: float, full: bool = False) -> None:
        """The time of the next drift refresh (the module docstring's bound); ``full``: the
        cache was just refreshed."""
        if not self.drifts:
            return
        if full:
            self.t_ref = now
            self.t_young = float(max(self.tp.max(), self.tm.max()))
            self.t_after = None
            self.refreshes += 1
            self.k = float(max((self.gp * self.nup).max(), (self.gm * self.num).max()))
        k = self.k
        if k <= 0:
            self.next_refresh = np.inf
            return
        t0 = self.pcm.t0
        e = float(np.exp(min(self.config.pcm_drift_refresh_rel * self.g_cap / k, 700.0)))
        ty = self.t_young
        nxt = ty - t0 + (self.t_ref - ty + t0) * e
        if self.t_after is not None:
            nxt = min(nxt, self.t_after - t0 + t0 * e)
        self.next_refresh = nxt

    def programmed_since_refresh(self, now: float, k: float) -> None:
        """Some devices were programmed (their cache entries made now) without a full refresh;
        ``k``: the largest G_prog nu among them."""
        if self.t_after is None:
            self.t_after = now
        self.k = max(self.k, float(k))
        self.schedule(now)

    # ------------------------------------------------------------ programming
    def targets(self, t_pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device targets for a pair weight F (G+ - G-) = t_pair: one device at RESET."""
        F = self.F
        rp, rm = self.pcm.g_reset[self.dev_p], self.pcm.g_reset[self.dev_m]
        tp = np.where(t_pair > 0, rm + t_pair / F, rp)
        tm = np.where(t_pair < 0, rp - t_pair / F, rm)
        if self._predistort is not None:     # the device that holds the weight, for its coming drift
            tp = np.where(t_pair > 0, self.predistort(tp), tp)
            tm = np.where(t_pair < 0, self.predistort(tm), tm)
        return np.minimum(tp, self.g_cap), np.minimum(tm, self.g_cap)

    def program(self, programmer: Programmer, t_pair: np.ndarray, gp_now: np.ndarray, gm_now: np.ndarray,
                now: float, rng: np.random.Generator, idx: np.ndarray | None = None,
                device_targets: tuple[np.ndarray, np.ndarray] | None = None,
                only: np.ndarray | None = None) -> ProgramResult:
        """Program pairs (all, or the flat indices ``idx``) to F (G+ - G-) = t_pair with ``programmer``.

        ``gp_now``/``gm_now`` are the conductances the devices have now (after
        drift); devices the loop does not touch keep their programmed state; the
        programmer sees every device.  ``device_targets``: (G+, G-) targets given directly
        (the incremental transfer's), instead of :meth:`targets` of ``t_pair``; ``only``: a mask over
        the cells' G+ then G- devices, the devices the programmer sees (the others are not touched)."""
        tp, tm = self.targets(t_pair) if device_targets is None else device_targets
        cells = np.arange(self.shape[0] * self.shape[1]) if idx is None else np.asarray(idx)
        args = (np.concatenate([self.dev_p.reshape(-1)[cells], self.dev_m.reshape(-1)[cells]]),
                np.concatenate([gp_now.reshape(-1)[cells], gm_now.reshape(-1)[cells]]),
                np.concatenate([tp.reshape(-1)[cells], tm.reshape(-1)[cells]]))
        kw = dict(tolerance=self.tol, max_pulses=self.config.pcm_max_pulses, rng=rng,
                  read_noise=self.config.read_noise)
        if only is None:
            res = programmer(self.pcm, *args, **kw)
        else:
            sub = programmer(self.pcm, *(a[only] for a in args), **kw)
            z = np.zeros(only.size, dtype=np.int64)
            res = ProgramResult(args[1].copy(), z, z.copy(), np.ones(only.size, dtype=bool),
                                None if sub.age_seconds is None else np.zeros(only.size))
            res.g_siemens[only], res.set_pulses[only], res.reset_pulses[only] = sub.g_siemens, sub.set_pulses, \
                sub.reset_pulses
            res.converged[only] = sub.converged
            if sub.age_seconds is not None:
                res.age_seconds[only] = sub.age_seconds
        touched = (res.set_pulses + res.reset_pulses) > 0
        n = cells.size
        age = np.zeros(2 * n) if res.age_seconds is None else res.age_seconds   # clocks start at the last pulse
        for g_state, t_state, nu_state, dev, part in ((self.gp, self.tp, self.nup, self.dev_p, slice(0, n)),
                                                      (self.gm, self.tm, self.num, self.dev_m, slice(n, None))):
            hit = touched[part]
            at = cells[hit]
            g_new = res.g_siemens[part][hit]
            g_state.reshape(-1)[at] = g_new
            t_state.reshape(-1)[at] = now - age[part][hit]
            nu_state.reshape(-1)[at] = self.pcm.nu_at(dev.reshape(-1)[at], g_new)
        return res

    def reset(self, flat: np.ndarray, now: float) -> tuple[np.ndarray, np.ndarray]:
        """RESET both devices of the cells ``flat``; returns (G+, G-) of those cells after it."""
        gp0 = self.pcm.g_reset[self.dev_p.ravel()[flat]]
        gm0 = self.pcm.g_reset[self.dev_m.ravel()[flat]]
        self.gp.ravel()[flat], self.gm.ravel()[flat] = gp0, gm0
        self.tp.ravel()[flat] = self.tm.ravel()[flat] = now
        self.nup.ravel()[flat] = self.pcm.nu_at(self.dev_p.ravel()[flat], gp0)
        self.num.ravel()[flat] = self.pcm.nu_at(self.dev_m.ravel()[flat], gm0)
        return gp0, gm0

    # ------------------------------------------------------------------ state
    _STATE = ("gp", "gm", "tp", "tm", "nup", "num", "pcm_w", "pcm_var", "t_ref", "t_young", "t_after",
              "next_refresh", "refreshes", "drift_only", "k")

    def state_dict(self) -> dict[str, Any]:
        """The devices' state, the drift clock and the drift cache (the device rows are redrawn)."""
        out: dict[str, Any] = {"version": VERSION}
        for name in self._STATE:
            v = getattr(self, name)
            out[name] = v.copy() if isinstance(v, np.ndarray) else v
        return out

    def load_state_dict(self, st: dict[str, Any]) -> None:
        check_version("PCM pairs", st, VERSION)
        for name in self._STATE:
            v = st[name]
            setattr(self, name, v.copy() if isinstance(v, np.ndarray) else v)

"""Drift remedies that act while the array trains (issue 20), parts of the array, off by default:
drift compensation from reference reads (:class:`DriftCompensation`, ``ArrayConfig.drift_compensation``
"global" or "column") and periodic re-verify of aged devices (:class:`Reverify`,
``ArrayConfig.reverify_age_seconds``).

Compensation.
Reference PCMs (``drift_reference_devices`` per output line, or per array for "global"; rows of the
PCM LUT drawn by the array's seeded generator) are programmed closed-loop to
``drift_reference_siemens`` whenever the array's pairs are (initial programming, every transfer),
and read once right after (S0, the sum of their reads, with read noise).  Every
``drift_compensation_every`` examples they are read again (S); the digital gain S0 / S then
multiplies the **PCM part** of each output (per output line, or one for the array), forward and
backward, until the next read: y_j = gain_j sum_i F (G+ - G-)_ji x_i / spu + sum_i p (g - g_shared)_ji x_i / spu.

Why the PCM part only: drift is the PCMs'; the 3T1C part does not drift (it leaks, which reference
PCMs do not track), so scaling the sum would distort it.  The periphery can apply it because the
PCM pair and the 3T1C are read as separate partial sums before F is applied (the power model's
``gain_f_separate`` readout); the gain is one digital multiply per output per MAC.  After a
transfer every pair and every reference is freshly programmed: the gain restarts at 1.  With
pre-distortion on, the pairs were programmed high by 1 / E (E the expected drift factor at the middle
of the interval), so S0 is taken as E x the fresh read: the gain then brings the PCM part to its
target, not back to its pre-distorted fresh value (which would over-correct).

Sources: Le Gallo et al., "Compressed sensing with approximate message passing using in-memory
computing", IEEE TED 2018 (global drift compensation from reference reads); aihwkit's
``GlobalDriftCompensation`` and ``PerColumnDriftCompensation`` (per output column).  Exact for a
uniform drift (every device with the same exponent and programming time, no read noise): the gain
is then 1 / ((t + t0) / t0)^-nu and the outputs are those of the undrifted array.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.array import options
from pcmspice.array.cache import check_version

_Array = Any   # a pcmspice.array.crossbar.AnalogArray (that module imports this one)
VERSION = 1


class DriftCompensation:
    """The reference devices, the reference sums S0 and the gain (see the module docstring)."""

    def __init__(self, arr: _Array, rng: np.random.Generator):
        cfg = arr.config
        pairs = arr.pcm_pairs
        self.rows = arr.shape[0] if cfg.drift_compensation == "column" else 1
        self.every = cfg.drift_compensation_every
        shape = (self.rows, cfg.drift_reference_devices)
        self.dev = rng.integers(0, pairs.pcm.n_devices, shape)
        self.g = pairs.pcm.g_reset[self.dev].astype(np.float64)
        self.t = np.zeros(shape)
        self.nu = pairs.pcm.nu_at(self.dev, self.g)
        self.s0 = np.ones((self.rows, 1))
        self.since = 0
        self.reads = 0
        arr.counters.update(drift_reference_reads=0, drift_reference_set_pulses=0,
                            drift_reference_reset_pulses=0)

    def _read(self, arr: _Array) -> np.ndarray:
        """The references' read sums now, per row (rows, 1), with the array's read noise."""
        pcm = arr.pcm_pairs.pcm
        g = pcm.drifted(self.g, self.nu, arr.time_seconds - self.t) if arr.pcm_pairs.drifts else self.g
        rng = arr._rng_noise if arr.config.read_noise else None
        self.reads += 1
        arr.counters["drift_reference_reads"] += int(self.g.size)
        return pcm.read(g, rng).sum(axis=1, keepdims=True)

    def programmed(self, arr: _Array) -> None:
        """The pairs were just programmed: program the references too, read S0, gain 1."""
        pairs, cfg, now = arr.pcm_pairs, arr.config, arr.time_seconds
        pcm = pairs.pcm
        g_now = pcm.drifted(self.g, self.nu, now - self.t) if pairs.drifts else self.g
        res = arr.programmer(pcm, self.dev.ravel(), g_now.ravel(),
                             np.full(self.dev.size, cfg.drift_reference_siemens), tolerance=pairs.tol,
                             max_pulses=cfg.pcm_max_pulses, rng=arr._rng_prog, read_noise=cfg.read_noise)
        touched = ((res.set_pulses + res.reset_pulses) > 0).reshape(self.g.shape)
        age = np.zeros(self.dev.size) if res.age_seconds is None else res.age_seconds
        self.g[touched] = res.g_siemens.reshape(self.g.shape)[touched]
        self.t[touched] = now - age.reshape(self.g.shape)[touched]
        self.nu[touched] = pcm.nu_at(self.dev[touched], self.g[touched])
        arr.counters["drift_reference_set_pulses"] += int(res.set_pulses.sum())
        arr.counters["drift_reference_reset_pulses"] += int(res.reset_pulses.sum())
        self.s0 = self._read(arr)
        if pairs._predistort is not None:   # the pairs were programmed high by 1 / E: aim the gain at E x fresh
            grid, e = pairs._predistort
            self.s0 = self.s0 * float(np.interp(cfg.drift_reference_siemens, grid, e))
        self.since = 0
        pairs.gain = np.ones((self.rows, 1))

    def after_examples(self, arr: _Array, n_examples: int) -> bool:
        """Count examples; every ``every`` of them read the references and set the gain S0 / S on the
        drift cache and W (rescaled in place: :meth:`PcmPairs.set_gain`).  Returns whether it did."""
        self.since += n_examples
        if self.since < self.every:
            return False
        self.since = 0
        gain = self.s0 / self._read(arr)
        pairs, c = arr.pcm_pairs, arr.cache.fresh()
        var_before = pairs.pcm_var
        pairs.set_gain(gain)
        arr.model.drift_w(c, arr.polarity)   # W's PCM part moves, its 3T1C part is kept (as a drift refresh)
        if var_before is not None:   # the variances move by the PCM part's change alone
            c.shift_var((pairs.pcm_var - var_before).reshape(-1))
        return True

    # ------------------------------------------------------------------ state
    _STATE = ("g", "t", "nu", "s0", "since", "reads")

    def state_dict(self, arr: _Array) -> dict[str, Any]:
        out: dict[str, Any] = {"version": VERSION, "gain": None if arr.pcm_pairs.gain is None
                               else arr.pcm_pairs.gain.copy()}
        for name in self._STATE:
            v = getattr(self, name)
            out[name] = v.copy() if isinstance(v, np.ndarray) else v
        return out

    def load_state_dict(self, arr: _Array, st: dict[str, Any]) -> None:
        check_version("drift compensation", st, VERSION)
        for name in self._STATE:
            v = st[name]
            setattr(self, name, v.copy() if isinstance(v, np.ndarray) else v)
        arr.pcm_pairs.gain = None if st["gain"] is None else np.array(st["gain"], dtype=np.float64)


class Reverify:
    """Periodic re-verify: every ``reverify_every`` examples, every programmed PCM (above its RESET
    level by more than the verify tolerance) whose programming is older than ``reverify_age_seconds``
    is verify-read and, if it has drifted out of the verify window, partially SET back to the
    conductance it was programmed to (the chip keeps that target; the pulse restarts its drift clock).
    Its cost is the pulses and reads it counts (``reverify_passes``, ``reverify_devices`` and the
    PCM pulse counters).  With drift compensation on, the references are reprogrammed with it."""

    def __init__(self, arr: _Array):
        cfg = arr.config
        self.age = float(options.reverify_age_seconds(cfg))
        self.every = cfg.reverify_every
        self.since = 0
        arr.counters.update(reverify_passes=0, reverify_devices=0)

    def after_examples(self, arr: _Array, n_examples: int) -> bool:
        """Count examples; every ``every`` run a pass.  Returns whether any device was reprogrammed."""
        self.since += n_examples
        if self.since < self.every:
            return False
        self.since = 0
        pairs, now = arr.pcm_pairs, arr.time_seconds
        arr.counters["reverify_passes"] += 1
        reset_p, reset_m = pairs.pcm.g_reset[pairs.dev_p], pairs.pcm.g_reset[pairs.dev_m]
        old_p = (now - pairs.tp > self.age) & (pairs.gp > reset_p + pairs.tol)
        old_m = (now - pairs.tm > self.age) & (pairs.gm > reset_m + pairs.tol)
        if not (old_p.any() or old_m.any()):
            return False
        arr.counters["reverify_devices"] += int(old_p.sum() + old_m.sum())
        gp_now, gm_now = pairs.effective(now)
        arr.program_pairs(None, gp_now, gm_now, device_targets=(pairs.gp.copy(), pairs.gm.copy()),
                          only=np.concatenate([old_p.ravel(), old_m.ravel()]))
        if arr.compensation is not None:
            arr.compensation.programmed(arr)
        return True

    def state_dict(self, arr: _Array) -> dict[str, Any]:
        return {"version": VERSION, "since": self.since}

    def load_state_dict(self, arr: _Array, st: dict[str, Any]) -> None:
        check_version("re-verify", st, VERSION)
        self.since = int(st["since"])


def build(arr: _Array) -> tuple[DriftCompensation | None, Reverify | None]:
    """The remedies the array's config switches on (None for each that is off, and without PCMs)."""
    cfg = arr.config
    if arr.pcm_pairs is None:
        return None, None
    comp = DriftCompensation(arr, arr._rng_assign) if cfg.drift_compensation != "none" else None
    rev = Reverify(arr) if options.reverify_age_seconds(cfg) is not None else None
    return comp, rev


def after_examples(arr: _Array, n_examples: int) -> None:
    """The remedies' share of :meth:`AnalogArray.advance`: a re-verify pass and a reference read when
    due.  A re-verify that reprogrammed devices rebuilds the drift cache and W in full; a new gain
    rescales the cached PCM part in place (:meth:`DriftCompensation.after_examples`)."""
    reprogrammed = arr.reverify is not None and arr.reverify.after_examples(arr, n_examples)
    if arr.compensation is not None:
        arr.compensation.after_examples(arr, n_examples)
    if reprogrammed:
        arr.pcm_pairs.refresh(arr.time_seconds)
        arr.cache.invalidate()

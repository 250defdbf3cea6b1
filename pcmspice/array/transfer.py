"""Transfer strategies: what a transfer moves into the PCM pairs, and the one transfer-offset rule.

A transfer (every ``transfer_every`` examples, or :meth:`AnalogArray.transfer`) reads every PCM pair
(with read noise), asks its strategy for the pairs' new targets, lets the strategy change the other
devices (reset Vc, flip the polarity, RESET devices) and program the pairs, then refreshes the drift
cache and logs a :class:`~pcmspice.array.layer.TransferReport`.  The strategy is passed to the array
(``AnalogArray(..., transfer=...)``); by default the weight model's:

=========================  =====================================================================
:class:`MoveToPcm`         full cell (IBM 2018): g - g_shared into the pair with the offset rule,
                           every Vc and Vref reset to v_start, the polarity inverted
:class:`RefreshSaturated`  PCM only (Burr et al. 2015): pairs near saturation RESET and their
                           weight reprogrammed into one device; the polarity never changes
:class:`IncrementalMove`   full cell, ``incremental_transfer``: only the change since the last
                           transfer, by partial SET of the device that must grow; a pair that
                           would saturate is RESET and reprogrammed in full
``None``                   ideal: nothing to move
=========================  =====================================================================

:func:`offset_target` is the paper's transfer offset, used by :class:`MoveToPcm` and by the SPICE
co-simulation's chip (:mod:`pcmspice.cosim.chip`).
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.array.pcm import ProgramResult

_Array = Any   # a pcmspice.array.crossbar.AnalogArray (that module imports this one)


def offset_target(t: np.ndarray, p_next: int, cfg: ArrayConfig) -> np.ndarray:
    """The paper's offset: the PCM target is W - offset, so programming errors tend to
    leave the weight low and g (which has more room upward from v_start) corrects
    them; a target that the offset would push through zero RESETs both PCMs.

    ``offset_scheme`` "signed": the remainder is always an *up* correction of g under the
    next polarity ``p_next``; "magnitude": toward zero; "none" (or a zero offset): ``t``."""
    off = cfg.transfer_offset_siemens
    scheme = cfg.offset_scheme
    if off == 0 or scheme == "none":
        return t
    if scheme == "signed":
        t2 = t - p_next * off
        return np.where(np.sign(t2) == np.sign(t), t2, 0.0)
    return np.sign(t) * np.maximum(np.abs(t) - off, 0.0)


class TransferStrategy(Protocol):
    def targets(self, arr: _Array, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                ) -> tuple[np.ndarray, ProgramResult]:
        """Given the pairs' read weight ``pair`` (S) and their present conductances (G+, G-),
        change the array's devices and program the pairs (:meth:`AnalogArray.program_pairs`);
        returns (the pair targets F (G+ - G-), the programming result)."""


class MoveToPcm:
    """Full cell: read g - g_shared (with read noise), form the PCM target
    W - p_next (g(v_start) - g_shared(v_start)) with the offset rule, reset every
    Vc and Vref to v_start, invert p (unless ``polarity_inversion`` is off) and program
    the pairs closed-loop."""

    def targets(self, arr: _Array, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                ) -> tuple[np.ndarray, ProgramResult]:
        t_pair = self.move_g(arr, pair)
        return t_pair, arr.program_pairs(t_pair, gp, gm)

    @staticmethod
    def move_g(arr: _Array, pair: np.ndarray) -> np.ndarray:
        """The pair targets that take g into the PCM (read with noise, offset rule), with every Vc and Vref
        reset and the polarity inverted as a side effect: the first half of every g -> PCM transfer."""
        caps, cfg, p = arr.capacitors, arr.config, arr.polarity
        gdiff = caps.g - caps.gref_exp
        if caps.sg_tab is not None:
            gdiff = gdiff + caps.g_sigma_siemens() * arr._rng_noise.standard_normal(arr.shape)
        p_next = -p if cfg.polarity_inversion else p
        t_pair = offset_target(pair + p * gdiff - p_next * (caps.g0 - caps.gref0_exp), p_next, cfg)
        caps.reset()
        arr.polarity = p_next
        return t_pair


class RefreshSaturated:
    """PCM only (Burr et al. 2015): RESET both devices of a pair whose larger device exceeds
    ``pcm_refresh_fraction`` x the programming maximum and reprogram its weight (as read)
    into one of them; other pairs are left alone."""

    def targets(self, arr: _Array, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                ) -> tuple[np.ndarray, ProgramResult]:
        pairs = arr.pcm_pairs
        full = np.flatnonzero(np.maximum(gp, gm) > arr.config.pcm_refresh_fraction * pairs.g_cap)
        t_pair = pairs.F * (gp - gm)
        t_pair.ravel()[full] = pair.ravel()[full]
        gp0, gm0 = gp.copy(), gm.copy()
        gp0.ravel()[full], gm0.ravel()[full] = pairs.reset(full, arr.time_seconds)
        arr.counters["pcm_reset_pulses"] += 2 * int(full.size)
        return t_pair, arr.program_pairs(t_pair, gp0, gm0, idx=full)


class IncrementalMove(MoveToPcm):
    """Full cell, incremental (``ArrayConfig.incremental_transfer``; the idea of Tiki-Taka v2's buffered
    transfer, Gokmen 2021, aihwkit ``BufferedTransferCompound``): the pair target is formed as in
    :class:`MoveToPcm`, but only its change c = target - (the pair as read) is programmed: the device
    that must grow (G+ for c > 0, G- for c < 0) is partially SET from its present G to G + |c| / F, the
    other is left alone.  A pair whose growing device would pass the programming maximum is RESET and
    reprogrammed to its full target (one device at RESET), as the paper does for every pair."""

    def targets(self, arr: _Array, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                ) -> tuple[np.ndarray, ProgramResult]:
        pairs = arr.pcm_pairs
        t_pair = self.move_g(arr, pair)
        change = (t_pair - pair) / pairs.F
        tp = np.where(change > 0, gp + change, gp)
        tm = np.where(change < 0, gm - change, gm)
        full = np.flatnonzero(np.maximum(tp, tm) > pairs.g_cap)
        gp0, gm0 = gp.copy(), gm.copy()
        if full.size:
            gp0.ravel()[full], gm0.ravel()[full] = pairs.reset(full, arr.time_seconds)
            arr.counters["pcm_reset_pulses"] += 2 * int(full.size)
            fp, fm = pairs.targets(t_pair)
            tp.ravel()[full], tm.ravel()[full] = fp.ravel()[full], fm.ravel()[full]
        c = arr.counters
        c["incremental_full_reprograms"] = c.get("incremental_full_reprograms", 0) + int(full.size)
        grow_p, grow_m = change > 0, change < 0
        grow_p.ravel()[full] = grow_m.ravel()[full] = True     # a reprogrammed pair: both devices
        only = np.concatenate([grow_p.ravel(), grow_m.ravel()])
        return t_pair, arr.program_pairs(t_pair, gp0, gm0, device_targets=(tp, tm), only=only)

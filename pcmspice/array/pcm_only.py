"""The PCM-only weight model (``ArrayConfig(mode="pcm-only")``): no 3T1C, as in Burr et al. 2015.

Every update is partial SETs on G+ (to raise the weight) or G- (to lower
it); a PCM can only be raised by partial SET, so every ``transfer_every``
examples the pairs near saturation are RESET and their weight reprogrammed
into one device (:class:`~pcmspice.array.transfer.RefreshSaturated`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.array.cache import WeightCache
from pcmspice.array.pcm_pair import PcmPairs

_Array = Any   # a pcmspice.array.crossbar.AnalogArray (that module imports this one)


class PcmOnlyWeights:
    """W = F (G+ - G-) / spu; a pulse is a stochastic partial SET of one device."""

    mode = "pcm-only"
    capacitors = None
    kernel = "numpy"

    def __init__(self, pairs: PcmPairs):
        self.pairs = pairs
        self.spu = pairs.spu
        # nominal step: median device, mean SET step averaged over the lower half of the range
        pcm, g0 = pairs.pcm.lut, pairs.g_reset_median
        gs = np.linspace(g0, 0.5 * (g0 + pairs.g_cap), 16)
        steps = [np.median(pcm.set_step_mean_siemens[:, i]) for i in
                 np.searchsorted(pcm.g_grid_siemens, gs).clip(0, pcm.g_grid_siemens.size - 1)]
        self.dw_nominal = pairs.F * float(np.mean(steps)) / self.spu

    # ------------------------------------------------------------ the cache
    def rebuild_w(self, cache: WeightCache, polarity: int) -> None:
        """The cached W (float32) from the PCM pairs' cached weight."""
        cache.w = self.pairs.pcm_w.astype(np.float32)

    def drift_w(self, cache: WeightCache, polarity: int) -> None:
        self.rebuild_w(cache, polarity)

    def rebuild_var(self, cache: WeightCache) -> None:
        pv = self.pairs.pcm_var
        cache.var = None if pv is None else pv.astype(np.float32)

    def read_weights(self, now: float, polarity: int) -> np.ndarray:
        gp, gm = self.pairs.effective(now)
        return self.pairs.weight(gp, gm)

    def initial_target(self, w_siemens: np.ndarray, polarity: int) -> np.ndarray:
        return w_siemens

    # ------------------------------------------------------------ pulses
    def pulse(self, arr: _Array, flat: np.ndarray, n: np.ndarray) -> None:
        """n > 0: n partial SETs of G+; n < 0: |n| of G-; each a stochastic LUT step at the
        device's present conductance, capped at its maximum."""
        pr, pcm, now, rng = self.pairs, self.pairs.pcm, arr.time_seconds, arr._rng_prog
        k = np.abs(n)
        plus = n > 0
        gpf, gmf = pr.gp.reshape(-1), pr.gm.reshape(-1)
        dev = np.where(plus, pr.dev_p.reshape(-1)[flat], pr.dev_m.reshape(-1)[flat])
        g = np.where(plus, gpf[flat], gmf[flat])
        if pr.drifts:      # a pulse acts on the device as it has drifted
            nu = np.where(plus, pr.nup.reshape(-1)[flat], pr.num.reshape(-1)[flat])
            t = np.where(plus, pr.tp.reshape(-1)[flat], pr.tm.reshape(-1)[flat])
            g = pcm.drifted(g, nu, now - t)
        gmax, gmin = pcm.g_max[dev], pcm.g_reset[dev]   # a step may lower G, not below RESET
        step = pcm.set_step
        g = np.clip(g + step(dev, g, rng), gmin, gmax)
        multi, t = np.flatnonzero(k > 1), 1
        while multi.size:
            t += 1
            g[multi] = np.clip(g[multi] + step(dev[multi], g[multi], rng), gmin[multi], gmax[multi])
            multi = multi[k[multi] > t]
        gpf[flat[plus]] = g[plus]
        gmf[flat[~plus]] = g[~plus]
        pr.tp.reshape(-1)[flat[plus]] = now
        pr.tm.reshape(-1)[flat[~plus]] = now
        nu = pcm.nu_at(dev, g)
        pr.nup.reshape(-1)[flat[plus]] = nu[plus]
        pr.num.reshape(-1)[flat[~plus]] = nu[~plus]
        total = int(k.sum())
        arr.counters["pcm_set_pulses"] += total
        arr.counters["pcm_set_pulses_update"] += total
        # the pulsed devices' cache entries are exact now; their partners' as of the last refresh
        gp_c, gm_c = pr.cached_pair(flat)
        w = pr.weight(gp_c, gm_c, flat)
        pr.pcm_w.reshape(-1)[flat] = w
        cache = arr.cache
        cache.w.reshape(-1)[flat] = w
        if cache.var is not None:
            v = pr.variance(gp_c, gm_c, flat)
            pr.pcm_var.reshape(-1)[flat] = v
            cache.var.reshape(-1)[flat] = v
        if pr.drifts:
            pr.programmed_since_refresh(now, float((g * nu).max()))

    def update(self, arr: _Array, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        return arr._update_with_pulses(x, delta, lr)

    # ------------------------------------------------------------ time
    def idle(self, seconds: float) -> bool:
        return False

    def after_examples(self, n_examples: int) -> bool:
        return False

    def before_transfer(self) -> bool:
        return False

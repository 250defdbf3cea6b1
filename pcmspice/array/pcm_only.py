"""The PCM-only weight model (``ArrayConfig(mode="pcm-only")``): no 3T1C, as in Burr et al. 2015.

Every update is partial SETs on G+ (to raise the weight) or G- (to lower
it); a PCM can only be raised by partial SET, so every ``transfer_every``
examples the pairs near saturation are RESET and their weight reprogrammed
into one device.
"""
from __future__ import annotations

import numpy as np

from pcmspice.array.pcm import ProgramResult
from pcmspice.array.pcm_pair import PcmPairArray
from pcmspice.lut.format import LutSet


class PcmOnlyArray(PcmPairArray, mode="pcm-only"):
    """W = F (G+ - G-) / spu; a pulse is a stochastic partial SET of one device."""

    def _setup_model(self, luts: LutSet, g_reset_med: float) -> None:
        # nominal step: median device, mean SET step averaged over the lower half of the range
        pcm = luts.pcm
        gs = np.linspace(g_reset_med, 0.5 * (g_reset_med + self.g_cap), 16)
        steps = [np.median(pcm.set_step_mean_siemens[:, i]) for i in
                 np.searchsorted(pcm.g_grid_siemens, gs).clip(0, pcm.g_grid_siemens.size - 1)]
        self.dw_nominal = self.config.gain_f * float(np.mean(steps)) / self.spu

    def _refresh_w(self) -> None:
        """The cached W (float32) from the PCM pairs' weight."""
        self._w = self._pcm_w.astype(np.float32)

    def _pulse(self, flat: np.ndarray, n: np.ndarray) -> None:
        """n > 0: n partial SETs of G+; n < 0: |n| of G-; each a stochastic LUT step at the
        device's present conductance, capped at its maximum."""
        k = np.abs(n)
        plus = n > 0
        gpf, gmf = self.gp.reshape(-1), self.gm.reshape(-1)
        dev = np.where(plus, self.dev_p.reshape(-1)[flat], self.dev_m.reshape(-1)[flat])
        g = np.where(plus, gpf[flat], gmf[flat])
        if self.config.pcm_drift:      # a pulse acts on the device as it has drifted
            nu = np.where(plus, self.nup.reshape(-1)[flat], self.num.reshape(-1)[flat])
            t = np.where(plus, self.tp.reshape(-1)[flat], self.tm.reshape(-1)[flat])
            g = self.pcm.drifted(g, nu, self.time_seconds - t)
        gmax, gmin = self.pcm.g_max[dev], self.pcm.g_reset[dev]   # a step may lower G, not below RESET
        step = self.pcm.set_step
        g = np.clip(g + step(dev, g, self._rng_prog), gmin, gmax)
        multi, t = np.flatnonzero(k > 1), 1
        while multi.size:
            t += 1
            g[multi] = np.clip(g[multi] + step(dev[multi], g[multi], self._rng_prog), gmin[multi], gmax[multi])
            multi = multi[k[multi] > t]
        gpf[flat[plus]] = g[plus]
        gmf[flat[~plus]] = g[~plus]
        now = self.time_seconds
        self.tp.reshape(-1)[flat[plus]] = now
        self.tm.reshape(-1)[flat[~plus]] = now
        nu = self.pcm.nu_at(dev, g)
        self.nup.reshape(-1)[flat[plus]] = nu[plus]
        self.num.reshape(-1)[flat[~plus]] = nu[~plus]
        total = int(k.sum())
        self.counters["pcm_set_pulses"] += total
        self.counters["pcm_set_pulses_update"] += total
        # the pulsed devices' cache entries are exact now; their partners' as of the last refresh
        gp_c, gm_c = self._cached_pair(flat)
        F = self.config.gain_f
        w = F * (gp_c - gm_c) / self.spu
        self._pcm_w.reshape(-1)[flat] = w
        self._w.reshape(-1)[flat] = w
        if self._var is not None:
            v = self._pcm_variance(gp_c, gm_c)
            self._pcm_var.reshape(-1)[flat] = v
            self._var.reshape(-1)[flat] = v
        if self.config.pcm_drift:
            self._programmed_since_refresh(float((g * nu).max()))

    def _cached_pair(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G-) of the cells ``flat`` as the cache holds them: drifted to the last drift
        refresh, or to now for a device programmed since (factor 1)."""
        gp, gm = self.gp.reshape(-1)[flat], self.gm.reshape(-1)[flat]
        if not self.config.pcm_drift:
            return gp, gm
        out = []
        for g, t, nu in ((gp, self.tp, self.nup), (gm, self.tm, self.num)):
            t, nu = t.reshape(-1)[flat], nu.reshape(-1)[flat]
            at = np.maximum(self._drift_t_ref, t)
            out.append(self.pcm.drifted(g, nu, at - t))
        return out[0], out[1]

    def _transfer_targets(self, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                          ) -> tuple[np.ndarray, ProgramResult]:
        """Burr et al. 2015: RESET both devices of a pair whose larger device exceeds
        pcm_refresh_fraction x the programming maximum and reprogram its weight (as read)
        into one of them; other pairs are left alone.  The polarity never changes."""
        F = self.config.gain_f
        full = np.flatnonzero(np.maximum(gp, gm) > self.config.pcm_refresh_fraction * self.g_cap)
        t_pair = F * (gp - gm)
        t_pair.ravel()[full] = pair.ravel()[full]
        gp0, gm0 = gp.copy(), gm.copy()
        gp0.ravel()[full] = self.pcm.g_reset[self.dev_p.ravel()[full]]
        gm0.ravel()[full] = self.pcm.g_reset[self.dev_m.ravel()[full]]
        self.gp.ravel()[full], self.gm.ravel()[full] = gp0.ravel()[full], gm0.ravel()[full]
        self.tp.ravel()[full] = self.tm.ravel()[full] = self.time_seconds
        self.nup.ravel()[full] = self.pcm.nu_at(self.dev_p.ravel()[full], gp0.ravel()[full])
        self.num.ravel()[full] = self.pcm.nu_at(self.dev_m.ravel()[full], gm0.ravel()[full])
        self.counters["pcm_reset_pulses"] += 2 * int(full.size)
        return t_pair, self._program_pairs(t_pair, gp0, gm0, idx=full)

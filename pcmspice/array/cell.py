"""The full 2PCM + 3T1C weight model (``ArrayConfig(mode="cell")``), IBM 2018.

W = [F (G+ - G-) + p (g(Vc) - g_shared(Vref))] / spu, composed of the
:class:`~pcmspice.array.pcm_pair.PcmPairs` and the
:class:`~pcmspice.array.capacitors.Capacitors`.  Updates are pulses on the 3T1C
capacitor; a weight-direction count n becomes p n pulses of g (+ up, - down).
Vc leaks toward its equilibrium over hardware time.  Its transfer
(:class:`~pcmspice.array.transfer.MoveToPcm`) moves g - g_shared into the PCM pair
by closed-loop programming, resets every Vc to v_start and inverts p.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.array.cache import WeightCache
from pcmspice.array.capacitors import _NONE32, Capacitors, compiled_kernel
from pcmspice.array.pcm_pair import PcmPairs
from pcmspice.array.quantize import every_cell

_Array = Any   # a pcmspice.array.crossbar.AnalogArray (that module imports this one)


class CellWeights:
    """The full cell's weight model: PCM pair + 3T1C g, references g_shared shared by
    ``cells_per_reference`` cells along a row, polarity p, leakage."""

    mode = "cell"

    def __init__(self, pairs: PcmPairs, capacitors: Capacitors):
        self.pairs, self.capacitors = pairs, capacitors
        self.spu = pairs.spu
        self.dw_nominal = capacitors.dw_nominal
        self.kernel = capacitors.kernel

    # ------------------------------------------------------------ the cache
    def rebuild_w(self, cache: WeightCache, polarity: int) -> None:
        """W = wbase + (p / spu) g(Vc), with wbase = F (G+ - G-) / spu - (p / spu) g_shared
        kept (float32) so that a pulse rewrites only its cells' entries.  The copy the MACs
        use is float32 (the cell's own precision is far coarser); every entry is recomputed
        from float64 state, never accumulated, so no rounding error builds up."""
        caps = self.capacitors
        wbase = self.pairs.pcm_w - (polarity / self.spu) * caps.gref_exp
        cache.wbase = wbase.astype(np.float32)
        cache.w = (wbase + (polarity / self.spu) * caps.g).astype(np.float32)

    def drift_w(self, cache: WeightCache, polarity: int) -> None:
        """W after a drift refresh moved only the PCM part: the 3T1C part p g(Vc) / spu is
        taken from the cache (W - wbase, float32: an error of an ulp of W, not accumulated
        past the next full rebuild, which every leak flush and transfer makes)."""
        g_part = cache.w.astype(np.float64) - cache.wbase
        wbase = self.pairs.pcm_w - (polarity / self.spu) * self.capacitors.gref_exp
        cache.wbase = wbase.astype(np.float32)
        cache.w = (wbase + g_part).astype(np.float32)

    def rebuild_var(self, cache: WeightCache) -> None:
        self.capacitors.rebuild_var(cache, self.pairs.pcm_var)

    def read_weights(self, now: float, polarity: int) -> np.ndarray:
        gp, gm = self.pairs.effective(now)
        w = self.pairs.weight(gp, gm)
        return w + (polarity / self.spu) * self.capacitors.g_diff_exact()

    def initial_target(self, w_siemens: np.ndarray, polarity: int) -> np.ndarray:
        """g starts at v_start: the pair holds the rest."""
        caps = self.capacitors
        return w_siemens - polarity * (caps.g0 - caps.gref0_exp)

    # ------------------------------------------------------------ pulses
    def pulse(self, arr: _Array, flat: np.ndarray, counts: np.ndarray) -> None:
        """Weight-direction counts: p n pulses of g."""
        arr._count_pulses(*self.capacitors.pulse(flat, counts * arr.polarity, arr.cache, arr.polarity))

    def update(self, arr: _Array, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """The compiled kernel takes the candidates of the quantizer, in the same order, with
        the same uniforms (pulse_counts + apply_pulses without their temporaries)."""
        caps = self.capacitors
        if caps.kernel != "numba":
            return arr._update_with_pulses(x, delta, lr)
        x = np.asarray(x)
        delta = np.asarray(delta)
        every = every_cell(x, delta)
        n_cand = x.size * delta.size if every else np.count_nonzero(x) * np.count_nonzero(delta)
        if n_cand == 0:
            return 0
        cfg = arr.config
        u = arr.quantizer.uniform(n_cand) if cfg.rounding == "stochastic" else _NONE32
        d = (delta * (-lr / self.dw_nominal)).astype(np.float32)
        p = arr.polarity
        return arr._count_pulses(*compiled_kernel().update_cells(
            x, delta, x.astype(np.float32), d, every, u, cfg.max_pulses_per_example, p,
            caps.flat_buf, caps.count_buf, *caps.kernel_state(arr.cache.fresh(), p)))

    # ------------------------------------------------------------ time
    def idle(self, seconds: float) -> bool:
        return self.capacitors.leak(seconds)

    def after_examples(self, n_examples: int) -> bool:
        return self.capacitors.add_examples(n_examples)

    def before_transfer(self) -> bool:
        """The leakage still pending is applied before a transfer reads g."""
        return self.capacitors.flush_leak()

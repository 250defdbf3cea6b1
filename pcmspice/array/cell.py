"""The full 2PCM + 3T1C weight model (``ArrayConfig(mode="cell")``), IBM 2018.

W = [F (G+ - G-) + p (g(Vc) - g_shared(Vref))] / spu.  Updates are pulses on
the 3T1C capacitor: each moves Vc by the cell's LUT step at its present Vc
(so n pulses are n successive, state-dependent steps); a weight-direction
count n becomes p n pulses of g (+ up, - down).  Vc leaks toward its
equilibrium over hardware time.  A transfer moves g - g_shared into the PCM
pair by closed-loop programming, resets every Vc to v_start and inverts p.
The pulses run in the compiled kernel or the numpy reference (see "Kernels"
in :mod:`pcmspice.array.crossbar`).
"""
from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from pcmspice.array.layer import CapacitorVolts, TransferReport
from pcmspice.array.pcm import ProgramResult
from pcmspice.array.pcm_pair import PcmPairArray, _every_cell
from pcmspice.array.tables import RowTable, leak_flow_map, leak_substeps, leak_time_constant_seconds
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import LutSet

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


class CellArray(PcmPairArray, mode="cell"):
    """The full cell: PCM pair + 3T1C g, references g_shared shared by
    ``cells_per_reference`` cells along a row, polarity p, leakage."""

    def _build(self, luts: LutSet | None, assignment: dict[str, np.ndarray], kernel: str) -> None:
        super()._build(luts, assignment, kernel)
        self._select_kernel(kernel)

    # ------------------------------------------------------------------ set-up
    def _setup_model(self, luts: LutSet, g_reset_med: float) -> None:
        cfg, (n_out, n_in) = self.config, self.shape
        cell = luts.cell
        self._pending_leak = 0
        self.vc_before_last_transfer: np.ndarray | None = None
        self.cell = cell
        self.n_ref = -(-n_in // cfg.cells_per_reference)
        ra = self._rng_assign
        self.cell_idx = self._assign("lut_cell", ra, cell.n_cells, self.shape)
        self.ref_idx = self._assign("lut_cell_shared", ra, cell.n_cells, (n_out, self.n_ref))
        self._g_tab = RowTable(cell.vc_volts, cell.g_siemens)
        self._sg_tab = self._g_noise_table()
        self._gref_var_exp = self._var_base = _NONE64
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
        every = cfg.leak_every_examples
        self.leak_every = every if every is not None else self._auto_leak_every()

    def _g_noise_table(self) -> RowTable | None:
        """The 3T1C read noise as a table of sigma_g / spu over (cell, Vc): the cell LUT's
        g read_noise_rel at its grid points (or ``g_read_noise_rel`` g, when set),
        interpolated linearly in Vc; None without 3T1C read noise."""
        cfg, cell = self.config, self.cell
        rel_g = cfg.g_read_noise_rel
        rel = cell.read_noise_rel if rel_g is None else np.full(cell.g_siemens.shape, rel_g)
        if not cfg.read_noise or not np.any(rel > 0):
            return None
        return RowTable(cell.vc_volts, cell.g_siemens * rel / self.spu)

    def _select_kernel(self, kernel: str) -> None:
        """Set :attr:`kernel` and the compiled kernel's buffers and tables."""
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
            self._sg_pairs = _NONE64 if self._sg_tab is None else pairs(self._sg_tab.lo, self._sg_tab.slope)
        elif kernel == "numba":
            raise ConfigError(f"kernel 'numba' is unavailable: {why}; use kernel 'numpy' or 'auto'")

    def _auto_leak_every(self) -> int:
        """Examples per leakage chunk, K.

        During training, leakage is applied to the whole array every K
        examples (one flow-map look-up over K x time_per_example of leakage,
        exact for that interval); in between, forward passes see W as it was
        at the last chunk.  Leakage is a relaxation of every Vc toward its
        equilibrium with the leak time constant tau (see
        :func:`~pcmspice.array.tables.leak_time_constant_seconds`), so delaying its
        effect by at most K examples changes the decayed amount at any time by
        a relative error of at most K t / tau.  K is chosen so that this is
        <= 2 % for the fastest-leaking 10 % of the LUT cells:
        K = floor(tau_10% / (50 t leak_scale)), clipped to [1, 1000].
        Pulses in between act on Vc values that are stale by the same
        amount: second order, since the step size varies slowly with Vc.
        """
        tau = leak_time_constant_seconds(self.cell)
        tau = tau[np.isfinite(tau)]
        if tau.size == 0 or self.config.leak_scale == 0:
            return 1000
        t = self.config.time_per_example_seconds * self.config.leak_scale
        k = float(np.percentile(tau, 10)) / (50.0 * t)
        return int(np.clip(np.floor(k), 1, 1000))

    # ------------------------------------------------------------ weight read
    def _refresh_var(self) -> None:
        """PCM pair variance (cached at the last drift refresh) + the 3T1C's: var = (pcm_var +
        (sigma_g_shared / spu)^2) + (sigma_g / spu)^2 per cell, float32 (None: no read noise)."""
        if self._sg_tab is None:
            super()._refresh_var()
            return
        if self._pcm_var is None:
            self._pcm_var = np.zeros(self.shape)
        sr = self._sg_tab(self._off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self._gref_var_exp = self._expand_ref(sr * sr).reshape(-1)
        self._var_base = self._pcm_var.reshape(-1) + self._gref_var_exp    # all but g's (a pulse rewrites g's)
        sg = self._sg_tab(self._off, self.vc.reshape(-1))
        self._var = (self._var_base + sg * sg).astype(np.float32).reshape(self.shape)

    def _g_sigma_siemens(self) -> np.ndarray:
        """Std (S) of one read of g - g_shared for every cell (the 3T1C read path)."""
        sg = self._sg_tab(self._off, self.vc.reshape(-1))
        return self.spu * np.sqrt(sg * sg + self._gref_var_exp).reshape(self.shape)

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
        g_shared kept (float32) so that a pulse rewrites only its cells' entries.
        The copy the MACs use is float32 (the cell's own precision is far
        coarser); every entry is recomputed from float64 state, never
        accumulated, so no rounding error builds up."""
        wbase = self._pcm_w - (self.polarity / self.spu) * self._gref_exp
        self._wbase = wbase.astype(np.float32)
        w = wbase + (self.polarity / self.spu) * (self.g if g is None else g)
        self._w = w.astype(np.float32)

    def _refresh_w_drift(self) -> None:
        """W after a drift refresh moved only the PCM part: the 3T1C part p g(Vc) / spu is
        taken from the cache (W - wbase, float32: an error of an ulp of W, not accumulated
        past the next full refresh, which every leak flush and transfer makes)."""
        g_part = self._w.astype(np.float64) - self._wbase
        wbase = self._pcm_w - (self.polarity / self.spu) * self._gref_exp
        self._wbase = wbase.astype(np.float32)
        self._w = (wbase + g_part).astype(np.float32)

    def read_weights(self) -> np.ndarray:
        w = super().read_weights()
        g = self.cell.g(self.cell_idx.ravel(), self.vc.ravel()).reshape(self.shape)
        gref = self.cell.g(self.ref_idx.ravel(), self.vref.ravel()).reshape(self.vref.shape)
        return w + (self.polarity / self.spu) * (g - self._expand_ref(gref))

    def capacitor_volts(self) -> CapacitorVolts:
        return CapacitorVolts(self.vc, self.vref, self.vc_before_last_transfer, self.v_lo, self.v_hi, self.v_start)

    # ---------------------------------------------------------------- updates
    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        if self.kernel == "numba":
            return self._update_compiled(x, delta, lr)
        return super().update(x, delta, lr)

    def _pulse(self, flat: np.ndarray, counts: np.ndarray) -> None:
        self._pulse_cells(flat, counts * self.polarity)

    def _kernel_state(self) -> tuple:
        """The compiled pulse kernel's arguments after the pulse list: state views and tables."""
        st = self._step_tab
        if self._sg_tab is not None:
            var, var_base = self._var.reshape(-1), self._var_base
        else:
            var, var_base = _NONE32, _NONE64
        return (self.vc.reshape(-1), self._off, self._step_pairs, self._down_shift, self._gw_pairs[self.polarity],
                st.inv_step, st.x0 * st.inv_step, self._wbase.reshape(-1), self._w.reshape(-1),
                var, var_base, self._sg_pairs)

    def _update_compiled(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        """update() with the compiled kernel: :meth:`pulse_counts` (the kernel takes the
        candidates of :meth:`_candidates`, in the same order, with the same uniforms) +
        :meth:`apply_pulses`, without their temporaries."""
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
        if self._sg_tab is not None:
            sg = self._sg_tab.inrange(off, vc)            # sigma_g / spu
            self._var.reshape(-1)[flat] = self._var_base[flat] + sg * sg
        return n_up, total - n_up

    # ------------------------------------------------------------ time, leak
    def _idle(self, seconds: float) -> None:
        """Idle time (the clock has moved): the leakage still pending from earlier examples,
        then every Vc (cells and references) leaks for ``seconds`` (x leak_scale) with the
        LUT's RK2 integrator :meth:`CellLut.leak`; the PCMs drift."""
        self._flush_leak()
        s = seconds * self.config.leak_scale
        if s > 0:
            n = leak_substeps(self.cell, s)
            self.vc = self.cell.leak(self.cell_idx.ravel(), self.vc.ravel(), s, substeps=n).reshape(self.shape)
            self.vref = self.cell.leak(self.ref_idx.ravel(), self.vref.ravel(), s,
                                       substeps=n).reshape(self.vref.shape)
            self._refresh_g()
        super()._idle(seconds)

    def _refresh_g(self) -> None:
        """After every Vc moved: g_shared, the variances and W (the PCM part as cached)."""
        g = self.g
        self.gref = self._g_tab(self._off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self._gref_exp = self._expand_ref(self.gref)
        self._refresh_var()
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
        if n == 0 or self.config.leak_scale == 0:
            return
        flow = self._flow(n)
        self.vc = flow(self._off, self.vc.ravel()).reshape(self.shape)
        self.vref = flow(self._off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self._refresh_g()

    def _after_examples(self, n_examples: int) -> TransferReport | None:
        self._pending_leak += n_examples
        if self._pending_leak >= self.leak_every:
            self._flush_leak()
        return super()._after_examples(n_examples)

    # --------------------------------------------------------------- transfer
    def _initial_pair_target(self, w_siemens: np.ndarray) -> np.ndarray:
        """g starts at v_start: the pair holds the rest."""
        return w_siemens - self.polarity * (self._g0 - self._gref0_exp)

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

    def _transfer(self) -> TransferReport:
        """Move g - g_shared into the PCM pair, reset g, flip the polarity (after the
        leakage still pending)."""
        self._flush_leak()
        return super()._transfer()

    def _transfer_targets(self, pair: np.ndarray, gp: np.ndarray, gm: np.ndarray
                          ) -> tuple[np.ndarray, ProgramResult]:
        """Read g - g_shared (with read noise), form the PCM target
        W - p_next (g(v_start) - g_shared(v_start)) with the offset scheme, reset every
        Vc and Vref to v_start, invert p (unless polarity inversion is off) and program
        the pairs closed-loop."""
        gdiff = self.g - self._gref_exp
        if self._sg_tab is not None:
            gdiff = gdiff + self._g_sigma_siemens() * self._rng_noise.standard_normal(self.shape)
        self.vc_before_last_transfer = self.vc.copy()
        p_next = -self.polarity if self.config.polarity_inversion else self.polarity
        t_pair = self._offset(pair + self.polarity * gdiff - p_next * (self._g0 - self._gref0_exp), p_next)
        self.vc[...] = self.v_start
        self.vref[...] = self.v_start
        self.gref = self._gref0.copy()
        self._gref_exp = self._gref0_exp.copy()
        self.polarity = p_next
        return t_pair, self._program_pairs(t_pair, gp, gm)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, np.ndarray]:
        out = super().state()
        out.update(vc_volts=self.vc.copy(), vref_volts=self.vref.copy(), g_siemens=self.g.copy(),
                   g_shared_siemens=self.gref.copy(), lut_cell=self.cell_idx.copy(),
                   lut_cell_shared=self.ref_idx.copy())
        return out

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "leak_every_examples": self.leak_every}

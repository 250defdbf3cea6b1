"""The 3T1C capacitor cells of the full cell: g(Vc) of every cell and of the shared references,
state-dependent pulses, leakage and the read noise of g.

Every array position has a 3T1C cell (a row of the cell LUT), and every ``cells_per_reference``
cells along a row share one g_shared reference (also a LUT row).  A pulse moves Vc by the cell's
LUT step at its present Vc (n pulses are n successive, state-dependent steps); Vc leaks toward its
equilibrium over hardware time.  The pulses run in the compiled kernel
(:mod:`pcmspice.array.kernel`) or the numpy reference, with the same results (see "Kernels" in
:mod:`pcmspice.array.crossbar`); a pulse rewrites its cells' entries of the
:class:`~pcmspice.array.cache.WeightCache` in place.
"""
from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from pcmspice.array import options
from pcmspice.array.cache import WeightCache, check_version
from pcmspice.array.config import ArrayConfig
from pcmspice.array.layer import CapacitorVolts
from pcmspice.array.pcm_pair import Assign
from pcmspice.array.tables import RowTable, leak_flow_map, leak_substeps, leak_time_constant_seconds
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import CellLut

VERSION = 1
_NONE32, _NONE64 = np.zeros(0, np.float32), np.zeros(0)   # "no such array" for the compiled kernel


@cache
def compiled_kernel() -> ModuleType | None:
    """:mod:`pcmspice.array.kernel`, or None without numba (imported on first use: numba
    takes ~0.5 s to import)."""
    try:
        from pcmspice.array import kernel as array_kernel
    except ImportError:
        return None
    return array_kernel


class Capacitors:
    """The 3T1C cells g and their references g_shared (module docstring).

    ``spu`` turns siemens into weight units (the pulse tables hold p g / spu);
    ``kernel`` is one of ``KERNELS`` of :mod:`pcmspice.array.crossbar`.
    """

    def __init__(self, cell: CellLut, config: ArrayConfig, shape: tuple[int, int], spu: float,
                 assign: Assign, kernel: str = "auto"):
        cfg, (n_out, n_in) = config, shape
        self.config, self.shape, self.spu, self.cell = config, shape, spu, cell
        self.pending_leak = 0
        self.vc_before_last_transfer: np.ndarray | None = None
        self.n_ref = -(-n_in // cfg.cells_per_reference)
        self.cell_idx = assign("lut_cell", cell.n_cells, shape)
        self.ref_idx = assign("lut_cell_shared", cell.n_cells, (n_out, self.n_ref))
        self.g_tab = RowTable(cell.vc_volts, cell.g_siemens)
        self.sg_tab = self._g_noise_table()
        up, down = self.steps()
        self.step_tab = RowTable(cell.vc_volts, np.vstack([up, down]))
        self.down_shift = cell.n_cells * cell.vc_volts.size
        # int32 offsets and a float32 wbase halve the memory the per-pulse gathers touch
        self.off = self.g_tab.offsets(self.cell_idx).ravel().astype(np.int32)
        self.off_ref = self.g_tab.offsets(self.ref_idx).ravel().astype(np.int32)
        self.v_lo, self.v_hi = float(cell.vc_volts[0]), float(cell.vc_volts[-1])
        self.v_start = float(cell.v_start_volts)
        self.vc = np.full(shape, self.v_start)
        self.vref = np.full((n_out, self.n_ref), self.v_start)
        self.g0 = self.g_tab(self.off, self.vc.ravel()).reshape(shape)
        self.gref0 = self.g_tab(self.off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self.gref = self.gref0.copy()
        self.gref0_exp = self.expand_ref(self.gref0)
        self.gref_exp = self.gref0_exp.copy()
        self.dw_nominal = self._nominal_step() / spu
        if not self.dw_nominal > 0:
            raise LutError("the cell LUT gives no conductance change per pulse at v_start "
                           f"({cell.v_start_volts} V): g is flat there")
        self._flow_cache: dict[int, RowTable] = {}
        # p g / spu per polarity: a pulse's weight update is one look-up
        self.gw_tab = {p: RowTable(cell.vc_volts, cell.g_siemens * (p / spu)) for p in (1, -1)}
        every = options.leak_every_examples(cfg)
        self.leak_every = every if every is not None else self._auto_leak_every()
        self.kernel = "numpy"
        self._select_kernel(kernel)

    # ------------------------------------------------------------------ set-up
    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(up, down) Vc step of one pulse at every grid voltage of every LUT cell, (n_cells, n_vc):
        the LUT's, clipped at the rails (the grid ends), so Vc stays on the grid after any
        number of steps and needs no clamping."""
        cell, v = self.cell, self.cell.vc_volts
        return (np.minimum(cell.dv_up_volts, v[-1] - v[None, :]),
                np.maximum(cell.dv_down_volts, v[0] - v[None, :]))

    def _nominal_step(self) -> float:
        """The median cell's mean |dg| of one up and one down pulse at v_start (S)."""
        cell = self.cell
        v0 = np.full(cell.n_cells, self.v_start)
        rows = np.arange(cell.n_cells)
        g_0 = cell.g(rows, v0)
        dg_up = cell.g(rows, v0 + cell.step_up(rows, v0)) - g_0
        dg_dn = g_0 - cell.g(rows, v0 + cell.step_down(rows, v0))
        return float(np.median(0.5 * (dg_up + dg_dn)))

    def _g_noise_table(self) -> RowTable | None:
        """The 3T1C read noise as a table of sigma_g / spu over (cell, Vc): the cell LUT's
        g read_noise_rel at its grid points (or a constant ``g_read_noise_rel`` g, when set),
        interpolated linearly in Vc; None without 3T1C read noise."""
        cfg, cell = self.config, self.cell
        const = options.g_read_noise_rel(cfg)
        rel = cell.read_noise_rel if const is None else np.full(cell.g_siemens.shape, const)
        if not cfg.read_noise or not np.any(rel > 0):
            return None
        return RowTable(cell.vc_volts, cell.g_siemens * rel / self.spu)

    def _select_kernel(self, kernel: str) -> None:
        """Set :attr:`kernel` and the compiled kernel's buffers and tables."""
        if kernel == "numpy":
            return
        kern = compiled_kernel()
        why = ("numba is not installed" if kern is None else
               None if self.step_tab.uniform else "the cell LUT's Vc grid is not uniform")
        if why is None:
            self.kernel = "numba"
            # quantize() writes an update's pulses here (at most one per cell)
            self.flat_buf = np.empty(self.shape[0] * self.shape[1], np.int64)
            self.count_buf = np.empty_like(self.flat_buf)
            pairs = kern.lut_pairs
            self.step_pairs = pairs(self.step_tab.lo, self.step_tab.slope)
            self.gw_pairs = {p: pairs(t.lo, t.slope) for p, t in self.gw_tab.items()}
            self.sg_pairs = _NONE64 if self.sg_tab is None else pairs(self.sg_tab.lo, self.sg_tab.slope)
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

    # ------------------------------------------------------------ reads
    def expand_ref(self, a: np.ndarray) -> np.ndarray:
        """A (n_out, n_ref) reference quantity on every cell of its group."""
        k = self.config.cells_per_reference
        return np.ascontiguousarray(np.repeat(a, k, axis=1)[:, : self.shape[1]]) if k > 1 else a

    @property
    def g(self) -> np.ndarray:
        """g(Vc) of every cell (S), from the present Vc."""
        return self.g_tab(self.off, self.vc.reshape(-1)).reshape(self.shape)

    def g_diff_exact(self) -> np.ndarray:
        """g - g_shared of every cell (S) from the cell LUT directly (no table, no cache)."""
        g = self.cell.g(self.cell_idx.ravel(), self.vc.ravel()).reshape(self.shape)
        gref = self.cell.g(self.ref_idx.ravel(), self.vref.ravel()).reshape(self.vref.shape)
        return g - self.expand_ref(gref)

    def ref_var_exp(self) -> np.ndarray:
        """(sigma_g_shared / spu)^2 of every cell's reference, flat."""
        sr = self.sg_tab(self.off_ref, self.vref.ravel()).reshape(self.vref.shape)
        return self.expand_ref(sr * sr).reshape(-1)

    def rebuild_var(self, cache: WeightCache, pcm_var: np.ndarray | None) -> None:
        """The cache's variances: var = (pcm_var + (sigma_g_shared / spu)^2) + (sigma_g / spu)^2
        per cell, float32 (None: no read noise)."""
        if self.sg_tab is None:
            cache.var = None if pcm_var is None else pcm_var.astype(np.float32)
            return
        if pcm_var is None:
            pcm_var = np.zeros(self.shape)
        cache.var_base = pcm_var.reshape(-1) + self.ref_var_exp()   # all but g's (a pulse rewrites g's)
        sg = self.sg_tab(self.off, self.vc.reshape(-1))
        cache.var = (cache.var_base + sg * sg).astype(np.float32).reshape(self.shape)

    def g_sigma_siemens(self) -> np.ndarray:
        """Std (S) of one read of g - g_shared for every cell (the 3T1C read path)."""
        sg = self.sg_tab(self.off, self.vc.reshape(-1))
        return self.spu * np.sqrt(sg * sg + self.ref_var_exp()).reshape(self.shape)

    def volts(self) -> CapacitorVolts:
        return CapacitorVolts(self.vc, self.vref, self.vc_before_last_transfer, self.v_lo, self.v_hi, self.v_start)

    # ------------------------------------------------------------ pulses
    def kernel_state(self, cache: WeightCache, polarity: int) -> tuple:
        """The compiled pulse kernel's arguments after the pulse list: state views and tables."""
        st = self.step_tab
        if self.sg_tab is not None:
            var, var_base = cache.var.reshape(-1), cache.var_base
        else:
            var, var_base = _NONE32, _NONE64
        return (self.vc.reshape(-1), self.off, self.step_pairs, self.down_shift, self.gw_pairs[polarity],
                st.inv_step, st.x0 * st.inv_step, cache.wbase.reshape(-1), cache.w.reshape(-1),
                var, var_base, self.sg_pairs)

    def pulse(self, flat: np.ndarray, cell_n: np.ndarray, cache: WeightCache, polarity: int) -> tuple[int, int]:
        """Pulses (cell direction) on the cells ``flat``, each listed once, with the selected
        kernel, writing their entries of the (fresh) cache; returns the (up, down) totals."""
        if self.kernel == "numba":
            return compiled_kernel().pulse_cells(flat, cell_n, *self.kernel_state(cache, polarity))
        return self.pulse_numpy(flat, cell_n, cache, polarity)

    def pulse_numpy(self, flat: np.ndarray, cell_n: np.ndarray, cache: WeightCache, polarity: int
                    ) -> tuple[int, int]:
        """The numpy reference of the pulses (every step a pass over the cells still
        pulsing); returns the (up, down) pulse totals."""
        up = cell_n > 0
        off = self.off[flat]
        soff = np.where(up, off, off + np.int32(self.down_shift))
        vcf = self.vc.reshape(-1)
        vc = vcf[flat]                          # every Vc lies on the LUT grid span
        vc += self.step_tab.inrange(soff, vc)
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
                v[:m] += self.step_tab.inrange(so[:m], v[:m])
            vc[idx] = v
        vcf[flat] = vc
        w = self.gw_tab[polarity].inrange(off, vc)      # p g(Vc) / spu
        w += cache.wbase.reshape(-1)[flat]
        cache.w.reshape(-1)[flat] = w
        n_up = (total + int(cell_n.sum())) // 2
        if self.sg_tab is not None:
            sg = self.sg_tab.inrange(off, vc)            # sigma_g / spu
            cache.var.reshape(-1)[flat] = cache.var_base[flat] + sg * sg
        return n_up, total - n_up

    # ------------------------------------------------------------ leakage
    def leak(self, seconds: float) -> bool:
        """The leakage still pending from earlier examples, then every Vc (cells and references)
        leaks for ``seconds`` (x leak_scale) with the LUT's RK2 integrator; whether Vc moved."""
        moved = self.flush_leak()
        s = seconds * self.config.leak_scale
        if s > 0:
            n = leak_substeps(self.cell, s)
            self.vc = self.cell.leak(self.cell_idx.ravel(), self.vc.ravel(), s, substeps=n).reshape(self.shape)
            self.vref = self.cell.leak(self.ref_idx.ravel(), self.vref.ravel(), s,
                                       substeps=n).reshape(self.vref.shape)
            self._refresh_ref()
            moved = True
        return moved

    def add_examples(self, n_examples: int) -> bool:
        """``n_examples`` examples of leakage, applied in chunks of :attr:`leak_every`; whether Vc moved."""
        self.pending_leak += n_examples
        return self.pending_leak >= self.leak_every and self.flush_leak()

    def flush_leak(self) -> bool:
        """Apply the leakage of the examples since the last chunk (one flow-map look-up); whether Vc moved."""
        n, self.pending_leak = self.pending_leak, 0
        if n == 0 or self.config.leak_scale == 0:
            return False
        flow = self._flow(n)
        self.vc = flow(self.off, self.vc.ravel()).reshape(self.shape)
        self.vref = flow(self.off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self._refresh_ref()
        return True

    def _refresh_ref(self) -> None:
        """g_shared after every Vref moved."""
        self.gref = self.g_tab(self.off_ref, self.vref.ravel()).reshape(self.vref.shape)
        self.gref_exp = self.expand_ref(self.gref)

    def _flow(self, n_examples: int) -> RowTable:
        tab = self._flow_cache.get(n_examples)
        if tab is None:
            s = n_examples * self.config.time_per_example_seconds * self.config.leak_scale
            tab = RowTable(self.cell.vc_volts, leak_flow_map(self.cell, s))
            if len(self._flow_cache) < 8:
                self._flow_cache[n_examples] = tab
        return tab

    def reset(self) -> None:
        """Every Vc and Vref back to v_start (a transfer); the Vc before it is kept for plots."""
        self.vc_before_last_transfer = self.vc.copy()
        self.vc[...] = self.v_start
        self.vref[...] = self.v_start
        self.gref = self.gref0.copy()
        self.gref_exp = self.gref0_exp.copy()

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Vc, Vref, the pending leakage and the Vc before the last transfer (the rows are redrawn)."""
        return {"version": VERSION, "vc": self.vc.copy(), "vref": self.vref.copy(),
                "pending_leak": int(self.pending_leak),
                "vc_before_last_transfer": None if self.vc_before_last_transfer is None
                else self.vc_before_last_transfer.copy()}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        check_version("capacitors", st, VERSION)
        self.vc, self.vref = st["vc"].copy(), st["vref"].copy()
        self.pending_leak = int(st["pending_leak"])
        v = st["vc_before_last_transfer"]
        self.vc_before_last_transfer = None if v is None else v.copy()
        self._refresh_ref()

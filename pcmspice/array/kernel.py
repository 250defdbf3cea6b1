"""Compiled (numba) pulse kernels of the full cell.

:class:`~pcmspice.array.cell.CellWeights` (mode ``cell``) spends most of a
training example on its update: quantizing dW = -lr delta x^T into pulse
counts over the coincident cells (:meth:`~pcmspice.array.quantize.PulseQuantizer.pulse_counts`),
then stepping every pulsed cell's Vc through the LUT, one step per pulse at
the present Vc, and rewriting its cached weight (and read-noise variance)
(:meth:`~pcmspice.array.capacitors.Capacitors.pulse_numpy`).  In numpy that is
~30 passes over temporaries the size of the candidate or pulse set (tens of
thousands of entries per example) and a Python loop over the pulse number.
Here it is two compiled loops (:func:`update_cells` runs both in one call),
whose only scratch arrays are one row or one pulse list long:

:func:`quantize`
    for every candidate (rows[i], cols[j]) the weight-direction count
    n = clip(floor(d_i x_j + u_ij), -m, m) (or rint); the non-zero ones are
    written to preallocated buffers as (flat index, cell-direction count p n).
:func:`pulse_cells`
    for every (flat index, count n): |n| successive LUT steps of that
    cell's Vc, each at its present Vc, then its W cache entry and (with g
    read noise) its variance entry rewritten.

Equivalence with the numpy path.  The results are bit-for-bit those of the
numpy reference (``kernel="numpy"``, kept in pcmspice.array.capacitors and tested
against this one in tests/test_array.py), because every value goes through
the same IEEE operations in the same order:

* the counts: d and x are the same float32 vectors (made by the array
  before the call), d_i x_j is one float32 product as in
  ``np.multiply.outer``, u_ij is the same uniform (the same window of the
  same pool, consumed in the same row-major candidate order), added in
  float32, then floor (or rint, round half to even) and the clip, in float;
  the pulses come out in the same (row-major) order;
* a look-up is :meth:`pcmspice.array.tables.RowTable.inrange`'s arithmetic
  on a uniform grid: pos = x inv_step - x0 inv_step (float64), i =
  trunc(pos), frac = pos - i, lo[k] + slope[k] frac with k = offset + i;
* a cell's pulses are applied in order t = 1 .. |n| to its own Vc, as the
  numpy loop does (its per-step passes only batch the cells, which are
  independent: each cell appears at most once in a pulse set);
* W = float32(p g(Vc) / spu + float64(wbase)) and
  var = float32(var_base + s s) with s = sigma_g(Vc) / spu looked up like g
  (var_base: the PCM pair's and g_shared's variance), as in numpy.

No fused multiply-add is emitted: numba compiles without fast-math, so
LLVM keeps every multiply and add separately rounded.

Speed (2-core EPYC VM, 784-250-10 on MNIST).  :func:`quantize` takes ~2 ns a
candidate; :func:`pulse_cells` ~12 ns a pulsed cell (its Vc, LUT offset and
W entries and two table look-ups, mostly cache misses) plus ~5 ns for every
further pulse, against ~60 ns a pulse in numpy.  All the per-cell work sits
in the loop bodies: a helper that takes arrays and is called per cell makes
numba reference-count every array argument per call (atomic operations that
cost more than the look-ups), so the only helper, :func:`_locate`, takes
scalars; the two tables of a look-up are interleaved (:func:`lut_pairs`).
"""
from __future__ import annotations

import numba
import numpy as np


def _jit(fn=None, **options):
    """``njit`` with an on-disk cache (``__pycache__`` beside this file, else numba's
    user-wide cache dir), and without one where no cache location is writable:
    numba then compiles on first use in every process."""
    if fn is None:
        return lambda f: _jit(f, **options)
    try:
        return numba.njit(cache=True, nogil=True, **options)(fn)
    except RuntimeError:     # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, **options)(fn)


def lut_pairs(lo: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """A RowTable's ``lo`` and ``slope`` interleaved, (lo, slope) per grid point: one
    look-up then reads one cache line instead of two (the same numbers)."""
    return np.stack([lo, slope], axis=1).ravel()


@_jit(inline="always")
def _locate(offset, x, inv_step, x0_inv_step):
    """(table index k, fraction) of RowTable.inrange for one x on a uniform grid."""
    pos = x * inv_step - x0_inv_step
    i = int(pos)
    return offset + i, pos - i


@_jit
def quantize(x, delta, xf, d, every_cell, u, max_pulses, polarity, flat_out, counts_out):
    """The pulses of the update outer(d, xf) over the candidate cells.

    Candidates: rows with delta != 0 times columns with x != 0, in row-major
    order (every cell if ``every_cell``).  d = float32(-lr delta / dw_nominal)
    and xf = float32(x) are the full vectors; u holds one uniform per candidate
    for stochastic rounding, or is empty for rounding to nearest.  Writes the
    non-zero pulses as flat index (row x.size + col) and cell-direction count
    (polarity x weight-direction count) to the buffers, which must hold one
    entry per candidate; returns how many pulses there are."""
    n_in = x.size
    cols = np.empty(n_in, np.int64)
    nc = 0
    for c in range(n_in):
        cols[nc] = c
        nc += every_cell or x[c] != 0
    xs = np.empty(nc, np.float32)
    for j in range(nc):
        xs[j] = xf[cols[j]]
    m = np.float32(max_pulses)
    t = np.empty(nc, np.float32)               # one row's clipped counts (a loop that vectorizes)
    n = 0
    i = 0
    for r in range(delta.size):
        if not (every_cell or delta[r] != 0):
            continue
        dr = d[r]
        if u.size:
            ui = u[i * nc: (i + 1) * nc]
            for j in range(nc):
                t[j] = min(max(np.floor(dr * xs[j] + ui[j]), -m), m)
        else:
            for j in range(nc):
                t[j] = min(max(np.rint(dr * xs[j]), -m), m)
        base = r * n_in
        for j in range(nc):                    # written always, kept if non-zero: no branch
            flat_out[n] = base + cols[j]
            counts_out[n] = polarity * int(t[j])
            n += t[j] != 0
        i += 1
    return n


@_jit
def pulse_cells(flat, counts, vc, off, step_pairs, down_shift, gw_pairs, inv_step, x0_inv_step,
                wbase, w, var, var_base, sg_pairs):
    """``counts[q]`` (!= 0, cell direction: + up) pulses on cell ``flat[q]``, in place.

    Every cell listed at most once (as in a :class:`~pcmspice.array.crossbar.Pulses`).
    State arrays are the array's flat (C-order) views; tables are
    :func:`lut_pairs`, the step table's up steps first, then (``down_shift``
    grid points on) its down steps.  ``var`` empty: no g read noise, the
    variance is not rewritten; else ``sg_pairs`` is the table of sigma_g / spu
    and ``var_base`` every cell's variance without its g (PCM pair + g_shared).  Returns the (up, down) pulse totals.

    The pulses go in passes, as in numpy: the first pulse of every cell,
    then one more on each cell that has more (a compacted list), and so on.
    A cell's steps are a chain of dependent look-ups; the cells of one pass
    are independent, so the processor overlaps them (~1.4x faster than
    stepping each cell to the end in turn)."""
    n = flat.size
    v = np.empty(n)
    so = np.empty(n, np.int64)
    left = np.empty(n, np.int64)
    active = np.empty(n, np.int64)
    n_up = 0
    n_down = 0
    m = 0
    for q in range(n):                         # first pulses
        c = counts[q]
        f = flat[q]
        s = off[f] if c > 0 else off[f] + down_shift
        k, frac = _locate(s, vc[f], inv_step, x0_inv_step)
        v[q] = vc[f] + (step_pairs[2 * k] + step_pairs[2 * k + 1] * frac)
        so[q] = s
        left[q] = abs(c) - 1
        active[m] = q
        m += left[q] > 0
        n_up += max(c, 0)
        n_down += max(-c, 0)
    while m:                                   # one more pulse on every cell that has more
        m_next = 0
        for a in range(m):
            q = active[a]
            k, frac = _locate(so[q], v[q], inv_step, x0_inv_step)
            v[q] = v[q] + (step_pairs[2 * k] + step_pairs[2 * k + 1] * frac)
            left[q] -= 1
            active[m_next] = q
            m_next += left[q] > 0
        m = m_next
    noise = var.size > 0
    for q in range(n):                         # the new Vc, W and read-noise variance
        f = flat[q]
        vc[f] = v[q]
        k, frac = _locate(off[f], v[q], inv_step, x0_inv_step)
        w[f] = np.float32(gw_pairs[2 * k] + gw_pairs[2 * k + 1] * frac + np.float64(wbase[f]))
        if noise:
            sg = sg_pairs[2 * k] + sg_pairs[2 * k + 1] * frac
            var[f] = np.float32(var_base[f] + sg * sg)
    return n_up, n_down


@_jit
def update_cells(x, delta, xf, d, every_cell, u, max_pulses, polarity, flat_buf, count_buf,
                 vc, off, step_pairs, down_shift, gw_pairs, inv_step, x0_inv_step, wbase, w, var, var_base,
                 sg_pairs):
    """:func:`quantize` into the buffers, then :func:`pulse_cells` on the result: one
    update in one call from Python.  Returns the (up, down) pulse totals."""
    n = quantize(x, delta, xf, d, every_cell, u, max_pulses, polarity, flat_buf, count_buf)
    return pulse_cells(flat_buf[:n], count_buf[:n], vc, off, step_pairs, down_shift, gw_pairs, inv_step,
                       x0_inv_step, wbase, w, var, var_base, sg_pairs)

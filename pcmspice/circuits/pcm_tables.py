"""The PCM lookup table from SPICE: partial-SET step statistics per device and conductance.

Built on the PCM compact model (:mod:`pcmspice.circuits.pcm`); :func:`pcm_lut_arrays` returns
the arrays of :class:`pcmspice.lut.PcmLut`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pcmspice.circuits.c3t1c import Run
from pcmspice.circuits.pcm import (
    _pcm_run,
    draw_variation,
    drift_nu_of_g,
    pcm_params,
    read_noise_rel_of_g,
    run_ops,
    set_train,
)
from pcmspice.core.errors import SpiceError


def _lognormal_nodes(sigma: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights of a lognormal multiplier with mean 1."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return np.exp(sigma * z - 0.5 * sigma ** 2), w / w.sum()


#: crystalline fractions of the map method: K(x) falls steeply, then to zero where the pulse no longer
#: heats the cell into the growth window (x ~ 0.45), so the map needs more states than an exponential would
MAP_STATES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)


def set_step_map(run: Run, var: dict[str, np.ndarray], x_grid: Sequence[float] = MAP_STATES):
    """One nominal partial-SET pulse from each state of ``x_grid``, for every device, without and with a kick.

    Returns (integrated growth rate K (devices, x): without a kick the pulse
    takes x to 1 - (1 - x) exp(-m K) for a rate multiplier m; kick response
    kappa (S, devices, x): the change of dG when the pulse's kick z is 1
    instead of 0 (the model's kick is z s(G), equation 5 of pcm.cir.j2);
    SET energy (devices, x)).  Both are measured in SPICE on the programmed
    (drift-free) conductance G0.  The model's growth term is m k(T)(1 - x), so
    K at m = 1 gives the growth step for any m, and the kick adds z kappa, as
    long as the heating does not depend on the small change of x within one
    pulse (tests check this against full SPICE trains with both noises).
    """
    xs = np.asarray(x_grid, float)
    if xs.ndim != 1 or xs.size < 2 or np.any(np.diff(xs) <= 0) or xs[0] < 0 or xs[-1] >= 1:
        raise SpiceError("x_grid must be increasing, within [0, 1)", value=x_grid)
    n = len(var["gcm"])
    rep = {k: np.repeat(v, 2 * xs.size) for k, v in var.items()}
    x0 = np.tile(np.repeat(xs, 2), n)
    kicks = np.tile([0.0, 1.0], n * xs.size)[:, None]
    r = run_ops(run, rep, [("set",)], x0=x0, kicks=kicks)
    p = r.params
    g1 = r.g0_after_siemens[:, 0].reshape(n, xs.size, 2)
    ga = p["g_amorph_siemens"]
    span = (p["g_cryst_siemens"] * var["gcm"] - ga)[:, None]
    x1 = np.clip((g1[:, :, 0] - ga) / span, 0.0, 1.0)
    frac = np.clip((x1 - xs[None, :]) / (1.0 - xs[None, :]), 0.0, 1.0 - 1e-12)
    kappa = g1[:, :, 1] - g1[:, :, 0]
    energy = r.energy_joules[:, 0].reshape(n, xs.size, 2)[:, :, 0]
    return -np.log1p(-frac), kappa, energy


def _steps_from_map(k_map: np.ndarray, kappa: np.ndarray, xs: np.ndarray, var: dict[str, np.ndarray],
                    p: dict[str, float], g_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of dG on the grid: the growth under the lognormal m (Gauss-Hermite), plus the kick z kappa."""
    m, w = _lognormal_nodes(p["sigma_c2c_rel"])
    n = k_map.shape[0]
    mean = np.zeros((n, g_grid.size))
    std = np.zeros((n, g_grid.size))
    ga = p["g_amorph_siemens"]
    for i in range(n):
        span = p["g_cryst_siemens"] * var["gcm"][i] - ga
        x = np.clip((g_grid - ga) / span, 0.0, 1.0)
        k = np.exp(np.interp(x, xs, np.log(np.maximum(k_map[i], 1e-30))))
        dg = span * (1.0 - x)[:, None] * (1.0 - np.exp(-k[:, None] * m[None, :]))
        mu = dg @ w
        kap = np.interp(x, xs, kappa[i])
        mean[i] = mu
        std[i] = np.sqrt(np.maximum((dg ** 2) @ w - mu ** 2, 0.0) + kap ** 2)
    return mean, std


def _steps_from_trains(g: np.ndarray, g_max: np.ndarray, g_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kernel (Gaussian) regression of the steps of sampled trains onto the G grid.

    ``g``: (devices, cycles, pulses + 1).  Beyond the largest sampled G the
    mean falls linearly to 0 at the device's g_max (soft bound), below the
    smallest it is held.
    """
    n = g.shape[0]
    mean = np.zeros((n, g_grid.size))
    std = np.zeros((n, g_grid.size))
    h = max(1.0e-6, 2.0 * float(np.median(np.diff(g_grid))) if g_grid.size > 1 else 1.0e-6)
    for i in range(n):
        gb = g[i, :, :-1].ravel()
        dg = np.diff(g[i], axis=1).ravel()
        wts = np.exp(-0.5 * ((g_grid[:, None] - gb[None, :]) / h) ** 2) + 1e-300
        mu = (wts @ dg) / wts.sum(axis=1)
        var_ = (wts @ dg ** 2) / wts.sum(axis=1) - mu ** 2
        sd = np.sqrt(np.maximum(var_, 0.0))
        lo, hi = gb.min(), gb.max()
        above = g_grid > hi
        if above.any():
            j = np.argmin(np.abs(g_grid - hi))
            scale = np.clip((g_max[i] - g_grid[above]) / max(g_max[i] - g_grid[j], 1e-12), 0.0, 1.0)
            mu[above] = mu[j] * scale
            sd[above] = sd[j] * scale
        below = g_grid < lo
        if below.any():
            j = np.argmin(np.abs(g_grid - lo))
            mu[below], sd[below] = mu[j], sd[j]
        mean[i] = mu
        std[i] = sd
    return mean, std


def pcm_lut_arrays(run: Run, n_devices: int, seed: int, g_grid_siemens: np.ndarray, n_pulses: int = 20,
                   n_cycles: int = 3, method: str = "map", first: int = 0) -> dict[str, np.ndarray | float]:
    """The keyword arguments of :class:`pcmspice.lut.format.PcmLut` (all but ``provenance``) from SPICE.

    Devices ``first .. first+n_devices-1`` of population ``seed``
    (:func:`draw_variation`).  Partial-SET statistics per device and G grid point:

    * ``method="map"`` (default, fast): every device gets one nominal SET
      pulse from each of six states (:func:`set_step_map`); the mean and
      std of the step under the lognormal cycle-to-cycle multiplier
      (``sigma_c2c_rel``) are then exact expectations (Gauss-Hermite), which
      is what ``n_cycles`` x ``n_pulses`` seeded trains estimate by sampling
      (``n_pulses`` and ``n_cycles`` are used by the trains method only).
    * ``method="trains"``: ``n_cycles`` SPICE trains of RESET + ``n_pulses``
      partial-SET pulses per device with the seeded multipliers stepped per
      pulse, steps regressed onto the grid with a Gaussian kernel.

    Energies: ``e_set`` the mean bit-line + word-line energy of a partial-SET
    pulse over the states visited; ``e_reset`` of a RESET from x = 0.5 (map)
    or from the train's top (trains); ``e_read`` of one read pulse
    (``t_read_pcm_seconds`` at ``v_read_pcm_volts``) at x = 0.5.
    ``g_reset``: G after a RESET; ``g_max``: G of the fully crystalline
    device; ``drift_nu`` the device's exponent; ``read_noise_rel`` the
    ``read_noise_rel`` parameter (the SPICE model has no read noise: 0 unless set).
    """
    if n_devices < 1:
        raise SpiceError(f"n_devices={n_devices} must be at least 1", value=n_devices)
    g_grid = np.asarray(g_grid_siemens, float)
    if g_grid.ndim != 1 or g_grid.size < 2 or np.any(np.diff(g_grid) <= 0):
        raise SpiceError("g_grid_siemens must be a strictly increasing 1-D array of 2 or more points")
    if method not in ("map", "trains"):
        raise SpiceError(f"unknown method '{method}' (map or trains)", value=method)
    run = _pcm_run(run)
    p = pcm_params(run.tech, run.params)
    var = draw_variation(n_devices, seed, first, run.params)
    g_max = p["g_cryst_siemens"] * var["gcm"]
    # a read at x = 0.5, then a RESET from there
    rr = run_ops(run, var, [("read",), ("reset",)], x0=0.5)
    e_read = rr.energy_joules[:, 0]
    e_reset = rr.energy_joules[:, 1]
    g_reset = rr.g0_after_siemens[:, 1]
    if method == "map":
        xs = np.asarray(MAP_STATES)
        k_map, kappa, e_map = set_step_map(run, var, xs)
        mean, std = _steps_from_map(k_map, kappa, xs, var, p, g_grid)
        e_set = e_map.mean(axis=1)
    else:
        g, e_s, e_r = set_train(run, var, n_pulses, seed=seed, n_cycles=n_cycles, first=first)
        mean, std = _steps_from_trains(g, g_max, g_grid)
        e_set = e_s.reshape(n_devices, -1).mean(axis=1)
        e_reset = e_r.mean(axis=1)
        g_reset = g[:, :, 0].mean(axis=1)
    return dict(
        g_grid_siemens=g_grid,
        set_step_mean_siemens=mean,
        set_step_std_siemens=std,
        g_reset_siemens=g_reset,
        g_max_siemens=g_max,
        drift_nu=drift_nu_of_g(g_grid[None, :], var["znu"][:, None], p),
        drift_t0_seconds=float(p["drift_t0_seconds"]),
        read_noise_rel=read_noise_rel_of_g(g_grid, p),
        e_set_joules=e_set,
        e_reset_joules=e_reset,
        e_read_joules=e_read,
    )

"""PCM device operations of the array simulator: read, drift, closed-loop programming.

Programming is the chip's program-and-verify loop, vectorized over devices:

1. verify-read the device (relative read noise ``read_noise_rel(G)`` from the
   PCM LUT, at the device's conductance); if it is within ``tolerance`` of
   the target, stop;
2. if the target is lower than the device by more than the tolerance, RESET
   it (a PCM can only be raised by partial SET; lowering needs amorphisation)
   and program it up from its RESET conductance;
3. apply partial-SET pulses, each a stochastic step drawn from the LUT at
   the device's present conductance (pulse-to-pulse spread: a step may lower G, never below
   the device's RESET level),
   verifying after each; on overshoot (read above target + tolerance) RESET
   and start again;
4. stop after ``max_pulses`` SET pulses (counting every restart): the
   device keeps whatever it reached and is reported as not converged.

Every SET and RESET pulse is counted for the energy model.

A pulse restarts the device's drift clock (even a partial SET erases the drift
history: Boybat et al., NVMTS 2018).  With a settling delay d
(``PcmModel.settle_seconds``, ``ArrayConfig.verify_settle_seconds``) the verify
read after a pulse sees the device d after that pulse, G_pulse ((d + t0) / t0)^-nu,
and the next pulse acts on that drifted G; the result reports each device's age
(d for a device whose last pulse was a SET of the loop) so its clock starts at its
last pulse.  With d = 0 the loop is instantaneous and every clock starts at its end.

Drift: a device programmed to G_prog at time t_p reads
G(t) = G_prog ((t - t_p + t0) / t0)^-nu, with nu = ``drift_nu[device, G_prog]``
(the LUT's exponent at the conductance it was programmed to, fixed until it
is programmed again) and t0 = ``drift_t0_seconds``: the law of the SPICE
model netlists/cells/pcm.cir.j2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcmspice.array.tables import RowTable
from pcmspice.lut.format import PcmLut


class PcmModel:
    """The PCM LUT prepared for fast vectorized use (tables with precomputed row offsets)."""

    def __init__(self, lut: PcmLut):
        self.lut = lut
        self.mean = RowTable(lut.g_grid_siemens, lut.set_step_mean_siemens)
        self.std = RowTable(lut.g_grid_siemens, lut.set_step_std_siemens)
        self.g_reset = np.asarray(lut.g_reset_siemens, dtype=np.float64)
        self.g_max = np.asarray(lut.g_max_siemens, dtype=np.float64)
        self.nu_tab = RowTable(lut.g_grid_siemens, lut.drift_nu)
        self.t0 = float(lut.drift_t0_seconds)
        self.settle_seconds = 0.0      # verify-read delay after each pulse (module docstring)
        self.g_grid = np.asarray(lut.g_grid_siemens, dtype=np.float64)
        self.read_noise_grid = np.asarray(lut.read_noise_rel, dtype=np.float64)
        self.read_noise_max = float(self.read_noise_grid.max(initial=0.0))

    @property
    def n_devices(self) -> int:
        return self.lut.n_devices

    def set_step(self, devices: np.ndarray, g: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """dG (S) of one partial-SET pulse; same law as :meth:`PcmLut.set_step`."""
        off = self.mean.offsets(devices)
        mean = self.mean(off, g)
        if rng is None:
            return mean
        std = self.std(off, g)
        return mean + std * rng.standard_normal(mean.shape)

    @property
    def has_read_noise(self) -> bool:
        return self.read_noise_max > 0

    def read_noise_rel(self, g: np.ndarray) -> np.ndarray:
        """Relative std (std / G) of one read at conductance ``g``: the LUT's per-G column,
        interpolated linearly, its end values held outside the grid."""
        return np.interp(g, self.g_grid, self.read_noise_grid)

    def read_sigma(self, g: np.ndarray) -> np.ndarray:
        """Std (S) of one read of a device at conductance ``g``: G read_noise_rel(G)."""
        g = np.asarray(g, dtype=np.float64)
        return g * self.read_noise_rel(g)

    def read(self, g: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """A verify/inference read: G (1 + read_noise_rel(G) N(0, 1)); exact without ``rng``."""
        if rng is None or not self.has_read_noise:
            return np.asarray(g, dtype=np.float64).copy()
        return g * (1.0 + self.read_noise_rel(g) * rng.standard_normal(np.shape(g)))

    def nu_at(self, devices: np.ndarray, g_programmed: np.ndarray) -> np.ndarray:
        """Drift exponent of ``devices`` programmed to ``g_programmed`` (the LUT's drift_nu row
        of each device, interpolated in G)."""
        return self.nu_tab(self.nu_tab.offsets(devices), g_programmed)

    def drift_factor(self, nu: np.ndarray, seconds_since: np.ndarray) -> np.ndarray:
        """G / G_prog after ``seconds_since`` the end of programming: ((t + t0) / t0)^-nu."""
        return ((np.asarray(seconds_since, dtype=np.float64) + self.t0) / self.t0) ** -np.asarray(nu)

    def drifted(self, g_programmed: np.ndarray, nu: np.ndarray, seconds_since: np.ndarray) -> np.ndarray:
        """Conductance drift G = G_prog ((t + t0) / t0)^-nu, t since the end of programming."""
        return g_programmed * self.drift_factor(nu, seconds_since)


@dataclass
class ProgramResult:
    g_siemens: np.ndarray        # conductance reached (true, not the noisy read)
    set_pulses: np.ndarray       # partial-SET pulses per device
    reset_pulses: np.ndarray     # RESET pulses per device
    converged: np.ndarray        # verify read within tolerance at the end
    #: seconds since each device's last pulse at the end (its drift clock); None: 0 for all
    age_seconds: np.ndarray | None = None


def program(model: PcmModel, devices: np.ndarray, g_now: np.ndarray, target: np.ndarray, *,
            tolerance: float, max_pulses: int, rng: np.random.Generator, read_noise: bool = True
            ) -> ProgramResult:
    """Closed-loop program-and-verify of ``devices`` from ``g_now`` to ``target`` (siemens).

    ``target`` is clipped to what a device can hold: [its RESET conductance,
    its full-SET conductance]; the caller caps it further (programming
    control degrades above ~20 uS).  A device already inside the verify
    window by a margin of 4 sigma of its read noise (sigma = G read_noise_rel(G))
    is passed over without simulating its verify read (it would pass with
    probability > 0.9999).
    """
    devices = np.asarray(devices, dtype=np.int64)
    g = np.array(g_now, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    margin = 4 * model.read_sigma(g) if read_noise and model.has_read_noise else 0.0
    need = np.flatnonzero(np.abs(g - target) > tolerance - margin)
    res = _verify_loop(model, devices[need], g[need], target[need], tolerance=tolerance, max_pulses=max_pulses,
                       rng=rng, read_noise=read_noise)
    g[need] = res.g_siemens
    sets = np.zeros(devices.size, dtype=np.int64)
    resets = np.zeros(devices.size, dtype=np.int64)
    converged = np.ones(devices.size, dtype=bool)
    sets[need], resets[need], converged[need] = res.set_pulses, res.reset_pulses, res.converged
    age = None
    if res.age_seconds is not None:
        age = np.zeros(devices.size)
        age[need] = res.age_seconds
    return ProgramResult(g, sets, resets, converged, age)


def _verify_loop(model: PcmModel, devices: np.ndarray, g_now: np.ndarray, target: np.ndarray, *,
                 tolerance: float, max_pulses: int, rng: np.random.Generator, read_noise: bool
                 ) -> ProgramResult:
    """:func:`program`'s loop over the devices it does not pass over."""
    g = np.array(g_now, dtype=np.float64)
    g_reset = model.g_reset[devices]
    target = np.clip(np.asarray(target, dtype=np.float64), g_reset, model.g_max[devices])
    n = devices.size
    sets = np.zeros(n, dtype=np.int64)
    resets = np.zeros(n, dtype=np.int64)
    read_rng = rng if read_noise else None

    read = model.read(g, read_rng)
    done = np.abs(read - target) <= tolerance
    # too high: only a RESET brings it down
    high = ~done & (read > target)
    g[high] = g_reset[high]
    resets[high] += 1
    done |= high & (np.abs(g_reset - target) <= tolerance)

    settle = model.settle_seconds
    age = np.zeros(n) if settle > 0 else None
    active = np.flatnonzero(~done)
    for _ in range(max_pulses):
        if active.size == 0:
            break
        dv = devices[active]
        g_in = g[active]
        if age is not None:   # the pulse acts on the device as it has drifted since its last pulse
            g_in = model.drifted(g_in, model.nu_at(dv, g_in), age[active])
        # a step may lower G (the calibrated PCM), never below the RESET level nor above full SET
        g_a = np.clip(g_in + model.set_step(dv, g_in, rng), g_reset[active], model.g_max[dv])
        sets[active] += 1
        if age is None:
            r = model.read(g_a, read_rng)
        else:                 # the pulse restarted its clock; the verify read comes d later
            age[active] = settle
            r = model.read(model.drifted(g_a, model.nu_at(dv, g_a), settle), read_rng)
        t_a = target[active]
        over = r > t_a + tolerance
        g_a[over] = g_reset[active][over]
        resets[active[over]] += 1
        if age is not None:   # the RESET restarted the clock; the next SET follows at once
            age[active[over]] = 0.0
        g[active] = g_a
        ok = ~over & (r >= t_a - tolerance)
        active = active[~ok]
    converged = np.ones(n, dtype=bool)
    converged[active] = False
    return ProgramResult(g, sets, resets, converged, age)

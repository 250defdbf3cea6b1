"""The SPICE path: the chip (:class:`~pcmspice.cosim.spice_array.SpiceArray`) with the levels it measured
at the start, its closed-loop PCM programming, its transfer, and the cycle-to-cycle draws it consumes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.transfer import offset_target
from pcmspice.circuits import pcm as pcmmod
from pcmspice.core.errors import ConfigError
from pcmspice.cosim.cells import ArrayCells
from pcmspice.cosim.config import CosimConfig
from pcmspice.cosim.spice_array import SpiceArray
from pcmspice.lut import format as lutmod


class PulseNoise:
    """The per-pulse draws of every device, consumed pulse by pulse by the chip's verify loop:
    cycle-to-cycle growth-rate multipliers m[device, event, pulse] and standard-normal kicks
    z[device, event, pulse] (the PCM model's ``kz`` port; ``kicks=None``: no kick).

    ``begin(e)`` starts programming event e (0 = initial programming, then one
    per transfer), so a device that needs one more pulse in one event does not
    shift the draws of later events.
    """

    def __init__(self, multipliers: np.ndarray, kicks: np.ndarray | None = None):
        self.m = multipliers
        self.z = np.zeros_like(multipliers) if kicks is None else np.asarray(kicks, float)
        if self.z.shape != self.m.shape:
            raise ConfigError(f"kick draws of shape {self.z.shape} for multipliers of shape {self.m.shape}")
        self.event = 0
        self.used = np.zeros(multipliers.shape[0], np.int64)

    def begin(self, event: int) -> None:
        if event >= self.m.shape[1]:
            raise ConfigError(f"no PCM noise draws left for programming event {event}")
        self.event = event
        self.used[:] = 0

    def next(self, devices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(m, z) of the next SET pulse of each of ``devices``."""
        devices = np.asarray(devices, np.int64)
        n = np.minimum(self.used[devices], self.m.shape[2] - 1)
        self.used[devices] += 1
        return self.m[devices, self.event, n], self.z[devices, self.event, n]


@dataclass
class SpiceChip:
    """The SPICE path: the array, the per-device levels it measured at the start, and its noise counter."""

    sa: SpiceArray
    acfg: ArrayConfig
    g0: np.ndarray           # (R, C) g of every cell at v_start (SPICE read)
    gref0: np.ndarray        # (C,)
    g_reset: np.ndarray      # (2RC,) I/V of every PCM in its RESET state (SPICE read)
    g_max: np.ndarray        # (2RC,) fully crystalline conductance (model)
    g_cap: float
    tolerance: float
    noise: PulseNoise
    #: the controller's pre-distortion of a holding device's target (None: off); the LUT array's table
    predistort: Any = None

    def program_pairs(self, t_pair: np.ndarray, gp_now: np.ndarray, gm_now: np.ndarray) -> dict[str, Any]:
        """F (G+ - G-) = t_pair (R, C) with one device of each pair at RESET (as the LUT array)."""
        F = self.sa.F
        k = self.sa.cells.cell_index()
        dp, dm = 2 * k, 2 * k + 1
        rp, rm = self.g_reset[dp], self.g_reset[dm]
        tp = np.where(t_pair > 0, rm + t_pair / F, rp)
        tm = np.where(t_pair < 0, rp - t_pair / F, rm)
        if self.predistort is not None:      # the device that holds the weight, for its coming drift
            tp = np.where(t_pair > 0, self.predistort(tp), tp)
            tm = np.where(t_pair < 0, self.predistort(tm), tm)
        tp, tm = np.minimum(tp, self.g_cap), np.minimum(tm, self.g_cap)
        dev = np.concatenate([dp.ravel(), dm.ravel()])
        out = self.sa.program(dev, np.concatenate([gp_now.ravel(), gm_now.ravel()]),
                              np.concatenate([tp.ravel(), tm.ravel()]), self.g_reset[dev], self.g_max[dev],
                              tolerance=self.tolerance, max_pulses=self.acfg.pcm_max_pulses,
                              draws=self.noise.next)
        out["devices"] = dev
        return out

    def program_weights(self, w: np.ndarray) -> dict[str, Any]:
        """Initial weights w (C, R): g at v_start, the pair programmed to the rest (no offset)."""
        sa = self.sa
        c = sa.read(1, with_pcm=True)
        t_pair = w.T * sa.spu - sa.polarity * (self.g0 - self.gref0[None, :])
        out = self.program_pairs(t_pair, c.g_plus, c.g_minus)
        sa.read_pcm()
        out["t_pair_siemens"] = t_pair
        return out

    def transfer(self) -> dict[str, Any]:
        """g - g_shared into the PCM pair (closed loop in SPICE), Vc reset, polarity flipped."""
        sa, F = self.sa, self.sa.F
        c = sa.read(1, with_pcm=True)
        pair = F * (c.g_plus - c.g_minus)
        gdiff = c.g - c.g_ref[None, :]
        p_next = -sa.polarity if self.acfg.polarity_inversion else sa.polarity
        t_pair = offset_target(pair + sa.polarity * gdiff - p_next * (self.g0 - self.gref0[None, :]), p_next,
                               self.acfg)
        sa.reset_vc()
        sa.polarity = p_next
        out = self.program_pairs(t_pair, c.g_plus, c.g_minus)
        sa.read_pcm()
        out["t_pair_siemens"] = t_pair
        return out


def spice_chip(cfg: CosimConfig, cells: ArrayCells, luts: lutmod.LutSet, arr: AnalogArray,
               noise: PulseNoise) -> SpiceChip:
    run = cfg.run()
    pp = pcmmod.pcm_params(run.tech, run.params)
    x_reset = pcmmod.x_for_g(luts.pcm.g_reset_siemens, cells.variation, pp)
    sa = SpiceArray(run, cells, cfg.gain_f, arr.spu, x_reset=x_reset)
    c = sa.read(1, with_pcm=True)
    sa.read(-1, with_pcm=True)
    g_reset = np.empty(2 * cells.n_cells)
    k = cells.cell_index()
    g_reset[2 * k], g_reset[2 * k + 1] = c.g_plus, c.g_minus
    return SpiceChip(sa, arr.config, c.g.copy(), c.g_ref.copy(), g_reset, luts.pcm.g_max_siemens.copy(),
                     arr.g_cap, arr.tol, noise,
                     arr.pcm_pairs.predistort if arr.pcm_pairs._predistort is not None else None)

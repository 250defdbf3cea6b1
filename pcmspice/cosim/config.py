"""What one co-simulation run is: the array, the problem, the training and the cells' conditions.

The LUT array's parameters that the co-simulation sets (:data:`ARRAY_FIELDS`) carry
:class:`~pcmspice.array.config.ArrayConfig`'s names and, unless noted, its defaults;
:meth:`CosimConfig.array_config` passes them on by name.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.core.errors import ConfigError
from pcmspice.spice import tech as techmod

_ARRAY = ArrayConfig()
# CosimConfig fields that are ArrayConfig fields of the same name and meaning, given to the LUT array as they are
ARRAY_FIELDS = ("polarity_inversion", "gain_f", "w_max", "pcm_max_pulses", "time_per_example_seconds")


@dataclass(frozen=True)
class CosimConfig:
    """One co-simulation run.  Units are in the names."""

    rows: int = 8                       # array rows = network inputs (R-1 features + bias)
    cols: int = 8                       # array columns = network outputs = classes (digits 0 .. C-1)
    examples: int = 300                 # training examples (one pass in a seeded order)
    technology: str = "generic65"
    corner: str = "tt"
    temp_c: float = 27.0
    seed: int = 1                       # cells, data order, pulses, PCM cycle-to-cycle draws
    learning_rate: float = 0.2
    bit_length: int = 8                 # pulse slots per example (at most this many pulses per cell)
    transfer_every: int = 50            # examples between transfers (none after the last example)
    # the LUT array's own parameters (ARRAY_FIELDS): the array simulator's defaults, except where noted
    time_per_example_seconds: float = _ARRAY.time_per_example_seconds
    gain_f: float = _ARRAY.gain_f
    w_max: float = 4.0                  # weight mapped to the PCM programming span (the array's default: 1.0)
    pcm_max_pulses: int = 40            # SET pulses per device per programming, restarts included (array's: 100)
    polarity_inversion: bool = _ARRAY.polarity_inversion
    vc_points: int = 101                # Vc grid of the cell table (10 mV on a 1 V supply)
    max_test: int = 0                   # 0: the whole test split of the chosen classes
    engine: str = "auto"

    def validate(self) -> CosimConfig:
        def bad(name, want):
            raise ConfigError(f"cosim: {name} = {getattr(self, name)!r} is invalid; expected {want}")
        for name, lo in (("rows", 2), ("cols", 2), ("examples", 1), ("bit_length", 1), ("pcm_max_pulses", 1),
                         ("vc_points", 3)):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo):
                bad(name, f"an integer >= {lo}")
        if self.cols > 10:
            bad("cols", "at most 10 (one column per digit class)")
        if self.rows > 65:
            bad("rows", "at most 65 (64 pixel components of the 8x8 digits + bias)")
        for name in ("transfer_every", "max_test", "seed"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                bad(name, "an integer >= 0")
        for name in ("learning_rate", "time_per_example_seconds", "gain_f", "w_max"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
                bad(name, "a finite number > 0")
        if self.technology not in techmod.available():
            bad("technology", "one of " + ", ".join(techmod.available()))
        techmod.load(self.technology).check_corner(self.corner)
        techmod.check_temperature(self.temp_c)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run(self) -> cellmod.Run:
        return cellmod.Run(techmod.load(self.technology), self.corner, self.temp_c, None, self.engine)

    def array_config(self) -> ArrayConfig:
        """The LUT array's configuration: transfers are called by the co-simulation (not by
        ``advance``), leakage every example, no read noise (the SPICE reads have none), one
        g_shared per column."""
        return _ARRAY.replace(**{name: getattr(self, name) for name in ARRAY_FIELDS},
                              mode="cell", transfer_every=0, leak_every_examples=1, cells_per_reference=self.rows,
                              read_noise=False, g_read_noise_rel=0.0, max_pulses_per_example=max(self.bit_length, 1))

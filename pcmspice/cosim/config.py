"""What one co-simulation run is: the array, the problem, the training and the cells' conditions.

The LUT array's parameters that the co-simulation sets (:data:`ARRAY_FIELDS`) carry
:class:`~pcmspice.array.config.ArrayConfig`'s names and, unless noted, its defaults;
:meth:`CosimConfig.array_config` passes them on by name.
"""
from __future__ import annotations

from dataclasses import dataclass

from pcmspice.array.config import ArrayConfig
from pcmspice.characterize.sweep import check_technology
from pcmspice.circuits import c3t1c as cellmod
from pcmspice.core.config import Config, param, same_as
from pcmspice.core.limits import MAX_SEED
from pcmspice.spice import tech as techmod

_ARRAY = ArrayConfig()
# CosimConfig fields that are ArrayConfig fields of the same name and meaning, given to the LUT array as they are
ARRAY_FIELDS = ("polarity_inversion", "gain_f", "w_max", "pcm_max_pulses", "time_per_example_seconds",
                "drift_predistort_t0_seconds")


@dataclass(frozen=True)
class CosimConfig(Config):
    """One co-simulation run.  Units are in the names."""

    _where = "cosim"

    rows: int = param(8, ge=2, le=65, doc="array rows = network inputs (R-1 features + bias); at most 65 "
                                          "(64 pixel components of the 8x8 digits + bias)")
    cols: int = param(8, ge=2, le=10, doc="array columns = network outputs = classes (digits 0 .. C-1)")
    examples: int = param(300, ge=1, le=100_000, doc="training examples (one pass in a seeded order)")
    technology: str = param("generic65")
    corner: str = param("tt")
    temp_c: float = param(27.0, unit="degC")
    seed: int = param(1, ge=0, le=MAX_SEED, doc="cells, data order, pulses, PCM cycle-to-cycle draws")
    learning_rate: float = param(0.2, unit="1", gt=0)
    bit_length: int = param(8, ge=1, le=1000, doc="pulse slots per example (at most this many pulses per cell)")
    transfer_every: int = param(50, ge=0, doc="examples between transfers (none after the last example)")
    # the LUT array's own parameters (ARRAY_FIELDS), declared once in ArrayConfig
    time_per_example_seconds: float = same_as(ArrayConfig, "time_per_example_seconds")
    gain_f: float = same_as(ArrayConfig, "gain_f")
    w_max: float = same_as(ArrayConfig, "w_max", 4.0)
    pcm_max_pulses: int = same_as(ArrayConfig, "pcm_max_pulses", 40)
    polarity_inversion: bool = same_as(ArrayConfig, "polarity_inversion")
    drift_predistort_t0_seconds: float | None = same_as(ArrayConfig, "drift_predistort_t0_seconds")
    drift_predistort: bool = param(False, doc="the chip (and the LUT array) program every PCM pair's holding device "
                                              "to its target pre-distorted for the drift over half the transfer "
                                              "interval (array.drift_predistort; the table is the LUT array's)")
    vc_points: int = param(101, ge=3, le=10_001, doc="Vc grid of the cell table (10 mV on a 1 V supply)")
    max_test: int = param(0, ge=0, doc="0: the whole test split of the chosen classes")
    engine: str = param("auto", choices=("auto", "shared", "subprocess"))

    def _check(self) -> None:
        object.__setattr__(self, "technology", check_technology(self, self.technology))
        techmod.load(self.technology).check_corner(self.corner)
        techmod.check_temperature(self.temp_c)

    def run(self) -> cellmod.Run:
        return cellmod.Run(techmod.load(self.technology), self.corner, self.temp_c, None, self.engine)

    def array_config(self) -> ArrayConfig:
        """The LUT array's configuration: transfers are called by the co-simulation (not by
        ``advance``), leakage every example, no read noise (the SPICE reads have none), one
        g_shared per column, the drift cache refreshed every example (exact, as SPICE reads are)."""
        return _ARRAY.replace(**{name: getattr(self, name) for name in ARRAY_FIELDS},
                              mode="cell", transfer_every=0, leak_every_examples=1, cells_per_reference=self.rows,
                              read_noise=False, g_read_noise_rel=0.0, max_pulses_per_example=max(self.bit_length, 1),
                              pcm_drift_refresh_rel=0.0)

"""Configuration of the array simulator: one frozen dataclass, round-tripped through TOML."""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from typing import Any

import tomli_w

from pcmspice.core.errors import ConfigError

MODES = ("cell", "pcm-only", "ideal")
ROUNDINGS = ("stochastic", "nearest")
OFFSET_SCHEMES = ("signed", "magnitude", "none")


@dataclass(frozen=True)
class ArrayConfig:
    """How a crossbar of 2PCM + 3T1C cells is modelled.  Units are in the names.

    Weight mapping.  A network weight w (dimensionless) is the cell's weight
    in siemens divided by ``siemens_per_unit_weight`` (spu):

        w = [F (G+ - G-) + p (g(Vc) - g_shared(Vref))] / spu,   p = +1 or -1

    With ``siemens_per_unit_weight`` unset, spu is chosen so that the PCM
    programming span maps onto ``w_max``:
    spu = F (pcm_g_program_max_siemens - median G_RESET) / w_max.  The
    training layer sets w_max per layer (see pcmspice.train.config.default_w_max).

    Pulse quantization.  A requested update dW = -lr * delta x^T becomes
    n = clip(R(dW / dw_nominal), -max_pulses_per_example, +max_pulses_per_example)
    pulses, where dw_nominal is the weight change of one pulse at v_start of
    the median LUT cell (mean of the up and down step), and R is stochastic
    rounding (floor(a + u), u uniform in [0, 1): unbiased, deterministic given
    the seed) or rounding to nearest.  Each pulse then moves the cell by its
    own LUT step at its present Vc.

    Modes: ``cell`` (the full 2PCM + 3T1C cell), ``pcm-only`` (no 3T1C: every
    update is partial SETs on G+ or G-, with an occasional RESET-and-reprogram
    of saturated pairs every ``transfer_every`` examples, as in Burr et al.
    2015), ``ideal`` (float weights, exact SGD: the software reference run
    through the same interface).  Each mode is a weight model type behind the
    interface of :class:`~pcmspice.array.crossbar.AnalogArray`.
    """

    mode: str = "cell"
    polarity_inversion: bool = True
    gain_f: float = 3.0                      # F: PCM pair gain (not published; ~3)
    w_max: float = 1.0                       # weight mapped to the PCM programming span
    siemens_per_unit_weight: float = 0.0     # 0: derive from w_max
    pcm_g_program_max_siemens: float = 20e-6  # programming control degrades above ~20 uS
    rounding: str = "stochastic"
    max_pulses_per_example: int = 16
    transfer_every: int = 8000               # examples between transfers (paper: 8,000); 0 = never
    transfer_offset_siemens: float = 2e-6    # the paper's 2 uS offset
    offset_scheme: str = "none"              # "signed" is the paper's (see CellArray._offset)
    pcm_tolerance_siemens: float = 0.0       # 0: half the largest SET step (see PcmPairArray)
    pcm_max_pulses: int = 100                # SET pulses per device per programming, restarts included
    time_per_example_seconds: float = 1e-6   # hardware time per training example
    leak_scale: float = 1.0                  # multiplies every leakage rate
    leak_every_examples: int = 0             # 0: automatic (see CellArray._auto_leak_every)
    cells_per_reference: int = 8             # cells sharing one g_shared (not published)
    read_noise: bool = True                  # PCM read noise (LUT) on every MAC
    g_read_noise_rel: float = 0.0            # relative read noise of the 3T1C (std / g)
    pcm_drift: bool = True                   # G(t) = G0 (t / t0)^-nu after t0
    pcm_refresh_fraction: float = 0.9        # pcm-only: reprogram pairs above this x programming max

    def validate(self) -> ArrayConfig:
        def bad(name, value, want):
            raise ConfigError(f"array config: {name} = {value!r} is invalid; expected {want}")
        if self.mode not in MODES:
            bad("mode", self.mode, "one of " + ", ".join(MODES))
        if self.rounding not in ROUNDINGS:
            bad("rounding", self.rounding, "one of " + ", ".join(ROUNDINGS))
        if self.offset_scheme not in OFFSET_SCHEMES:
            bad("offset_scheme", self.offset_scheme, "one of " + ", ".join(OFFSET_SCHEMES))
        for name in ("gain_f", "w_max", "pcm_g_program_max_siemens", "time_per_example_seconds"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and v == v and v != float("inf")):
                bad(name, v, "a finite number > 0")
        for name in ("siemens_per_unit_weight", "transfer_offset_siemens", "pcm_tolerance_siemens",
                     "leak_scale", "g_read_noise_rel"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0 and v != float("inf")):
                bad(name, v, "a finite number >= 0")
        for name in ("max_pulses_per_example", "pcm_max_pulses", "cells_per_reference"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                bad(name, v, "an integer >= 1")
        for name in ("transfer_every", "leak_every_examples"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                bad(name, v, "an integer >= 0")
        if not 0 < self.pcm_refresh_fraction <= 1:
            bad("pcm_refresh_fraction", self.pcm_refresh_fraction, "a number in (0, 1]")
        return self

    def replace(self, **changes: Any) -> ArrayConfig:
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArrayConfig:
        return _from_dict(cls, d, "array").validate()

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str) -> ArrayConfig:
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"array config: not valid TOML ({exc})") from None


def _from_dict(cls, d: dict[str, Any], where: str):
    """Build dataclass ``cls`` from a dict, refusing unknown keys and coercing int/float."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ConfigError(f"{where} config: unknown key(s) {', '.join(unknown)}; "
                          f"known keys are {', '.join(fields)}")
    kw = {}
    for k, v in d.items():
        default = fields[k].default
        if isinstance(default, bool):
            if not isinstance(v, bool):
                raise ConfigError(f"{where} config: {k} = {v!r} must be true or false")
        elif isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        elif isinstance(default, tuple) and isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return cls(**kw)

"""The array config's optional fields, read in one place: each returns None where the field is unset.

Six fields of :class:`~pcmspice.array.config.ArrayConfig` are optional (None: unset); the array's
parts read them only through these functions.
"""
from __future__ import annotations

from pcmspice.array.config import ArrayConfig


def pcm_tolerance_siemens(cfg: ArrayConfig) -> float | None:
    """The verify tolerance; None: the PCM pairs' default (half the largest SET step)."""
    return cfg.pcm_tolerance_siemens


def siemens_per_unit_weight(cfg: ArrayConfig) -> float | None:
    """The weight mapping; None: derived from ``w_max`` and the PCM programming span."""
    return cfg.siemens_per_unit_weight


def g_read_noise_rel(cfg: ArrayConfig) -> float | None:
    """A constant relative 3T1C read noise; None: the cell LUT's read_noise_rel(cell, Vc)."""
    return cfg.g_read_noise_rel


def leak_every_examples(cfg: ArrayConfig) -> int | None:
    """Examples per leakage chunk; None: automatic (the capacitors' bound)."""
    return cfg.leak_every_examples


def drift_t0_seconds(cfg: ArrayConfig) -> float | None:
    """The drift onset t0 at training time; None: the PCM LUT's ``drift_t0_seconds``."""
    return cfg.drift_t0_seconds


def reverify_age_seconds(cfg: ArrayConfig) -> float | None:
    """The age above which a periodic re-verify reprograms a PCM; None: no re-verify."""
    return cfg.reverify_age_seconds

"""Which LUTs a power estimate costs: those the training run trained on, never silently others.

A training summary names its tables (``lut_dir``, and ``lut_sha256``, the content checksum of
:func:`pcmspice.lut.identity.lut_sha256`; runs made before these keys existed are identified by their
recorded provenance).  :func:`luts_for_training` takes the run's own LUTs when none are given, and
refuses LUTs given explicitly that are not the run's unless ``allow_mismatch`` (``pcmspice power
--allow-lut-mismatch``) says the user means it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pcmspice.core import paths
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet, load_lut_set
from pcmspice.lut.identity import lut_sha256
from pcmspice.power.workload import load_summary


def _same(luts: LutSet, summary: dict[str, Any]) -> bool:
    if summary.get("lut_sha256"):
        return lut_sha256(luts) == summary["lut_sha256"]
    return summary.get("lut_provenance") == luts.cell.provenance and \
        summary.get("pcm_lut_provenance") == luts.pcm.provenance


def recorded_lut_dir(summary: dict[str, Any], training_dir: Path) -> Path:
    """The LUT folder a training summary names (absolute, or relative to where the run was made)."""
    if summary.get("lut_dir"):
        return Path(summary["lut_dir"])
    given = (summary.get("config") or {}).get("luts") or ""
    return Path(given) if given else paths.default_lut_dir()


def luts_for_training(training_dir: str | Path, lut_dir: str | Path | None = None,
                      allow_mismatch: bool = False) -> tuple[LutSet, Path]:
    """The LutSet (and its folder) to cost training run ``training_dir`` with."""
    tdir = Path(training_dir)
    summary = load_summary(tdir)
    if summary.get("mode") == "ideal" or not (summary.get("lut_sha256") or summary.get("lut_provenance")):
        # float weights, or a summary that names no tables: nothing to check against
        d = Path(lut_dir) if lut_dir else recorded_lut_dir(summary, tdir)
        return load_lut_set(d), d
    if lut_dir is None:
        d = recorded_lut_dir(summary, tdir)
        if not (d / "cell.lut.npz").is_file():
            raise ConfigError(f"{tdir} trained on the LUTs in {d}, which are not there any more; "
                              "give --luts DIR with that run's tables")
        luts = load_lut_set(d)
        if not _same(luts, summary):
            raise ConfigError(f"the LUTs now in {d} are not the ones {tdir} trained on (they changed since); "
                              "give --luts DIR with that run's tables")
        return luts, d
    d = Path(lut_dir)
    luts = load_lut_set(d)
    if not _same(luts, summary) and not allow_mismatch:
        raise ConfigError(f"--luts {d} are not the LUTs {tdir} trained on ({recorded_lut_dir(summary, tdir)}); "
                          "leave --luts out to cost the run's own, or add --allow-lut-mismatch")
    return luts, d

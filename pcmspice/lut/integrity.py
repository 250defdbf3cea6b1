"""The integrity of LUT files and LUT sets: what is sealed, how a set is bound, what an old file must satisfy.

A LUT file (:mod:`pcmspice.lut.format`) is an ``.npz`` archive whose ``__meta__`` member
holds the SHA-256 of every array and the provenance.  Its **seal** is the text member
``__seal__``, ``pcmspice-lut-integrity {"meta_sha256": ..., "set_id": ..., "version": 1}``:

* ``meta_sha256`` is the SHA-256 of the ``__meta__`` bytes, so the provenance (corner,
  temperature, supply, sweep, netlist hashes) is inside the checksum, as the arrays are;
* ``set_id`` binds the two tables of a set: it is the SHA-256 of the cell table's
  ``meta_sha256`` and the PCM table's ``meta_sha256``.  A set loads only when both files
  carry the same ``set_id`` and it is the digest of their two metadata: a cell table and a
  PCM table of two different sweeps (or of two runs) are refused;
* a ``summary.json`` next to the tables (the committed default LUTs have one) must name
  the same set (``set_id``) or, for an older summary, the same sweep and combination.

The seal is a member of its own, so the arrays and ``__meta__`` are byte-identical to
what earlier versions wrote.  Files written before seals existed (no ``__seal__``) still load:
their provenance is checked for consistency instead (the recorded ``sweep_key`` must be the
digest of the recorded sweep, netlists and technology; the corner, temperature, supply, seed
and cell count must be among the sweep's), and the two tables of an old set must have
identical provenance.  A set that mixes a sealed and an unsealed file is refused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.core.errors import LutError
from pcmspice.core.files import require_regular

SEAL_MEMBER = "__seal__"
SEAL_PREFIX = "pcmspice-lut-integrity "
SEAL_VERSION = 1


@dataclass(frozen=True)
class Seal:
    """What a LUT file's seal says (``None`` fields: an unsealed, older file)."""

    meta_sha256: str | None
    set_id: str | None

    @property
    def sealed(self) -> bool:
        return self.meta_sha256 is not None


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an array's float64 bytes (the checksum of LUT and batch files)."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def set_id_of(cell_meta_sha256: str, pcm_meta_sha256: str) -> str:
    """The id of the set made of these two tables."""
    return digest(f"pcmspice-lut-set\n{cell_meta_sha256}\n{pcm_meta_sha256}".encode())[:32]


def seal_text(meta_sha256: str, set_id: str) -> str:
    body = json.dumps({"version": SEAL_VERSION, "meta_sha256": meta_sha256, "set_id": set_id}, sort_keys=True)
    return SEAL_PREFIX + body


def read_seal(text: str | None) -> tuple[Seal | None, str | None]:
    """The seal of a ``__seal__`` text (``Seal(None, None)`` for none: an older file), or a problem in words."""
    if text is None:
        return Seal(None, None), None
    if not text.startswith(SEAL_PREFIX):
        return None, "its __seal__ member is not a pcmspice seal"
    try:
        rec = json.loads(text[len(SEAL_PREFIX):])
    except json.JSONDecodeError:
        return None, "its seal is not valid JSON"
    if not isinstance(rec, dict) or rec.get("version") != SEAL_VERSION:
        return None, f"its seal has an unknown version (this pcmspice reads seal version {SEAL_VERSION})"
    sha, sid = rec.get("meta_sha256"), rec.get("set_id")
    if not (_hex(sha, 64) and (sid == "" or _hex(sid, 32))):
        return None, "its seal's meta_sha256 or set_id is malformed"
    return Seal(sha, sid), None


def _hex(v: Any, n: int) -> bool:
    return isinstance(v, str) and len(v) == n and all(c in "0123456789abcdef" for c in v)


# ---------------------------------------------------------------- older files
def _sweep_key(sweep: dict[str, Any], net: Any, tech: Any) -> str:
    """The sweep key of pcmspice.characterize.sweep_key, from what a table recorded (frozen with version 1)."""
    d = {k: v for k, v in sweep.items() if k not in ("name", "retention_times_seconds")}
    return digest(json.dumps({"cfg": d, "net": net, "tech": tech}, sort_keys=True).encode())[:16]


def provenance_problem(prov: dict[str, Any]) -> str | None:
    """Why the provenance of an unsealed table contradicts itself, or None.

    Only tables of a characterization sweep (with ``sweep`` and ``sweep_key``) can be checked."""
    sweep, key = prov.get("sweep"), prov.get("sweep_key")
    if sweep is None and key is None:
        return None
    if not isinstance(sweep, dict) or not isinstance(key, str):
        return "its provenance's sweep or sweep_key is malformed"
    if _sweep_key(sweep, prov.get("netlist_hashes"), prov.get("tech")) != key:
        return "its provenance does not match its recorded sweep key (sweep, netlists or technology edited)"
    checks = (("technology", [sweep.get("technology")]), ("corner", sweep.get("corners")),
              ("temp_c", sweep.get("temps_c")), ("seed", [sweep.get("seed")]), ("n_cells", [sweep.get("n_cells")]))
    for name, allowed in checks:
        if not isinstance(allowed, list) or prov.get(name) not in allowed:
            return f"its provenance {name} = {prov.get(name)!r} is not one of its sweep's {allowed!r} (edited?)"
    vdds = sweep.get("vdd_volts")
    if isinstance(vdds, list) and vdds and prov.get("vdd_volts") not in vdds:
        return f"its provenance vdd_volts = {prov.get('vdd_volts')!r} is not one of its sweep's {vdds!r} (edited?)"
    return None


def summary_problem(summary: Any, set_id: str, prov: dict[str, Any]) -> str | None:
    """Why a ``summary.json`` next to a set does not describe it, or None."""
    if not isinstance(summary, dict):
        return f"is a JSON {type(summary).__name__}, not an object"
    if "set_id" in summary:
        return None if summary["set_id"] == set_id else (
            f"names LUT set {summary['set_id']!r}, but the tables are set {set_id or '(unsealed)'!r}")
    if "sweep_key" in summary and "sweep_key" in prov:
        if summary["sweep_key"] != prov["sweep_key"] or summary.get("config") != prov.get("sweep"):
            return "describes another sweep than the tables' (sweep_key or config differ)"
        combos = summary.get("combos")
        want = (prov.get("corner"), prov.get("temp_c"), prov.get("vdd_volts"))
        if not isinstance(combos, list) or not any(
                isinstance(c, dict) and (c.get("corner"), c.get("temp_c"), c.get("vdd_volts")) == want
                for c in combos):
            return f"has no combination {want} of the tables"
    return None


# ---------------------------------------------------------------- checks
def check_file(path: Path, kind: str, meta: Any, meta_bytes: bytes, seal_raw: np.ndarray | None,
               arrays: dict[str, np.ndarray], schema: str, schema_version: int) -> Seal:
    """Check a LUT file's parsed metadata, seal and arrays (types first, then checksums); its seal."""
    if not isinstance(meta, dict):
        raise LutError(f"{path}: its metadata is a JSON {type(meta).__name__}, expected an object")
    if meta.get("schema") != schema:
        raise LutError(f"{path}: schema '{meta.get('schema')}' is not '{schema}'; refusing a foreign file")
    ver = meta.get("schema_version")
    if ver != schema_version or isinstance(ver, bool):
        raise LutError(f"{path}: schema version {ver} is not supported (this pcmspice reads version "
                       f"{schema_version}); regenerate the LUT or upgrade pcmspice")
    if meta.get("kind") != kind:
        raise LutError(f"{path}: holds a '{meta.get('kind')}' table, expected '{kind}'")
    if seal_raw is not None and (seal_raw.dtype.kind != "U" or seal_raw.ndim != 0):
        raise LutError(f"{path}: its {SEAL_MEMBER} member has dtype {seal_raw.dtype}; expected text")
    seal, problem = read_seal(None if seal_raw is None else str(seal_raw))
    if problem:
        raise LutError(f"{path}: {problem}")
    if seal.sealed and digest(meta_bytes) != seal.meta_sha256:
        raise LutError(f"{path}: metadata checksum mismatch (its provenance or checksums were edited or corrupted)")
    for part in ("sha256", "axes", "units", "provenance"):
        if part in meta and not isinstance(meta[part], dict):
            raise LutError(f"{path}: its metadata '{part}' is a JSON {type(meta[part]).__name__}, expected an object")
    sums = meta.get("sha256", {})
    if set(sums) != set(arrays):
        raise LutError(f"{path}: array list does not match its checksums (missing or extra arrays)")
    for k, v in arrays.items():
        if v.dtype != np.float64:
            raise LutError(f"{path}: array '{k}' has dtype {v.dtype}; expected float64 numbers")
        if array_sha256(v) != sums[k]:
            raise LutError(f"{path}: checksum mismatch in array '{k}' (file corrupted)")
    if not seal.sealed:
        problem = provenance_problem(meta.get("provenance", {}))
        if problem:
            raise LutError(f"{path}: {problem}")
    return seal


def check_summary(f: Path, sid: str, prov: dict[str, Any]) -> None:
    """Refuse a ``summary.json`` beside a set that is unreadable or describes another set."""
    if not f.exists():
        return
    require_regular(f, LutError)
    try:
        summary = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LutError(f"{f}: unreadable summary of the LUT set ({type(exc).__name__}: {exc})") from None
    problem = summary_problem(summary, sid, prov)
    if problem:
        raise LutError(f"{f}: {problem}")

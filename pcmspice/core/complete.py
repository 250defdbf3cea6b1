"""The completion marker of a folder that is written in place because it holds resume state (a
characterization's ``batches/``): its visible result is whole or absent.

A characterization folder ``OUT`` keeps its batches where they are; its result (``luts/``, ``summary.json``,
``sweep.toml``, ``figures/``) is staged aside and published by :func:`publish`:

1. the old completion marker ``OUT/.pcmspice-complete.json`` is removed (and the removal made durable), so
   from here on no reader takes the folder for a result;
2. the staged entries are renamed into ``OUT`` one by one (each rename atomic);
3. a new completion marker is written atomically (fsync, rename, fsync of the folder): it names the run's kind
   and key and carries a manifest (size and SHA-256 of every published file) and the SHA-256 of itself.

A kill at any point leaves the old result (before 1), nothing visible (between 1 and 3), or the new result.
Readers (:func:`require_complete`; every LUT set of a characterization folder is loaded through it) refuse a
folder without a valid marker, or whose files differ from the manifest, in one line that names the folder and
says to run the same characterization again (its finished batches are kept, so that only publishes).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pcmspice.core.errors import LutError

COMPLETE = ".pcmspice-complete.json"
SCHEMA = "pcmspice-complete-1"
CHARACTERIZE = "characterize"   # the kind (run marker) of a characterization folder
_NOT_RESULT = {"batches"}       # top-level entries that are resume state, not result


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every result file of ``folder`` (relative paths), leaving out hidden entries (the
    markers, locks, staging folders) and the resume state (``batches/``)."""
    root = Path(folder)
    files: dict[str, dict[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not (rel_dir == Path(".") and d in _NOT_RESULT))
        for f in sorted(filenames):
            if f.startswith("."):
                continue
            p = Path(dirpath) / f
            files[(rel_dir / f).as_posix()] = {"bytes": p.stat().st_size, "sha256": _sha256_file(p)}
    return files


def _self_sha(body: dict[str, Any]) -> str:
    rest = {k: v for k, v in body.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def marker_body(kind: str, key: str, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    body = {"schema": SCHEMA, "kind": kind, "key": key, "files": files}
    return {**body, "manifest_sha256": _self_sha(body)}


def publish(stage: Path, dest: Path, kind: str, key: str) -> None:
    """Move the result staged in ``stage`` into ``dest`` and mark ``dest`` complete (see the module text);
    ``stage`` is removed."""
    from pcmspice.core.outputs import commit_entries, fsync_dir
    from pcmspice.core.provenance import atomic_write_text
    body = marker_body(kind, key, manifest(stage))
    try:
        (dest / COMPLETE).unlink()
    except FileNotFoundError:
        pass
    fsync_dir(dest)
    commit_entries(stage, dest)
    fsync_dir(dest)
    atomic_write_text(dest / COMPLETE, json.dumps(body, sort_keys=True, indent=1) + "\n")
    fsync_dir(dest)


def read(folder: str | Path) -> dict[str, Any] | None:
    """The completion marker of ``folder`` as written, or None when absent or unreadable."""
    try:
        body = json.loads((Path(folder) / COMPLETE).read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def problem(folder: str | Path, verify_files: bool = True, needed: tuple[str, ...] = ()) -> str | None:
    """Why ``folder`` (a characterization folder) is not a complete result, or None.  ``verify_files``: also
    compare every file with the manifest (sizes and SHA-256); ``needed``: relative paths that must be listed."""
    from pcmspice.core.outputs import read_marker
    d = Path(folder)
    if not (d / COMPLETE).exists():
        return (f"no completion marker {COMPLETE}: the characterization was interrupted before it published its "
                "result (or was written by an older pcmspice)")
    body = read(d)
    if (body is None or body.get("schema") != SCHEMA or not isinstance(body.get("files"), dict)
            or body.get("manifest_sha256") != _self_sha(body)):
        return f"its completion marker {COMPLETE} is damaged or edited (its checksum does not match)"
    run = read_marker(d)
    if run is None or run.get("kind") != body.get("kind") or run.get("key") != body.get("key"):
        return (f"its completion marker {COMPLETE} belongs to another run than the folder's "
                "(a newer characterization started there)")
    files = body["files"]
    missing = [n for n in needed if n not in files]
    if missing:
        return f"{missing[0]} is not part of its published result"
    if verify_files:
        for name, want in sorted(files.items()):
            p = d / name
            if not isinstance(want, dict) or not p.is_file() or p.stat().st_size != want.get("bytes") \
                    or _sha256_file(p) != want.get("sha256"):
                return f"{name} does not match its completion manifest (missing, or changed after the run)"
    return None


def is_characterization(folder: str | Path) -> bool:
    """``folder`` carries the run marker of a characterization."""
    from pcmspice.core.outputs import read_marker
    m = read_marker(folder)
    return m is not None and m.get("kind") == CHARACTERIZE


def require_complete(folder: str | Path, needed: tuple[str, ...] = ()) -> None:
    """A one-line :class:`LutError` naming ``folder`` and what to do when it is not a complete result."""
    why = problem(folder, needed=needed)
    if why:
        raise LutError(f"{folder}: not a complete characterization: {why}; run the same `pcmspice characterize` "
                       f"(or `corners`) with --out {folder} again: it keeps the finished batches and publishes "
                       "the result")


def check_lut_dir(lut_dir: str | Path, files: tuple[str, ...]) -> None:
    """When ``lut_dir`` is a LUT set of a characterization folder (``OUT/luts/<set>``), require that folder
    complete with ``files`` (the set's file names) in its manifest; other LUT folders are left alone."""
    d = Path(os.path.abspath(lut_dir))
    if d.parent.name != "luts" or not is_characterization(d.parent.parent):
        return
    require_complete(d.parent.parent, needed=tuple(f"luts/{d.name}/{f}" for f in files))

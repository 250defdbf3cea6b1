"""Output folders: checked before any computing, written whole or not at all, never someone else's.

Every command that writes a folder goes through here:

* :func:`check_location` - the folder can be made: it is not a file, no parent of it is a file, and the
  nearest existing parent is writable (tried, not guessed from permission bits).
* :func:`prepare_out_dir` - also: an existing non-empty folder is this same run (its marker file
  ``.pcmspice-run.json`` names the same command and config key), else it is refused unless ``force``.
* :func:`atomic_dir` - a context manager that yields a fresh hidden sibling folder with a unique name;
  when the block ends the folder gets its marker and is renamed into place, so the destination is a
  whole run or absent (an interrupted write removes the sibling and leaves the old folder untouched).
* :func:`default_dir` - the folder a command writes to without ``--out``: ``runs/<command>/<what>-<hash8>``,
  named from what it runs and the first 8 hex digits of its marker key, so other options never share a
  folder and the same options find their own; :func:`refuse_same_run` turns a finished run of the same
  key there into a one-line refusal naming ``--force``.
* :func:`commit_entries` - for a folder that holds resume state (characterize's batches): its outputs are
  staged and then swapped in one by one, ``summary.json`` last, so a kill never leaves an old summary
  beside new tables.
* :func:`refuse_overlap` - an output that is, contains or is inside one of the run's inputs is refused
  before any work (``prepare_out_dir(..., inputs=...)`` calls it).

Concurrency: :func:`prepare_out_dir` takes the folder's lock (:mod:`pcmspice.core.locks`) before it looks at
the folder, so a second writer of one folder is refused in one line naming the first; with the lock held,
staging folders (``.NAME.*.partial``) and moved-aside folders (``.NAME.*.old``) left by a killed writer are
provably orphaned and removed.  ``--out`` that is a symbolic link to a folder stays a link: the run is
published into its target.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pcmspice.core import locks
from pcmspice.core.errors import OutputError

MARKER = ".pcmspice-run.json"
MARKER_SCHEMA = "pcmspice-run-1"


def run_key(*parts: Any) -> str:
    """A short hash of what makes a run this run (its command's config), for the marker file."""
    from pcmspice.core.provenance import sha256_text, to_jsonable
    return sha256_text(json.dumps(to_jsonable(list(parts)), sort_keys=True, default=str))[:20]


def _nearest_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        if p.is_symlink():      # a dangling link: its target's folder cannot be made here
            break
        p = p.parent
    return p


def _writable(d: Path) -> bool:
    try:
        probe = Path(tempfile.mkdtemp(prefix=".pcmspice-probe-", dir=d))
    except OSError:
        return False
    probe.rmdir()
    return True


def check_location(path: str | Path) -> Path:
    """``path`` as a Path if a folder can be written there, else a one-line :class:`OutputError`."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p}: exists and is not a folder; choose another --out")
    base = _nearest_existing(p.absolute().parent)
    if not base.is_dir():
        raise OutputError(f"{p}: cannot make a folder there, {base} is a file; choose another --out")
    if not _writable(base):
        raise OutputError(f"{p}: {base} is not writable; choose another --out")
    if p.is_dir() and not _writable(p):
        raise OutputError(f"{p}: the folder is not writable; choose another --out")
    return p


def read_marker(path: str | Path) -> dict[str, Any] | None:
    """The marker of a run folder, or None (absent, unreadable or not a marker)."""
    try:
        m = json.loads((Path(path) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("schema") == MARKER_SCHEMA else None


def write_marker(path: str | Path, kind: str, key: str) -> None:
    from pcmspice import __version__
    from pcmspice.core.provenance import atomic_write_text
    atomic_write_text(Path(path) / MARKER, json.dumps({"schema": MARKER_SCHEMA, "kind": kind, "key": key,
                                                       "pcmspice": __version__}, sort_keys=True) + "\n")


def _never_replaced(p: Path) -> bool:
    """The working folder, one of its parents, the home folder or the root: --force never deletes these."""
    r = p.resolve()
    cwd = Path.cwd().resolve()
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):   # no HOME and no passwd entry: nothing more to protect
        home = r.parent
    return r == cwd or r in cwd.parents or r == home or r == r.parent


def refuse_overlap(path: str | Path, inputs: Iterable[tuple[str, str | Path | None]]) -> None:
    """A one-line :class:`OutputError` when output folder ``path`` is, contains or is inside one of the run's
    ``inputs`` ((option name, path) pairs; empty paths are skipped): writing there would destroy or change
    what the run reads."""
    out = Path(os.path.realpath(os.path.abspath(path)))
    for name, inp in inputs:
        if inp is None or str(inp) == "":
            continue
        i = Path(os.path.realpath(os.path.abspath(inp)))
        how = ("is" if i == out else "contains" if out in i.parents else "is inside" if i in out.parents else None)
        if how:
            raise OutputError(f"{path}: the output folder {how} the run's input {inp} ({name}); writing there "
                              "would destroy what the run reads; choose another --out")


def _clean_orphans(p: Path) -> None:
    """Remove staging (``.partial``) and moved-aside (``.old``) folders of ``p`` left by a killed writer:
    only a holder of ``p``'s lock makes them, and this process holds it now."""
    parent = p.absolute().parent
    found = list(parent.glob(f".{glob_escape(p.name)}.*.partial")) + list(parent.glob(f".{glob_escape(p.name)}.*.old"))
    if p.is_dir() and not p.is_symlink():
        found += list(p.glob(".*.partial"))
    for d in found:
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)


def glob_escape(name: str) -> str:
    import glob
    return glob.escape(name)


def prepare_out_dir(path: str | Path, kind: str, key: str | None, force: bool = False,
                    inputs: Iterable[tuple[str, str | Path | None]] = ()) -> Path:
    """Check ``path`` before computing: not one of the ``inputs`` (:func:`refuse_overlap`), writable, not being
    written by another process (its lock is taken and kept, see :mod:`pcmspice.core.locks`), and absent,
    empty, or the same run (same ``kind`` and ``key`` in its marker; ``key`` None: any run of ``kind``);
    another run's or a foreign non-empty folder only with ``force``."""
    refuse_overlap(path, inputs)
    p = check_location(path)
    if locks.hold(p):
        _clean_orphans(p)
    if p.is_dir() and any(p.iterdir()):
        m = read_marker(p)
        if m is not None and m.get("kind") == kind and (key is None or m.get("key") == key):
            return p
        if not force:
            what = (f"it holds a {m.get('kind')} run with another configuration" if m is not None
                    else "it is not a pcmspice output folder")
            raise OutputError(f"{p}: folder is not empty and {what}; choose another --out, or pass --force to "
                              "replace it")
        if _never_replaced(p):
            raise OutputError(f"{p}: --force never replaces the working folder, one of its parents or the home "
                              "folder; choose another --out")
    return p


def default_dir(command: str, parts: Iterable[str], key: str, root: str | Path = "runs") -> Path:
    """``root/command/<parts joined by '-'>-<key[:8]>``: the default output folder of ``command``, e.g.
    ``runs/train/digits-generic65_tt_27C-1a2b3c4d``; ``parts`` name it for a reader (characters other than
    letters, digits, ``.``, ``_`` and ``-`` become ``_``), ``key`` (the run's marker key) tells runs apart."""
    import re
    name = "-".join(re.sub(r"[^A-Za-z0-9._-]", "_", str(p)).strip("._-") or "_" for p in parts)
    return Path(root) / command / f"{name}-{key[:8]}"


def refuse_same_run(path: str | Path, kind: str, key: str, force: bool = False, done: str = "summary.json") -> None:
    """A one-line :class:`OutputError` when ``path`` already holds a finished run (``done`` written) of the
    same ``kind`` and ``key`` and not ``force``: the same run again, where nothing would be reused."""
    p = Path(path)
    m = read_marker(p)
    if not force and m is not None and m.get("kind") == kind and m.get("key") == key and (p / done).is_file():
        raise OutputError(f"{p}: already holds this {kind} run (the same options); pass --force to run it again, "
                          "or --out another folder")


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def fsync_dir(path: str | Path) -> None:
    """Make the entries of folder ``path`` (renames, new files) durable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_dir(stage: Path, dest: Path) -> None:
    """Rename ``stage`` to ``dest``; an existing ``dest`` is moved aside first and deleted after."""
    old = None
    if dest.exists() or dest.is_symlink():
        old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.old")
        os.rename(dest, old)
    try:
        os.rename(stage, dest)
    except BaseException:
        if old is not None:
            os.rename(old, dest)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


def staging_dir(parent: Path, name: str) -> Path:
    """A fresh hidden folder ``parent/.name.XXXX.partial`` (unique: two processes never share one),
    with the permissions a plain mkdir would give."""
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent))
    os.chmod(stage, 0o777 & ~_umask())
    return stage


@contextlib.contextmanager
def atomic_dir(path: str | Path, kind: str, key: str, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder to write a run into; on success it replaces ``path`` in one rename.

    On any exception (an interrupt too) the staging folder is deleted and ``path`` is left as it was.
    The folder's lock is held for the block (taken by :func:`prepare_out_dir`; released at the end if taken
    here).  ``path`` a symbolic link to a folder: the run replaces the link's target, the link stays.
    """
    taken = not locks.held(path)
    dest = prepare_out_dir(path, kind, key, force)
    try:
        if dest.is_symlink() and dest.is_dir():
            dest = Path(os.path.realpath(dest))
        stage = staging_dir(dest.absolute().parent, dest.name)
        try:
            yield stage
            write_marker(stage, kind, key)
            fsync_dir(stage)
            _swap_dir(stage, dest)
            fsync_dir(dest.absolute().parent)
        except BaseException as exc:
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, OSError) and exc.filename is None:   # a failed write names no file: name the run
                exc.filename = str(dest)
            raise
    finally:
        if taken:
            locks.release(path)


def commit_entries(stage: Path, dest: Path, last: Iterable[str] = ("summary.json",)) -> None:
    """Move every entry of ``stage`` into ``dest``, replacing entries of the same name; the ``last``
    ones are removed from ``dest`` first and moved in at the end.  ``stage`` is removed."""
    last = [n for n in last if (stage / n).exists()]
    for n in last:
        with contextlib.suppress(FileNotFoundError):
            (dest / n).unlink()
    for entry in sorted(stage.iterdir()):
        if entry.name not in last:
            _swap_dir(entry, dest / entry.name)
    for n in last:
        os.replace(stage / n, dest / n)
    stage.rmdir()

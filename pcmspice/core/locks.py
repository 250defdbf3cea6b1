"""Locks on output folders and cache entries: one writer at a time, the others refused (or waiting) in one line.

A folder ``P/NAME`` is locked through ``P/.NAME.lock`` (a :class:`filelock.FileLock`: an ``flock`` the kernel
drops when the process ends, however it ends, so a killed writer never leaves a stale lock), with
``P/.NAME.holder`` naming the holder (pid and command) for the message a second writer prints.  The lock
sits beside the folder, not in it, because the folder itself is replaced by a rename when a run is published.

* :func:`hold` - take the lock of a folder for this process (refused at once, or after ``wait`` seconds, in
  one :class:`~pcmspice.core.errors.OutputError` line naming the holder); taking it again is a no-op.
* :func:`scope` - every lock taken inside the block is released when it ends (the CLI wraps each command).
* :func:`waiting` - a context manager for cache entries: wait for the lock (printing who holds it), hold it
  for the block.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pcmspice.core.errors import OutputError

_held: dict[str, Any] = {}


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def lock_file(path: str | Path) -> Path:
    """The lock file of folder ``path`` (beside it; symbolic links resolved, so two names of one folder
    share one lock)."""
    r = _real(path)
    return r.parent / f".{r.name}.lock"


def _holder_file(lock: Path) -> Path:
    return lock.with_name(lock.name[:-len(".lock")] + ".holder")


def holder(path: str | Path) -> str:
    """Who holds the lock of ``path``, as far as its holder file tells ("pid 123: pcmspice train ...")."""
    try:
        h = json.loads(_holder_file(lock_file(path)).read_text())
        return f"pid {int(h['pid'])}: {str(h['command'])[:200]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _write_holder(lock: Path) -> None:
    from pcmspice.core.provenance import atomic_write_text
    cmd = " ".join(["pcmspice", *sys.argv[1:]] if sys.argv and "pcmspice" in sys.argv[0] else sys.argv)
    with contextlib.suppress(OSError):   # the name of the holder is a courtesy: the lock is what counts
        atomic_write_text(_holder_file(lock), json.dumps({"pid": os.getpid(), "command": cmd}) + "\n")


def hold(path: str | Path, wait: float = 0.0, what: str = "writing",
         on_wait: Callable[[str], Any] | None = None) -> bool:
    """Lock folder ``path`` for this process; True if taken now, False if this process holds it already.

    Another process holding it: wait up to ``wait`` seconds (``-1``: as long as it takes; ``on_wait`` is told
    once, with the holder), then a one-line :class:`OutputError` naming the holder."""
    import multiprocessing as mp

    from filelock import FileLock, Timeout
    if getattr(mp.current_process(), "_inheriting", False):
        # a spawned worker importing a user's script without the __main__ guard, which runs pcmspice again:
        # end it quietly (the parent, holding this lock, says why: pcmspice.core.processes.spawn_pool)
        raise SystemExit(1)
    lf = lock_file(path)
    if str(lf) in _held:
        return False
    try:
        lf.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lf), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if wait == 0:
                raise
            if on_wait is not None:
                on_wait(f"waiting for {holder(path)}, which is {what} {path}")
            lock.acquire(timeout=wait)
    except Timeout:
        raise OutputError(f"{path}: another pcmspice process is {what} it ({holder(path)}); wait for it to end, "
                          "or choose another --out") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot lock it ({exc.strerror or exc}, lock file {lf}); choose another "
                          "--out") from None
    _held[str(lf)] = lock
    _write_holder(lf)
    return True


def release(path: str | Path) -> None:
    """Give up the lock of ``path`` (if this process holds it)."""
    lf = lock_file(path)
    lock = _held.pop(str(lf), None)
    if lock is not None:
        with contextlib.suppress(OSError):
            _holder_file(lf).unlink()
        lock.release()


def held(path: str | Path) -> bool:
    return str(lock_file(path)) in _held


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """Release every lock taken inside the block when it ends (those held before stay held)."""
    before = set(_held)
    try:
        yield
    finally:
        for lf in [k for k in _held if k not in before]:
            lock = _held.pop(lf)
            with contextlib.suppress(OSError):
                _holder_file(Path(lf)).unlink()
            lock.release()


@contextlib.contextmanager
def waiting(path: str | Path, what: str = "writing", on_wait: Callable[[str], Any] | None = None) -> Iterator[None]:
    """Hold the lock of cache entry ``path`` for the block, waiting for another writer first."""
    taken = hold(path, wait=-1, what=what, on_wait=on_wait)
    try:
        yield
    finally:
        if taken:
            release(path)

"""Worker processes that leave Ctrl-C to their parent: no worker prints a traceback, the parent stops them.

:func:`ignore_sigint` is a pool initializer; :func:`sigint_ignored` wraps the start of the workers (a
spawned process keeps an ignored signal from its first instruction on, before any initializer runs);
:func:`stop_pool` ends a pool at once after an interrupt (its running tasks are lost either way).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


def ignore_sigint() -> None:
    """Pool initializer: Ctrl-C and SIGTERM (also when sent to the whole process group) are the parent's
    to handle; the parent kills its workers (:func:`stop_pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while the block starts worker processes (only in the main thread, where
    they can be set): a spawned process keeps an ignored signal from its first instruction on (a handler
    would be reset to the default by exec)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def stop_pool(ex: Any, futures: Any = ()) -> None:
    """Kill the workers of ProcessPoolExecutor ``ex`` (they ignore SIGINT and SIGTERM) and shut it down.

    The pool's own thread then fails the pending ``futures`` (cancelling them first makes CPython 3.11's
    thread print an InvalidStateError) and ends; waiting for it is quick, and an exit that does not wait
    can print "Exception ignored ... Bad file descriptor" from concurrent.futures' atexit hook."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.join(timeout=5)
    ex.shutdown(wait=True)


NO_MAIN_GUARD = ("the worker processes stopped before they started: a script that runs pcmspice in parallel must "
                 "keep its code under `if __name__ == \"__main__\":` (each worker starts Python anew and imports "
                 "the script), or use jobs=1")
WORKER_DIED = "a worker process ended unexpectedly (killed, or out of memory?); finished batches are kept"


def broken_pool_message() -> str:
    """Why a pool broke, as far as the parent can tell: a user's script as ``__main__`` (not the pcmspice
    command) is the usual cause, a worker killed from outside the other."""
    import __main__
    spec = getattr(__main__, "__spec__", None)
    script = getattr(__main__, "__file__", None) and (spec is None or not spec.name.startswith("pcmspice"))
    return NO_MAIN_GUARD if script else WORKER_DIED


def spawn_pool(max_workers: int, initializer: Any = None) -> Any:
    """A ProcessPoolExecutor of freshly started interpreters (``spawn``: the parent's ngspice state is not forked).

    A worker imports the user's ``__main__`` before it runs anything; a script without the ``__main__`` guard
    then calls pcmspice again from inside that import.  There this quietly ends the worker (SystemExit, no
    traceback), so that the parent, which sees a broken pool, can say why in one line (:func:`broken_pool_message`).
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    if getattr(mp.current_process(), "_inheriting", False):   # inside a worker's import of the user's script
        raise SystemExit(1)
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=mp.get_context("spawn"), initializer=initializer)

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
    """Pool initializer: Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while the block starts worker processes (only in the main thread, where it can be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


_PREVIOUS_HOOK: list[Any] = []   # the threading.excepthook that _quiet_cancelled_futures replaced


def _quiet_cancelled_futures(args: Any) -> None:
    """A ``threading.excepthook`` that drops one CPython 3.11 race: a pool whose futures were cancelled and whose
    workers were terminated (a Ctrl-C) makes its manager thread call ``set_exception`` on the cancelled futures,
    which raises InvalidStateError and printed a traceback under the one-line interrupt message.  Anything else
    goes to the hook it replaced."""
    from concurrent.futures import InvalidStateError
    if isinstance(args.exc_value, InvalidStateError) and type(args.thread).__name__ == "_ExecutorManagerThread":
        return
    _PREVIOUS_HOOK[0](args)


def stop_pool(ex: Any, futures: Any = ()) -> None:
    """Cancel ``futures``, terminate the workers of ProcessPoolExecutor ``ex`` and shut it down without waiting."""
    import threading
    if threading.excepthook is not _quiet_cancelled_futures:
        _PREVIOUS_HOOK[:] = [threading.excepthook]
        threading.excepthook = _quiet_cancelled_futures
    for f in futures:
        f.cancel()
    for proc in list((getattr(ex, "_processes", None) or {}).values()):
        proc.terminate()
    ex.shutdown(wait=False, cancel_futures=True)


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

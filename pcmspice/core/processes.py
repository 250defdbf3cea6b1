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


def stop_pool(ex: Any, futures: Any = ()) -> None:
    """Cancel ``futures``, terminate the workers of ProcessPoolExecutor ``ex`` and shut it down without waiting."""
    for f in futures:
        f.cancel()
    for proc in list((getattr(ex, "_processes", None) or {}).values()):
        proc.terminate()
    ex.shutdown(wait=False, cancel_futures=True)

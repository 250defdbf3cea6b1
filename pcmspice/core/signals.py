"""Ctrl-C (SIGINT) and SIGTERM: both stop a command the same way, each with its own exit status (130 / 143).

:func:`install` (the CLI calls it) makes SIGTERM raise :class:`Terminated`, a KeyboardInterrupt, so every
cleanup that a Ctrl-C runs (staging folders removed, checkpoints kept, worker pools stopped) runs for it too.

ngspice in-process (libngspice through PySpice) calls back into Python through cffi, and an exception
raised in a cffi callback is printed and swallowed: a Ctrl-C landing there used to print a traceback and
the run went on.  Code that calls libngspice runs inside :func:`deferred`: a signal is only recorded there,
and raised when the block ends (when the simulation returns), so the command stops after the simulation
that was running, without a traceback.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where a Ctrl-C would be (exit status 143)."""


_pending: int | None = None
_defer = 0


def _raise(signum: int) -> None:
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def _handler(signum: int, frame) -> None:   # noqa: ARG001 - the signal module's signature
    global _pending
    if _defer == 0:
        _pending = None
        _raise(signum)
    _pending = signum


def install() -> dict[int, object]:
    """SIGINT and SIGTERM raise KeyboardInterrupt / :class:`Terminated` (main thread only; an ignored SIGINT,
    as in a background job of a shell, stays ignored).  SIGXFSZ is ignored, so a file-size limit
    (``ulimit -f``) makes a write fail with EFBIG (one line) instead of killing the process.  Returns the
    handlers it replaced, for :func:`restore`."""
    global _pending
    _pending = None
    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ)}
    if old[signal.SIGINT] is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return old


def restore(old: dict[int, object]) -> None:
    """Put back the handlers :func:`install` replaced (a command run inside another program, e.g. a test)."""
    for s, h in old.items():
        if h is not None:
            signal.signal(s, h)


def check() -> None:
    """Raise the signal received inside a :func:`deferred` block that has not been raised yet."""
    global _pending
    if _pending is not None and _defer == 0:
        signum, _pending = _pending, None
        _raise(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Record SIGINT / SIGTERM inside the block (foreign code that would swallow the exception runs there)
    and raise it when the block ends."""
    global _defer
    _defer += 1
    try:
        yield
    finally:
        _defer -= 1
    check()


def exit_status(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (128 + the signal's number, as a shell reports it)."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def handled() -> None:
    """Tell the interpreter the interrupt was handled, so the process exits with the status the command chose.

    CPython sets a flag when a KeyboardInterrupt leaves code run by ``exec``/``eval`` of a string, and at exit
    a process started with ``python -m`` then kills itself with SIGINT (status -2), though the command caught
    the interrupt.  A Ctrl-C landing while a library runs such code did that: SciPy imports NumPy through
    ``exec("from numpy import *")`` on the first call of numba's training kernel.  Running an empty string
    resets the flag."""
    exec("")   # noqa: S102 - a constant empty string, run for its side effect on that flag

"""Run independent tasks in parallel and yield their results as they finish: in this process, on a pool of
spawned worker processes (``jobs``), or on a Dask cluster (``scheduler``).

One executor for every layer that fans work out (the characterization's batches, the corner x seed training
runs of ``pcmspice corners --train``): the same scheduler check, the same one-line errors, the same Ctrl-C
handling (workers ignore SIGINT, the parent stops them).  A task is ``(key, fn, args)``; ``fn`` must be a
module-level function (it is pickled to the workers).
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.processes import broken_pool_message, ignore_sigint, sigint_ignored, spawn_pool, stop_pool

Task = tuple[Hashable, Callable[..., Any], tuple]

_SCHEDULER = re.compile(r"(?:(?P<scheme>tcp|tls|ws|wss)://)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})"
                        r"|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")


#: the one line when the optional cluster scheduler is not installed (the ``cluster`` extra of pyproject.toml)
NEEDS_CLUSTER_EXTRA = ("--scheduler needs dask.distributed, which comes with the 'cluster' extra: "
                       "pip install 'pcmspice[cluster]' (in a checkout: pip install -e '.[cluster]')")


def check_scheduler(address: str) -> str:
    """A Dask scheduler address (``tcp://HOST:PORT``, also tls/ws/wss, or ``HOST:PORT``), checked before
    anything connects, and dask.distributed installed: a one-line :class:`ConfigError` otherwise."""
    m = _SCHEDULER.fullmatch(address.strip()) if isinstance(address, str) else None
    if not m or not 1 <= int(m.group("port")) <= 65535:
        raise ConfigError(f"--scheduler {address!r} is not a Dask scheduler address; expected tcp://HOST:PORT, "
                          "e.g. tcp://scheduler.example.org:8786")
    _require_dask()
    return address.strip()


def _require_dask() -> None:
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise ConfigError(NEEDS_CLUSTER_EXTRA) from None


def worker_init() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle; one thread per worker."""
    ignore_sigint()
    os.environ["OMP_NUM_THREADS"] = "1"


def execute(tasks: Sequence[Task], jobs: int = 1, scheduler: str | None = None,
            pool: Any = None) -> Iterator[tuple[Hashable, Any]]:
    """Yield ``(key, fn(*args))`` for every task as it finishes (in no fixed order).

    ``scheduler``: submit to that Dask cluster (``pool``: the client of :func:`worker_pool`, kept for the next
    call); else ``jobs`` > 1: a pool of that many spawned processes (``pool``: this one, from
    :func:`worker_pool`, kept for the next call); else one after the other in this process.  A failing task
    raises here (the pool is stopped first).
    """
    tasks = list(tasks)
    if not tasks:
        return
    if scheduler:
        yield from _dask(tasks, scheduler, pool)
        return
    if jobs <= 1 and pool is None:
        for key, fn, args in tasks:
            yield key, fn(*args)
        return
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool
    ex = pool or spawn_pool(min(jobs, len(tasks)), worker_init)
    futs: dict = {}
    try:
        # the workers start while SIGINT is ignored (a spawned process keeps an ignored signal from its
        # first instruction on; worker_init ignores it too): Ctrl-C reaches only this process, which
        # stops them, so no worker prints a traceback
        with sigint_ignored():
            futs = {ex.submit(fn, *args): key for key, fn, args in tasks}
        for f in as_completed(futs):
            yield futs[f], f.result()
    except BrokenProcessPool:   # a worker died, or a user's script without the __main__ guard: say which
        stop_pool(ex, futs)
        raise PcmSpiceError(broken_pool_message()) from None
    except BaseException:
        stop_pool(ex, futs)   # a running task is lost either way; do not wait minutes for it
        raise
    if pool is None:
        ex.shutdown(wait=True)


@contextmanager
def worker_pool(jobs: int, scheduler: str | None = None) -> Iterator[Any]:
    """The workers of several :func:`execute` calls (``pool=``): a pool of ``jobs`` spawned processes, so that
    they start, import and load their data once; with ``scheduler``, one connection to that Dask cluster for
    all of them; None for ``jobs`` <= 1 (in this process)."""
    if scheduler:
        client = _connect(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    if jobs <= 1:
        yield None
        return
    ex = spawn_pool(jobs, worker_init)
    try:
        yield ex
    except BaseException:
        stop_pool(ex, {})
        raise
    ex.shutdown(wait=True)


def _connect(scheduler: str) -> Any:
    """A Dask client of ``scheduler``, or a one-line :class:`ConfigError`."""
    _require_dask()
    from dask.distributed import Client
    try:
        return Client(check_scheduler(scheduler), timeout=os.environ.get("PCMSPICE_DASK_TIMEOUT", "10s"))
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever answers there, the user gets one line
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {why} "
                          "(is a dask scheduler running there? start one with `dask scheduler`)") from None


def _dask(tasks: list[Task], scheduler: str, client: Any = None) -> Iterator[tuple[Hashable, Any]]:
    from dask.distributed import as_completed
    own = client is None
    if own:
        client = _connect(scheduler)
    try:
        # in the order given, as the local pool runs them (a search puts its software baselines first)
        futs = {client.submit(on_dask_worker, fn, *args, pure=False, priority=len(tasks) - i): key
                for i, (key, fn, args) in enumerate(tasks)}
        for f in as_completed(futs):
            yield futs[f], f.result()
    finally:
        if own:
            client.close()


# ---------------------------------------------------------------- the allocator on a Dask worker
#: glibc's mallopt parameters, and the thresholds a plain Python process reaches on its own: glibc raises the
#: mmap threshold dynamically up to 32 MiB on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX) and keeps the trim threshold
#: at twice it
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_MAX, _TRIM_MAX = 32 << 20, 64 << 20
_GLIBC_DEFAULT = 128 << 10
_tuned = 0
_tuned_lock = threading.Lock()


def _glibc() -> Any:
    """glibc, when this process has its dynamic thresholds switched off (None otherwise, or not glibc)."""
    if not ({"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & set(os.environ)):
        return None
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6")
    except OSError:   # not glibc: nothing to undo
        return None


def _env_bytes(name: str) -> int:
    """A glibc threshold as the worker's environment sets it (glibc's default when unset or unreadable)."""
    try:
        return int(os.environ.get(name, str(_GLIBC_DEFAULT)), 0)   # decimal or 0x.. (glibc reads both)
    except ValueError:
        return _GLIBC_DEFAULT


def on_dask_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on a Dask worker, with the memory allocator of a plain Python process.

    A Dask nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand freed memory back to the
    system).  Setting any glibc threshold switches off glibc's dynamic mmap threshold, so every NumPy array
    over 128 KiB is mapped and unmapped again: a training run took 1.4x as long on a worker as in a plain
    process (19.6 s against 14.2 s), and two workers fought over the kernel's page faults.  For the task's
    duration the thresholds are fixed at the largest a plain process's adaptive ones reach (:data:`_MMAP_MAX`,
    :data:`_TRIM_MAX`); when the last running task of this worker ends, the worker's own are restored and the
    freed memory trimmed, so the cluster's memory accounting is as its operator set it.  The numbers are the
    same either way."""
    global _tuned
    libc = _glibc()
    if libc is None:
        return fn(*args)
    with _tuned_lock:
        _tuned += 1
        if _tuned == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_MAX)
    try:
        return fn(*args)
    finally:
        with _tuned_lock:
            _tuned -= 1
            if _tuned == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, _env_bytes("MALLOC_MMAP_THRESHOLD_"))
                libc.mallopt(_M_TRIM_THRESHOLD, _env_bytes("MALLOC_TRIM_THRESHOLD_"))
                libc.malloc_trim(0)

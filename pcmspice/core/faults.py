"""Faults of the machine, not of the input, as one line that names the resource and what to do.

A full disk, a file-size limit, too few file descriptors, too little memory, a file name the file system
or the locale cannot take: :func:`describe` turns the exception into the line the CLI prints (``error: ...``,
exit status 2).  Output folders are written aside and published by a rename (:mod:`pcmspice.core.outputs`),
so the previous good output is intact whenever one of these ends a run.
"""
from __future__ import annotations

import errno
import resource

_KEPT = "the previous output is unchanged"


def _limit(which: int) -> str:
    try:
        soft, _ = resource.getrlimit(which)
    except (ValueError, OSError):
        return "?"
    return "unlimited" if soft == resource.RLIM_INFINITY else str(soft)


def _memory_limit() -> str:
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ValueError, OSError):
        return ""
    return "" if soft == resource.RLIM_INFINITY else f" (the address-space limit is {soft / 1e9:.3g} GB)"


def _where(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else None
    return f" ({name})" if name is not None else ""


def describe(exc: BaseException) -> str | None:
    """The one line for a resource fault (without ``error: ``), or None if ``exc`` is not one."""
    if isinstance(exc, MemoryError):   # numpy's _ArrayMemoryError too
        what = f": {' '.join(str(exc).split())[:200]}" if str(exc) else ""
        return (f"out of memory{what}; use a smaller run (--max-train, --batch-size, --mc, a smaller network) or "
                f"raise the memory limit{_memory_limit()}; {_KEPT}")
    if isinstance(exc, UnicodeError):
        return (f"a file name or text cannot be encoded in this locale ({' '.join(str(exc).split())[:200]}); use "
                f"plain ASCII names or a UTF-8 locale (LANG=C.UTF-8); {_KEPT}")
    if not isinstance(exc, OSError):
        return None
    e = exc.errno
    where = _where(exc)
    if e == errno.ENOSPC:
        return (f"no space left on the device{where}; free space there, or choose another --out or "
                f"PCMSPICE_CACHE; {_KEPT}")
    if e == errno.EDQUOT:
        return f"disk quota exceeded{where}; free space or choose another --out or PCMSPICE_CACHE; {_KEPT}"
    if e == errno.EFBIG:
        return (f"file too large for the file-size limit{where} (ulimit -f: "
                f"{_limit(resource.RLIMIT_FSIZE)} bytes); raise the limit; {_KEPT}")
    if e in (errno.EMFILE, errno.ENFILE):
        return (f"too many open files{where} (ulimit -n: {_limit(resource.RLIMIT_NOFILE)}); raise the limit "
                f"(ulimit -n 1024) or use --jobs 1; {_KEPT}")
    if e == errno.ENAMETOOLONG:
        return f"file name too long{where}; choose a shorter --out; {_KEPT}"
    if e in (errno.EILSEQ, errno.EINVAL) and exc.filename is not None:
        return f"the file system cannot take this file name{where}; choose a plain name; {_KEPT}"
    if e == errno.EROFS:
        return f"read-only file system{where}; choose another --out or PCMSPICE_CACHE; {_KEPT}"
    if e in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}; choose a folder you can write; {_KEPT}"
    if e == errno.ENOMEM:
        return f"out of memory{where}; use a smaller run or raise the memory limit{_memory_limit()}; {_KEPT}"
    name = errno.errorcode.get(e or 0, "OSError")
    return f"{exc.strerror or ' '.join(str(exc).split())} ({name}){where}; {_KEPT}"


def describe_stdout(exc: OSError) -> str:
    """The one line for a failed write to standard output (a full device, an I/O error): it names standard
    output, not ``--out``, whose folder is not the resource that failed."""
    import os
    reason = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
              errno.EFBIG: "file too large for the file-size limit"}.get(exc.errno or 0) or (
        os.strerror(exc.errno).lower() if exc.errno else str(exc))
    return f"writing to standard output: {reason}; send the output somewhere with room (a file, a pipe)"

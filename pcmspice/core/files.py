"""Refusing special files: a FIFO, a device or a directory where a file belongs is named, never opened.

Opening a FIFO for reading blocks until someone writes to it; reading a device can
be endless.  Every reader of a user-supplied file (LUTs, data sets, configs) asks
:func:`not_regular` first (or :func:`require_regular`, which raises): it looks with ``os.stat`` only.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def not_regular(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a file ("does not exist", "is a FIFO", ...), or None if it is one."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be examined ({exc.strerror or exc})"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"is {kind}, not a regular file; refusing to open it"


def require_regular(path: str | Path, error: type[Exception], missing: str = "does not exist") -> Path:
    """``path`` if it is a regular file; else ``error("PATH: <why>")``, with ``missing`` as the why when it
    does not exist (e.g. "no such LUT file")."""
    problem = not_regular(path)
    if problem:
        raise error(f"{path}: {missing if problem == 'does not exist' else problem}")
    return Path(path)

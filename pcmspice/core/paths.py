"""Where pcmspice finds its data and puts its caches.

The circuits (``netlists/``) and the sweep definitions with the committed default LUTs
(``characterization/``) are top-level folders of the repository that ship inside the wheel
as the packages ``pcmspice.data.netlists`` and ``pcmspice.data.characterization``
(pyproject.toml maps them), so they are found with :mod:`importlib.resources` both in an
editable checkout and in a plain ``pip install``.  Caches go to ``$PCMSPICE_CACHE`` or
``~/.cache/pcmspice``; outputs go where the caller says.
"""
from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from pathlib import Path

DEFAULT_LUT_NAME = "generic65_tt_27C"


@cache
def _package_dir(package: str) -> Path:
    return Path(str(files(package)))


def netlist_dir() -> Path:
    """The SPICE text: ``cells/``, ``testbenches/``, ``tech/<name>/``."""
    return _package_dir("pcmspice.data.netlists")


def tech_dir() -> Path:
    return netlist_dir() / "tech"


def characterization_dir() -> Path:
    """Sweep definitions (``demo.toml``, ``default.toml``, ...) and the committed LUTs."""
    return _package_dir("pcmspice.data.characterization")


def default_lut_dir() -> Path:
    """The committed default LUTs: 200 cells, generic65, tt, 27 degC."""
    return characterization_dir() / "luts" / DEFAULT_LUT_NAME


def default_sweep(name: str = "demo") -> Path:
    return characterization_dir() / f"{name}.toml"


def cache_root() -> Path:
    """``$PCMSPICE_CACHE`` or ``~/.cache/pcmspice``."""
    env = os.environ.get("PCMSPICE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pcmspice"


def writable_dir(path: str | Path, what: str) -> Path:
    """``path`` as a folder pcmspice can write (created if missing), or a one-line :class:`ConfigError`
    saying why not (it is a file, it is read-only, ...), before any work is done."""
    import tempfile

    from pcmspice.core.errors import ConfigError
    p = Path(path).expanduser()
    try:
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(20, "it is a file, not a folder")
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".pcmspice-write-test-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        hint = "; set PCMSPICE_CACHE to a folder you can write" if "cache" in what.lower() else ""
        raise ConfigError(f"{what} {p} cannot be written: {exc.strerror or exc}{hint}") from None
    return p

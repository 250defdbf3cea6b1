"""The one LUT cache: every characterization a design asks for, stored once by content and reused by any run
folder (``pcmspice run`` with only the epochs changed simulates nothing).

Where: ``--cache DIR``, else ``$PCMSPICE_LUT_CACHE``, else ``$PCMSPICE_CACHE/luts`` (default
``~/.cache/pcmspice/luts``).  An entry ``<cache>/<key>/`` is an ordinary characterization folder (marker,
``batches/``, sealed ``luts/``, ``summary.json``, ``sweep.toml``, figures): its key (:func:`cache_key`) is the
SHA-256 of the characterization's whole definition (every ``[sweep]`` field but its name, with the netlists'
and the technology's hashes, as :func:`~pcmspice.characterize.sweep.sweep_key` has them), the pcmspice version
and the LUT seal version.  Writes are atomic: batches are written aside and renamed, the LUT sets, figures and
``summary.json`` are staged and swapped in, ``summary.json`` last, so an entry without ``summary.json`` is an
unfinished one (resumed from its batches by the next run).  One process at a time writes an entry: the others
wait on the entry's lock ``<cache>/.<key>.lock`` (:mod:`pcmspice.core.locks`) and then reuse what it
wrote.  A reused entry is loaded as every LUT set is (seals checked); one that does not load is characterized
again.

The PCM devices do not depend on the 3T1C: a characterization through the cache (a design's, ``run``'s,
``corners``', every trial of ``pcmspice explore``) takes its PCM batch from ``<cache>/pcm/<key>/``
(:func:`pcm_key`) when another cell design of the same technology, corner, temperature, seed and PCM settings
simulated it, and simulates only its cells.

``pcmspice cache`` lists the entries (kind, key, what, size, last used) of this cache (kinds ``luts`` and ``pcm``)
and of the co-simulation's LUT cache (:func:`cosim_dir`, entries of kind ``cosim``), and ``pcmspice cache prune
--older-than 30d`` (or ``--all``) removes them from all; an entry another process holds is skipped, never half
removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pcmspice.core import complete, paths
from pcmspice.core.errors import ConfigError

LAST_USED = ".last-used"   # an entry's file whose modification time is its last use
_KEY = re.compile(r"^[0-9a-f]{16}$")
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def cache_dir(cache: str | Path | None = None) -> Path:
    """The LUT cache folder (created, checked writable): ``cache``, else ``$PCMSPICE_LUT_CACHE``, else
    ``$PCMSPICE_CACHE/luts`` (``~/.cache/pcmspice/luts``)."""
    env = os.environ.get("PCMSPICE_LUT_CACHE")
    p = Path(cache) if cache is not None else Path(env) if env else paths.cache_root() / "luts"
    return paths.writable_dir(p, "the LUT cache")


def cache_key(sweep: Any) -> str:
    """The entry of a characterization: its whole definition (but its name), the netlists' and the
    technology's hashes (through :func:`~pcmspice.characterize.sweep.sweep_key`), the pcmspice version and the
    LUT seal version."""
    from pcmspice import __version__
    from pcmspice.characterize.sweep import sweep_key
    from pcmspice.lut.integrity import SEAL_VERSION
    d = sweep.to_dict()
    d.pop("name")
    blob = json.dumps({"sweep_key": sweep_key(sweep), "definition": d, "pcmspice": __version__,
                       "lut_seal": SEAL_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@contextmanager
def entry_lock(root: Path, key: str, echo: Callable[[str], Any] | None = None) -> Iterator[None]:
    """Hold the lock of entry ``<root>/<key>`` (:func:`pcmspice.core.locks.waiting`: ``<root>/.<key>.lock``),
    waiting, and saying so, while another process holds it."""
    from pcmspice.core import locks
    with locks.waiting(root / key, "characterizing", on_wait=echo):
        yield


def touch(entry: Path) -> None:
    """Mark ``entry`` as used now."""
    try:
        (entry / LAST_USED).touch()
    except OSError:
        pass   # a read-only cache still serves


def _size(p: Path) -> int:
    total = 0
    for root, _, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _what(entry: Path) -> str:
    """``technology corner temp supply, N cells`` from the entry's summary, or what is left of an unfinished one."""
    try:
        if complete.problem(entry, verify_files=False):
            raise ValueError("not published")
        s = json.loads((entry / "summary.json").read_text())
        c = s["combos"][0]
        cfg = s.get("config") or {}
        return (f"{Path(str(cfg.get('technology', '?'))).name} {c['corner']} {c['temp_c']:g} C "
                f"{c['vdd_volts']:g} V, {cfg.get('n_cells', '?')} cells")
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        n = len(list((entry / "batches").rglob("*.npz"))) if (entry / "batches").is_dir() else 0
        return f"unfinished ({n} batches)"


# ---- the PCM devices of a characterization, shared by every cell design ------------------------------------

PCM_DIR = "pcm"        # <cache>/pcm/<key>/: one PCM batch, shared by the characterizations of any cell
PCM_FILE = "batch.npz"


def pcm_dir(cache: str | Path | None = None) -> Path:
    """The shared PCM batches of the LUT cache ``cache`` (:func:`cache_dir`): ``<cache>/pcm``."""
    return cache_dir(cache) / PCM_DIR


def pcm_key(cfg: Any, batch: Any) -> str:
    """What a PCM batch depends on, and nothing of the 3T1C: the technology (its hash), corner, temperature and
    supply, the definition's seed, devices, pulses and cycles, the netlist parameters the PCM's own templates
    declare, the netlists' hashes, the netlist size the devices are cut in and the pcmspice version.  Two cell
    designs (another capacitor, other transistor sizes or gate levels, another cell count) share it."""
    import dataclasses

    from pcmspice import __version__
    from pcmspice.characterize.sweep import netlist_hashes
    from pcmspice.characterize.tables import _pcm_grid
    from pcmspice.circuits import pcm
    blob = json.dumps({"batch": dataclasses.asdict(batch), "tech": cfg.tech().provenance(),
                       "seed": cfg.seed, "pulses": cfg.pcm_pulses, "cycles": cfg.pcm_cycles,
                       "params": pcm._pcm_only(dict(cfg.params)), "net": netlist_hashes(),
                       "per_netlist": pcm.DEVICES_PER_NETLIST, "grid": [float(g) for g in _pcm_grid()],
                       "pcmspice": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def shared_pcm(root: Path | None, cfg: Any, batch: Any, arrays: dict | None = None) -> dict | None:
    """With ``arrays`` None: the shared PCM batch of ``cfg`` and ``batch`` from ``root`` (:func:`pcm_dir`), or
    None when there is none (or ``root`` is None).  A damaged or foreign file is never read: it is None and the
    batch is simulated and stored again.  With ``arrays``: store them there (atomically).  The entry's lock is held
    meanwhile, so ``pcmspice cache prune`` never removes half of one."""
    from pcmspice.characterize.batches import _load_batch, _save_batch
    from pcmspice.core.errors import LutError
    if root is None or batch.kind != "pcm":
        return None
    key = pcm_key(cfg, batch)
    entry = root / key
    root.mkdir(parents=True, exist_ok=True)
    with entry_lock(root, key):
        if arrays is not None:
            entry.mkdir(exist_ok=True)
            _save_batch(entry / PCM_FILE, key, batch, arrays)
            touch(entry)
            return arrays
        try:
            got = _load_batch(entry / PCM_FILE, key, batch)
        except LutError:
            return None
        if got is not None:
            touch(entry)
        return got


def _what_pcm(entry: Path) -> tuple[str, bool]:
    """``PCM corner temp supply, N devices`` of a shared PCM batch, and whether it is there."""
    import numpy as np
    try:
        with np.load(entry / PCM_FILE, allow_pickle=False) as z:
            b = json.loads(bytes(z["__meta__"]).decode())["batch"]
        return f"PCM {b['corner']} {b['temp_c']:g} C {b['vdd']:g} V, {b['count']} devices", True
    except (OSError, ValueError, KeyError, TypeError):
        return "unfinished", False


def cosim_dir(cache: str | Path | None = None) -> Path:
    """The co-simulation's LUT cache (``pcmspice cosim --cache``): ``cache``, else ``$PCMSPICE_COSIM_CACHE``,
    else ``$PCMSPICE_CACHE/cosim`` (``~/.cache/pcmspice/cosim``); not created here."""
    env = os.environ.get("PCMSPICE_COSIM_CACHE")
    return Path(cache) if cache is not None else Path(env) if env else paths.cache_root() / "cosim"


def _what_cosim(entry: Path) -> tuple[str, bool]:
    """``cosim RxC cells, technology corner temp`` of a co-simulation entry, and whether it is finished."""
    from pcmspice.core.errors import PcmSpiceError
    from pcmspice.core.outputs import read_marker
    from pcmspice.lut import format as lutmod
    m = read_marker(entry)
    if m is None or m.get("kind") != "cosim-luts" or not (entry / lutmod.CELL_FILE).is_file():
        return "unfinished", False
    try:
        p = lutmod.load_cell_lut(entry / lutmod.CELL_FILE).provenance
        return (f"{p.get('technology', '?')} {p.get('corner', '?')} {float(p.get('temp_c', 0)):g} C, "
                f"{p.get('rows', '?')}x{p.get('cols', '?')} array"), True
    except (PcmSpiceError, OSError, ValueError, TypeError):
        return "damaged (rebuilt on its next use)", False


def entries(root: Path, kind: str = "luts") -> list[dict[str, Any]]:
    """Every entry of the cache ``root``: kind (``luts``: characterizations of :func:`cache_dir`; ``cosim``: the
    co-simulation's tables of one array's cells, :func:`cosim_dir`), key, what, size in bytes, last used (epoch
    seconds), finished."""
    got = []
    for e in sorted(root.iterdir()) if root.is_dir() else ():
        if not (e.is_dir() and _KEY.match(e.name)):
            continue
        lu = e / LAST_USED
        last = (lu if lu.exists() else e).stat().st_mtime
        if kind == "cosim":
            what, finished = _what_cosim(e)
        elif kind == "pcm":
            what, finished = _what_pcm(e)
        else:
            what, finished = _what(e), complete.problem(e, verify_files=False) is None
        got.append({"kind": kind, "key": e.name, "what": what, "size_bytes": _size(e), "last_used": last,
                    "finished": finished, "path": str(e)})
    return got


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90min``, ``45s`` in seconds, or a one-line :class:`ConfigError`."""
    m = _AGE.match(str(text))
    if not m:
        raise ConfigError(f"--older-than {text!r} is not an age; expected a number and a unit (s, min, h, d, w), "
                          "e.g. 30d")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def prune(root: Path, older_than_seconds: float | None, kind: str = "luts") -> tuple[list[dict[str, Any]], list[str]]:
    """Remove the entries last used more than ``older_than_seconds`` ago (None: all).  An entry is first
    renamed aside under its lock, then deleted, so no reader ever sees half of one; an entry another process
    holds is skipped.  Returns (removed entries, skipped keys)."""
    from pcmspice.core import locks
    from pcmspice.core.errors import OutputError
    now = time.time()
    removed, skipped = [], []
    for e in entries(root, kind):
        if older_than_seconds is not None and now - e["last_used"] <= older_than_seconds:
            continue
        try:
            taken = locks.hold(e["path"], wait=0, what="using")
        except OutputError:
            skipped.append(e["key"])
            continue
        try:
            aside = root / f".removing-{e['key']}-{os.getpid()}"
            os.replace(e["path"], aside)
            shutil.rmtree(aside, ignore_errors=True)
            removed.append(e)
        finally:
            if taken:
                locks.release(e["path"])
    return removed, skipped

"""Training checkpoints: the whole state after each finished epoch, so ``pcmspice train --resume`` goes on.

One file, ``.OUT.resume/checkpoint.npz`` beside the run folder OUT, rewritten atomically after every epoch
of the software baseline and of the analog network.  It holds every layer's state
(its versioned ``state_dict()``, flattened by :mod:`pcmspice.array.snapshot`: conductances, capacitor voltages,
counters, every random generator),
the histories, the timings so far and the run's config; the data order is drawn again from the seed
(every epoch's permutation is drawn up front), so a resumed run ends bit-identical to one that was never
stopped.  A checkpoint of another config, a corrupted or a foreign file is refused, never half-read.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.array.snapshot import layer_snapshot, restore_layer
from pcmspice.core.errors import ConfigError
from pcmspice.core.provenance import atomic_write_bytes
from pcmspice.train.network import Network

SCHEMA = "pcmspice-train-checkpoint-2"   # 2: layers saved as their state_dict()
FILE = "checkpoint.npz"


def resume_dir(out_dir: str | Path) -> Path:
    """Where the checkpoint of the run that will be written to ``out_dir`` lives (a hidden sibling)."""
    out = Path(out_dir)
    return out.absolute().parent / f".{out.name}.resume"


def _array_sha(a: np.ndarray) -> str:
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def network_state(net: Network, label: str) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    arrays: dict[str, np.ndarray] = {}
    metas = []
    for k, layer in enumerate(net.layers):
        a, m = layer_snapshot(layer, f"{label}.layer{k}.")
        arrays.update(a)
        metas.append(m)
    return arrays, metas


def restore_network(net: Network, arrays: dict[str, np.ndarray], metas: list[dict[str, Any]]) -> None:
    if len(metas) != len(net.layers):
        raise ConfigError(f"checkpoint has {len(metas)} layers but the network has {len(net.layers)}")
    for layer, m in zip(net.layers, metas):
        restore_layer(layer, arrays, m)


class Checkpointer:
    """Saves and loads one run's checkpoint; ``stop_after`` raises KeyboardInterrupt after that many
    saves (as a Ctrl-C would: the test of resuming), ``on_saved(path)`` is told of every save."""

    def __init__(self, path: str | Path, key: str, config_toml: str, baseline: bool,
                 stop_after: int | None = None, on_saved: Callable[[Path], None] | None = None):
        self.path = Path(path)
        self.key, self.config_toml, self.baseline = key, config_toml, baseline
        self.stop_after, self.on_saved = stop_after, on_saved
        self.saves = 0
        self.parts: dict[str, dict[str, Any]] = {}
        self.arrays: dict[str, np.ndarray] = {}

    def save(self, label: str, net: Network, history: list[dict], train_s: float, wall_s: float,
             finished: bool) -> None:
        arrays, metas = network_state(net, label)
        self.arrays = {k: v for k, v in self.arrays.items() if not k.startswith(f"{label}.")}
        self.arrays.update(arrays)
        self.parts[label] = {"history": history, "train_seconds": train_s, "wall_seconds": wall_s,
                             "layers": metas}
        meta = {"schema": SCHEMA, "key": self.key, "config_toml": self.config_toml, "baseline": self.baseline,
                "parts": self.parts, "sha256": {k: _array_sha(v) for k, v in self.arrays.items()}}
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **self.arrays)
        atomic_write_bytes(self.path, buf.getvalue())
        self.saves += 1
        if self.on_saved:
            self.on_saved(self.path)
        if self.stop_after is not None and self.saves >= self.stop_after and not finished:
            raise KeyboardInterrupt

    def load(self) -> bool:
        """Read the checkpoint into ``parts``/``arrays``; False if there is none."""
        meta, arrays = read_checkpoint(self.path)
        if meta is None:
            return False
        if meta.get("key") != self.key:
            raise ConfigError(f"{self.path}: checkpoint of another run (config, LUTs or data differ); delete it or "
                              "run without --resume")
        self.parts, self.arrays = meta["parts"], arrays
        return True

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.path.parent.name.endswith(".resume"):
            shutil.rmtree(self.path.parent, ignore_errors=True)


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """(meta, arrays) of a checkpoint file, (None, {}) if absent; corrupt or foreign: ConfigError."""
    p = Path(path)
    if not p.exists():
        return None, {}
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(bytes(z["__meta__"]).decode())
            arrays = {k: np.array(z[k]) for k in z.files if k != "__meta__"}
    except Exception as exc:
        raise ConfigError(f"{p}: corrupted checkpoint ({type(exc).__name__}); delete it or run without "
                          "--resume") from None
    schema = meta.get("schema") if isinstance(meta, dict) else None
    if isinstance(schema, str) and schema.startswith("pcmspice-train-checkpoint-") and schema != SCHEMA:
        raise ConfigError(f"{p}: checkpoint format {schema!r} is not this pcmspice's {SCHEMA!r}; delete it or "
                          "run without --resume")
    if schema != SCHEMA:
        raise ConfigError(f"{p}: not a pcmspice training checkpoint; refusing it")
    sums = meta.get("sha256", {})
    if set(sums) != set(arrays) or any(_array_sha(v) != sums[k] for k, v in arrays.items()):
        raise ConfigError(f"{p}: checkpoint checksum mismatch (file corrupted); delete it or run without --resume")
    return meta, arrays

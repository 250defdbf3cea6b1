"""What ``AnalogLinear.state_dict()`` carries: the array's complete mutable state, and loading it back
(``layer`` below is a :class:`~pcmspice.torch.layers.AnalogLinear`).

The state is the array's versioned ``state_dict()``, flattened by
:func:`pcmspice.array.snapshot.layer_snapshot` (the checkpoint format of ``pcmspice train --resume``:
every conductance, capacitor voltage, the polarity, the clocks and counters, every random generator's
state), with the array's config, seed and the checksum of its LUT set.  Arrays are kept as their raw
bytes (uint8 tensors) with dtype and shape, so every dtype comes back bit for bit and the result loads
with ``torch.load(weights_only=True)``.  Loading into a layer built with another config or seed rebuilds
its array from the saved ones first; a layer of another shape or other LUTs, or a state of another
format version, is refused.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from pcmspice.array.config import ArrayConfig
from pcmspice.array.snapshot import layer_snapshot, restore_layer
from pcmspice.core.errors import ConfigError
from pcmspice.lut.identity import lut_sha256

SCHEMA = "pcmspice-torch-analog-linear-2"   # 2: the array as its state_dict()


def _lut_id(layer: Any) -> str:
    if layer.luts is None:
        return ""
    cached = getattr(layer, "_lut_id", None)
    if cached is None:
        cached = layer._lut_id = lut_sha256(layer.luts)
    return cached


def pack(layer: Any) -> dict[str, Any]:
    arrays, meta = layer_snapshot(layer.array, "")
    return {"schema": SCHEMA,
            "shape": [layer.out_features, layer.in_features], "bias": layer.has_bias, "seed": layer.seed,
            "config": json.dumps(layer.array.config.to_dict()), "lut_sha256": _lut_id(layer),
            "meta": json.dumps(meta),
            "arrays": {k: torch.from_numpy(np.frombuffer(np.ascontiguousarray(v).tobytes(), np.uint8).copy())
                       for k, v in arrays.items()},
            "layout": json.dumps({k: [v.dtype.str, list(v.shape)] for k, v in arrays.items()})}


def unpack(layer: Any, st: dict[str, Any]) -> None:
    where = f"AnalogLinear({layer.in_features}, {layer.out_features})"
    old = st.get("schema") if isinstance(st, dict) else None
    if isinstance(old, str) and old.startswith("pcmspice-torch-analog-linear-") and old != SCHEMA:
        raise ConfigError(f"{where}: the state is of format {old!r}, not this pcmspice's {SCHEMA!r}; refusing it")
    if not isinstance(st, dict) or st.get("schema") != SCHEMA:
        raise ConfigError(f"{where}: the state is not an AnalogLinear state ({SCHEMA}); refusing it")
    shape, bias = list(st["shape"]), bool(st["bias"])
    if shape != [layer.out_features, layer.in_features] or bias != layer.has_bias:
        raise ConfigError(f"{where}, bias={layer.has_bias}: the state is of AnalogLinear({shape[1]}, {shape[0]}), "
                          f"bias={bias}; build the layer with that shape")
    if st["lut_sha256"] != _lut_id(layer):
        raise ConfigError(f"{where}: the state was saved with another LUT set (sha256 {st['lut_sha256'][:12]}...); "
                          "build the layer with those LUTs")
    cfg = ArrayConfig.from_dict(json.loads(st["config"])).validate()
    if cfg != layer.array.config or int(st["seed"]) != layer.seed:
        layer.seed = int(st["seed"])
        layer.array = layer._build(cfg, layer.seed)
    layout = json.loads(st["layout"])
    arrays = {k: np.frombuffer(st["arrays"][k].numpy().tobytes(), np.dtype(dt)).reshape(shp).copy()
              for k, (dt, shp) in layout.items()}
    restore_layer(layer.array, arrays, json.loads(st["meta"]))
    layer._pending.clear()

"""A layer's complete mutable state as arrays plus JSON, and back: what a training checkpoint holds.

:func:`layer_snapshot` walks the layer's attributes and keeps every one that can change while it trains:
arrays (copied), numpy random generators (their bit-generator state), numbers, strings, flags, dicts of
numbers (counters), lists of such dicts (the transfer log) and :class:`TransferReport` records.  What it
skips (the config, the LUTs, tables and caches derived from them, functions) is rebuilt identically by
constructing the layer again from the same config, LUTs and initial weights; :func:`restore_layer`
then writes the snapshot over that fresh layer, which continues bit-identically.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pcmspice.array.layer import Layer, TransferReport

_SCALARS = (bool, int, float, str, type(None))


def _plain(v: Any) -> bool:
    if isinstance(v, _SCALARS):
        return True
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return True
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    return False


def _jsonable(v: Any) -> Any:
    """JSON with numpy scalars tagged by their dtype (a float32 must come back a float32)."""
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return {"__numpy__": v.dtype.str, "value": v.item()}
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _from_json(v: Any) -> Any:
    if isinstance(v, dict):
        if "__numpy__" in v:
            return np.dtype(v["__numpy__"]).type(v["value"])
        return {k: _from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    return v


def layer_snapshot(layer: Layer, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays named ``prefix`` + attribute, JSON description) of every mutable attribute of ``layer``."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for name, v in vars(layer).items():
        if isinstance(v, np.ndarray):
            arrays[f"{prefix}{name}"] = v.copy()
            meta[name] = {"array": f"{prefix}{name}", "dtype": v.dtype.str}
        elif isinstance(v, np.random.Generator):
            meta[name] = {"rng": v.bit_generator.state}
        elif isinstance(v, TransferReport):
            rec: dict[str, Any] = {}
            for f in dataclasses.fields(v):
                x = getattr(v, f.name)
                if isinstance(x, np.ndarray):
                    arrays[f"{prefix}{name}.{f.name}"] = x.copy()
                    rec[f.name] = {"array": f"{prefix}{name}.{f.name}"}
                else:
                    rec[f.name] = {"value": _jsonable(x)}
            meta[name] = {"transfer_report": rec}
        elif _plain(v) and not isinstance(v, tuple):
            meta[name] = {"value": _jsonable(v)}
    return arrays, meta


def restore_layer(layer: Layer, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write a :func:`layer_snapshot` over a layer built the same way."""
    for name, d in meta.items():
        if "array" in d:
            setattr(layer, name, np.array(arrays[d["array"]], dtype=np.dtype(d["dtype"])))
        elif "rng" in d:
            gen = getattr(layer, name)
            gen.bit_generator.state = d["rng"]
        elif "transfer_report" in d:
            kw = {k: (np.array(arrays[x["array"]]) if "array" in x else _from_json(x["value"]))
                  for k, x in d["transfer_report"].items()}
            setattr(layer, name, TransferReport(**kw))
        else:
            setattr(layer, name, _from_json(d["value"]))

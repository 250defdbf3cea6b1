"""A layer's :meth:`~pcmspice.array.layer.Layer.state_dict` as flat arrays plus JSON, and back:
what a training checkpoint and an ``AnalogLinear`` state hold.

A state dict is a tree of dicts and lists whose leaves are arrays, numbers, strings, flags, None
and :class:`~pcmspice.array.layer.TransferReport` records.  :func:`flatten_state` stores every
array (and every array of a record) under a key ``prefix`` + its path and describes the rest in
JSON, numpy scalars tagged with their dtype (a float32 must come back a float32);
:func:`unflatten_state` rebuilds the tree, which the layer's ``load_state_dict`` checks (format,
version of every part) before it writes anything.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pcmspice.array.layer import Layer, TransferReport
from pcmspice.core.errors import ConfigError


def flatten_state(state: Any, prefix: str) -> tuple[dict[str, np.ndarray], Any]:
    """(arrays named ``prefix`` + path, JSON description) of a state tree."""
    arrays: dict[str, np.ndarray] = {}

    def walk(v: Any, path: str) -> Any:
        if isinstance(v, np.ndarray):
            arrays[prefix + path] = v.copy()
            return {"__array__": prefix + path, "dtype": v.dtype.str}
        if isinstance(v, TransferReport):
            return {"__transfer_report__": {f.name: walk(getattr(v, f.name), f"{path}.{f.name}")
                                            for f in dataclasses.fields(v)}}
        if isinstance(v, (np.integer, np.floating, np.bool_)):
            return {"__numpy__": v.dtype.str, "value": v.item()}
        if isinstance(v, dict):
            if not all(isinstance(k, str) and not k.startswith("__") for k in v):
                raise TypeError(f"state key at {path!r} is not a plain string")
            return {k: walk(x, f"{path}.{k}" if path else k) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x, f"{path}.{i}") for i, x in enumerate(v)]
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise TypeError(f"state value at {path!r} of type {type(v).__name__} cannot be saved")

    return arrays, walk(state, "")


def unflatten_state(arrays: dict[str, np.ndarray], meta: Any) -> Any:
    """The state tree of :func:`flatten_state`; a missing array is a corrupted state (ConfigError)."""
    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            if "__array__" in v:
                if v["__array__"] not in arrays:
                    raise ConfigError(f"state array {v['__array__']!r} is missing; refusing the state")
                return np.array(arrays[v["__array__"]], dtype=np.dtype(v["dtype"]))
            if "__transfer_report__" in v:
                return TransferReport(**{k: walk(x) for k, x in v["__transfer_report__"].items()})
            if "__numpy__" in v:
                return np.dtype(v["__numpy__"]).type(v["value"])
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v
    return walk(meta)


def layer_snapshot(layer: Layer, prefix: str) -> tuple[dict[str, np.ndarray], Any]:
    """:func:`flatten_state` of ``layer.state_dict()``."""
    return flatten_state(layer.state_dict(), prefix)


def restore_layer(layer: Layer, arrays: dict[str, np.ndarray], meta: Any) -> None:
    """``layer.load_state_dict`` of a :func:`layer_snapshot`."""
    layer.load_state_dict(unflatten_state(arrays, meta))

"""The network: fully connected layers, their activations, and how a run builds them.

A network ``784-250-10`` is a list of :class:`~pcmspice.array.layer.Layer`,
each of shape (n_out, n_in + 1): the bias is one more input held at 1 (on an
analog array, a cell like any other weight).  Hidden layers use
``activation``; the output is softmax with cross-entropy.  The analog
network's layers are :class:`~pcmspice.array.crossbar.AnalogArray`; the
software baseline's are :class:`FloatLayer`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.layer import Layer
from pcmspice.core.errors import ConfigError
from pcmspice.core.network import parse_network
from pcmspice.lut.format import LutSet
from pcmspice.train.config import ACTIVATIONS, TrainConfig, default_w_max
from pcmspice.train.datasets import Dataset


class FloatLayer(Layer):
    """The software baseline's layer: float64 weights, exact SGD, no devices (so no
    counters, transfers or hardware time)."""

    mode = "float"

    def __init__(self, w: np.ndarray):
        self._w = np.array(w, dtype=np.float64)
        self.shape = self._w.shape
        self.counters: dict[str, int] = {}
        self.time_seconds = 0.0
        self.transfer_log: list[dict] = []
        self.last_transfer = None
        self.initial_program = None

    def weights(self) -> np.ndarray:
        return self._w

    def forward(self, x: np.ndarray, noise: bool = True) -> np.ndarray:
        return x @ self._w.T if x.ndim == 2 else self._w @ x

    def backward(self, delta: np.ndarray, noise: bool = True) -> np.ndarray:
        return delta @ self._w if delta.ndim == 2 else self._w.T @ delta

    def update(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        self._w -= lr * np.outer(delta, x)
        return 0

    def update_batch(self, x: np.ndarray, delta: np.ndarray, lr: float) -> int:
        self._w -= (lr / x.shape[0]) * (delta.T @ x)
        return 0

    def advance(self, n_examples: int = 1) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"format": "pcmspice-float-layer", "version": 1, "w": self._w.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("format") != "pcmspice-float-layer" or state.get("version") != 1:
            raise ConfigError("float layer state of another format or version cannot be loaded (expected "
                              "pcmspice-float-layer version 1)")
        self._w = np.array(state["w"], dtype=np.float64)


def _act(name: str) -> tuple[Callable, Callable]:
    """(activation, derivative from (pre-activation a, output h))."""
    if name == "sigmoid":
        return (lambda a: 0.5 * (1.0 + np.tanh(0.5 * a))), (lambda a, h: h * (1.0 - h))
    if name == "tanh":
        return np.tanh, (lambda a, h: 1.0 - h * h)
    if name == "relu":
        return (lambda a: np.maximum(a, 0.0)), (lambda a, h: (a > 0).astype(np.float64))
    raise ConfigError(f"activation '{name}' is unknown; expected one of {', '.join(ACTIVATIONS)}")


class Network:
    """A fully connected network over a list of layers (AnalogArray or FloatLayer)."""

    def __init__(self, layers: list[Layer], activation: str):
        self.layers = layers
        self.activation = activation
        self._f, self._df = _act(activation)
        self._bufs = [np.ones(l.shape[1]) for l in layers]

    def logits(self, x: np.ndarray, noise: bool = True) -> np.ndarray:
        """Batched inference (x: (n, features)) -> (n, classes)."""
        h = x
        for k, layer in enumerate(self.layers):
            hb = np.empty((h.shape[0], h.shape[1] + 1))
            hb[:, :-1] = h
            hb[:, -1] = 1.0
            a = layer.forward(hb, noise=noise)
            h = self._f(a) if k < len(self.layers) - 1 else a
        return h

    def accuracy(self, x: np.ndarray, y: np.ndarray, noise: bool = True, chunk: int = 5000) -> float:
        hits = 0
        for s in range(0, x.shape[0], chunk):
            hits += int(np.count_nonzero(self.logits(x[s:s + chunk], noise).argmax(1) == y[s:s + chunk]))
        return hits / max(1, x.shape[0])

    def train_example(self, x: np.ndarray, label: int, lr: float) -> bool:
        """One example, the chip's way; returns whether it was classified right."""
        bufs, layers, f, df = self._bufs, self.layers, self._f, self._df
        last = len(layers) - 1
        bufs[0][:-1] = x
        pre = []
        for k, layer in enumerate(layers):
            a = layer.forward(bufs[k])
            if k < last:
                h = f(a)
                bufs[k + 1][:-1] = h
                pre.append((a, h))
        e = np.exp(a - a.max())
        delta = e / e.sum()
        right = int(a.argmax()) == label
        delta[label] -= 1.0
        for k in range(last, -1, -1):
            back = None
            if k > 0:
                a_k, h_k = pre[k - 1]
                back = layers[k].backward(delta)[:-1] * df(a_k, h_k)
            layers[k].update(bufs[k], delta, lr)
            delta = back
        for layer in layers:
            layer.advance(1)
        return right

    def train_batch(self, x: np.ndarray, labels: np.ndarray, lr: float) -> int:
        """Minibatch mode: one quantized update per layer per batch; returns the hits."""
        layers, f, df = self.layers, self._f, self._df
        last = len(layers) - 1
        ins, pre = [], []
        h = x
        for k, layer in enumerate(layers):
            hb = np.ones((h.shape[0], h.shape[1] + 1))
            hb[:, :-1] = h
            ins.append(hb)
            a = layer.forward(hb)
            if k < last:
                h = f(a)
                pre.append((a, h))
        e = np.exp(a - a.max(axis=1, keepdims=True))
        delta = e / e.sum(axis=1, keepdims=True)
        hits = int(np.count_nonzero(a.argmax(1) == labels))
        delta[np.arange(labels.size), labels] -= 1.0
        for k in range(last, -1, -1):
            back = None
            if k > 0:
                a_k, h_k = pre[k - 1]
                back = layers[k].backward(delta)[:, :-1] * df(a_k, h_k)
            layers[k].update_batch(ins[k], delta, lr)
            delta = back
        for layer in layers:
            layer.advance(x.shape[0])
        return hits


def init_weights(sizes: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """N(0, 1/(fan_in+1)) weights, zero biases (last column)."""
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(0.0, 1.0 / np.sqrt(n_in + 1), (n_out, n_in + 1))
        w[:, -1] = 0.0
        out.append(w)
    return out


def build_network(cfg: TrainConfig, luts: LutSet | None, w0: list[np.ndarray], *,
                  array_config: ArrayConfig | None = None, kernel: str = "auto") -> Network:
    """The analog network of ``cfg`` programmed with the initial weights ``w0``.

    ``kernel``: the arrays' pulse kernel (see :class:`~pcmspice.array.crossbar.AnalogArray`;
    every kernel gives the same result)."""
    sizes = parse_network(cfg.network)
    acfg = array_config or cfg.array
    w_max = cfg.w_max or default_w_max(sizes)
    seeds = np.random.SeedSequence([cfg.seed, 1]).spawn(len(w0))
    layers = []
    for k, w in enumerate(w0):
        arr = AnalogArray(w.shape[0], w.shape[1], luts, acfg.replace(w_max=w_max[k]),
                          seed=int(seeds[k].generate_state(1)[0]), kernel=kernel)
        arr.program(w)
        layers.append(arr)
    return Network(layers, cfg.activation)


def default_network(ds: Dataset, hidden: int = 250) -> str:
    """The network the CLI uses when none is given: one hidden layer of 250 for images,
    none for precomputed features (only the last layer is trained in analog)."""
    if ds.image_shape is None:
        return f"{ds.n_features}-{ds.n_classes}"
    return f"{ds.n_features}-{hidden}-{ds.n_classes}"


def fitted(cfg: TrainConfig, data=None) -> TrainConfig:
    """``cfg`` with its network set: an unset one is fitted to the data set (``data``, else loaded)."""
    if cfg.network is not None:
        return cfg
    from pcmspice.train.datasets import load_dataset
    return cfg.replace(network=default_network(data if data is not None else load_dataset(cfg.dataset)))

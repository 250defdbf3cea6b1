"""A training run's configuration: :class:`TrainConfig` (round-tripped through TOML) and
the default rule for the weight each layer's PCM programming span maps to."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcmspice.array.config import ArrayConfig
from pcmspice.core.config import Config, param
from pcmspice.core.errors import ConfigError
from pcmspice.core.limits import MAX_EPOCHS, MAX_SEED, check_memory
from pcmspice.core.network import parse_network

ACTIVATIONS = ("sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class TrainConfig(Config):
    """One training run.  Round-trips to TOML (``to_toml`` / ``from_toml``).

    ``w_max``: per layer, the weight that the PCM programming span maps to
    (see ArrayConfig); empty = the default rule of :func:`default_w_max`.
    """

    _where = "train config"

    dataset: str = param("mnist5k", doc="digits | mnist5k | mnist5k-backrand | fashion-mnist | idx:DIR | "
                                        "features:FILE.npz")
    network: str | None = param(None, legacy="", doc="layer sizes, input to output, e.g. 64-250-10; unset: "
                                                     "fitted to the data set (N-250-10, or N-K for features)")
    activation: str = param("relu", choices=ACTIVATIONS, doc="hidden-layer activation")
    epochs: int = param(20, ge=1, le=MAX_EPOCHS, source="the paper: 20 epochs of MNIST",
                        doc="passes over the training examples")
    learning_rate: float = param(0.01, unit="1", gt=0, le=100,
                                 doc="SGD learning rate (larger values saturate every update and overflowed)")
    lr_decay: float = param(1.0, unit="1", gt=0, le=1, doc="learning rate x this after every epoch")
    batch_size: int = param(1, ge=1, le=100_000, doc="1 = per-example SGD as the chip does it; >1 = minibatch "
                                                     "mode (faster)")
    seed: int = param(0, ge=0, le=MAX_SEED, doc="seeds every random stream: data order, initial weights, cell "
                                                "assignment, pulses, read noise")
    max_train: int | None = param(None, ge=1, legacy=0, doc="the first N training examples (unset: all)")
    max_test: int | None = param(None, ge=1, legacy=0, doc="the first N test examples (unset: all)")
    w_max: tuple[float, ...] = param((), unit="1", gt=0, le=1e3,
                                     doc="per layer, the weight the PCM span maps to (e.g. 0.36,1.26); empty: "
                                         "the rule of default_w_max")
    luts: str | None = param(None, legacy="", doc="LUT directory (unset: the committed default)")
    time_per_example_seconds: float | None = param(
        None, unit="s", gt=0, le=1e3,
        doc="hardware time per training example: how much the capacitors leak and the PCMs "
                                  "drift (sets array.time_per_example_seconds); unset: the power layer's latency "
                                  "model's, as every run through pcmspice.pipeline takes it")
    array: ArrayConfig = param(default_factory=ArrayConfig)

    def _check(self) -> None:
        pinned = self.time_per_example_seconds
        if pinned is not None and self.array.time_per_example_seconds != pinned:
            object.__setattr__(self, "array", self.array.replace(time_per_example_seconds=pinned))
        if self.network is None:
            return
        n_layers = len(parse_network(self.network)) - 1
        if self.w_max and len(self.w_max) != n_layers:
            raise ConfigError(f"{self._where}: w_max = {list(self.w_max)} is invalid; expected {n_layers} positive "
                              f"numbers (one per layer of {self.network}) or none")


# bytes a weight takes while training, by array mode: measured peaks (tracemalloc, 64-2000-10 on the
# committed LUTs) of 490 B (cell), 275 B (pcm-only) and 22 B (ideal), plus the float baseline's weights
# and gradients, rounded up
BYTES_PER_WEIGHT = {"cell": 600, "pcm-only": 350, "ideal": 64}


def memory_bytes(cfg: TrainConfig) -> float:
    """An estimate of the memory a training run's networks take (the analog one and its float baseline)."""
    sizes = parse_network(cfg.network)
    weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    return weights * BYTES_PER_WEIGHT.get(cfg.array.mode, 600) + cfg.batch_size * sum(sizes) * 8 * 8


def check_resources(cfg: TrainConfig) -> None:
    """Refuse a run whose networks would not fit in the memory limit, before anything is built."""
    sizes = parse_network(cfg.network)
    weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    check_memory(f"network {cfg.network} ({weights:,} weights, mode {cfg.array.mode})", memory_bytes(cfg),
                 "use a smaller network")


def default_w_max(sizes: tuple[int, ...]) -> tuple[float, ...]:
    """Weight mapped to the PCM programming span, per layer: 10 / sqrt(fan_in + 1) for
    hidden layers and 20 / sqrt(fan_in + 1) for the output layer, capped at 2.

    A heuristic from float runs on mnist5k (ReLU, lr 0.01, 20 epochs): the
    largest trained |w| is ~0.28 in the 785-input layer and ~0.8 in the
    251-input output layer (output errors are O(1), hidden ones much
    smaller, hence the factor 2).  This maps the largest weights to ~80 % of
    the PCM span and leaves the 3T1C enough range, in weight units, for the
    weight changes of one transfer interval.  Override with ``w_max``.
    """
    out = [10.0 / np.sqrt(n + 1) for n in sizes[:-2]] + [20.0 / np.sqrt(sizes[-2] + 1)]
    return tuple(float(min(2.0, w)) for w in out)

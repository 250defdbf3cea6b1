"""A training run's configuration: :class:`TrainConfig` (round-tripped through TOML) and
the default rule for the weight each layer's PCM programming span maps to."""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tomli_w

from pcmspice.array.config import ArrayConfig, _from_dict
from pcmspice.core.errors import ConfigError
from pcmspice.core.network import parse_network

ACTIVATIONS = ("sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class TrainConfig:
    """One training run.  Round-trips to TOML (``to_toml`` / ``from_toml``).

    ``w_max``: per layer, the weight that the PCM programming span maps to
    (see ArrayConfig); empty = the default rule of :func:`default_w_max`.
    """

    dataset: str = "mnist5k"
    network: str = "784-250-10"
    activation: str = "relu"
    epochs: int = 20
    learning_rate: float = 0.01
    lr_decay: float = 1.0               # learning rate x this after every epoch
    batch_size: int = 1                 # 1 = the chip's per-example SGD
    seed: int = 0
    max_train: int = 0                  # 0 = all training examples
    max_test: int = 0
    w_max: tuple[float, ...] = ()
    luts: str = ""                      # LUT directory ("" = the committed default)
    array: ArrayConfig = field(default_factory=ArrayConfig)

    def validate(self) -> TrainConfig:
        parse_network(self.network)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation '{self.activation}' is unknown; expected one of {', '.join(ACTIVATIONS)}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ConfigError(f"{name} = {v!r} is invalid; expected an integer >= 1")
        for name in ("max_train", "max_test", "seed"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                raise ConfigError(f"{name} = {v!r} is invalid; expected an integer >= 0")
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate = {self.learning_rate!r} is invalid; expected a number > 0")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"lr_decay = {self.lr_decay!r} is invalid; expected a number in (0, 1]")
        n_layers = len(parse_network(self.network)) - 1
        if self.w_max and (len(self.w_max) != n_layers or min(self.w_max) <= 0):
            raise ConfigError(f"w_max = {list(self.w_max)} is invalid; expected {n_layers} positive "
                              f"numbers (one per layer of {self.network}) or none")
        self.array.validate()
        return self

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["w_max"] = list(self.w_max)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        arr = ArrayConfig.from_dict(d.pop("array", {}))
        return dataclasses.replace(_from_dict(cls, d, "train"), array=arr).validate()

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str) -> TrainConfig:
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"train config: not valid TOML ({exc})") from None


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

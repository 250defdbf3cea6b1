"""The paper's transfer-learning protocol: a small CNN trained in float, its penultimate features written
for ``pcmspice train --dataset features:FILE.npz`` (the analog last layer, as the paper did for CIFAR).

:func:`train_cnn` trains :class:`SmallCnn` (two 3x3 conv + 2x2 max-pool blocks, a ReLU fully connected
layer of ``features`` units, the classifier) with plain minibatch SGD on the training split only;
:func:`extract` runs it over train and test and keeps the ReLU layer's outputs (float64, >= 0; the reader divides
them by one number, their 99.9th percentile, into the arrays' input range).  :func:`write_features` writes them
in the format :func:`pcmspice.train.datasets.load_features` reads, with a ``provenance`` record (config,
data set, versions, the CNN's float accuracy), atomically.  Same seed, same features (on one machine: torch's
CPU kernels may sum in another order on another CPU).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pcmspice.core.config import Config, param
from pcmspice.core.errors import ConfigError, DataError
from pcmspice.core.limits import MAX_EPOCHS, MAX_SEED
from pcmspice.core.provenance import atomic_write_bytes, versions
from pcmspice.train.datasets import Dataset

MODEL_SCHEMA = "pcmspice-torch-cnn-1"


@dataclass(frozen=True)
class FeaturesConfig(Config):
    """The float CNN of ``pcmspice features`` and its training."""

    _where = "features config"

    dataset: str = param("fashion-mnist", doc="an image data set: digits | mnist5k | fashion-mnist | idx:DIR")
    epochs: int = param(3, ge=1, le=MAX_EPOCHS)
    batch_size: int = param(64, ge=1, le=100_000)
    learning_rate: float = param(0.05, unit="1", gt=0)
    momentum: float = param(0.9, unit="1", ge=0, lt=1)
    seed: int = param(0, ge=0, le=MAX_SEED)
    max_train: int = param(0, ge=0, doc="0 = all training examples")
    max_test: int = param(0, ge=0, doc="0 = all test examples")
    channels: int = param(16, ge=1, le=256, doc="first conv block's channels (the second has twice)")
    features: int = param(64, ge=2, le=4096, doc="penultimate (feature) layer width")
    threads: int = param(1, ge=1, le=256, doc="torch CPU threads (a fixed count keeps the summation order)")


class SmallCnn(nn.Module):
    """conv3x3(c) - ReLU - maxpool2 - conv3x3(2c) - ReLU - maxpool2 - FC(features) - ReLU - FC(classes)."""

    def __init__(self, image_shape: tuple[int, int], n_classes: int, channels: int = 16, features: int = 64):
        super().__init__()
        h, w = image_shape
        c = channels
        self.image_shape = (int(h), int(w))
        self.body = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(2 * c * (h // 4) * (w // 4), features), nn.ReLU())
        self.classifier = nn.Linear(features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, 1, *self.image_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _image_shape(ds: Dataset) -> tuple[int, int]:
    if ds.image_shape is None or len(ds.image_shape) != 2 or min(ds.image_shape) < 4:
        raise DataError(f"data set {ds.name} has no 2-D image shape (it has {ds.image_shape}); features need an "
                        "image data set such as digits, mnist5k or fashion-mnist")
    return ds.image_shape


def accuracy(model: SmallCnn, x: np.ndarray, y: np.ndarray, chunk: int = 2000) -> float:
    model.eval()
    hits = 0
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            out = model(torch.from_numpy(x[s:s + chunk]).float())
            hits += int((out.argmax(1).numpy() == y[s:s + chunk]).sum())
    return hits / max(1, x.shape[0])


def train_cnn(cfg: FeaturesConfig, ds: Dataset) -> tuple[SmallCnn, list[dict[str, float]]]:
    """The CNN trained on ``ds``'s training split; (model, per-epoch history)."""
    cfg.validate()
    shape = _image_shape(ds)
    torch.set_num_threads(cfg.threads)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = SmallCnn(shape, ds.n_classes, cfg.channels, cfg.features)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7]))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum)
    x, y = ds.x_train, ds.y_train
    history = []
    for ep in range(1, cfg.epochs + 1):
        model.train()
        order = rng.permutation(y.size)
        for s in range(0, order.size, cfg.batch_size):
            idx = order[s:s + cfg.batch_size]
            loss = F.cross_entropy(model(torch.from_numpy(x[idx]).float()), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append({"epoch": ep, "train_accuracy": accuracy(model, x, y),
                        "test_accuracy": accuracy(model, ds.x_test, ds.y_test)})
    return model, history


def extract(model: SmallCnn, x: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """The penultimate (ReLU) layer's outputs, float64 (n, features)."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            out.append(model.features(torch.from_numpy(x[s:s + chunk]).float()).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.classifier.in_features))


def save_model(model: SmallCnn, cfg: FeaturesConfig, ds: Dataset, path: str | Path) -> Path:
    buf = io.BytesIO()
    torch.save({"schema": MODEL_SCHEMA, "config": json.dumps(cfg.to_dict()), "image_shape": list(model.image_shape),
                "n_classes": model.classifier.out_features, "dataset": ds.name, "state_dict": model.state_dict()},
               buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_model(path: str | Path) -> tuple[SmallCnn, FeaturesConfig]:
    """A CNN saved by :func:`save_model` (``pcmspice features --save-model``); anything else: one-line error."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such model file (expected one written by pcmspice features --save-model)")
    try:
        d = torch.load(p, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise ConfigError(f"{p}: not a readable torch file ({type(exc).__name__}); expected one written by "
                          "pcmspice features --save-model") from None
    if not isinstance(d, dict) or d.get("schema") != MODEL_SCHEMA:
        raise ConfigError(f"{p}: not a pcmspice features model ({MODEL_SCHEMA}); expected one written by "
                          "pcmspice features --save-model")
    cfg = FeaturesConfig.from_dict(json.loads(d["config"]), source=str(p)).validate()
    model = SmallCnn(tuple(d["image_shape"]), int(d["n_classes"]), cfg.channels, cfg.features)
    try:
        model.load_state_dict(d["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(f"{p}: the saved weights do not fit the saved CNN ({str(exc).splitlines()[0]})") from None
    return model, cfg


def make_features(cfg: FeaturesConfig, ds: Dataset, model: SmallCnn | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any], SmallCnn]:
    """(arrays for the .npz, provenance, the CNN): trains the CNN unless ``model`` is given."""
    shape = _image_shape(ds)
    torch.set_num_threads(cfg.threads)
    history: list[dict[str, float]] = []
    if model is None:
        model, history = train_cnn(cfg, ds)
    elif tuple(model.image_shape) != tuple(shape) or model.classifier.out_features != ds.n_classes:
        raise ConfigError(f"the CNN takes {model.image_shape[0]}x{model.image_shape[1]} images into "
                          f"{model.classifier.out_features} classes but data set {ds.name} has {shape[0]}x{shape[1]} "
                          f"images and {ds.n_classes} classes; use the data set it was trained on")
    f_train, f_test = extract(model, ds.x_train), extract(model, ds.x_test)
    arrays = {"x_train": f_train, "y_train": ds.y_train.astype(np.int64), "x_test": f_test,
              "y_test": ds.y_test.astype(np.int64), "n_classes": np.array(ds.n_classes)}
    prov = {"kind": "pcmspice-features", "config": cfg.to_dict(), "dataset": ds.describe(), "cnn_history": history,
            "cnn_test_accuracy": accuracy(model, ds.x_test, ds.y_test),
            "versions": {**versions(), "torch": torch.__version__}}
    return arrays, prov, model


def write_features(arrays: dict[str, np.ndarray], prov: dict[str, Any], path: str | Path) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays, provenance=np.array(json.dumps(prov, default=str)))
    return atomic_write_bytes(path, buf.getvalue())

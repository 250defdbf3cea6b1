"""What a training run returns: :class:`TrainResult` (the analog network, its float
baseline and the summary) with each network's :class:`RunResult`, and the per-epoch
table both the saved history and the accuracy figure show."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcmspice.lut.format import LutSet
from pcmspice.train.config import TrainConfig
from pcmspice.train.datasets import Dataset
from pcmspice.train.network import Network


@dataclass
class RunResult:
    """One trained network (analog or baseline) and its per-epoch history."""

    network: Network
    history: list[dict[str, float]]
    wall_seconds: float
    train_seconds: float


@dataclass
class TrainResult:
    """One training run: its config and data, the analog network's run and the baseline's."""

    config: TrainConfig
    dataset: Dataset
    analog: RunResult
    baseline: RunResult | None
    luts: LutSet | None
    summary: dict[str, Any]


def history_rows(res: TrainResult) -> list[dict[str, Any]]:
    """One row per epoch: the analog and baseline accuracies, the learning rate, and the transfers of the
    analog network during that epoch (a test accuracy right after a transfer is not yet retrained past it)."""
    n = int(res.dataset.y_train.size)
    layers = res.analog.network.layers
    log = layers[0].transfer_log if layers else []
    rows = []
    for k, h in enumerate(res.analog.history):
        ep = int(h["epoch"])
        n_xfer = sum(1 for t in log if (ep - 1) * n < int(t["examples"]) <= ep * n)
        b = res.baseline.history[k] if res.baseline else {}
        rows.append({"epoch": h["epoch"], "analog_train_accuracy": h["train_accuracy"],
                     "analog_test_accuracy": h["test_accuracy"],
                     "baseline_train_accuracy": b.get("train_accuracy"),
                     "baseline_test_accuracy": b.get("test_accuracy"), "learning_rate": h["learning_rate"],
                     "transfers": n_xfer})
    return rows

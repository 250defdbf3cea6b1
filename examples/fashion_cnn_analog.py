"""A CNN with analog fully connected layers on Fashion-MNIST, against the same CNN in float.

The CNN: conv3x3(8) - ReLU - maxpool2 - conv3x3(16) - ReLU - maxpool2 - FC(784 -> 64) - ReLU - FC(64 -> 10).
The analog run converts both FC layers to AnalogLinear (full 2PCM + 3T1C cells from the committed LUTs,
read noise, pulsed updates, transfers every 8,000 examples with polarity inversion, leakage) and trains the
whole network with AnalogSGD at batch 1, as the chip does; the convolutions stay float (plain SGD, the
gradient reaching them through the arrays' transposed read).  The software run trains the same CNN, from the
same initial weights and in the same data order, with torch.optim.SGD.

    .venv/bin/python examples/fashion_cnn_analog.py [--max-train 20000] [--max-test 10000] [--epochs 1]
        [--seeds 0,1,2] [--lr 0.01] [--out fashion_cnn.json]

Prints one line per run and the mean and spread over the seeds; writes them to --out as JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pcmspice.core.provenance import atomic_write_text
from pcmspice.torch import AnalogSGD, convert_to_analog
from pcmspice.train.datasets import load_dataset
from pcmspice.train.loop import resolve_luts


def cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        hits = sum(int((model(x[s:s + 1000]).argmax(1) == y[s:s + 1000]).sum()) for s in range(0, len(y), 1000))
    return hits / len(y)


def run(analog: bool, seed: int, x, y, xt, yt, epochs: int, lr: float, luts) -> dict:
    model = cnn(seed)
    if analog:
        convert_to_analog(model, luts, seed=seed)
        opt: torch.optim.Optimizer = AnalogSGD(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for i in rng.permutation(len(y)):
            loss = F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
            opt.zero_grad()
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    return {"analog": analog, "seed": seed, "test_accuracy": accuracy(model, xt, yt),
            "train_seconds": round(train_s, 1), "examples_per_second": round(epochs * len(y) / train_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-train", type=int, default=20000)
    ap.add_argument("--max-test", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--out", default="fashion_cnn.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset("fashion-mnist").subset(args.max_train, args.max_test)
    x = torch.from_numpy(ds.x_train).float().reshape(-1, 1, 28, 28)
    xt = torch.from_numpy(ds.x_test).float().reshape(-1, 1, 28, 28)
    y, yt = torch.from_numpy(ds.y_train), torch.from_numpy(ds.y_test)
    luts = resolve_luts(None)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for analog in (False, True):
            r = run(analog, seed, x, y, xt, yt, args.epochs, args.lr, luts)
            rows.append(r)
            print(f"seed {seed} {'analog FC' if analog else 'software'}: test accuracy "
                  f"{100 * r['test_accuracy']:.2f} % ({r['examples_per_second']:.0f} examples/s)", flush=True)
    summary = {}
    for analog in (False, True):
        acc = np.array([r["test_accuracy"] for r in rows if r["analog"] == analog])
        std = float(acc.std(ddof=1)) if acc.size > 1 else 0.0
        summary["analog" if analog else "software"] = {"mean": float(acc.mean()), "std": std}
        print(f"{'analog FC' if analog else 'software '}: {100 * acc.mean():.2f} % +- {100 * std:.2f} (std over "
              f"{acc.size} seeds)")
    atomic_write_text(args.out, json.dumps({"args": vars(args), "runs": rows, "summary": summary,
                                            "torch": torch.__version__, "python": platform.python_version()},
                                           indent=1))


if __name__ == "__main__":
    main()

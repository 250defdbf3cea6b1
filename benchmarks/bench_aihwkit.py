"""pcmspice vs IBM aihwkit on the exported cell (run on demand, not in CI; needs aihwkit).

784-250-10 on mnist5k at batch 1: aihwkit 1.2.0's AnalogLinear + AnalogSGD with the configuration
``pcmspice export aihwkit`` writes for each layer (its w_max and inputs), and ``pcmspice train`` on the
same LUTs (the full cell), from the same initial weights (pcmspice's N(0, 1/(fan_in+1)) draw), with the same
learning rate, data order and epochs.  Prints the test accuracy after every epoch and examples/s, side by side.
aihwkit keeps the bias on the array too (``mapping.digital_bias = False``), as the chip does.
aihwkit 1.2.0 has no seed for its simulator's random draws (cycle-to-cycle noise, stochastic pulse trains,
device-to-device spreads unless ``construction_seed`` is set), so its runs differ: it is run ``--repeats``
times and its accuracy printed as mean +- sd; pcmspice is deterministic for its seed.
``--no-transfer`` runs aihwkit without its transfers to the PCM: the 3T1C device alone learns.

aihwkit is published as an sdist: ``./go aihwkit`` builds it into the venv (about 3 minutes; docs/torch.md).

    .venv/bin/python benchmarks/bench_aihwkit.py [--epochs 2] [--max-train 0] [--seed 0] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from pcmspice.array.config import ArrayConfig  # noqa: E402
from pcmspice.core.network import parse_network  # noqa: E402
from pcmspice.torch.export import aihwkit_config, build_rpu_config  # noqa: E402
from pcmspice.train import TrainConfig, train  # noqa: E402
from pcmspice.train.config import default_w_max  # noqa: E402
from pcmspice.train.datasets import load_dataset  # noqa: E402
from pcmspice.train.loop import prepare_data, resolve_luts  # noqa: E402
from pcmspice.train.network import init_weights  # noqa: E402


def aihwkit_run(cfg: TrainConfig, luts, ds, orders, w0, transfer: bool = True) -> tuple[list[float], float]:
    from aihwkit.nn import AnalogLinear, AnalogSequential
    from aihwkit.optim import AnalogSGD

    sizes = parse_network(cfg.network)
    w_max = default_w_max(sizes)
    layers = []
    for k, w in enumerate(w0):
        d = aihwkit_config(luts, ArrayConfig(w_max=w_max[k]), n_in=sizes[k] + 1)
        if not transfer:   # the 3T1C alone: the PCM keeps its initial weights
            d["device"]["transfer_every"] = 1e12
        rpu = build_rpu_config(d)
        rpu.mapping.digital_bias = False
        lin = AnalogLinear(sizes[k], sizes[k + 1], bias=True, rpu_config=rpu)
        lin.set_weights(torch.from_numpy(w[:, :-1]).float(), torch.from_numpy(w[:, -1]).float())
        layers += [lin, nn.ReLU()]
    model = AnalogSequential(*layers[:-1])
    opt = AnalogSGD(model.parameters(), lr=cfg.learning_rate)
    opt.regroup_param_groups(model)
    x, y = torch.from_numpy(ds.x_train).float(), torch.from_numpy(ds.y_train)
    xt, yt = torch.from_numpy(ds.x_test).float(), torch.from_numpy(ds.y_test)
    accs, train_s = [], 0.0
    for order in orders:
        t0 = time.perf_counter()
        model.train()
        for i in order:
            loss = F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_s += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            accs.append(float((model(xt).argmax(1) == yt).float().mean()))
    return accs, train_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-train", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-transfer", action="store_true",
                    help="aihwkit without transfers to the PCM (the 3T1C alone learns), to isolate the transfer")
    args = ap.parse_args()
    torch.set_num_threads(1)
    luts = resolve_luts(None)
    cfg = TrainConfig(dataset="mnist5k", network="784-250-10", epochs=args.epochs, seed=args.seed,
                      max_train=args.max_train)
    ds = prepare_data(cfg, load_dataset(cfg.dataset))
    ss_order, ss_init = np.random.SeedSequence([cfg.seed, 0]).spawn(2)   # as pcmspice.train.loop.train
    rng = np.random.default_rng(ss_order)
    orders = [rng.permutation(ds.y_train.size) for _ in range(cfg.epochs)]
    w0 = init_weights(parse_network(cfg.network), np.random.default_rng(ss_init))
    t0 = time.perf_counter()
    res = train(cfg, luts, ds, baseline=False)
    p_acc = [h["test_accuracy"] for h in res.analog.history]
    p_s = res.analog.train_seconds
    runs = [aihwkit_run(cfg, luts, ds, orders, w0, not args.no_transfer) for _ in range(max(args.repeats, 1))]
    a_acc = np.array([r[0] for r in runs])
    a_s = min(r[1] for r in runs)
    n = cfg.epochs * ds.y_train.size
    print(f"784-250-10, mnist5k ({ds.y_train.size} train, {ds.y_test.size} test), batch 1, lr {cfg.learning_rate}, "
          f"seed {cfg.seed} ({time.perf_counter() - t0:.0f} s in all)")
    what = "exported config, no transfers" if args.no_transfer else "exported config"
    print(f"epoch  pcmspice (full cell)  aihwkit ({what}, {len(runs)} runs)")
    for ep, a in enumerate(p_acc, start=1):
        b = 100 * a_acc[:, ep - 1]
        print(f"{ep:5d}  {100 * a:19.2f} %  {b.mean():15.2f} +- {b.std(ddof=1) if b.size > 1 else 0.0:.2f} %")
    print(f"examples/s  {n / p_s:14,.0f}  {n / a_s:22,.0f} (best run)")
    print(f"aihwkit / pcmspice time: {a_s / p_s:.2f}x")


if __name__ == "__main__":
    main()

"""pcmspice.torch speed benchmark (run on demand, not in CI).

Examples per second of 784-250-10 on mnist5k at batch 1, full cell model, in the same process and on the
same examples: ``AnalogLinear`` layers trained by ``AnalogSGD`` in an ordinary torch loop (forward,
``F.cross_entropy``, ``loss.backward()``, ``opt.step()``) against ``pcmspice train``'s own loop
(:meth:`pcmspice.train.network.Network.train_example`), both from the same initial state (the twin of
tests/test_torch.py).  Target: the torch loop within 1.5x of pcmspice train.  Prints the ratio, and whether
the two ended with identical weights (they should: same reads, same array calls).

A third loop is the floor of any torch loop over these arrays: the same loop with the barest layer torch
allows (``_Bare``: an ``autograd.Function`` that calls the array's read, keeps (input, error) and returns the
transposed read; no checks, no shapes, no optimizer object).  The array's reads and updates sweep more
memory than a core's L2 cache holds, so the torch calls after them run cold; what ``AnalogLinear`` costs
beyond this floor is what the layer itself could still save.

    .venv/bin/python benchmarks/bench_torch.py [--examples 2000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # batch-1 matvecs: threads only add overhead

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from pcmspice.core.network import parse_network  # noqa: E402
from pcmspice.torch import AnalogLinear, AnalogSGD  # noqa: E402
from pcmspice.train import TrainConfig  # noqa: E402
from pcmspice.train.config import default_w_max  # noqa: E402
from pcmspice.train.datasets import load_dataset  # noqa: E402
from pcmspice.train.loop import resolve_luts  # noqa: E402
from pcmspice.train.network import build_network, init_weights  # noqa: E402


def twins(cfg: TrainConfig, luts):
    sizes = parse_network(cfg.network)
    w0 = init_weights(sizes, np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]).spawn(2)[1]))
    net = build_network(cfg, luts, w0)
    seeds = np.random.SeedSequence([cfg.seed, 1]).spawn(len(w0))
    w_max = default_w_max(sizes)
    mods = []
    for k, w in enumerate(w0):
        mods += [AnalogLinear(sizes[k], sizes[k + 1], True, luts, cfg.array.replace(w_max=w_max[k]),
                              seed=int(seeds[k].generate_state(1)[0]), weights=w), nn.ReLU()]
    return net, nn.Sequential(*mods[:-1])


class _Bare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, handle, layer):
        xb = np.ones(x.shape[1] + 1)
        xb[:-1] = x.detach().numpy()[0]
        ctx.layer, ctx.xb = layer, xb
        return torch.from_numpy(layer.array.forward(xb).reshape(1, -1))

    @staticmethod
    def backward(ctx, grad):
        d = grad.numpy()[0].copy()
        ctx.layer.pending = (ctx.xb, d)
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return torch.from_numpy(ctx.layer.array.backward(d)[:-1].reshape(1, -1)), None, None


class _BareLinear(nn.Module):
    def __init__(self, array):
        super().__init__()
        self.array, self.handle = array, nn.Parameter(torch.zeros(0, dtype=torch.float64))

    def forward(self, x):
        return _Bare.apply(x, self.handle, self)


def _bare_step(model, bare, xt, yt, i, lr):
    F.cross_entropy(model(xt[i:i + 1]), yt[i:i + 1]).backward()
    for b in bare:
        b.array.update(*b.pending, lr)
        b.array.advance(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    luts = resolve_luts(None)
    ds = load_dataset("mnist5k")
    cfg = TrainConfig(network="784-250-10", seed=0)
    n = min(args.examples, ds.y_train.size)
    x, y = ds.x_train[:n], ds.y_train[:n]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    best_np, best_t, best_f = np.inf, np.inf, np.inf
    same = True
    for r in range(args.repeats):
        net, model = twins(cfg, luts)
        opt = AnalogSGD(model.parameters(), lr=cfg.learning_rate)
        net.train_example(x[0], int(y[0]), cfg.learning_rate)   # first calls (numba's cache load) untimed
        out = model(xt[0:1])
        F.cross_entropy(out, yt[0:1]).backward()
        opt.step()
        t0 = time.perf_counter()
        for i in range(1, n):
            net.train_example(x[i], int(y[i]), cfg.learning_rate)
        t_np = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(1, n):
            loss = F.cross_entropy(model(xt[i:i + 1]), yt[i:i + 1])
            opt.zero_grad()
            loss.backward()
            opt.step()
        t_t = time.perf_counter() - t0
        _, floor = twins(cfg, luts)
        bare = [_BareLinear(m.array) for m in floor if isinstance(m, AnalogLinear)]
        fmodel = nn.Sequential(bare[0], nn.ReLU(), bare[1])
        _bare_step(fmodel, bare, xt, yt, 0, cfg.learning_rate)   # untimed, as above
        t0 = time.perf_counter()
        for i in range(1, n):
            _bare_step(fmodel, bare, xt, yt, i, cfg.learning_rate)
        t_f = time.perf_counter() - t0
        best_np, best_t, best_f = min(best_np, t_np), min(best_t, t_t), min(best_f, t_f)
        arrays = [m.array for m in model if isinstance(m, AnalogLinear)]
        same &= all(np.array_equal(a.weights(), b.weights()) and np.array_equal(c.array.weights(), b.weights())
                    for a, b, c in zip(arrays, net.layers, bare))
        print(f"repeat {r + 1}: pcmspice train {(n - 1) / t_np:,.0f} ex/s, torch loop {(n - 1) / t_t:,.0f} ex/s, "
              f"floor {(n - 1) / t_f:,.0f} ex/s")
    print(f"784-250-10, mnist5k, batch 1, cell mode, {n - 1} examples, best of {args.repeats}:")
    print(f"  pcmspice train (Network.train_example)  {(n - 1) / best_np:9,.0f} examples/s")
    print(f"  AnalogLinear + AnalogSGD, torch loop    {(n - 1) / best_t:9,.0f} examples/s")
    print(f"  the floor: bare autograd.Function       {(n - 1) / best_f:9,.0f} examples/s")
    print(f"  ratio torch / pcmspice time: {best_t / best_np:.2f}x (target <= 1.5x); floor / pcmspice: "
          f"{best_f / best_np:.2f}x; identical weights (all three): {same}")


if __name__ == "__main__":
    main()

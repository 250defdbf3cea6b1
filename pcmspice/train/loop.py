"""Hardware-aware training: the run and its epoch loop, for a network on arrays of
2PCM + 3T1C cells (:mod:`pcmspice.train.network`) and the software baseline trained in
float with the same everything.

Training is per-example SGD, as the chip does it (``batch_size`` 1): forward
MACs, the error read backward through the same arrays, then pulses on every
cell whose input and error coincide, then hardware time advances (leakage,
transfers).  ``batch_size`` > 1 is a minibatch mode for speed (mean update
quantized once per batch).

The baseline is plain float SGD (:class:`~pcmspice.train.network.FloatLayer`) with the same initial
weights, learning rate, epochs, data order and seed.  Same seed, same result:
every random stream (data order, initial weights, cell assignment, pulses,
read noise) is a numpy Generator derived from ``seed``.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.core.network import parse_network
from pcmspice.lut.format import LutSet, load_lut_set
from pcmspice.train.checkpoint import Checkpointer, restore_network
from pcmspice.train.config import TrainConfig, check_resources
from pcmspice.train.datasets import Dataset, crop_to_528, load_dataset
from pcmspice.train.network import FloatLayer, Network, build_network, fitted, init_weights
from pcmspice.train.outputs import summarize
from pcmspice.train.result import RunResult, TrainResult


def prepare_data(cfg: TrainConfig, data: Dataset | None = None) -> Dataset:
    """Load the data set, apply the subset limits, and fit it to the network's input."""
    ds = data if data is not None else load_dataset(cfg.dataset)
    cfg = fitted(cfg, ds)
    check_resources(cfg)
    ds = ds.subset(cfg.max_train or 0, cfg.max_test or 0) if (cfg.max_train or cfg.max_test) else ds
    sizes = parse_network(cfg.network)
    if sizes[0] == 528 and ds.n_features == 784:
        ds = Dataset(ds.name, crop_to_528(ds.x_train, ds.image_shape), ds.y_train,
                     crop_to_528(ds.x_test, ds.image_shape), ds.y_test, ds.n_classes, (22, 24),
                     {**ds.source, "crop": "28x28 -> 22x24 (Burr et al. 2015)"})
    if sizes[0] != ds.n_features:
        raise ConfigError(f"network {cfg.network} takes {sizes[0]} inputs but data set {ds.name} has "
                          f"{ds.n_features} features; use --network {ds.n_features}-...-{ds.n_classes}")
    if sizes[-1] != ds.n_classes:
        raise ConfigError(f"network {cfg.network} has {sizes[-1]} outputs but data set {ds.name} has "
                          f"{ds.n_classes} classes; use --network ...-{ds.n_classes}")
    return ds


def resolve_luts(path: str | Path | None) -> LutSet:
    """Load a LUT set; the committed default when ``path`` is empty."""
    d = Path(path) if path else paths.default_lut_dir()
    if not d.is_dir():
        hint = " (the committed default LUTs are missing; run `pcmspice characterize` or pass --luts DIR)" \
            if not path else ""
        raise LutError(f"{d}: LUT directory not found{hint}")
    return load_lut_set(d)


def _run(net: Network, ds: Dataset, orders: list[np.ndarray], cfg: TrainConfig, label: str,
         progress: bool, eval_noise: bool, on_epoch: Callable[[str, dict], None] | None = None,
         ck: Checkpointer | None = None) -> RunResult:
    from tqdm import tqdm
    t_start = time.perf_counter()
    done = ck.parts.get(label) if ck else None      # the epochs a resumed run has already
    history = list(done["history"]) if done else []
    train_s, wall0 = (done["train_seconds"], done["wall_seconds"]) if done else (0.0, 0.0)
    # the same multiplication the loop does after every epoch, so a resumed run has the same bits
    lr = history[-1]["learning_rate"] * cfg.lr_decay if history else cfg.learning_rate
    bs = cfg.batch_size
    x, y = ds.x_train, ds.y_train
    # a bar only on a terminal; in a log (stderr redirected) one line per epoch instead of a bar's redraws
    bars = progress and sys.stderr.isatty()
    for ep, order in enumerate(orders, start=1):
        if ep <= len(history):
            continue
        t0 = time.perf_counter()
        with tqdm(total=order.size, desc=f"{label} epoch {ep}/{len(orders)}", unit="ex",
                  disable=not bars, leave=False, mininterval=0.5) as bar:
            if bs == 1:
                step = 500
                for s in range(0, order.size, step):
                    for i in order[s:s + step]:
                        net.train_example(x[i], int(y[i]), lr)
                    bar.update(min(step, order.size - s))
            else:
                for s in range(0, order.size, bs):
                    idx = order[s:s + bs]
                    net.train_batch(x[idx], y[idx], lr)
                    bar.update(idx.size)
        train_s += time.perf_counter() - t0
        history.append({"epoch": ep,
                        "train_accuracy": net.accuracy(ds.x_train, ds.y_train, noise=eval_noise),
                        "test_accuracy": net.accuracy(ds.x_test, ds.y_test, noise=eval_noise),
                        "learning_rate": lr})
        if progress and not bars:
            print(epoch_line(label, history[-1], len(orders), time.perf_counter() - t0), file=sys.stderr, flush=True)
        if on_epoch:
            on_epoch(label, history[-1])
        lr *= cfg.lr_decay
        if ck:
            ck.save(label, net, history, train_s, wall0 + time.perf_counter() - t_start,
                    finished=label != "software" and ep == len(orders))
    return RunResult(net, history, wall0 + time.perf_counter() - t_start, train_s)


def epoch_line(label: str, row: dict, epochs: int, seconds: float) -> str:
    """The log line of one finished epoch (where a terminal would show a progress bar)."""
    return (f"{label} epoch {row['epoch']}/{epochs}: train {100 * row['train_accuracy']:.2f} %, "
            f"test {100 * row['test_accuracy']:.2f} % ({seconds:.1f} s)")


def checkpoint_key(cfg: TrainConfig, luts: LutSet | None, ds: Dataset, baseline: bool) -> str:
    """What a checkpoint must match to be resumed: the config, the LUTs, the data and the baseline flag."""
    from pcmspice.core.outputs import run_key
    return run_key(cfg.to_dict(), luts.provenance if luts is not None else None, ds.describe(), baseline)


def _orders_and_init(cfg: TrainConfig, ds: Dataset) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The data order of every epoch and the initial weights, from the seed: the same for the analog network
    and its software baseline."""
    ss_order, ss_init = np.random.SeedSequence([cfg.seed, 0]).spawn(2)
    rng_order = np.random.default_rng(ss_order)
    orders = [rng_order.permutation(ds.y_train.size) for _ in range(cfg.epochs)]
    return orders, init_weights(parse_network(cfg.network), np.random.default_rng(ss_init))


def train_software(cfg: TrainConfig, data: Dataset | None = None) -> RunResult:
    """The software baseline of ``cfg`` alone: the run :func:`train` makes beside the analog one (same data
    order, initial weights, learning rate and epochs), bit for bit.  It reads nothing of ``cfg.array`` or
    ``cfg.luts``, so one baseline serves every array design of the same task and seed (``pcmspice explore``
    trains it once per search)."""
    cfg = fitted(cfg.validate(), data)
    ds = prepare_data(cfg, data)
    orders, w0 = _orders_and_init(cfg, ds)
    return _run(Network([FloatLayer(w) for w in w0], cfg.activation), ds, orders, cfg, "software", False,
                eval_noise=False)


def train(cfg: TrainConfig, luts: LutSet | None = None, data: Dataset | None = None, *,
          baseline: RunResult | bool = True, progress: bool = False,
          on_epoch: Callable[[str, dict], None] | None = None, checkpoint: str | Path | None = None,
          resume: bool = False, stop_after: int | None = None,
          on_checkpoint: Callable[[Path], None] | None = None) -> TrainResult:
    """Train the analog network of ``cfg`` and (unless given or disabled) its float baseline.

    This is the bare training loop, NOT ``pcmspice train``: it uses ``cfg.array.time_per_example_seconds``
    and ``cfg.array.transfer_seconds`` as given (the array's defaults are 1 µs per example and instant
    transfers), so its leakage and drift differ from the CLI's.  ``pcmspice.pipeline.train_run`` (``pcmspice
    train``) takes both times from the power layer's latency model; use it, or a config from one of its runs.

    ``luts`` may be omitted for mode 'ideal'; ``baseline`` may be a RunResult
    of an earlier call with the same config (the ablation reuses one).
    ``on_epoch(label, row)`` is called after every epoch ("software" or the mode).
    ``checkpoint``: a file written after every epoch (:mod:`pcmspice.train.checkpoint`); with
    ``resume`` the run goes on from it (bit-identical to an uninterrupted run).  ``stop_after``
    raises KeyboardInterrupt after that many epochs are checkpointed (the resume test's Ctrl-C);
    ``on_checkpoint(path)`` is told of every checkpoint.
    """
    cfg = fitted(cfg.validate(), data)
    ds = prepare_data(cfg, data)
    if cfg.array.mode != "ideal" and luts is None:
        luts = resolve_luts(cfg.luts)
    orders, w0 = _orders_and_init(cfg, ds)
    ck = None
    if checkpoint is not None:
        if baseline not in (True, False):
            raise ConfigError("a checkpointed run trains its own baseline (baseline=True or False)")
        ck = Checkpointer(checkpoint, checkpoint_key(cfg, luts, ds, bool(baseline)), cfg.to_toml(), bool(baseline),
                          stop_after=stop_after, on_saved=on_checkpoint)
        if resume and not ck.load():
            raise ConfigError(f"{checkpoint}: no checkpoint to resume from (run without --resume)")
    if baseline is True:
        base_net = Network([FloatLayer(w) for w in w0], cfg.activation)
        if ck and "software" in ck.parts:
            restore_network(base_net, ck.arrays, ck.parts["software"]["layers"])
        base = _run(base_net, ds, orders, cfg, "software", progress, eval_noise=False, on_epoch=on_epoch, ck=ck)
    else:
        base = baseline or None
    net = build_network(cfg, luts, w0)
    if ck and cfg.array.mode in ck.parts:
        restore_network(net, ck.arrays, ck.parts[cfg.array.mode]["layers"])
    analog = _run(net, ds, orders, cfg, cfg.array.mode, progress, eval_noise=True, on_epoch=on_epoch, ck=ck)
    res = TrainResult(cfg, ds, analog, base, luts, {})
    res.summary = summarize(res)
    return res

"""Hardware-aware training: fully connected networks on arrays of 2PCM + 3T1C cells,
and the software baseline trained in float with the same everything.

A network ``784-250-10`` is a list of layers, each an
:class:`~pcmspice.array.crossbar.AnalogArray` of shape (n_out, n_in + 1): the bias is
one more input held at 1 and is an analog cell like any other weight.  Hidden
layers use ``activation``; the output is softmax with cross-entropy.

Training is per-example SGD, as the chip does it (``batch_size`` 1): forward
MACs, the error read backward through the same arrays, then pulses on every
cell whose input and error coincide, then hardware time advances (leakage,
transfers).  ``batch_size`` > 1 is a minibatch mode for speed (mean update
quantized once per batch).

The baseline is plain float SGD (:class:`FloatLayer`) with the same initial
weights, learning rate, epochs, data order and seed.  Same seed, same result:
every random stream (data order, initial weights, cell assignment, pulses,
read noise) is a numpy Generator derived from ``seed``.
"""
from __future__ import annotations

import dataclasses
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from pcmspice.array.config import ArrayConfig, _from_dict
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.tables import retention_seconds
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.core.network import parse_network
from pcmspice.lut.format import LutSet, load_lut_set
from pcmspice.train.datasets import Dataset, crop_to_528, load_dataset

ACTIVATIONS = ("sigmoid", "tanh", "relu")


# ---------------------------------------------------------------- configuration
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


# --------------------------------------------------------------------- layers
class FloatLayer:
    """The software baseline's layer: float64 weights, exact SGD; same API as AnalogArray."""

    mode = "float"

    def __init__(self, w: np.ndarray):
        self._w = np.array(w, dtype=np.float64)
        self.shape = self._w.shape
        self.counters: dict[str, int] = {}

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

    def __init__(self, layers: list, activation: str):
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


# ----------------------------------------------------------------- the run
@dataclass
class RunResult:
    """One trained network (analog or baseline) and its per-epoch history."""

    network: Network
    history: list[dict[str, float]]
    wall_seconds: float
    train_seconds: float


def init_weights(sizes: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """N(0, 1/(fan_in+1)) weights, zero biases (last column)."""
    out = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.normal(0.0, 1.0 / np.sqrt(n_in + 1), (n_out, n_in + 1))
        w[:, -1] = 0.0
        out.append(w)
    return out


def prepare_data(cfg: TrainConfig, data: Dataset | None = None) -> Dataset:
    """Load the data set, apply the subset limits, and fit it to the network's input."""
    ds = data if data is not None else load_dataset(cfg.dataset)
    ds = ds.subset(cfg.max_train, cfg.max_test) if (cfg.max_train or cfg.max_test) else ds
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


def leak_scale_for_retention(luts: LutSet, retention_target_seconds: float) -> float:
    """The leak_scale that makes the population's median retention (1 - 1/e of the way
    from v_start to equilibrium) equal ``retention_target_seconds``."""
    tau = float(np.median(retention_seconds(luts.cell)))
    if not np.isfinite(tau) or tau <= 0:
        raise LutError("the cell LUT shows no leakage: retention cannot be scaled")
    return tau / retention_target_seconds


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


def _run(net: Network, ds: Dataset, orders: list[np.ndarray], cfg: TrainConfig, label: str,
         progress: bool, eval_noise: bool, on_epoch: Callable[[str, dict], None] | None = None) -> RunResult:
    from tqdm import tqdm
    t_start = time.perf_counter()
    history, train_s = [], 0.0
    lr = cfg.learning_rate
    bs = cfg.batch_size
    x, y = ds.x_train, ds.y_train
    for ep, order in enumerate(orders, start=1):
        t0 = time.perf_counter()
        with tqdm(total=order.size, desc=f"{label} epoch {ep}/{len(orders)}", unit="ex",
                  disable=not progress, leave=False, mininterval=0.5) as bar:
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
        if on_epoch:
            on_epoch(label, history[-1])
        lr *= cfg.lr_decay
    return RunResult(net, history, time.perf_counter() - t_start, train_s)


@dataclass
class TrainResult:
    config: TrainConfig
    dataset: Dataset
    analog: RunResult
    baseline: RunResult | None
    luts: LutSet | None
    summary: dict[str, Any]


def train(cfg: TrainConfig, luts: LutSet | None = None, data: Dataset | None = None, *,
          baseline: RunResult | bool = True, progress: bool = False,
          on_epoch: Callable[[str, dict], None] | None = None) -> TrainResult:
    """Train the analog network of ``cfg`` and (unless given or disabled) its float baseline.

    ``luts`` may be omitted for mode 'ideal'; ``baseline`` may be a RunResult
    of an earlier call with the same config (the ablation reuses one).
    ``on_epoch(label, row)`` is called after every epoch ("software" or the mode).
    """
    cfg.validate()
    ds = prepare_data(cfg, data)
    if cfg.array.mode != "ideal" and luts is None:
        luts = resolve_luts(cfg.luts)
    sizes = parse_network(cfg.network)
    ss_order, ss_init = np.random.SeedSequence([cfg.seed, 0]).spawn(2)
    rng_order = np.random.default_rng(ss_order)
    orders = [rng_order.permutation(ds.y_train.size) for _ in range(cfg.epochs)]
    w0 = init_weights(sizes, np.random.default_rng(ss_init))
    if baseline is True:
        base = _run(Network([FloatLayer(w) for w in w0], cfg.activation), ds, orders, cfg,
                    "software", progress, eval_noise=False, on_epoch=on_epoch)
    else:
        base = baseline or None
    net = build_network(cfg, luts, w0)
    analog = _run(net, ds, orders, cfg, cfg.array.mode, progress, eval_noise=True, on_epoch=on_epoch)
    res = TrainResult(cfg, ds, analog, base, luts, {})
    res.summary = summarize(res)
    return res


def summarize(res: TrainResult) -> dict[str, Any]:
    """The run's summary (the keys the power/report layers read are listed in the README)."""
    from pcmspice.core.provenance import to_jsonable, versions
    cfg, net = res.config, res.analog.network
    counters: dict[str, int] = {}
    for layer in net.layers:
        for k, v in layer.counters.items():
            counters[k] = counters.get(k, 0) + int(v)
    first = net.layers[0]
    last_a = res.analog.history[-1]
    last_b = res.baseline.history[-1] if res.baseline else {}
    n_train = int(res.dataset.y_train.size)
    n_syn = int(sum(l.shape[0] * l.shape[1] for l in net.layers))
    transfers = int(first.counters.get("transfers", 0)) if hasattr(first, "counters") else 0
    s: dict[str, Any] = {
        "network": cfg.network,
        "dataset": res.dataset.name,
        "epochs": cfg.epochs,
        "mode": cfg.array.mode,
        "polarity_inversion": cfg.array.polarity_inversion,
        "time_per_example_seconds": cfg.array.time_per_example_seconds,
        "examples_trained": n_train * cfg.epochs,
        "analog_test_accuracy": last_a["test_accuracy"],
        "analog_train_accuracy": last_a["train_accuracy"],
        "baseline_test_accuracy": last_b.get("test_accuracy"),
        "baseline_train_accuracy": last_b.get("train_accuracy"),
        "accuracy_gap_percentage_points": (100 * (last_a["test_accuracy"] - last_b["test_accuracy"])
                                           if last_b else None),
        "pulses_up_total": counters.get("pulses_up", 0),
        "pulses_down_total": counters.get("pulses_down", 0),
        # transfer events of the whole network (every array transfers at once, every cell each time)
        "transfers_total": transfers,
        "cell_transfers_total": transfers * n_syn if cfg.array.mode != "ideal" else 0,
        "pcm_set_pulses_total": counters.get("pcm_set_pulses", 0),
        "pcm_reset_pulses_total": counters.get("pcm_reset_pulses", 0),
        "pcm_set_pulses_update_total": counters.get("pcm_set_pulses_update", 0),
        "pcm_not_converged_total": counters.get("pcm_not_converged", 0),
        "n_synapses": n_syn,
        "layers": [{"shape": list(l.shape), "siemens_per_unit_weight": getattr(l, "spu", None),
                    "dw_nominal": getattr(l, "dw_nominal", None),
                    "leak_every_examples": getattr(l, "leak_every", None),
                    "pcm_tolerance_siemens": getattr(l, "tol", None),
                    "w_max": l.config.w_max if hasattr(l, "config") else None} for l in net.layers],
        "hardware_time_seconds": getattr(first, "time_seconds", 0.0),
        "analog_train_wall_seconds": res.analog.train_seconds,
        "analog_examples_per_second": n_train * cfg.epochs / max(res.analog.train_seconds, 1e-9),
        "baseline_train_wall_seconds": res.baseline.train_seconds if res.baseline else None,
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "dataset_info": res.dataset.describe(),
        "lut_name": res.luts.name if res.luts else None,
        "lut_provenance": res.luts.provenance if res.luts else None,
        "pcm_lut_provenance": res.luts.pcm.provenance if res.luts else None,
        "versions": versions(),
    }
    return to_jsonable(s)


# ------------------------------------------------------------------- outputs
def history_rows(res: TrainResult) -> list[dict[str, Any]]:
    rows = []
    for k, h in enumerate(res.analog.history):
        b = res.baseline.history[k] if res.baseline else {}
        rows.append({"epoch": h["epoch"], "analog_train_accuracy": h["train_accuracy"],
                     "analog_test_accuracy": h["test_accuracy"],
                     "baseline_train_accuracy": b.get("train_accuracy"),
                     "baseline_test_accuracy": b.get("test_accuracy"), "learning_rate": h["learning_rate"]})
    return rows


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    lines = [",".join(keys)]
    for r in rows:
        lines.append(",".join("" if r[k] is None else (f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]))
                              for k in keys))
    return "\n".join(lines) + "\n"


def save_run(res: TrainResult, out_dir: str | Path, *, figures: bool = True) -> Path:
    """Write a run into ``out_dir`` atomically: summary.json, history.csv, config.toml,
    transfers.csv, weights.npz (final weights and every array's state) and figures."""
    import io

    from pcmspice.core.provenance import atomic_write_bytes, atomic_write_text, write_json
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "history.csv", _csv(history_rows(res)))
    atomic_write_text(out / "config.toml", res.config.to_toml())
    log = [{"layer": k, **t} for k, l in enumerate(res.analog.network.layers)
           for t in getattr(l, "transfer_log", [])]
    atomic_write_text(out / "transfers.csv", _csv(log) or "layer,examples\n")
    arrays: dict[str, np.ndarray] = {}
    for k, layer in enumerate(res.analog.network.layers):
        state = layer.state() if hasattr(layer, "state") else {"w": layer.weights()}
        arrays.update({f"layer{k}_{name}": np.asarray(v) for name, v in state.items()})
    if res.baseline:
        for k, layer in enumerate(res.baseline.network.layers):
            arrays[f"baseline_layer{k}_w"] = layer.weights()
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(out / "weights.npz", buf.getvalue())
    if figures:
        res.summary["figures"] = [p.name for p in save_figures(res, out)]
    write_json(out / "summary.json", res.summary)
    return out


def save_figures(res: TrainResult, out: Path) -> list[Path]:
    """accuracy.png, weights.png, conductances.png, transfer_error.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    def save(fig, name):
        from pcmspice.core.provenance import save_png
        return save_png(fig, out / name)

    cfg, layers = res.config, res.analog.network.layers
    tag = f"{res.dataset.name}, {cfg.network}, mode {cfg.array.mode}"
    paths = []
    # accuracy vs epoch
    rows = history_rows(res)
    ep = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(ep, [100 * r["analog_test_accuracy"] for r in rows], "o-", color="C0", label="analog, test")
    ax.plot(ep, [100 * r["analog_train_accuracy"] for r in rows], "o--", color="C0", alpha=0.5, label="analog, train")
    if res.baseline:
        ax.plot(ep, [100 * r["baseline_test_accuracy"] for r in rows], "s-", color="C1", label="software, test")
        ax.plot(ep, [100 * r["baseline_train_accuracy"] for r in rows], "s--", color="C1", alpha=0.5,
                label="software, train")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Accuracy vs epoch\n{tag}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(save(fig, "accuracy.png"))
    # weight distributions
    n = len(layers)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    for k, ax in enumerate(axes[0]):
        wa = layers[k].weights().ravel()
        lo, hi = np.percentile(wa, [0.05, 99.95])
        if res.baseline:
            wb = res.baseline.network.layers[k].weights().ravel()
            lo, hi = min(lo, np.percentile(wb, 0.05)), max(hi, np.percentile(wb, 99.95))
            ax.hist(wb, bins=100, range=(lo, hi), histtype="step", color="C1", label="software")
        ax.hist(wa, bins=100, range=(lo, hi), histtype="step", color="C0", label="analog")
        ax.set_yscale("log")
        ax.set_xlabel("weight (dimensionless: W / siemens_per_unit_weight)")
        ax.set_ylabel("synapses")
        ax.set_title(f"layer {k} ({layers[k].shape[0]} x {layers[k].shape[1]})", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"Final weight distributions - {tag}", fontsize=10)
    paths.append(save(fig, "weights.png"))
    # G+/G- and Vc
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    analog = [l for l in layers if getattr(l, "mode", "") in ("cell", "pcm-only")]
    if analog:
        gp = np.concatenate([l.gp.ravel() for l in analog]) * 1e6
        gm = np.concatenate([l.gm.ravel() for l in analog]) * 1e6
        hi = max(gp.max(), gm.max())
        a1.hist(gp, bins=80, range=(0, hi), histtype="step", color="C3", label="G+")
        a1.hist(gm, bins=80, range=(0, hi), histtype="step", color="C2", label="G-")
        a1.set_yscale("log")
        a1.legend(fontsize=8)
    a1.set_xlabel("PCM conductance (uS)")
    a1.set_ylabel("devices")
    a1.set_title("G+ and G- (all layers)", fontsize=10)
    cells = [l for l in layers if getattr(l, "mode", "") == "cell"]
    if cells:
        rng_v = (float(cells[0].v_lo), float(cells[0].v_hi))
        before = [l.vc_before_last_transfer for l in cells if l.vc_before_last_transfer is not None]
        if before:
            a2.hist(np.concatenate([v.ravel() for v in before]), bins=100, range=rng_v, histtype="step",
                    color="C1", label="Vc of g before the last transfer")
        a2.hist(np.concatenate([l.vc.ravel() for l in cells]), bins=100, range=rng_v, histtype="step",
                color="C0", label="Vc of g at the end")
        a2.hist(np.concatenate([l.vref.ravel() for l in cells]), bins=100, range=rng_v, histtype="step",
                color="C4", label="Vc of g_shared at the end")
        a2.axvline(cells[0].v_start, color="k", lw=0.8, ls=":", label="v_start")
        a2.set_yscale("log")
        a2.legend(fontsize=7, loc="upper right")
    else:
        a2.text(0.5, 0.5, f"no 3T1C in mode {cfg.array.mode}", ha="center", va="center", transform=a2.transAxes)
    a2.set_xlabel("capacitor voltage Vc (V)")
    a2.set_ylabel("cells")
    a2.set_title("3T1C capacitor voltages (all layers)", fontsize=10)
    fig.suptitle(tag, fontsize=10)
    paths.append(save(fig, "conductances.png"))
    # transfer error
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    any_t = False
    for k, l in enumerate(analog):
        rep = l.last_transfer or getattr(l, "initial_program", None)
        if rep is not None:
            err = rep.error_siemens * 1e6
            a1.hist(err, bins=100, histtype="step", label=f"layer {k}")
            any_t = True
        log = getattr(l, "transfer_log", [])
        if log:
            a2.plot([t["examples"] / 1000 for t in log], [1e6 * t["rms_error_siemens"] for t in log], "o-",
                    label=f"layer {k}")
    what = "last transfer" if analog and analog[0].last_transfer else "initial programming"
    a1.set_xlabel("PCM pair error F(G+ - G-) - target (uS)")
    a1.set_ylabel("synapses")
    a1.set_yscale("log")
    a1.set_title(f"Programming error, {what}", fontsize=10)
    a2.set_xlabel("examples trained (thousands)")
    a2.set_ylabel("RMS pair error (uS)")
    a2.set_title("RMS programming error per transfer", fontsize=10)
    if any_t:
        a1.legend(fontsize=8)
    if a2.lines:
        a2.legend(fontsize=8)
    else:
        a2.text(0.5, 0.5, "no transfers", ha="center", va="center", transform=a2.transAxes)
    fig.suptitle(tag, fontsize=10)
    paths.append(save(fig, "transfer_error.png"))
    return paths


# ------------------------------------------------------------------ ablation
ABLATIONS = ("ideal", "cell", "no-polarity-inversion", "pcm-only", "leak-10x")
EXTRA_ABLATIONS = ("paper-offset",)   # the full cell with the paper's signed 2 uS transfer offset


def ablation_configs(cfg: TrainConfig, luts: LutSet | None, variants: tuple[str, ...] = ABLATIONS,
                     retention_ratio: float = 10.0) -> dict[str, TrainConfig]:
    """The ablation's runs: same data, seed and hyperparameters; only the array differs.

    ``leak-10x``: the full cell with leakage scaled so that the median retention
    time is ``transfer_every x time_per_example / retention_ratio``."""
    a = cfg.array
    out = {}
    for v in variants:
        if v == "ideal":
            out[v] = cfg.replace(array=a.replace(mode="ideal"))
        elif v == "cell":
            out[v] = cfg.replace(array=a.replace(mode="cell"))
        elif v == "no-polarity-inversion":
            out[v] = cfg.replace(array=a.replace(mode="cell", polarity_inversion=False))
        elif v == "pcm-only":
            out[v] = cfg.replace(array=a.replace(mode="pcm-only"))
        elif v == "paper-offset":
            out[v] = cfg.replace(array=a.replace(mode="cell", offset_scheme="signed"))
        elif v == "leak-10x":
            if luts is None:
                raise LutError("the leakage ablation needs the cell LUT")
            interval = a.transfer_every * a.time_per_example_seconds
            if interval <= 0:
                raise ConfigError("the leakage ablation needs transfers (transfer_every > 0)")
            scale = leak_scale_for_retention(luts, interval / retention_ratio)
            out[v] = cfg.replace(array=a.replace(mode="cell", leak_scale=scale))
        else:
            raise ConfigError(f"ablation variant '{v}' is unknown; expected some of "
                              f"{', '.join(ABLATIONS + EXTRA_ABLATIONS)}")
    return out


def _ablation_variant(name: str, c: TrainConfig, luts: LutSet | None, ds: Dataset,
                      base: RunResult | bool, out_dir: str | Path | None, figures: bool,
                      progress: bool) -> tuple[dict[str, Any], TrainResult | None]:
    res = train(c, luts, ds, baseline=base, progress=progress)
    if out_dir:
        save_run(res, Path(out_dir) / name, figures=figures)
    s = res.summary
    row = {"variant": name, "mode": c.array.mode, "polarity_inversion": c.array.polarity_inversion,
           "leak_scale": c.array.leak_scale, "retention_seconds": None,
           "analog_test_accuracy": s["analog_test_accuracy"],
           "baseline_test_accuracy": s["baseline_test_accuracy"],
           "gap_percentage_points": s["accuracy_gap_percentage_points"],
           "analog_train_accuracy": s["analog_train_accuracy"],
           "pulses_total": s["pulses_up_total"] + s["pulses_down_total"],
           "pcm_set_pulses_total": s["pcm_set_pulses_total"],
           "wall_seconds": round(res.analog.wall_seconds, 1)}
    return row, res


def _ablation_job(args):   # a worker process: returns only the row (results do not pickle)
    return _ablation_variant(*args)[0]


def run_ablation(cfg: TrainConfig, luts: LutSet | None, data: Dataset | None = None, *,
                 variants: tuple[str, ...] = ABLATIONS, retention_ratio: float = 10.0,
                 out_dir: str | Path | None = None, progress: bool = False, figures: bool = False,
                 log: Callable[[str], None] | None = None, jobs: int = 1) -> list[dict[str, Any]]:
    """Train every variant against the float baseline; return one row per variant.

    With ``jobs`` > 1 the variants run in that many processes (each trains its
    own copy of the baseline: same seed, same numbers); otherwise one baseline
    is trained and reused."""
    from pcmspice.core.provenance import atomic_write_text, write_json
    ds = prepare_data(cfg, data)
    cfgs = ablation_configs(cfg, luts, variants, retention_ratio)
    tau = float(np.median(retention_seconds(luts.cell))) if luts is not None else None
    rows: list[dict[str, Any]] = []
    if jobs > 1 and len(cfgs) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            rows = list(ex.map(_ablation_job, [(n, c, luts, ds, True, out_dir, figures, False)
                                               for n, c in cfgs.items()]))
    else:
        base: RunResult | bool = True
        for name, c in cfgs.items():
            row, res = _ablation_variant(name, c, luts, ds, base, out_dir, figures, progress)
            base = res.baseline
            rows.append(row)
    for r in rows:
        if tau and r["leak_scale"] and r["mode"] == "cell":
            r["retention_seconds"] = tau / r["leak_scale"]
        if log:
            log(f"{r['variant']:>22s}: analog {100 * r['analog_test_accuracy']:.2f} %  "
                f"software {100 * r['baseline_test_accuracy']:.2f} %  gap {r['gap_percentage_points']:+.2f} pp")
    if out_dir:
        out = Path(out_dir)
        atomic_write_text(out / "ablation.csv", _csv(rows))
        atomic_write_text(out / "ablation.md", ablation_markdown(rows, cfg, ds))
        write_json(out / "summary.json", {"config": cfg.to_dict(), "dataset": ds.describe(), "rows": rows,
                                          "retention_ratio": retention_ratio,
                                          "lut_provenance": luts.provenance if luts else None})
    return rows


def ablation_markdown(rows: list[dict[str, Any]], cfg: TrainConfig, ds: Dataset) -> str:
    head = (f"Ablation on {ds.name} ({ds.y_train.size} train / {ds.y_test.size} test), network {cfg.network}, "
            f"{cfg.epochs} epochs, lr {cfg.learning_rate}, seed {cfg.seed}, transfer every "
            f"{cfg.array.transfer_every} examples, {cfg.array.time_per_example_seconds:g} s per example.\n\n")
    lines = ["| variant | test accuracy (%) | software (%) | gap (pp) | retention (s) | 3T1C pulses | PCM SET pulses |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        ret = f"{r['retention_seconds']:.3g}" if r["retention_seconds"] else "-"
        lines.append(f"| {r['variant']} | {100 * r['analog_test_accuracy']:.2f} | "
                     f"{100 * r['baseline_test_accuracy']:.2f} | {r['gap_percentage_points']:+.2f} | {ret} | "
                     f"{r['pulses_total']:,} | {r['pcm_set_pulses_total']:,} |")
    return head + "\n".join(lines) + "\n"


def default_network(ds: Dataset, hidden: int = 250) -> str:
    """The network the CLI uses when none is given: one hidden layer of 250 for images,
    none for precomputed features (only the last layer is trained in analog)."""
    if ds.image_shape is None:
        return f"{ds.n_features}-{ds.n_classes}"
    return f"{ds.n_features}-{hidden}-{ds.n_classes}"

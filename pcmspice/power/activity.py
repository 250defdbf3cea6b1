"""How active the arrays are: the read duty of every layer's lines, the update row activity and the
conductances the reads see, measured from a training run or assumed.

A training run (its folder) gives them deterministically, without re-training: the run's data set
(``summary.json``'s config: data set, subset limits) is passed forward through the run's final weights
(``weights.npz``: ``layerK_w``, and the conductances ``layerK_g_plus_siemens`` / ``_minus`` /
``layerK_g_siemens`` / ``layerK_g_shared_siemens`` of the final state) with the run's activation:

* a value v on a line is a read pulse of duty min(|v| / full scale, 1) (``array.input_full_scale``);
* forward: the duty of the rows of layer k is the layer's input (the data for layer 0, the hidden
  activations after), with the bias row always on;
* backward (layers after the first): the duty of the n_out error lines, the errors of the chip's
  per-example SGD (softmax minus one-hot at the output, back through W^T and the activation's derivative);
* update: a row line fires in a pulse slot with probability equal to its input's duty (stochastic
  coincidence), so the update row activity of a layer is its mean forward duty;
* conductances: the mean PCM device (over G+ and G-), the mean 3T1C read conductance g and g_shared
  of the final state, per layer; and the largest duty-weighted conductance sum any integrated line
  sees in any training example (what the integrators must hold).

Without a run (or where the run does not give a value) the values are the config's assumptions and are
marked ``assumed``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.core.errors import PcmSpiceError

KEYS = ("input_mean_duty", "backward_mean_duty", "update_row_activity", "pcm_mean_conductance_siemens",
        "cell_mean_conductance_siemens", "g_shared_mean_conductance_siemens")


@dataclass(frozen=True)
class Activity:
    """Per-layer activity and conductances, each quantity with its source (``run`` or ``assumed``)."""

    input_mean_duty: tuple[float, ...]
    backward_mean_duty: tuple[float, ...]          # layer 0: 0 (no backward read)
    update_row_activity: tuple[float, ...]
    pcm_mean_conductance_siemens: tuple[float, ...]  # one device
    cell_mean_conductance_siemens: tuple[float, ...]
    g_shared_mean_conductance_siemens: tuple[float, ...]
    # the largest sum over a line's cells of duty x conductance in one read (S), per layer:
    # forward columns and backward rows, PCM pair (G+ + G-) and 3T1C g separately
    fwd_pcm_sum_max_siemens: tuple[float, ...]
    fwd_cell_sum_max_siemens: tuple[float, ...]
    bwd_pcm_sum_max_siemens: tuple[float, ...]
    bwd_cell_sum_max_siemens: tuple[float, ...]
    sources: dict[str, str] = field(default_factory=dict)
    examples: int = 0                              # training examples the run's values are measured over
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``activity`` block of a power summary: per quantity its value (the network's mean, weighted
        by the layers' synapses), per-layer values and source."""
        out: dict[str, Any] = {}
        for k in KEYS:
            out[k] = {"value": self.mean(k), "per_layer": list(getattr(self, k)), "source": self.sources[k]}
        out["integrator_worst_case"] = {
            "forward_pcm_sum_max_siemens": list(self.fwd_pcm_sum_max_siemens),
            "forward_cell_sum_max_siemens": list(self.fwd_cell_sum_max_siemens),
            "backward_pcm_sum_max_siemens": list(self.bwd_pcm_sum_max_siemens),
            "backward_cell_sum_max_siemens": list(self.bwd_cell_sum_max_siemens),
            "source": self.sources.get("integrator_worst_case", "assumed")}
        out["examples_measured"] = self.examples
        return out

    def mean(self, key: str) -> float:
        vals = getattr(self, key)
        w = np.asarray(self._weights[: len(vals)], float) if self._weights else np.ones(len(vals))
        if key == "backward_mean_duty":
            w = w.copy()
            w[0] = 0.0
        return float(np.dot(vals, w) / w.sum()) if w.sum() > 0 else 0.0

    _weights: tuple[float, ...] = ()


def assumed(sizes: Sequence[int], duty: float, row_activity: float, g_pcm: float, g_cell: float,
            g_shared: float, bias: bool = True) -> Activity:
    """The config's assumptions for every layer; the worst-case line sums at the assumed duty and mean g."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    n = len(pairs)
    rows = [a + int(bias) for a, _ in pairs]
    outs = [b for _, b in pairs]
    return Activity(
        input_mean_duty=(duty,) * n, backward_mean_duty=(0.0,) + (duty,) * (n - 1),
        update_row_activity=(row_activity,) * n, pcm_mean_conductance_siemens=(g_pcm,) * n,
        cell_mean_conductance_siemens=(g_cell,) * n, g_shared_mean_conductance_siemens=(g_shared,) * n,
        fwd_pcm_sum_max_siemens=tuple(r * duty * 2 * g_pcm for r in rows),
        fwd_cell_sum_max_siemens=tuple(r * duty * g_cell for r in rows),
        bwd_pcm_sum_max_siemens=(0.0,) + tuple(o * duty * 2 * g_pcm for o in outs[1:]),
        bwd_cell_sum_max_siemens=(0.0,) + tuple(o * duty * g_cell for o in outs[1:]),
        sources={**{k: "assumed" for k in KEYS}, "integrator_worst_case": "assumed"},
        _weights=tuple(r * o for r, o in zip(rows, outs)))


def _duty(v: np.ndarray, full_scale: float) -> np.ndarray:
    return np.minimum(np.abs(v) / full_scale, 1.0)


def _activation(name: str):  # as pcmspice.train.network
    if name == "sigmoid":
        return (lambda a: 0.5 * (1.0 + np.tanh(0.5 * a))), (lambda a, h: h * (1.0 - h))
    if name == "tanh":
        return np.tanh, (lambda a, h: 1.0 - h * h)
    return (lambda a: np.maximum(a, 0.0)), (lambda a, h: (a > 0).astype(np.float64))


def run_data(summary: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The training inputs and labels of a run (its data set with the run's subset and crop), or None."""
    from pcmspice.train.datasets import crop_to_528, load_dataset
    cfg = summary.get("config") or {}
    spec = cfg.get("dataset") or summary.get("dataset")
    if not spec:
        return None
    ds = load_dataset(str(spec))
    if cfg.get("max_train") or cfg.get("max_test"):
        ds = ds.subset(int(cfg.get("max_train") or 0), int(cfg.get("max_test") or 0))
    x = ds.x_train
    n_in = int(str(summary.get("network", "")).split("-")[0] or 0)
    if n_in == 528 and x.shape[1] == 784:
        x = crop_to_528(x, ds.image_shape)
    return np.asarray(x, np.float64), np.asarray(ds.y_train, np.int64)


def _forward_backward(ws: list[np.ndarray], x: np.ndarray, y: np.ndarray | None, activation: str, bias: bool
                      ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Each layer's row inputs (bias included) and, with labels, the error on each layer's outputs (layers after the
    first): the chip's per-example SGD without noise."""
    n = len(ws)
    f, df = _activation(activation)
    acts, pres = [], []
    h = x
    for k, w in enumerate(ws):
        hb = np.concatenate([h, np.ones((h.shape[0], 1))], axis=1) if bias else h
        acts.append(hb)
        a = hb @ w.T
        pres.append(a)
        h = f(a) if k < n - 1 else a
    errs: list[np.ndarray | None] = [None] * n
    if y is not None:
        a = pres[-1]
        e = np.exp(a - a.max(axis=1, keepdims=True))
        delta = e / e.sum(axis=1, keepdims=True)
        delta[np.arange(y.size), y] -= 1.0
        for k in range(n - 1, 0, -1):
            errs[k] = delta
            back = delta @ ws[k]
            back = back[:, :-1] if bias else back
            delta = back * df(pres[k - 1], f(pres[k - 1]))
    return acts, errs


CHUNK = 4096   # examples per pass: bounds the memory of a large data set


def measured(sizes: Sequence[int], x: np.ndarray, y: np.ndarray | None, weights: Mapping[str, np.ndarray],
             activation: str, full_scale: float, fallback: Activity, bias: bool = True) -> Activity:
    """Activity of a network with ``weights`` (weights.npz arrays) on inputs ``x`` (examples, n_in), labels
    ``y`` (for the output errors; None: the backward duties stay assumed).  Conductances missing from the
    weights (modes ideal, pcm-only) stay those of ``fallback``."""
    n = len(sizes) - 1
    ws = [np.asarray(weights[f"layer{k}_w"], np.float64) for k in range(n)]
    have_pcm = all(f"layer{k}_g_plus_siemens" in weights for k in range(n))
    have_cell = all(f"layer{k}_g_siemens" in weights for k in range(n))
    gp = [np.asarray(weights[f"layer{k}_g_plus_siemens"], np.float64)
          + np.asarray(weights[f"layer{k}_g_minus_siemens"], np.float64) for k in range(n)] if have_pcm else None
    gc = [np.asarray(weights[f"layer{k}_g_siemens"], np.float64) for k in range(n)] if have_cell else None
    fwd_sum, bwd_sum = np.zeros(n), np.zeros(n)
    fwd_cells, bwd_cells = np.zeros(n), np.zeros(n)
    fp, fc = list(fallback.fwd_pcm_sum_max_siemens), list(fallback.fwd_cell_sum_max_siemens)
    bp, bc = list(fallback.bwd_pcm_sum_max_siemens), list(fallback.bwd_cell_sum_max_siemens)
    if have_pcm:
        fp, bp = [0.0] * n, [0.0] * n if y is not None else bp
    if have_cell:
        fc, bc = [0.0] * n, [0.0] * n if y is not None else bc
    for s0 in range(0, x.shape[0], CHUNK):
        acts, errs = _forward_backward(ws, x[s0:s0 + CHUNK], None if y is None else y[s0:s0 + CHUNK], activation,
                                       bias)
        for k in range(n):
            d = _duty(acts[k], full_scale)
            fwd_sum[k] += d.sum()
            fwd_cells[k] += d.size
            de = None if errs[k] is None else _duty(errs[k], full_scale)
            if de is not None:
                bwd_sum[k] += de.sum()
                bwd_cells[k] += de.size
            if have_pcm:
                fp[k] = max(fp[k], float((d @ gp[k].T).max()))
                if de is not None:
                    bp[k] = max(bp[k], float((de @ gp[k]).max()))
            if have_cell:
                fc[k] = max(fc[k], float((d @ gc[k].T).max()))
                if de is not None:
                    bc[k] = max(bc[k], float((de @ gc[k]).max()))
    src = dict(fallback.sources)
    fwd = tuple(float(v) for v in fwd_sum / np.maximum(fwd_cells, 1))
    src["input_mean_duty"] = src["update_row_activity"] = "run"
    if y is not None:
        bwd = (0.0,) + tuple(float(bwd_sum[k] / max(bwd_cells[k], 1)) for k in range(1, n))
        src["backward_mean_duty"] = "run"
    else:
        bwd = fallback.backward_mean_duty
    g_pcm, g_cell, g_sh = (list(fallback.pcm_mean_conductance_siemens), list(fallback.cell_mean_conductance_siemens),
                           list(fallback.g_shared_mean_conductance_siemens))
    for k in range(n):
        if have_pcm:
            g_pcm[k] = float(gp[k].mean() / 2)
        if have_cell:
            g_cell[k] = float(gc[k].mean())
            if f"layer{k}_g_shared_siemens" in weights:
                g_sh[k] = float(np.mean(weights[f"layer{k}_g_shared_siemens"]))
    if have_pcm:
        src["pcm_mean_conductance_siemens"] = "run"
    if have_cell:
        src["cell_mean_conductance_siemens"] = "run"
        if all(f"layer{k}_g_shared_siemens" in weights for k in range(n)):
            src["g_shared_mean_conductance_siemens"] = "run"
    if have_pcm or have_cell:
        src["integrator_worst_case"] = "run"
    return Activity(fwd, bwd, fwd, tuple(g_pcm), tuple(g_cell), tuple(g_sh), tuple(fp), tuple(fc), tuple(bp),
                    tuple(bc), src, int(x.shape[0]), _weights=fallback._weights)


def from_run(run_dir: str | Path, summary: Mapping[str, Any], sizes: Sequence[int], full_scale: float,
             fallback: Activity, bias: bool = True) -> tuple[Activity, list[str]]:
    """The activity of training run ``run_dir`` (see the module docstring); ``fallback`` where it cannot be
    measured, with a note saying why."""
    notes: list[str] = []
    wpath = Path(run_dir) / "weights.npz"
    if not wpath.is_file():
        return fallback, [f"{run_dir}: no weights.npz: read duty, update activity and conductances are ASSUMED"]
    try:
        with np.load(wpath, allow_pickle=False) as z:
            weights = {k: np.array(z[k]) for k in z.files}
    except (OSError, ValueError) as exc:
        return fallback, [f"{wpath}: unreadable ({exc}): activity ASSUMED"]
    if not all(f"layer{k}_w" in weights for k in range(len(sizes) - 1)):
        return fallback, [f"{wpath}: no layer weights: activity ASSUMED"]
    try:
        data = run_data(summary)
    except PcmSpiceError as exc:
        data = None
        notes.append(f"the run's data set could not be loaded ({exc}): activity ASSUMED")
    if data is None or data[0].shape[1] != sizes[0]:
        return fallback, notes or ["the run names no data set of its input size: activity ASSUMED"]
    x, y = data
    cfg = summary.get("config") or {}
    act = measured(sizes, x, y, weights, str(cfg.get("activation", "relu")), full_scale, fallback, bias)
    notes.append(f"read duty and update row activity measured on the run's {x.shape[0]} training inputs through its "
                 "final weights; conductances of its final state (weights.npz)")
    return act, notes


"""``AnalogLinear``: an ``nn.Linear`` whose weights live on an :class:`~pcmspice.array.crossbar.AnalogArray`,
and :func:`convert_to_analog`, which puts them into an existing model.

The layer calls only the array's own operations, the ones ``pcmspice train`` calls
(:class:`pcmspice.train.network.Network`): ``forward`` is the array's forward read (with its read noise),
the input gradient is its transposed read ``backward``, and the update, applied by
:class:`~pcmspice.torch.optim.AnalogSGD`, is its ``update`` (pulse coincidence from the layer's input and
output error) followed by ``advance`` (leakage, transfers, polarity inversion, hardware time).  Whatever
the array model does, the layer does too.

The bias is one more array input held at 1, a cell like any other (as in ``pcmspice train``).  A batch of
one (input ``(in,)`` or ``(1, in)``) is read and updated exactly as the chip and ``pcmspice train`` do, one
example at a time; larger batches use the arrays' minibatch reads and update (a documented approximation:
one quantized update per batch).  No weight gradient is formed: the backward pass records the layer's input
and output error, and ``AnalogSGD.step()`` turns them into pulses.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet
from pcmspice.torch import state as _state
from pcmspice.train.config import default_w_max

__all__ = ["AnalogLinear", "analog_layers", "convert_to_analog"]


@cache
def _default_luts() -> LutSet:
    from pcmspice.train.loop import resolve_luts
    return resolve_luts(None)


def resolve_luts(luts: LutSet | str | Path | None, mode: str) -> LutSet | None:
    """A LUT set from a set, a directory, or None (the committed default; none needed in mode 'ideal')."""
    if isinstance(luts, LutSet):
        return luts
    if luts is None or str(luts) == "":
        return None if mode == "ideal" else _default_luts()
    from pcmspice.train.loop import resolve_luts as load
    return load(luts)


def init_weights(n_out: int, n_in: int, bias: bool, seed: int) -> np.ndarray:
    """pcmspice's initial weights (:func:`pcmspice.train.network.init_weights`): N(0, 1/(n_in+1)), zero bias."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    w = rng.normal(0.0, 1.0 / np.sqrt(n_in + 1), (n_out, n_in + int(bias)))
    if bias:
        w[:, -1] = 0.0
    return w


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a numpy array (a view where it can be; bfloat16, which numpy lacks, as float64)."""
    t = t.detach() if t.requires_grad else t
    return (t.double() if t.dtype == torch.bfloat16 else t).numpy()


class _AnalogRead(torch.autograd.Function):
    """y = W x by the array's forward read; the input gradient by its transposed read.

    Written for the cost of a batch-1 step, where the array's reads and updates sweep more memory than
    the cache holds, so that every torch call after them runs cold (~20 us each here): the shapes and
    dtypes are handled in numpy, and a tensor crosses to numpy and back once each way."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, handle: torch.Tensor, layer: AnalogLinear) -> torch.Tensor:
        xb = layer._array_input(x)
        y = layer.array.forward(xb)
        ctx.layer, ctx.xb, ctx.in_shape, ctx.in_dtype = layer, xb, x.shape, x.dtype
        if x.ndim != y.ndim or x.ndim > 2:
            y = y.reshape(x.shape[:-1] + (layer.out_features,))
        t = torch.from_numpy(y)
        return t if t.dtype == x.dtype else t.to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        layer, xb = ctx.layer, ctx.xb
        # a copy: the error is kept until the optimizer's step
        d = np.array(_numpy(grad), dtype=np.float64).reshape(xb.shape[:-1] + (layer.out_features,))
        layer._pending.append((xb, d))
        if not ctx.needs_input_grad[0]:
            return None, None, None
        back = layer.array.backward(d)
        if layer.has_bias:
            back = back[..., :-1]
        if back.shape != ctx.in_shape:
            back = back.reshape(ctx.in_shape)
        gin = torch.from_numpy(back)
        return gin if gin.dtype == ctx.in_dtype else gin.to(ctx.in_dtype), None, None


_base_apply = getattr(getattr(torch._C, "_FunctionBase", None), "__dict__", {}).get("apply")
_apply_c = _base_apply.__get__(None, _AnalogRead) if _base_apply is not None else _AnalogRead.apply


def _read(x: torch.Tensor, handle: torch.Tensor, layer: AnalogLinear) -> torch.Tensor:
    """``_AnalogRead.apply`` without its Python preamble (which binds the default arguments of a
    ``setup_context`` this Function does not define, and unwraps functorch wrappers) unless functorch is
    active: the preamble is ~5 us warm, ~40 us cold."""
    if torch._C._are_functorch_transforms_active():
        return _AnalogRead.apply(x, handle, layer)
    return _apply_c(x, handle, layer)


class AnalogLinear(nn.Module):
    """A fully connected layer on an array of 2PCM + 3T1C cells (or of the other weight models).

    ``luts``: a :class:`~pcmspice.lut.format.LutSet` or its directory (None: the committed default).
    ``config``: the :class:`~pcmspice.array.config.ArrayConfig` (None: the default one with ``w_max`` from
    :func:`pcmspice.train.config.default_w_max`'s output-layer rule, 20/sqrt(in+1) capped at 2).
    ``weights``: the initial weights to program, (out, in) or (out, in + 1) with the bias as last column
    (None: pcmspice's N(0, 1/(in+1)) draw from ``seed``, zero bias).  ``seed`` seeds the array's random
    streams (cell assignment, programming, pulses, read noise) as ``pcmspice train`` seeds its layers.

    ``weight`` and ``bias`` are read-only views of the weights the array holds now (torch tensors, not
    parameters); train the layer with :class:`~pcmspice.torch.optim.AnalogSGD`.  ``state_dict()`` carries
    the array's whole state (every conductance, capacitor voltage, polarity, clock, counter and random
    stream), so a loaded layer goes on bit-identically.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 luts: LutSet | str | Path | None = None, config: ArrayConfig | None = None, *,
                 seed: int = 0, weights: np.ndarray | torch.Tensor | None = None, kernel: str = "auto"):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ConfigError(f"AnalogLinear({in_features}, {out_features}) is invalid; both sizes must be >= 1")
        self.in_features, self.out_features, self.has_bias = int(in_features), int(out_features), bool(bias)
        cfg = config if config is not None else ArrayConfig(w_max=default_w_max((in_features, out_features))[0])
        cfg = cfg.validate()
        self.luts = resolve_luts(luts, cfg.mode)
        self.seed, self.kernel = int(seed), kernel
        # marks the layer for AnalogSGD and makes autograd call the backward read; it holds no weights
        self.analog = nn.Parameter(torch.zeros(0, dtype=torch.float64))
        self.analog._pcmspice_layer = self
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._n_in = self.in_features + int(self.has_bias)
        self.array = self._build(cfg, self.seed)
        self.array.program(self._initial(weights))

    def _build(self, cfg: ArrayConfig, seed: int) -> AnalogArray:
        return AnalogArray(self.out_features, self._n_in, self.luts, cfg, seed=seed, kernel=self.kernel)

    def _initial(self, weights: Any) -> np.ndarray:
        if weights is None:
            return init_weights(self.out_features, self.in_features, self.has_bias, self.seed)
        w = weights.detach().cpu().double().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
        w = np.array(w, dtype=np.float64)
        if w.shape == (self.out_features, self.in_features) and self.has_bias:
            w = np.hstack([w, np.zeros((self.out_features, 1))])
        if w.shape != (self.out_features, self._n_in):
            raise ConfigError(f"initial weights of shape {w.shape} do not fit AnalogLinear({self.in_features}, "
                              f"{self.out_features}, bias={self.has_bias}); expected {(self.out_features, self._n_in)}"
                              + (f" or {(self.out_features, self.in_features)}" if self.has_bias else ""))
        return w

    # ------------------------------------------------------------------ reads
    def _array_input(self, x: torch.Tensor) -> np.ndarray:
        """The array's input: float64, bias 1 appended; 1-D for one example (the chip's read)."""
        if x.shape[-1] != self.in_features:
            raise ConfigError(f"AnalogLinear({self.in_features}, {self.out_features}) got an input with "
                              f"{x.shape[-1]} features (shape {tuple(x.shape)}); expected {self.in_features}")
        xs = _numpy(x).reshape(-1, self.in_features)
        n = xs.shape[0]
        xb = np.empty((n, self._n_in)) if n > 1 else np.empty(self._n_in)
        xb[..., :self.in_features] = xs if n > 1 else xs[0]
        if self.has_bias:
            xb[..., -1] = 1.0
        return xb

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.analog._pcmspice_layer = self   # again: a deep copy or a load drops attributes of parameters
        return _read(x, self.analog, self)

    @property
    def weight(self) -> torch.Tensor:
        """W (out, in) as the array holds it now (a copy)."""
        return torch.from_numpy(self.array.weights()[:, :self.in_features].copy())

    @property
    def bias(self) -> torch.Tensor | None:
        return torch.from_numpy(self.array.weights()[:, -1].copy()) if self.has_bias else None

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.has_bias}, "
                f"mode={self.array.mode}")

    # ----------------------------------------------------------------- update
    def analog_update(self, lr: float) -> int:
        """Apply the recorded (input, error) pairs as the array's pulsed updates, then their hardware time
        (``advance``: leakage, transfers, polarity inversion).  Returns the pulses applied."""
        pulses = 0
        for xb, d in self._pending:
            if xb.ndim == 1:
                pulses += self.array.update(xb, d, lr)
                self.array.advance(1)
            else:   # d is dL/dy of a mean loss: the array's mean update at lr x batch is the same SGD step
                pulses += self.array.update_batch(xb, d, lr * xb.shape[0])
                self.array.advance(xb.shape[0])
        self._pending.clear()
        return pulses

    # ------------------------------------------------------------------ state
    def get_extra_state(self) -> dict[str, Any]:
        return _state.pack(self)

    def set_extra_state(self, st: dict[str, Any]) -> None:
        _state.unpack(self, st)


def analog_layers(model: nn.Module) -> list[AnalogLinear]:
    return [m for m in model.modules() if isinstance(m, AnalogLinear)]


def convert_to_analog(model: nn.Module, luts: LutSet | str | Path | None = None,
                      config: ArrayConfig | None = None, *, seed: int = 0,
                      w_max: float | None = None, kernel: str = "auto") -> nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (in place; returned too) by an :class:`AnalogLinear`
    programmed with its present weights and bias.

    Layer k (in module order) gets the array seed ``pcmspice train`` gives its layer k.  ``w_max``: the
    weight each layer's PCM span maps to; None: :func:`~pcmspice.train.config.default_w_max` over the chain of
    linear layers (the output-layer rule for the last, the hidden rule for the others)."""
    found = [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
             if isinstance(child, nn.Linear)]
    if not found:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear layer to convert")
    rule = default_w_max(tuple(c.in_features for _, _, c in found) + (found[-1][2].out_features,))
    base = config or ArrayConfig()
    seeds = np.random.SeedSequence([seed, 1]).spawn(len(found))
    luts = resolve_luts(luts, base.validate().mode)
    for k, (parent, name, lin) in enumerate(found):
        w = lin.weight.detach().double()
        if lin.bias is not None:
            w = torch.cat([w, lin.bias.detach().double()[:, None]], 1)
        layer = AnalogLinear(lin.in_features, lin.out_features, lin.bias is not None, luts,
                             base.replace(w_max=float(w_max or rule[k])), seed=int(seeds[k].generate_state(1)[0]),
                             weights=w, kernel=kernel)
        setattr(parent, name, layer)
    return model

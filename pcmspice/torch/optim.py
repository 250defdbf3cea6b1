"""``AnalogSGD``: the chip's update for every analog layer, plain SGD for every other parameter."""
from __future__ import annotations

from collections.abc import Iterable

import torch

from pcmspice.core.errors import ConfigError

__all__ = ["AnalogSGD"]


class AnalogSGD(torch.optim.Optimizer):
    """SGD whose ``step()`` applies, to every :class:`~pcmspice.torch.layers.AnalogLinear` among ``params``,
    the array's own update from the input and output error its backward pass recorded (pulse coincidence,
    quantized; batch 1 as the chip does it, a minibatch as one quantized mean update), then the examples'
    hardware time (``advance``: leakage, transfers and polarity inversion on the array's schedule).  Every
    other parameter gets plain SGD: ``p -= lr * grad``.

    The learning rate is the group's ``lr`` at the time of the step, so torch's LR schedulers work.
    """

    def __init__(self, params: Iterable, lr: float = 0.01):
        if not lr > 0:
            raise ConfigError(f"AnalogSGD lr = {lr} is invalid; expected a number > 0")
        super().__init__(params, {"lr": lr})

    @staticmethod
    def _layer(p: torch.Tensor):
        return getattr(p, "_pcmspice_layer", None)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                layer = self._layer(p)
                if layer is not None:
                    layer.analog_update(lr)
                elif p.grad is not None:
                    p.add_(p.grad, alpha=-lr)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Also drops the errors analog layers recorded since the last step."""
        super().zero_grad(set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                layer = self._layer(p)
                if layer is not None:
                    layer._pending.clear()

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
        return p.__dict__.get("_pcmspice_layer")

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for hook in self._optimizer_step_pre_hooks.values():
            hook(self, (), {})
        for group in self.param_groups:
            lr = group["lr"]
            plain = []
            for p in group["params"]:
                layer = p.__dict__.get("_pcmspice_layer")
                if layer is not None:
                    layer.analog_update(lr)
                elif p.grad is not None:
                    plain.append(p)
            if plain:
                with torch.no_grad():
                    for p in plain:
                        p.add_(p.grad, alpha=-lr)
        self._optimizer_step_code()
        for hook in self._optimizer_step_post_hooks.values():
            hook(self, (), {})
        return loss

    # torch wraps every optimizer's step in a profiler record and its hooks, ~20 us a call (as much as a
    # small layer's update): this step calls the optimizer's own hooks itself
    step.hooked = True  # type: ignore[attr-defined]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of the ordinary parameters, and drops the errors analog layers recorded
        since the last step."""
        for group in self.param_groups:
            for p in group["params"]:
                layer = self._layer(p)
                if layer is not None:
                    layer._pending.clear()
                elif p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.detach_().zero_()

"""The weight cache: W and the read-noise variances as the MACs read them, with explicit invalidation.

The cache holds float32 copies (float64 for the ideal model) of W, of every cell's read-noise variance
(None without read noise) and the two partial sums a pulse needs to rewrite its cells' entries alone
(``wbase``: W without the 3T1C's g; ``var_base``: the variance without g's).  It never decides what is in
it: its owner (the weight model) gives the two rebuild functions, every change of the device state either
:meth:`invalidate`\\ s the part it changed or writes the changed entries in place after :meth:`fresh`, and
every reader calls :meth:`fresh`, which rebuilds an invalid part from the device state as it is then.  A
rebuild is a pure function of that state, so when it happens does not change a bit of the result.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

VERSION = 1
_NONE64 = np.zeros(0)


class WeightCache:
    """W (``w``), its read-noise variance (``var``) and their partial sums, rebuilt on demand."""

    def __init__(self, rebuild_w: Callable[[WeightCache], None], rebuild_var: Callable[[WeightCache], None]):
        self._rebuild_w, self._rebuild_var = rebuild_w, rebuild_var
        self.w: np.ndarray = _NONE64
        self.wbase: np.ndarray = _NONE64
        self.var: np.ndarray | None = None
        self.var_base: np.ndarray = _NONE64
        self.w_valid = self.var_valid = False

    def invalidate(self, w: bool = True, var: bool = True) -> None:
        """The device state changed: rebuild W (``w``) and/or the variances (``var``) before the next read."""
        self.w_valid = self.w_valid and not w
        self.var_valid = self.var_valid and not var

    def fresh(self) -> WeightCache:
        """The cache with every invalid part rebuilt from the device state now."""
        if not self.w_valid:
            self._rebuild_w(self)
            self.w_valid = True
        if not self.var_valid:
            self._rebuild_var(self)
            self.var_valid = True
        return self

    def shift_var(self, d: np.ndarray) -> None:
        """The variances of every cell moved by ``d`` (float64, one per cell, flat) in a part that is not g's
        (a drift-compensation gain on the PCM part): ``var_base`` and ``var`` shift alike, in place of a
        rebuild.  Call on a fresh cache."""
        if self.var is None:
            return
        if self.var_base.size:
            self.var_base = self.var_base + d
        self.var = (self.var.reshape(-1).astype(np.float64) + d).astype(np.float32).reshape(self.var.shape)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The cached arrays (not recomputable bit for bit: a drift refresh keeps W's 3T1C part)."""
        self.fresh()
        return {"version": VERSION, "w": self.w.copy(), "wbase": self.wbase.copy(),
                "var": None if self.var is None else self.var.copy(), "var_base": self.var_base.copy()}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        check_version("weight cache", st, VERSION)
        self.w, self.wbase, self.var_base = st["w"].copy(), st["wbase"].copy(), st["var_base"].copy()
        self.var = None if st["var"] is None else st["var"].copy()
        self.w_valid = self.var_valid = True


def check_version(part: str, st: dict[str, Any], version: int) -> None:
    """Refuse the state of ``part`` unless it is a dict of format ``version``."""
    from pcmspice.core.errors import ConfigError
    got = st.get("version") if isinstance(st, dict) else None
    if got != version:
        raise ConfigError(f"{part} state of version {got} cannot be loaded: this pcmspice reads version "
                          f"{version} (a checkpoint written by another pcmspice version?)")

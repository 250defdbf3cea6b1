"""What a named testbench returns."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class TestbenchResult:
    __test__ = False                   # not a pytest test class, despite the name

    table: pd.DataFrame
    measures: dict[str, float]
    plot: Callable[[Any], None]        # draws the main waveform on a matplotlib Axes
    netlists: list[str]                # template names used
    mismatch: dict[str, list[float]]   # the draws that made it
    warnings: list[str] = field(default_factory=list)   # what the user must know (`simulate` prints each)

"""Bounds on the memory a run may ask for, checked before the work starts.

Every parameter that sets work or memory has a documented upper limit (the ``le=`` bounds
of the configs, the ranges of the command-line options, the netlist parameter limits of
:mod:`pcmspice.spice.netlist`).  Within those, what a whole run needs (a network of arrays,
a characterization sweep, a data file) is estimated first and refused with one line when it
is above :func:`max_memory_bytes`: ``PCMSPICE_MAX_MEMORY_GB`` (default 8 GB) raises it.
"""
from __future__ import annotations

import math
import os

from pcmspice.core.errors import ConfigError

MEMORY_ENV = "PCMSPICE_MAX_MEMORY_GB"
DEFAULT_MAX_MEMORY_GB = 8.0
MAX_LAYER_SIZE = 1_000_000       # neurons of one network layer (a chip has ~10^3 per array)
MAX_LAYERS = 32                  # layers of a network, input and output included
MAX_SEED = 2**63 - 1             # seeds are 64-bit
MAX_EPOCHS = 10_000
MAX_CELLS = 100_000              # Monte Carlo cells of one characterization combination (the paper ran 1,000)
MAX_PCM_DEVICES = 10_000         # PCM devices of one combination
# the 3T1C's storage capacitor, F: 0.1 fF (below a transistor's own gate capacitance the node is not a capacitor's)
# to 10 pF (an area no synapse has); the one range of the netlist parameter c_store_farads and of power's
# circuit.c_store_farads
C_STORE_FARADS_RANGE = (1e-16, 1e-11)


def max_memory_bytes() -> float:
    """The memory a run may ask for, in bytes (``PCMSPICE_MAX_MEMORY_GB``, default 8 GB)."""
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_MEMORY_GB * 1e9
    try:
        gb = float(raw)
    except ValueError:
        gb = math.nan
    if not (math.isfinite(gb) and gb > 0):
        raise ConfigError(f"{MEMORY_ENV} = {raw!r} is invalid; expected a number of gigabytes > 0, e.g. 16")
    return gb * 1e9


def check_memory(what: str, need_bytes: float, smaller: str) -> None:
    """Refuse ``what`` when it needs more than :func:`max_memory_bytes`; ``smaller`` says what to reduce."""
    limit = max_memory_bytes()
    if need_bytes > limit:
        raise ConfigError(f"{what} needs about {_gb(need_bytes)} of memory, above the limit of {_gb(limit)}; "
                          f"{smaller}, or raise the limit with {MEMORY_ENV}=<GB>")


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"

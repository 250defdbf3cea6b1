"""Network layer sizes: the one parser of ``784-250-10`` that training, power and the CLI share."""
from __future__ import annotations

import re
from collections.abc import Sequence

from pcmspice.core.errors import ConfigError
from pcmspice.core.limits import MAX_LAYER_SIZE, MAX_LAYERS


def parse_network(network: str | Sequence[int]) -> tuple[int, ...]:
    """``"784-250-10"`` (or ``784x250x10``) or ``[784, 250, 10]`` -> ``(784, 250, 10)``."""
    if not isinstance(network, str):
        try:
            network = "-".join(str(int(s)) for s in network)
        except (TypeError, ValueError):
            raise ConfigError(f"network {network!r} is invalid; expected layer sizes like 784-250-10") from None
    try:
        sizes = tuple(int(s) for s in re.split(r"[-x]", str(network)))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise ConfigError(f"network '{network}' is invalid; expected layer sizes like 784-250-10 "
                          "(at least input-output, every size >= 1)")
    if len(sizes) > MAX_LAYERS or max(sizes) > MAX_LAYER_SIZE:
        raise ConfigError(f"network '{network}' is invalid; expected at most {MAX_LAYERS} layers of at most "
                          f"{MAX_LAYER_SIZE:,} neurons each")
    return sizes


def network_name(sizes: Sequence[int]) -> str:
    """``(784, 250, 10)`` -> ``"784-250-10"``."""
    return "-".join(str(s) for s in sizes)

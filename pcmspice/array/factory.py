"""The explicit factory of the array's weight models: which parts each ``ArrayConfig.mode`` is made of.

=============  ==========================================  ===================================
``ideal``      float weights, exact SGD                    :class:`~pcmspice.array.ideal.IdealWeights`
``pcm-only``   the PCM pair alone (Burr et al. 2015)       :class:`~pcmspice.array.pcm_only.PcmOnlyWeights`
``cell``       the full 2PCM + 3T1C cell                   :class:`~pcmspice.array.cell.CellWeights`
=============  ==========================================  ===================================
"""
from __future__ import annotations

from typing import Any

from pcmspice.array.capacitors import Capacitors
from pcmspice.array.cell import CellWeights
from pcmspice.array.config import ArrayConfig
from pcmspice.array.ideal import IdealWeights
from pcmspice.array.pcm_only import PcmOnlyWeights
from pcmspice.array.pcm_pair import Assign, PcmPairs
from pcmspice.array.transfer import IncrementalMove, MoveToPcm, RefreshSaturated, TransferStrategy
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import LutSet


def build_parts(mode: str, shape: tuple[int, int], luts: LutSet | None, config: ArrayConfig,
                assign: Assign, kernel: str, pcm_pairs: type = PcmPairs, capacitors: type = Capacitors
                ) -> tuple[Any, TransferStrategy | None]:
    """The weight model of ``mode`` and the transfer strategy it takes by default, built from
    the parts ``pcm_pairs`` and ``capacitors`` (classes with the signatures of
    :class:`PcmPairs` and :class:`Capacitors`: pass another to swap a part)."""
    if mode == "ideal":
        return IdealWeights(shape), None
    if luts is None:
        raise LutError(f"array mode '{mode}' needs lookup tables (only mode 'ideal' runs without)")
    pairs = pcm_pairs(luts.pcm, config, shape, assign)
    if mode == "pcm-only":
        return PcmOnlyWeights(pairs), RefreshSaturated()
    if mode == "cell":
        move = IncrementalMove() if config.incremental_transfer else MoveToPcm()
        return CellWeights(pairs, capacitors(luts.cell, config, shape, pairs.spu, assign, kernel)), move
    raise ConfigError(f"array mode '{mode}' has no weight model")

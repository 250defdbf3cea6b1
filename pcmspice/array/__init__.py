"""The array layer: crossbars of 2PCM + 3T1C unit cells simulated from lookup tables.

One :class:`AnalogArray` is one weight matrix of a network: every position a
Monte Carlo cell of the LUTs, with forward and backward reads (read noise),
pulsed updates, leakage over hardware time, closed-loop PCM programming and
transfers.  It is composed of parts (:class:`PcmPairs`, :class:`Capacitors`,
:class:`WeightCache`, a weight model, a pulse quantizer, programming and transfer
strategies); :func:`~pcmspice.array.factory.build_parts` picks the weight model
``ArrayConfig(mode=...)`` names (ideal, pcm-only, cell).  :class:`Layer` is what
every network layer (these and the training layer's float baseline) offers the
trainer.

May import: :mod:`pcmspice.core` and :mod:`pcmspice.lut` only (never spice,
circuits, testbenches or characterize: the two branches meet through the LUTs).
"""
from pcmspice.array.cache import WeightCache
from pcmspice.array.capacitors import Capacitors
from pcmspice.array.cell import CellWeights
from pcmspice.array.config import MODES, ArrayConfig
from pcmspice.array.crossbar import KERNELS, AnalogArray, Pulses
from pcmspice.array.factory import build_parts
from pcmspice.array.ideal import IdealWeights
from pcmspice.array.layer import CapacitorVolts, Layer, TransferReport
from pcmspice.array.pcm import PcmModel, ProgramResult, program
from pcmspice.array.pcm_only import PcmOnlyWeights
from pcmspice.array.pcm_pair import PcmPairs
from pcmspice.array.tables import RowTable, equilibrium_volts, leak_flow_map, leak_time_constant_seconds
from pcmspice.array.transfer import MoveToPcm, RefreshSaturated, offset_target

__all__ = [
    "KERNELS", "MODES", "AnalogArray", "ArrayConfig", "CapacitorVolts", "Capacitors", "CellWeights",
    "IdealWeights", "Layer", "MoveToPcm", "PcmModel", "PcmOnlyWeights", "PcmPairs", "ProgramResult", "Pulses",
    "RefreshSaturated", "RowTable", "TransferReport", "WeightCache", "build_parts", "equilibrium_volts",
    "leak_flow_map", "leak_time_constant_seconds", "offset_target", "program",
]

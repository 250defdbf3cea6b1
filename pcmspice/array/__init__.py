"""The array layer: crossbars of 2PCM + 3T1C unit cells simulated from lookup tables.

One :class:`AnalogArray` is one weight matrix of a network: every position a
Monte Carlo cell of the LUTs, with forward and backward reads (read noise),
pulsed updates, leakage over hardware time, closed-loop PCM programming and
transfers.  Three weight models share that interface
(:class:`IdealArray`, :class:`PcmOnlyArray`, :class:`CellArray`);
``AnalogArray(n_out, n_in, luts, ArrayConfig(mode=...))`` builds the one
the mode names.  :class:`Layer` is what every network layer (these and the
training layer's float baseline) offers the trainer.

May import: :mod:`pcmspice.core` and :mod:`pcmspice.lut` only (never spice,
circuits, testbenches or characterize: the two branches meet through the LUTs).
"""
from pcmspice.array.cell import CellArray
from pcmspice.array.config import MODES, ArrayConfig
from pcmspice.array.crossbar import KERNELS, AnalogArray, Pulses
from pcmspice.array.ideal import IdealArray
from pcmspice.array.layer import CapacitorVolts, Layer, TransferReport
from pcmspice.array.pcm import PcmModel, ProgramResult, program
from pcmspice.array.pcm_only import PcmOnlyArray
from pcmspice.array.pcm_pair import PcmPairArray
from pcmspice.array.tables import RowTable, equilibrium_volts, leak_flow_map, leak_time_constant_seconds

__all__ = [
    "KERNELS", "MODES", "AnalogArray", "ArrayConfig", "CapacitorVolts", "CellArray", "IdealArray", "Layer",
    "PcmModel", "PcmOnlyArray", "PcmPairArray", "ProgramResult", "Pulses", "RowTable", "TransferReport",
    "equilibrium_volts", "leak_flow_map", "leak_time_constant_seconds", "program",
]

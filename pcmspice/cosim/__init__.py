"""SPICE in the loop: one small network trained on a SPICE array and on the LUT array, compared.

The same Monte Carlo cells, data order and pulses on both paths; what differs is the
lookup tables' model error, which this layer measures (see :mod:`pcmspice.cosim.run`).

* :mod:`pcmspice.cosim.config` - :class:`CosimConfig`, one run;
* :mod:`pcmspice.cosim.problem` - the digits problem of the small network;
* :mod:`pcmspice.cosim.cells` and :mod:`pcmspice.cosim.coincidence` - what both paths share:
  the cells of the array, and the update pulses of one example;
* :mod:`pcmspice.cosim.spice_array` and :mod:`pcmspice.cosim.chip` - the SPICE path (the chip);
* :mod:`pcmspice.cosim.luts` - the LUT path: the tables of these cells and the LUT array;
* :mod:`pcmspice.cosim.run` - :func:`run_cosim`, the two paths side by side;
* :mod:`pcmspice.cosim.outputs` - :func:`save_run`: tables, summary, end state, netlists, figures.

May import: ``pcmspice.core`` through ``pcmspice.train`` (it alone joins the SPICE half and the array half
outside ``pcmspice.lut``).
"""
from pcmspice.cosim.cells import ArrayCells, draw_cells
from pcmspice.cosim.chip import PulseNoise, SpiceChip, offset_target, spice_chip
from pcmspice.cosim.coincidence import Schedule, coincidence_schedule
from pcmspice.cosim.config import ARRAY_FIELDS, CosimConfig
from pcmspice.cosim.luts import ReplayProgrammer, build_luts, check_same_cells, default_cache_dir, lut_array, lut_key
from pcmspice.cosim.outputs import save_figures, save_run
from pcmspice.cosim.problem import Problem, digits_problem
from pcmspice.cosim.run import AGREEMENT_BOUND, VC_RMS_BOUND_VOLTS, CosimResult, run_cosim
from pcmspice.cosim.spice_array import Conductances, SpiceArray

__all__ = [
    "CosimConfig", "ARRAY_FIELDS", "run_cosim", "CosimResult", "save_run", "save_figures",
    "VC_RMS_BOUND_VOLTS", "AGREEMENT_BOUND", "Problem", "digits_problem", "ArrayCells", "draw_cells",
    "Schedule", "coincidence_schedule", "SpiceArray", "Conductances", "SpiceChip", "spice_chip", "PulseNoise",
    "offset_target", "ReplayProgrammer", "build_luts", "check_same_cells", "default_cache_dir", "lut_array",
    "lut_key",
]

"""The pipeline layer: whole flows that run several layers in turn.

``pcmspice run`` is :func:`run_pipeline`: characterize (or take the committed
LUTs), train with the leakage timed by the latency model, cost energy, latency
and area, and report.  Its steps are public for other flows:
:func:`characterize_default`, :func:`train_on_luts` and :func:`corner_trainer`
(what ``pcmspice corners --train`` trains and costs each corner x seed with, in
:mod:`pcmspice.pipeline.corners`).

May import every layer before it (core, lut, spice, circuits, testbenches,
characterize, array, train, cosim, power, report); only ``cli`` imports it.
"""
from pcmspice.pipeline.corners import CornerTraining, corner_trainer
from pcmspice.pipeline.run import characterize_default, run_pipeline, train_on_luts

__all__ = ["CornerTraining", "characterize_default", "corner_trainer", "run_pipeline", "train_on_luts"]

"""The pipeline layer: whole flows that run several layers in turn.

``pcmspice run [DESIGN.toml]`` is :func:`run_design`: a design file
(:class:`DesignConfig`, :mod:`pcmspice.pipeline.design`) -> characterize once per
content (or take the committed LUTs), train each seed with the leakage timed by
the latency model, cost energy, latency and area, and one report.
:func:`run_pipeline` is the same flow from keyword arguments.  Its steps are public for other flows:
:func:`characterize_default`, :func:`train_on_luts` and :func:`corner_trainer`
(what ``pcmspice corners --train`` trains and costs each corner x seed with, in
:mod:`pcmspice.pipeline.corners`).

May import every layer before it (core, lut, spice, circuits, testbenches,
characterize, array, train, cosim, power, report); only ``cli`` imports it.
"""
from pcmspice.pipeline.corners import CornerTraining, corner_trainer
from pcmspice.pipeline.design import DesignConfig, TaskConfig, default_design, design_key, load_design
from pcmspice.pipeline.design_run import run_design
from pcmspice.pipeline.run import (
    characterize_default,
    characterize_design,
    default_out_dir,
    run_pipeline,
    train_config_on_luts,
    train_on_luts,
)

__all__ = ["CornerTraining", "DesignConfig", "TaskConfig", "characterize_default", "characterize_design",
           "corner_trainer", "default_design", "default_out_dir", "design_key", "load_design", "run_design",
           "run_pipeline", "train_config_on_luts", "train_on_luts"]

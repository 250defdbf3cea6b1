"""The pipeline layer: the one flow from a cell design to a verdict, and every command's orchestration.

* :func:`run_design` (``pcmspice run [DESIGN.toml]``): a design (:class:`DesignConfig`, :mod:`pcmspice.pipeline.design`)
  -> LUTs (the committed population, a folder, or the ``[sweep]`` characterized once per content, each corner x
  temperature) -> the :class:`TaskConfig` trained once per seed (per combination) -> cost -> one report;
* :func:`run_corners` (``pcmspice corners [--train]``): a sweep, and optionally a task, into a corner table;
* :func:`train_run` (``pcmspice train``): one training run of a :class:`~pcmspice.train.TrainConfig`, with the
  hardware time of the power layer's latency model, the output-folder policy, checkpoint and resume.

Every flow trains through :func:`train_run` (many runs through :func:`~pcmspice.pipeline.training.train_runs` on
the shared executor), so the same config gives the same run from Python and from the command line.  Configs
are changed by dotted paths (``Config.with_overrides({"task.epochs": 2})``, the CLI's ``--set``).

May import every layer before it (core, lut, spice, circuits, testbenches, characterize, array, train, cosim,
power, report); only ``cli`` imports it.
"""
from pcmspice.pipeline.corners import run_corners
from pcmspice.pipeline.design import DesignConfig, TaskConfig, default_design, design_key, load_design
from pcmspice.pipeline.design_run import run_design, run_pipeline
from pcmspice.pipeline.run import characterize_design, default_out_dir
from pcmspice.pipeline.training import build_config, hardware_time, train_run

__all__ = ["DesignConfig", "TaskConfig", "build_config", "characterize_design", "default_design",
           "default_out_dir", "design_key", "hardware_time", "load_design", "run_corners", "run_design",
           "run_pipeline", "train_run"]

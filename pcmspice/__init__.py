"""pcmspice: circuit-level SPICE co-simulation of the 2PCM + 3T1C analog training cell.

The names a script needs, imported on first use (``import pcmspice`` itself loads nothing)::

    import pcmspice as ps
    run = ps.train_run(ps.TrainConfig(dataset="digits", epochs=2), "runs/my-train")   # as `pcmspice train`
    print(run.summary["analog_test_accuracy"])
    luts = ps.load_luts()                                   # the committed default LUTs
    res = ps.train_network(run.config, luts)                # the training loop alone, with the run's config

The layers (``pcmspice.core`` ... ``pcmspice.cli``) are subpackages; docs/development.md gives
their order and what each may import.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (layer package, name in it)
_EXPORTS = {
    "ConfigError": ("pcmspice.core.errors", "ConfigError"),
    "PcmSpiceError": ("pcmspice.core.errors", "PcmSpiceError"),
    "LutSet": ("pcmspice.lut", "LutSet"),
    "load_luts": ("pcmspice.lut", "load_lut_set"),
    "save_luts": ("pcmspice.lut", "save_lut_set"),
    "default_lut_dir": ("pcmspice.core.paths", "default_lut_dir"),
    "SweepConfig": ("pcmspice.characterize", "SweepConfig"),
    "run_sweep": ("pcmspice.characterize", "run_sweep"),
    "AnalogArray": ("pcmspice.array", "AnalogArray"),
    "ArrayConfig": ("pcmspice.array", "ArrayConfig"),
    "TrainConfig": ("pcmspice.train", "TrainConfig"),
    "train_network": ("pcmspice.train", "train"),
    "save_run": ("pcmspice.train", "save_run"),
    "load_dataset": ("pcmspice.train", "load_dataset"),
    "CosimConfig": ("pcmspice.cosim", "CosimConfig"),
    "run_cosim": ("pcmspice.cosim", "run_cosim"),
    "PowerConfig": ("pcmspice.power", "PowerConfig"),
    "estimate_power": ("pcmspice.power", "estimate"),
    "write_power_run": ("pcmspice.power", "write_power_run"),
    "build_report": ("pcmspice.report", "build_report"),
    "run_pipeline": ("pcmspice.pipeline", "run_pipeline"),
    "DesignConfig": ("pcmspice.pipeline", "DesignConfig"),
    "run_design": ("pcmspice.pipeline", "run_design"),
    "TaskConfig": ("pcmspice.pipeline", "TaskConfig"),
    "train_run": ("pcmspice.pipeline", "train_run"),
    "run_corners": ("pcmspice.pipeline", "run_corners"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'pcmspice' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

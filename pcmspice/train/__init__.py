"""The training layer: fully connected networks trained on arrays of LUT cells, against
the same network trained in float.

:func:`train` runs one configuration (:class:`TrainConfig`) on a data set
(:func:`load_dataset`, :class:`Dataset`): per-example SGD as the chip does it
(forward MACs, the error read backward, pulsed updates, hardware time with
leakage and transfers), and its float baseline with the same initial weights,
data order and seed.  :func:`save_run` writes a run's summary (:func:`summarize`,
read by the power and report layers), history, state and figures;
:func:`run_ablation` trains the array variants against one baseline.

Modules: config (TrainConfig), datasets, network (layers, activations, building
the analog network), result (what a run returns), loop (the run), outputs and
figures (what a run writes), ablation.

May import: :mod:`pcmspice.core`, :mod:`pcmspice.lut` and :mod:`pcmspice.array`
(never spice, circuits, testbenches or characterize).
"""
from pcmspice.train.ablation import (
    ABLATIONS,
    EXTRA_ABLATIONS,
    ablation_configs,
    ablation_markdown,
    leak_scale_for_time_constant,
    run_ablation,
)
from pcmspice.train.config import ACTIVATIONS, TrainConfig, default_w_max
from pcmspice.train.datasets import NAMES as DATASET_NAMES
from pcmspice.train.datasets import Dataset, crop_to_528, load_dataset
from pcmspice.train.figures import save_figures
from pcmspice.train.loop import prepare_data, resolve_luts, train, train_software
from pcmspice.train.network import FloatLayer, Network, build_network, default_network, fitted, init_weights
from pcmspice.train.outputs import save_run, summarize
from pcmspice.train.result import RunResult, TrainResult, history_rows

__all__ = [
    "ABLATIONS", "ACTIVATIONS", "DATASET_NAMES", "EXTRA_ABLATIONS", "Dataset", "FloatLayer", "Network", "RunResult",
    "TrainConfig", "TrainResult", "ablation_configs", "ablation_markdown", "build_network", "crop_to_528",
    "default_network", "default_w_max", "fitted", "history_rows", "init_weights", "leak_scale_for_time_constant",
    "load_dataset", "prepare_data", "resolve_luts", "run_ablation", "save_figures", "save_run", "summarize",
    "train", "train_software",
]

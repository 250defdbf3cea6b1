"""Energy, latency and area of training and inference on 2PCM+3T1C arrays, and the GPU/CPU baselines.

* :mod:`pcmspice.power.config` - :class:`PowerConfig`, every parameter with its unit, range and source;
* :mod:`pcmspice.power.workload` - layers, operation counts and the per-example pulse and transfer rates
  (from a training run's ``summary.json``, or estimated);
* :mod:`pcmspice.power.devices` - the cost of one operation from the SPICE lookup tables, and the cell's area;
* :mod:`pcmspice.power.latency` - the time of each phase, and the time per example that leakage sees;
* :mod:`pcmspice.power.remedies` - what the array's drift remedies add per example, in time and energy;
* :mod:`pcmspice.power.activity` - the read duty, update activity and conductances of a training run (or assumed);
* :mod:`pcmspice.power.energy` - the energy by phase and component, the periphery circuits, the area;
* :mod:`pcmspice.power.model` - :func:`estimate`: the estimate and its headline numbers;
* :mod:`pcmspice.power.gpu` - the stated GPU model and one measured CPU point;
* :mod:`pcmspice.power.outputs` and :mod:`pcmspice.power.figures` - a power run's files, report blocks and figures.

May import: ``pcmspice.core`` and ``pcmspice.lut``; training results only as files (a run's
``summary.json`` and ``weights.npz``) or plain dicts, and of ``pcmspice.train`` only its data sets
(:mod:`pcmspice.train.datasets`, to measure a run's input activity); never ``pcmspice.array``.
"""
from pcmspice.core.network import network_name, parse_network
from pcmspice.power.activity import Activity
from pcmspice.power.config import (
    SHARED_WITH_ARRAY_CONFIG,
    AdcParams,
    AreaParams,
    ArrayParams,
    CircuitParams,
    CpuParams,
    DriverParams,
    GpuParams,
    NeuronParams,
    PcmParams,
    PowerConfig,
    RoutingParams,
    WorkloadParams,
    load_config,
)
from pcmspice.power.devices import DeviceCosts, cell_area_m2, device_costs
from pcmspice.power.figures import figure_gpu_comparison, figure_power_breakdown
from pcmspice.power.gpu import gpu_assumptions, gpu_table, measure_cpu
from pcmspice.power.latency import Latency, latency, time_per_example_seconds, with_hardware_time
from pcmspice.power.model import (
    AREA_COMPONENTS,
    COMPONENTS,
    PAPER_GOPS_PER_WATT,
    PAPER_TOPS_PER_MM2,
    PHASES,
    PowerEstimate,
    corner_row,
    estimate,
    estimate_for_run,
)
from pcmspice.power.outputs import power_blocks, summary_lines, write_power_run
from pcmspice.power.remedies import RemedyCosts, remedy_costs
from pcmspice.power.workload import (
    Layer,
    Workload,
    estimated_workload,
    layers,
    load_summary,
    op_counts,
    overrides_from_training_config,
    workload_from_training,
)

__all__ = [
    "PowerConfig", "CircuitParams", "ArrayParams", "AdcParams", "NeuronParams", "DriverParams", "RoutingParams",
    "PcmParams", "WorkloadParams", "AreaParams", "GpuParams", "CpuParams", "load_config", "SHARED_WITH_ARRAY_CONFIG",
    "parse_network", "network_name", "Layer", "layers", "op_counts", "Workload", "estimated_workload",
    "workload_from_training", "load_summary", "overrides_from_training_config",
    "DeviceCosts", "device_costs", "cell_area_m2", "Latency", "latency", "RemedyCosts", "remedy_costs",
    "time_per_example_seconds",
    "with_hardware_time",
    "Activity", "PowerEstimate", "estimate", "estimate_for_run", "corner_row", "PHASES", "COMPONENTS",
    "AREA_COMPONENTS",
    "PAPER_GOPS_PER_WATT", "PAPER_TOPS_PER_MM2", "gpu_table", "gpu_assumptions", "measure_cpu",
    "write_power_run", "power_blocks", "summary_lines", "figure_power_breakdown", "figure_gpu_comparison",
]

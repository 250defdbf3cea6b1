"""GPU baselines and one measured CPU point for the same training.

The GPU side is a stated model, not a measurement: published peak
throughput and board power from NVIDIA's datasheets, and a roofline +
kernel-launch model for what small fully connected layers reach at batch 1
and at a large batch.  Its parameters live in ``PowerConfig.gpu``.

The CPU point is real: plain float32 numpy batch-1 SGD of the same network
timed on this machine; its energy is CPU-seconds x a stated watts-per-core
figure (``PowerConfig.cpu``).
"""
from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pcmspice.core.network import network_name, parse_network
from pcmspice.power.config import PowerConfig
from pcmspice.power.workload import layers, op_counts


@dataclass(frozen=True)
class Gpu:
    name: str
    year: int
    fp32_tflops: float              # dense FP32 peak (non-tensor)
    fp16_tensor_tflops: float       # dense FP16 peak on tensor cores (FP16 FMA on P100: no tensor cores)
    board_power_watts: float        # TDP
    memory_bandwidth_gb_per_s: float
    source: str


GPUS: tuple[Gpu, ...] = (
    Gpu("P100 SXM2", 2016, 10.6, 21.2, 300, 732,
        "NVIDIA Tesla P100 datasheet (2016): 10.6 TFLOPS FP32, 21.2 TFLOPS FP16, 300 W, 732 GB/s"),
    Gpu("V100 SXM2", 2017, 15.7, 125.0, 300, 900,
        "NVIDIA Tesla V100 datasheet (2017): 15.7 TFLOPS FP32, 125 TFLOPS tensor, 300 W, 900 GB/s"),
    Gpu("A100 SXM4 40GB", 2020, 19.5, 312.0, 400, 1555,
        "NVIDIA A100 datasheet (2020): 19.5 TFLOPS FP32, 312 TFLOPS FP16 tensor (dense), 400 W, 1,555 GB/s"),
    Gpu("H100 SXM5", 2022, 67.0, 989.4, 700, 3350,
        "NVIDIA H100 datasheet (2022): 67 TFLOPS FP32, 989 TFLOPS FP16 tensor (dense), 700 W, 3.35 TB/s"),
)


def _step_seconds(gpu: Gpu, sizes: Sequence[int], batch: int, cfg: PowerConfig) -> float:
    """One SGD step of ``batch`` examples: max(compute, memory) + kernel launches."""
    return sum(_step_parts(gpu, sizes, batch, cfg))


def _step_parts(gpu: Gpu, sizes: Sequence[int], batch: int, cfg: PowerConfig) -> tuple[float, float]:
    """(kernel time, launch time) of one SGD step."""
    g = cfg.gpu
    ops = op_counts(sizes, cfg)
    ls = layers(sizes, cfg.workload.bias)
    flops = batch * ops["ops_training"]
    t_compute = flops / (gpu.fp32_tflops * 1e12 * g.gemm_efficiency)
    # weights: read forward, read backward, gradient write, update read + write
    weight_bytes = 5 * ops["synapses"] * g.bytes_per_value
    # activations and errors: written and read forward, read twice backward
    act_bytes = 4 * batch * sum(l.n_in + l.n_out for l in ls) * g.bytes_per_value
    t_memory = (weight_bytes + act_bytes) / (gpu.memory_bandwidth_gb_per_s * 1e9)
    t_launch = g.kernels_per_layer * len(ls) * g.kernel_launch_seconds
    return max(t_compute, t_memory), t_launch


def gpu_table(network: str | Sequence[int], cfg: PowerConfig | None = None) -> list[dict[str, Any]]:
    """Energy per training example of ``network`` on each GPU: at peak and modelled."""
    cfg = cfg or PowerConfig()
    sizes = parse_network(network)
    ops = op_counts(sizes, cfg)["ops_training"]
    g = cfg.gpu
    rows = []
    for gpu in GPUS:
        row: dict[str, Any] = asdict(gpu)
        row["peak_fp16_tensor_gops_per_watt"] = gpu.fp16_tensor_tflops * 1e3 / gpu.board_power_watts
        row["peak_fp32_gops_per_watt"] = gpu.fp32_tflops * 1e3 / gpu.board_power_watts
        row["energy_per_example_fp16_peak_joules"] = ops / (gpu.fp16_tensor_tflops * 1e12) * gpu.board_power_watts
        row["energy_per_example_fp32_peak_joules"] = ops / (gpu.fp32_tflops * 1e12) * gpu.board_power_watts
        for label, batch in (("batch1", 1), ("large_batch", g.large_batch)):
            t_k, t_l = _step_parts(gpu, sizes, batch, cfg)
            t = (t_k + t_l) / batch
            util = ops / t / (gpu.fp32_tflops * 1e12)
            # power while kernels run at the kernels' own utilization, idle power in the launch gaps
            frac = g.board_power_fraction(ops * batch / t_k / (gpu.fp32_tflops * 1e12) if t_k > 0 else 0.0,
                                          t_k / (t_k + t_l))
            row[f"seconds_per_example_{label}"] = t
            row[f"utilization_{label}"] = util
            row[f"board_power_fraction_{label}"] = frac
            row[f"board_power_watts_{label}"] = frac * gpu.board_power_watts
            row[f"energy_per_example_{label}_joules"] = t * gpu.board_power_watts * frac
            row[f"gops_per_watt_{label}"] = ops / (t * gpu.board_power_watts * frac) / 1e9
        rows.append(row)
    return rows


def gpu_assumptions(cfg: PowerConfig | None = None) -> list[str]:
    g = (cfg or PowerConfig()).gpu
    return [
        "peak columns: the example's operations at the datasheet peak and board power (TDP); FP16 tensor peak is "
        "the GPU's best case, FP32 the precision of ordinary training",
        f"batch 1 and batch {g.large_batch}: one SGD step takes max(compute at {g.gemm_efficiency:.0%} of FP32 "
        f"peak, memory traffic at the datasheet bandwidth) + {g.kernels_per_layer} kernels per layer x "
        f"{g.kernel_launch_seconds * 1e6:g} us launch overhead; FP32 ({g.bytes_per_value} B per value)",
        f"board power at both batch sizes from the step's own utilization u (a stated model, not a measurement): "
        f"while kernels run TDP x ({g.active_power_floor_fraction:g} + {1 - g.active_power_floor_fraction:g} u), "
        f"in the launch gaps the idle {g.idle_power_fraction:.0%} of TDP; GPUs at 5-20 % utilization draw 30-50 % "
        "of TDP, not TDP",
        "host CPU, memory and data-loading energy are not counted for any GPU",
    ]


# --------------------------------------------------------------------------------------
# the measured CPU point
# --------------------------------------------------------------------------------------

def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sgd_examples(weights: list[np.ndarray], biases: list[np.ndarray], xs: np.ndarray, ts: np.ndarray,
                  lr: np.float32) -> None:
    """Batch-1 SGD, sigmoid hidden layers, softmax output, cross-entropy loss."""
    for x, t in zip(xs, ts):
        acts = [x]
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = w @ acts[-1] + b
            if i < len(weights) - 1:
                h = 1.0 / (1.0 + np.exp(-h))
            else:
                h = np.exp(h - h.max())
                h /= h.sum()
            acts.append(h)
        delta = acts[-1].copy()
        delta[t] -= 1.0
        for i in range(len(weights) - 1, -1, -1):
            prev = acts[i]
            if i > 0:
                back = weights[i].T @ delta
            weights[i] -= lr * np.outer(delta, prev)
            biases[i] -= lr * delta
            if i > 0:
                delta = back * prev * (1.0 - prev)


def measure_cpu(network: str | Sequence[int], cfg: PowerConfig | None = None, seed: int = 0) -> dict[str, Any]:
    """Time float32 numpy batch-1 SGD of ``network`` on this machine.

    Inputs are synthetic (uniform [0, 1), random labels): the time of dense
    numpy arithmetic does not depend on the values.  The fastest of
    ``cpu.repeats`` runs of ``cpu.examples`` examples is kept.
    """
    cfg = cfg or PowerConfig()
    c = cfg.cpu
    sizes = parse_network(network)
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal((b, a)) / math.sqrt(a)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros(b, np.float32) for b in sizes[1:]]
    xs = rng.random((c.examples, sizes[0]), dtype=np.float32)
    ts = rng.integers(0, sizes[-1], c.examples)
    lr = np.float32(0.01)
    _sgd_examples(weights, biases, xs[:20], ts[:20], lr)   # warm-up
    best_wall, best_cpu = math.inf, math.inf
    for _ in range(c.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        _sgd_examples(weights, biases, xs, ts, lr)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    t_ex = best_wall / c.examples
    cpu_ex = max(best_cpu, 1e-12) / c.examples
    ops = op_counts(sizes, cfg)["ops_training"]
    energy = cpu_ex * c.watts_per_core
    return {
        "name": f"this machine's CPU ({cpu_model_name()})",
        "network": network_name(sizes),
        "examples_timed": c.examples,
        "seconds_per_example": t_ex,
        "cpu_seconds_per_example": cpu_ex,
        "cores_busy": cpu_ex / t_ex,
        "logical_cpus": os.cpu_count(),
        "watts_per_core": c.watts_per_core,
        "energy_per_example_joules": energy,
        "gops": ops / t_ex / 1e9,
        "gops_per_watt": ops / energy / 1e9,
        "numpy": np.__version__,
        "method": (f"float32 numpy batch-1 SGD (sigmoid hidden, softmax output), fastest of {c.repeats} runs of "
                   f"{c.examples} synthetic examples; energy = CPU-seconds x {c.watts_per_core:g} W per busy core "
                   "(TDP share, stated assumption); the machine is shared, so the time is an upper bound"),
    }

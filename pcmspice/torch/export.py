"""Export a LUT set to an IBM aihwkit RPU configuration that approximates the 2PCM + 3T1C cell.

:func:`aihwkit_config` builds a plain description (JSON-able dicts, each ``{"class": NAME, ...fields}``) of
an aihwkit ``UnitCellRPUConfig`` whose device is a ``TransferCompound`` of

* the fast device, the 3T1C: a ``PiecewiseStepDevice`` whose up and down steps, on nodes equally spaced
  over its weight range, are the LUT's mean step per pulse (mean over the LUT cells at the Vc where the
  mean cell has that weight), in units of ``dw_min`` (the array's nominal pulse, ``dw_nominal``), with the
  cell-to-cell spreads as aihwkit's device-to-device parameters and the leakage as a ``lifetime``;
* the slow device, the PCM pair: a ``OneSidedUnitCell`` (G+ and G-, each only SET, RESET and rewrite on
  refresh) of ``PiecewiseStepDevice`` fitted the same way to the PCM LUT's mean partial-SET step vs G,
  scaled by the gain F,

in the weight units of :class:`~pcmspice.array.crossbar.AnalogArray` (``siemens_per_unit_weight`` of the
given config and ``w_max``), with reads as pcmspice models them: no DAC/ADC quantization or output noise, the
cells' read noise as one RMS sigma per weight.  The file also says what aihwkit cannot express (``not_expressible``).
:func:`write_aihwkit` writes it (JSON, atomically, with the LUT's checksum and provenance);
:func:`build_rpu_config` turns the description into aihwkit objects when aihwkit is installed.
:func:`piecewise_step` is aihwkit's interpolation of a piecewise step device, for checking the export.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice import __version__
from pcmspice.array.config import ArrayConfig
from pcmspice.array.crossbar import AnalogArray
from pcmspice.array.tables import leak_time_constant_seconds
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.core.provenance import atomic_write_text
from pcmspice.lut.format import LutSet
from pcmspice.lut.identity import lut_sha256

SCHEMA = "pcmspice-aihwkit-export-1"
N_NODES = 32   # aihwkit's GPU kernels take fewer than 64 nodes

NOT_EXPRESSIBLE = [
    "per-cell curves: every pcmspice cell has its own LUT row (step vs Vc, g vs Vc, leakage); aihwkit has one "
    "mean curve per device type plus Gaussian device-to-device spreads of dw_min, w_min and w_max",
    "the shared references g_shared (one per cells_per_reference cells along a row) and their own drift",
    "polarity inversion: the sign of g alternating at every transfer",
    "leakage over real time toward each cell's equilibrium Vc: aihwkit's lifetime decays the fast weight toward "
    "its reset value once per update, in units of updates, whatever the hardware time",
    "program-and-verify transfers: pcmspice programs G+/G- closed loop to a target (tolerance, max pulses); "
    "aihwkit transfers by open-loop pulsed updates of the slow device from a column read",
    "the transfer schedule: pcmspice transfers every column every transfer_every examples; here one column "
    "every transfer_every / n_in updates (n_reads_per_transfer = 1), the closest aihwkit sequence",
    "the pulse quantization: pcmspice rounds lr*delta*x per cell stochastically to at most "
    "max_pulses_per_example pulses; aihwkit draws stochastic pulse trains of length desired_bl (coincidences)",
    "PCM drift during training and PCM RESET statistics beyond a mean and spread",
    "read noise: pcmspice draws each cell's read noise from its own sigma(G) and sigma(Vc); here one constant "
    "sigma per weight on every read (w_noise, AdditiveConstant), the RMS of the array's sigma at weights "
    "drawn as pcmspice initializes them, N(0, 1/n_in)",
]


def _monotone(y: np.ndarray) -> np.ndarray:
    """y made strictly increasing (for inverting a nearly monotonic curve)."""
    y = np.maximum.accumulate(np.asarray(y, dtype=np.float64))
    return y + np.arange(y.size) * 1e-18


def piecewise_step(w: np.ndarray, w_min: float, w_max: float, dw_min: float, nodes: list[float]) -> np.ndarray:
    """aihwkit's PiecewiseStepDevice step at weight ``w``: nodes equally spaced on [w_min, w_max], linear
    interpolation between them, times dw_min."""
    v = np.asarray(nodes, dtype=np.float64)
    pos = np.clip((np.asarray(w) - w_min) / (w_max - w_min), 0.0, 1.0) * (v.size - 1)
    i = np.minimum(np.floor(pos).astype(int), v.size - 2)
    q = pos - i
    return dw_min * ((1 - q) * v[i] + q * v[i + 1])


def cell_step_curves(luts: LutSet, spu: float) -> dict[str, np.ndarray]:
    """The 3T1C in weight units on the LUT's Vc grid: the mean cell's weight (g(Vc) - g(v_start)) / spu, the
    mean over cells of one up and one down pulse's weight change, and their spreads over cells."""
    c = luts.cell
    rows = np.arange(c.n_cells)[:, None]
    v = np.broadcast_to(c.vc_volts, (c.n_cells, c.vc_volts.size))
    g = c.g(rows, v)
    g_start = c.g(np.arange(c.n_cells), np.full(c.n_cells, c.v_start_volts))
    up = (c.g(rows, v + c.step_up(rows, v)) - g) / spu
    down = (g - c.g(rows, v + c.step_down(rows, v))) / spu
    return {"vc": c.vc_volts, "w": (g.mean(0) - g_start.mean()) / spu, "up": up.mean(0), "down": down.mean(0),
            "w_cells": (g - g_start[:, None]) / spu}


def _fit(w_curve: np.ndarray, up: np.ndarray, down: np.ndarray, dw_min: float) -> dict[str, Any]:
    wm = _monotone(w_curve)
    w_lo, w_hi = float(wm[0]), float(wm[-1])
    nodes = np.linspace(w_lo, w_hi, N_NODES)
    return {"w_min": w_lo, "w_max": w_hi, "dw_min": dw_min,
            "piecewise_up": [float(x) for x in np.interp(nodes, wm, up) / dw_min],
            "piecewise_down": [float(x) for x in np.interp(nodes, wm, down) / dw_min]}


def aihwkit_config(luts: LutSet, config: ArrayConfig | None = None, *, n_in: int = 785) -> dict[str, Any]:
    """The description of the aihwkit RPU configuration (see the module docstring) for a layer of ``n_in``
    inputs (bias included) on arrays of ``config`` (default: the default ArrayConfig)."""
    cfg = (config or ArrayConfig()).validate()
    if cfg.mode != "cell":
        raise ConfigError(f"export aihwkit approximates the full cell (mode 'cell'), not mode '{cfg.mode}'")
    if n_in < 1:
        raise ConfigError(f"n_in = {n_in} is invalid; expected the layer's inputs (>= 1)")
    probe = AnalogArray(1, 1, luts, cfg.replace(read_noise=False), seed=0)   # spu and dw_nominal, the array's way
    spu, dw_nominal, g_cap = probe.spu, probe.dw_nominal, probe.g_cap
    curves = cell_step_curves(luts, spu)
    fast = {"class": "PiecewiseStepDevice", **_fit(curves["w"], curves["up"], curves["down"], dw_nominal)}
    c = luts.cell
    rows = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    g0 = c.g(rows, v0)
    per_cell = 0.5 * ((c.g(rows, v0 + c.step_up(rows, v0)) - g0) + (g0 - c.g(rows, v0 + c.step_down(rows, v0))))
    wc = curves["w_cells"]
    tau = leak_time_constant_seconds(c)
    tau = tau[np.isfinite(tau)]
    fast.update({
        "dw_min_dtod": float(np.std(per_cell) / np.mean(per_cell)), "dw_min_std": 0.0, "up_down": 0.0,
        "w_min_dtod": float(np.std(wc[:, 0]) / abs(fast["w_min"])) if fast["w_min"] else 0.0,
        "w_max_dtod": float(np.std(wc[:, -1]) / abs(fast["w_max"])) if fast["w_max"] else 0.0,
        "reset": 0.0, "reset_std": 0.0,
        "lifetime": float(np.median(tau) / (cfg.time_per_example_seconds * max(cfg.leak_scale, 1e-300)))
        if tau.size and cfg.leak_scale > 0 else 0.0,
        "lifetime_dtod": float(np.std(tau) / np.mean(tau)) if tau.size > 1 else 0.0})
    # the PCM: w = F (G - median G_RESET) / spu, SET steps only (RESET is abrupt: OneSidedUnitCell's refresh)
    p = luts.pcm
    F = cfg.gain_f
    g_reset = float(np.median(p.g_reset_siemens))
    grid = p.g_grid_siemens
    inside = (grid >= g_reset) & (grid <= g_cap)
    g_nodes = np.concatenate([[g_reset], grid[inside], [g_cap]])
    mean_step = np.array([np.interp(g_nodes, grid, row) for row in p.set_step_mean_siemens]).mean(0)
    std_step = np.array([np.interp(g_nodes, grid, row) for row in p.set_step_std_siemens]).mean(0)
    w_pcm = F * (g_nodes - g_reset) / spu
    step_w = F * mean_step / spu
    if not step_w[0] > 0:
        raise LutError("the PCM LUT gives no SET step at the median RESET conductance; nothing to export")
    pcm = {"class": "PiecewiseStepDevice", **_fit(w_pcm, step_w, step_w, float(step_w[0]))}
    at_reset = np.array([np.interp(g_reset, grid, row) for row in p.set_step_mean_siemens])
    pcm.update({"dw_min_dtod": float(np.std(at_reset) / np.mean(at_reset)),
                "dw_min_std": float(std_step[0] / mean_step[0]), "up_down": 0.0,
                "w_min_dtod": 0.0, "w_max_dtod": float(np.std(np.minimum(p.g_max_siemens, g_cap)) * F / spu /
                                                       pcm["w_max"]),
                "reset": 0.0, "reset_std": float(F * np.std(p.g_reset_siemens) / spu), "lifetime": 0.0})
    slow = {"class": "OneSidedUnitCell", "unit_cell_devices": [pcm], "refresh_every": 0,
            "units_in_mbatch": False}
    every = cfg.transfer_every / n_in if cfg.transfer_every else 0.0
    device = {"class": "TransferCompound", "unit_cell_devices": [fast, slow], "gamma": 1.0,
              "transfer_every": float(every), "units_in_mbatch": False, "n_reads_per_transfer": 1,
              "transfer_columns": True, "with_reset_prob": 1.0, "scale_transfer_lr": False, "transfer_lr": 1.0}
    io = _io_parameters(luts, cfg, n_in)
    return {"class": "UnitCellRPUConfig", "device": device, "forward": io, "backward": dict(io),
            "update": {"class": "UpdateParameters", "desired_bl": cfg.max_pulses_per_example}}


def _io_parameters(luts: LutSet, cfg: ArrayConfig, n_in: int) -> dict[str, Any]:
    """The reads as pcmspice models them: no DAC or ADC quantization and no output noise (pcmspice has
    neither), and the cells' read noise as one constant sigma per weight (see NOT_EXPRESSIBLE)."""
    sigma = 0.0
    if cfg.read_noise:
        n_out = 64
        probe = AnalogArray(n_out, n_in, luts, cfg, seed=0)
        probe.program(np.random.default_rng(0).normal(0.0, 1.0 / np.sqrt(n_in), (n_out, n_in)))
        sigma = float(np.sqrt(np.mean(probe.read_noise_sigma() ** 2)))
    return {"class": "IOParameters", "inp_res": -1.0, "out_res": -1.0, "out_noise": 0.0,
            "w_noise": sigma, "w_noise_type": {"enum": "WeightNoiseType",
                                               "value": "AdditiveConstant" if sigma > 0 else "None"}}


def write_aihwkit(luts: LutSet, path: str | Path, config: ArrayConfig | None = None, *, n_in: int = 785,
                  lut_dir: str = "") -> Path:
    """Write the export of :func:`aihwkit_config` as JSON (atomically) with what it cannot express."""
    cfg = (config or ArrayConfig()).validate()
    doc = {"schema": SCHEMA, "written_for": "aihwkit 1.2.0", "pcmspice": __version__,
           "weight_units": {"siemens_per_unit_weight": AnalogArray(1, 1, luts, cfg.replace(read_noise=False)).spu,
                            "w_max": cfg.w_max, "gain_f": cfg.gain_f},
           "layer_inputs": n_in, "array_config": cfg.to_dict(),
           "lut": {"dir": lut_dir, "sha256": lut_sha256(luts), "provenance": luts.provenance},
           "rpu_config": aihwkit_config(luts, cfg, n_in=n_in), "not_expressible": NOT_EXPRESSIBLE,
           "build": "pcmspice.torch.export.build_rpu_config(json.load(open(FILE))['rpu_config'])"}
    return atomic_write_text(path, json.dumps(doc, indent=1, default=str) + "\n")


_CLASSES = {"UnitCellRPUConfig", "TransferCompound", "OneSidedUnitCell", "PiecewiseStepDevice", "UpdateParameters",
            "IOParameters"}
_ENUMS = {"WeightNoiseType"}


def build_rpu_config(d: dict[str, Any]) -> Any:
    """aihwkit objects from the description of :func:`aihwkit_config` (needs aihwkit installed)."""
    try:
        from aihwkit.simulator import configs
        from aihwkit.simulator.parameters import enums
    except ImportError:
        raise ConfigError("building the aihwkit configuration needs aihwkit (pip install aihwkit)") from None

    def make(x: Any) -> Any:
        if isinstance(x, dict) and "enum" in x:
            if x["enum"] not in _ENUMS:
                raise ConfigError(f"enum '{x['enum']}' is not one this export writes ({', '.join(sorted(_ENUMS))})")
            return getattr(enums, x["enum"])(x["value"])
        if isinstance(x, dict) and "class" in x:
            if x["class"] not in _CLASSES:
                raise ConfigError(f"class '{x['class']}' is not one this export writes ({', '.join(sorted(_CLASSES))})")
            return getattr(configs, x["class"])(**{k: make(v) for k, v in x.items() if k != "class"})
        if isinstance(x, list):
            return [make(v) for v in x]
        return x

    return make(d)

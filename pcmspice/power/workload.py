"""What one training example asks of the chip: the layers, the operation counts and the
per-example rates of the stochastic parts (update pulses, transfers, PCM pulses), either
counted by a training run (its ``summary.json``, read as a file) or estimated."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core.errors import ConfigError
from pcmspice.core.network import parse_network
from pcmspice.power.config import SHARED_WITH_ARRAY_CONFIG, PowerConfig


@dataclass(frozen=True)
class Layer:
    n_in: int
    n_out: int
    rows: int   # n_in + bias row

    @property
    def synapses(self) -> int:
        return self.rows * self.n_out


def layers(sizes: Sequence[int], bias: bool = True) -> list[Layer]:
    return [Layer(a, b, a + int(bias)) for a, b in zip(sizes[:-1], sizes[1:])]


def op_counts(sizes: Sequence[int], cfg: PowerConfig | None = None) -> dict[str, float]:
    """Operations of one example: multiply-accumulates forward / backward, update products."""
    cfg = cfg or PowerConfig()
    ls = layers(sizes, cfg.workload.bias)
    fwd = sum(l.synapses for l in ls)
    bwd = sum(l.n_in * l.n_out for l in ls[1:])
    upd = fwd
    k = cfg.workload.ops_per_mac
    return {"macs_forward": fwd, "macs_backward": bwd, "update_products": upd,
            "ops_training": k * (fwd + bwd + upd), "ops_forward_backward": k * (fwd + bwd),
            "ops_inference": k * fwd, "synapses": fwd}


OPS_CONVENTION = ("an operation is a multiply or an add ({k:g} per multiply-accumulate); training counts the forward "
                  "and backward multiply-accumulates and one update product per synapse (the outer product the "
                  "coincident pulses compute, whether or not a pulse fires), like the 3x-forward FLOP count of a GPU "
                  "training step; the forward + backward figure leaves the update products out")


@dataclass(frozen=True)
class Workload:
    """Per-example operation rates of the stochastic parts (pulses, transfers)."""

    network: tuple[int, ...]
    examples: int
    pulses_up_per_example: float
    pulses_down_per_example: float
    cell_transfers_per_example: float
    set_pulses_per_example: float
    reset_pulses_per_example: float
    source: str                       # "training run DIR" or "estimate"
    notes: tuple[str, ...] = ()
    training_time_per_example_seconds: float | None = None
    update_set_pulses_per_example: float = 0.0     # PCM SETs used as updates (mode pcm-only)
    mode: str = "cell"
    config_overrides: tuple[tuple[str, Any], ...] = ()   # power parameters the training run fixes


def estimated_workload(sizes: Sequence[int], cfg: PowerConfig, examples: int | None = None) -> Workload:
    """Pulse and transfer rates from the paper's typical numbers (no training run)."""
    n = op_counts(sizes, cfg)["synapses"]
    w, p = cfg.workload, cfg.pcm
    pulses = w.est_pulses_per_synapse_per_example * n
    transfers = n / w.transfer_every
    return Workload(
        network=tuple(sizes), examples=int(examples if examples is not None else w.examples),
        pulses_up_per_example=pulses * w.est_up_fraction, pulses_down_per_example=pulses * (1 - w.est_up_fraction),
        cell_transfers_per_example=transfers, set_pulses_per_example=transfers * p.est_set_pulses_per_transfer,
        reset_pulses_per_example=transfers * p.est_reset_pulses_per_transfer, source="estimate",
        notes=("update pulses, transfers and PCM pulses are ESTIMATED (no training run given): "
               f"{w.est_pulses_per_synapse_per_example:g} pulses per synapse and example, one transfer per cell "
               f"every {w.transfer_every} examples, {p.est_set_pulses_per_transfer:g} SET and "
               f"{p.est_reset_pulses_per_transfer:g} RESET pulses per cell transfer",))


TRAINING_KEYS = ("pulses_up_total", "pulses_down_total", "transfers_total", "pcm_set_pulses_total",
                 "pcm_reset_pulses_total", "examples_trained", "network")


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    p = Path(run_dir) / "summary.json"
    if not p.is_file():
        raise ConfigError(f"{run_dir}: no summary.json (not a pcmspice run directory)")
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a JSON object")
    check_config_shape(data, str(p))
    return data


def check_config_shape(summary: Mapping[str, Any], where: str) -> None:
    """A summary's ``config`` (and its ``array``) is an object of settings, else one line naming ``where``
    (the file) and the key: power reads settings from them."""
    cfg = summary.get("config")
    for key, v in (("config", cfg), ("config.array", cfg.get("array") if isinstance(cfg, dict) else None)):
        if v is not None and not isinstance(v, dict):
            shown = json.dumps(v)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            what = {str: "a string", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
                type(v), type(v).__name__)
            raise ConfigError(f"{where}: '{key}' is {what} {shown}, expected an object of "
                              "settings (this summary.json was not written by pcmspice, or was edited)")


def workload_from_training(summary: Mapping[str, Any], cfg: PowerConfig, source: str = "training run") -> Workload:
    """Per-example rates from a training run's summary.json (see pcmspice.train.loop)."""
    check_config_shape(summary, source)
    missing = [k for k in TRAINING_KEYS if k not in summary]
    if missing:
        raise ConfigError(f"{source}: training summary lacks {', '.join(missing)} (needed for the energy estimate)")
    sizes = parse_network(summary["network"])
    ex = summary["examples_trained"]
    if not isinstance(ex, (int, float)) or ex < 1:
        raise ConfigError(f"{source}: examples_trained = {ex!r} must be 1 or more")
    vals = {}
    for k in TRAINING_KEYS[:5]:
        v = summary[k]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"{source}: {k} = {v!r} must be a non-negative number")
        vals[k] = float(v)
    n_syn = op_counts(sizes, cfg)["synapses"]
    notes = [f"update pulses, transfers and PCM pulses counted by the training run ({source}, {int(ex)} examples; "
             "PCM SET pulses include the initial programming of the weights)"]
    cells = _number(summary.get("cell_transfers_total"))
    if cells is not None:
        transfers = cells
    else:
        transfers = vals["transfers_total"]
        if 0 < transfers < n_syn:
            # pcmspice.train.loop counts transfer events of the whole network: every cell each time
            notes.append(f"transfers_total = {int(transfers)} read as transfer events of the whole network, "
                         f"each transferring all {n_syn} cells")
            transfers *= n_syn
    update_sets = min(_number(summary.get("pcm_set_pulses_update_total")) or 0.0, vals["pcm_set_pulses_total"])
    overrides: list[tuple[str, Any]] = list(overrides_from_training_config(summary.get("config") or {}))
    gain_f = _number(((summary.get("config") or {}).get("array") or {}).get("gain_f"))
    if gain_f:
        overrides.append(("array.gain_f", gain_f))
    if overrides:
        notes.append("from the training run's array config: " + ", ".join(f"{n} = {v}" for n, v in overrides))
    t_ex = _number(summary.get("time_per_example_seconds"))
    return Workload(
        network=sizes, examples=int(ex),
        pulses_up_per_example=vals["pulses_up_total"] / ex, pulses_down_per_example=vals["pulses_down_total"] / ex,
        cell_transfers_per_example=transfers / ex,
        set_pulses_per_example=(vals["pcm_set_pulses_total"] - update_sets) / ex,
        reset_pulses_per_example=vals["pcm_reset_pulses_total"] / ex, source=source, notes=tuple(notes),
        training_time_per_example_seconds=t_ex, update_set_pulses_per_example=update_sets / ex,
        mode=str(summary.get("mode", "cell")), config_overrides=tuple(overrides))


def overrides_from_training_config(train_config: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Power parameters fixed by a training run's array config (pcmspice.train.loop.TrainConfig.to_dict()):
    those of :data:`~pcmspice.power.config.SHARED_WITH_ARRAY_CONFIG`, read by their own names (the transfer
    interval, the pulse slots of an update, the cells per g_shared).  A value below 1 (e.g. transfer_every = 0,
    never) fixes nothing."""
    arr = train_config.get("array") or {}
    out = []
    for dotted in SHARED_WITH_ARRAY_CONFIG:
        v = _number(arr.get(dotted.partition(".")[2]))
        if v is not None and v >= 1:
            out.append((dotted, int(v)))
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return float(v)
    return None

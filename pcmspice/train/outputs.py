"""A training run's outputs: its summary (the keys the power and report layers read) and
the files :func:`save_run` writes (summary.json, history.csv, config.toml, transfers.csv,
weights.npz, figures)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.core import paths
from pcmspice.core.tables import csv_text
from pcmspice.lut.identity import lut_sha256
from pcmspice.train.figures import save_figures
from pcmspice.train.result import TrainResult, history_rows


def summarize(res: TrainResult) -> dict[str, Any]:
    """The run's summary (the keys the power/report layers read are listed in the README)."""
    from pcmspice.core.provenance import to_jsonable, versions
    cfg, net = res.config, res.analog.network
    counters: dict[str, int] = {}
    for layer in net.layers:
        for k, v in layer.counters.items():
            counters[k] = counters.get(k, 0) + int(v)
    first = net.layers[0]
    last_a = res.analog.history[-1]
    last_b = res.baseline.history[-1] if res.baseline else {}
    n_train = int(res.dataset.y_train.size)
    n_syn = int(sum(l.shape[0] * l.shape[1] for l in net.layers))
    transfers = int(first.counters.get("transfers", 0))
    s: dict[str, Any] = {
        "network": cfg.network,
        "dataset": res.dataset.name,
        "epochs": cfg.epochs,
        "mode": cfg.array.mode,
        "polarity_inversion": cfg.array.polarity_inversion,
        "time_per_example_seconds": cfg.array.time_per_example_seconds,
        "examples_trained": n_train * cfg.epochs,
        "analog_test_accuracy": last_a["test_accuracy"],
        "analog_train_accuracy": last_a["train_accuracy"],
        "baseline_test_accuracy": last_b.get("test_accuracy"),
        "baseline_train_accuracy": last_b.get("train_accuracy"),
        "accuracy_gap_percentage_points": (100 * (last_a["test_accuracy"] - last_b["test_accuracy"])
                                           if last_b else None),
        "pulses_up_total": counters.get("pulses_up", 0),
        "pulses_down_total": counters.get("pulses_down", 0),
        # transfer events of the whole network (every array transfers at once, every cell each time)
        "transfers_total": transfers,
        "cell_transfers_total": transfers * n_syn if cfg.array.mode != "ideal" else 0,
        "pcm_set_pulses_total": counters.get("pcm_set_pulses", 0),
        "pcm_reset_pulses_total": counters.get("pcm_reset_pulses", 0),
        "pcm_set_pulses_update_total": counters.get("pcm_set_pulses_update", 0),
        "pcm_not_converged_total": counters.get("pcm_not_converged", 0),
        **pcm_training(cfg.array.mode, cfg.array.transfer_every, n_train * cfg.epochs, first.transfer_log),
        "n_synapses": n_syn,
        "layers": [l.summary() for l in net.layers],
        "hardware_time_seconds": first.time_seconds,
        "transfer_seconds": cfg.array.transfer_seconds,
        # mean over every PCM device of G read now (drifted, no read noise) / G programmed, at the end
        "pcm_drift_ratio_mean": _drift_ratio_mean(net),
        # the drift onset t0 the run used (array.drift_t0_seconds, or the PCM LUT's); None without PCMs
        "drift_t0_seconds": next((p.pcm.t0 for l in net.layers if (p := getattr(l, "pcm_pairs", None)) is not None),
                                 None),
        "analog_train_wall_seconds": res.analog.train_seconds,
        "analog_examples_per_second": n_train * cfg.epochs / max(res.analog.train_seconds, 1e-9),
        "baseline_train_wall_seconds": res.baseline.train_seconds if res.baseline else None,
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "dataset_info": res.dataset.describe(),
        "lut_name": res.luts.name if res.luts else None,
        "lut_dir": _lut_dir(cfg) if res.luts else None,
        "lut_sha256": lut_sha256(res.luts) if res.luts else None,
        "lut_provenance": res.luts.provenance if res.luts else None,
        "pcm_lut_provenance": res.luts.pcm.provenance if res.luts else None,
        "versions": versions(),
    }
    return to_jsonable(s)


#: a run that ended fewer than this fraction of its transfer interval after its last transfer is measured right
#: after the transfer, before training has made up for the programming error (a few examples)
JUST_TRANSFERRED_FRACTION = 0.05


def pcm_training(mode: str, transfer_every: int, examples: int, log: list[dict]) -> dict[str, Any]:
    """Whether the run's PCM learned anything: ``pcm_trained`` (False in mode ``cell`` when no g -> PCM transfer
    happened: the 3T1C alone was trained; None without PCMs, mode ``ideal``), ``examples_since_last_transfer``
    (None without a transfer), ``ended_after_transfer`` (the run ended within
    :data:`JUST_TRANSFERRED_FRACTION` of a transfer interval after a transfer) and ``pcm_caveat``, the sentence
    the console and the report's verdict show (None when there is nothing to say)."""
    last = max((int(t["examples"]) for t in log), default=None)
    since = examples - last if last is not None else None
    if mode == "ideal":
        return {"pcm_trained": None, "examples_since_last_transfer": since, "ended_after_transfer": False,
                "pcm_caveat": None}
    trained = mode != "cell" or last is not None
    few = max(1, int(JUST_TRANSFERRED_FRACTION * transfer_every))
    ended = since is not None and mode == "cell" and since < few
    caveat = None
    if not trained:
        why = ("transfers are off (transfer_every = 0)" if transfer_every == 0 else
               f"no transfer in its {examples:,} examples: one comes every {transfer_every:,}")
        caveat = (f"the 3T1C alone was trained; the PCM never learned ({why}; set array.transfer_every "
                  f"below {examples:,}, e.g. {max(1, examples // 8):,})")
    elif ended:
        caveat = (f"the run ended {since:,} examples after a transfer (fewer than {few:,}): its final accuracy is "
                  "measured right after the transfer, before training made up for its programming error")
    return {"pcm_trained": trained, "examples_since_last_transfer": since, "ended_after_transfer": ended,
            "pcm_caveat": caveat}


def _drift_ratio_mean(net) -> float | None:
    ratios = [r for l in net.layers if (r := l.pcm_drift_ratios()) is not None]
    return float(np.concatenate(ratios).mean()) if ratios else None


def _lut_dir(cfg) -> str:
    """Where the run's LUTs were read (absolute): the config's ``luts``, or the committed default."""
    return str(Path(cfg.luts).resolve() if cfg.luts else paths.default_lut_dir())


KIND = "train"   # the marker of a training run folder


def run_folder_key(cfg, baseline: bool) -> str:
    """What makes two training runs the same run (the marker key of their folder)."""
    from pcmspice.core.outputs import run_key
    return run_key(cfg.to_dict(), baseline)


def save_run(res: TrainResult, out_dir: str | Path, *, figures: bool = True, force: bool = False) -> Path:
    """Write a run into ``out_dir`` as a whole (:func:`pcmspice.core.outputs.atomic_dir`): summary.json,
    history.csv, config.toml, transfers.csv, weights.npz (final weights and every array's state) and
    figures.  An existing folder of another run is refused unless ``force``."""
    from pcmspice.core.outputs import atomic_dir
    with atomic_dir(out_dir, KIND, run_folder_key(res.config, res.baseline is not None), force) as stage:
        _write_run(res, stage, figures)
    return Path(out_dir)


def _write_run(res: TrainResult, out: Path, figures: bool) -> None:
    import io

    from pcmspice.core.provenance import atomic_write_bytes, atomic_write_text, write_json
    atomic_write_text(out / "history.csv", csv_text(history_rows(res)))
    atomic_write_text(out / "config.toml", res.config.to_toml())
    log = [{"layer": k, **t} for k, l in enumerate(res.analog.network.layers) for t in l.transfer_log]
    atomic_write_text(out / "transfers.csv", csv_text(log) or "layer,examples\n")
    arrays: dict[str, np.ndarray] = {}
    for k, layer in enumerate(res.analog.network.layers):
        arrays.update({f"layer{k}_{name}": np.asarray(v) for name, v in layer.state().items()})
    if res.baseline:
        for k, layer in enumerate(res.baseline.network.layers):
            arrays[f"baseline_layer{k}_w"] = layer.weights()
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(out / "weights.npz", buf.getvalue())
    if figures:
        res.summary["figures"] = [p.name for p in save_figures(res, out)]
    write_json(out / "summary.json", res.summary)

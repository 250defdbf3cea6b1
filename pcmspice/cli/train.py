"""`pcmspice train` and `pcmspice ablate`: thin wrappers over pcmspice.train."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pcmspice.core.errors import ConfigError

if TYPE_CHECKING:
    from pcmspice.train import TrainConfig

_MODES = ("cell", "pcm-only", "ideal")
_STOP_AFTER_EPOCHS: int | None = None   # tests: stop after this many checkpointed epochs, as Ctrl-C would
_WITH_RESUME = {"out", "resume", "quiet", "no_figures", "force"}


def _no_config_options_with_resume(ctx: click.Context) -> None:
    given = [p for p in ctx.params if p not in _WITH_RESUME and (src := ctx.get_parameter_source(p)) is not None
             and src.name == "COMMANDLINE"]
    if given:
        names = ", ".join("--" + p.replace("_", "-") for p in given)
        raise ConfigError(f"--resume continues the run with its own config; drop {names}")


def _progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def _build_config(ctx: click.Context, opts: dict) -> TrainConfig:
    """defaults < --config FILE < options given on the command line."""
    from pcmspice.train import TrainConfig

    cfg = TrainConfig()
    if opts.get("config"):
        cfg = TrainConfig.from_toml(Path(opts["config"]))   # refuses a FIFO or device without opening it

    def given(name: str) -> bool:
        src = ctx.get_parameter_source(name)
        return src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")

    top = {"dataset": "dataset", "network": "network", "epochs": "epochs", "seed": "seed",
           "learning_rate": "learning_rate", "lr_decay": "lr_decay", "activation": "activation",
           "batch_size": "batch_size", "max_train": "max_train", "max_test": "max_test", "luts": "luts"}
    changes = {field: opts[opt] for opt, field in top.items() if opt in opts and given(opt)}
    if "luts" in changes:
        changes["luts"] = str(changes["luts"] or "")
    if "w_max" in opts and given("w_max"):
        try:
            changes["w_max"] = tuple(float(s) for s in opts["w_max"].split(","))
        except ValueError:
            raise ConfigError(f"--w-max '{opts['w_max']}' is invalid; expected numbers like 0.36,1.26") from None
    arr = {"mode": "mode", "transfer_every": "transfer_every", "time_per_example": "time_per_example_seconds",
           "leak_scale": "leak_scale", "offset_scheme": "offset_scheme", "rounding": "rounding"}
    achanges = {field: opts[opt] for opt, field in arr.items() if opt in opts and given(opt)}
    if opts.get("no_polarity_inversion"):
        achanges["polarity_inversion"] = False
    if opts.get("no_read_noise"):
        achanges["read_noise"] = False
    achanges.update(_array_assignments(cfg, opts.get("set") or ()))
    if achanges:
        changes["array"] = cfg.array.replace(**achanges)
    cfg = dataclasses.replace(cfg, **changes)
    return cfg


def _array_assignments(cfg, items) -> dict:
    """``--set array.NAME=VALUE`` items as ArrayConfig changes (each value read as its field's type)."""
    from pcmspice.core.config import parse_value
    fields = {f.name for f in dataclasses.fields(type(cfg.array))}
    out = {}
    for item in items:
        name, eq, value = str(item).partition("=")
        sec, _, field = name.strip().partition(".")
        if not eq or sec != "array" or not field or not value.strip():
            raise ConfigError(f"--set {item!r} must look like array.NAME=VALUE, e.g. array.gain_f=2")
        if field not in fields:
            raise ConfigError(f"--set {item!r}: the array config has no parameter '{field}' "
                              f"(one of: {', '.join(sorted(fields))})")
        out[field] = parse_value(value.strip(), getattr(cfg.array, field), f"--set array.{field}")
    return out


def _resolve(cfg, ctx: click.Context, fit_network: bool = True):
    """Load data (and fit the default network to it) and the LUTs the run needs."""
    from pcmspice.train import default_network, load_dataset, prepare_data, resolve_luts

    data = load_dataset(cfg.dataset)
    src = ctx.get_parameter_source("network")
    if fit_network and (src is None or src.name in ("DEFAULT", "DEFAULT_MAP")) and not ctx.params.get("config"):
        cfg = dataclasses.replace(cfg, network=default_network(data))
    cfg = cfg.validate()
    prepare_data(cfg, data)   # fail early on a network/data mismatch
    luts = None if cfg.array.mode == "ideal" and not cfg.luts else resolve_luts(cfg.luts)
    return cfg, data, luts


def _inputs(cfg, opts: dict, luts) -> list[tuple[str, str | None]]:
    """What a run reads from disk, for the output folder never to be, hold or be inside one of them."""
    from pcmspice.core import paths
    kind, _, where = cfg.dataset.partition(":")
    return [("--luts", cfg.luts or (str(paths.default_lut_dir()) if luts is not None else None)),
            ("--config", opts.get("config")), ("--dataset", where if kind in ("idx", "features") else None)]


def _hardware_time(cfg, ctx: click.Context, luts):
    """The run's hardware time: the latency model's time per example and transfer event (the call
    pcmspice.pipeline.run makes, with the run's own array settings), unless --time-per-example or a
    --config file (a run's own record) gives them."""
    if ctx.params.get("config"):
        return cfg
    from pcmspice.power.latency import with_hardware_time
    return with_hardware_time(cfg, luts, time_per_example=ctx.params.get("time_per_example") is None)


# the options of `train` and `ablate` (and those of `corners --train`, which reuses them by name)
TRAIN_OPTIONS: dict[str, dict] = {
    "--dataset": dict(default="mnist5k", show_default=True,
        help="digits | mnist5k | mnist5k-backrand | fashion-mnist | idx:DIR | features:FILE.npz"),
    "--luts": dict(type=click.Path(file_okay=False), default=None,
        help="LUT directory [default: characterization/luts/generic65_tt_27C]"),
    "--network": dict(default="784-250-10", show_default=True,
        help="layer sizes; without it, fitted to the data set (N-250-10, or N-K for features)"),
    "--epochs": dict(type=int, default=20, show_default=True),
    "--transfer-every": dict(type=int, default=8000, show_default=True,
        help="examples between g -> PCM transfers (0 = never)"),
    "--seed": dict(type=int, default=0, show_default=True),
    "--learning-rate": dict(type=float, default=0.01, show_default=True),
    "--lr-decay": dict(type=float, default=1.0, show_default=True,
        help="learning rate x this after every epoch"),
    "--activation": dict(type=click.Choice(["relu", "sigmoid", "tanh"]), default="relu",
        show_default=True),
    "--batch-size": dict(type=int, default=1, show_default=True,
        help="1 = per-example SGD as the chip does it; >1 = minibatch mode (faster)"),
    "--time-per-example": dict(type=float, default=None,
        help="hardware time per training example (s): sets how much the capacitors leak and the PCMs "
             "drift [default: the latency model's, as `pcmspice run` takes it]"),
    "--leak-scale": dict(type=float, default=1.0, show_default=True,
        help="multiply every leakage rate"),
    "--offset-scheme": dict(type=click.Choice(["none", "signed", "magnitude"]), default="none",
        show_default=True,
        help="transfer offset: none, or the paper's 2 uS (signed) or toward zero (magnitude)"),
    "--rounding": dict(type=click.Choice(["stochastic", "nearest"]), default="stochastic",
        show_default=True, help="pulse-count quantization"),
    "--w-max": dict(default=None, help="per layer, the weight the PCM span maps to (e.g. 0.36,1.26)"),
    "--no-read-noise": dict(is_flag=True, help="switch off PCM read noise"),
    "--max-train": dict(type=int, default=0, help="use only the first N training examples"),
    "--max-test": dict(type=int, default=0, help="use only the first N test examples"),
    "--config": dict(type=click.Path(exists=True, dir_okay=False),
        help="a TOML run config (as written to OUT/config.toml); options given override it"),
    "--set": dict(multiple=True, metavar="array.NAME=VALUE",
        help="set any array parameter, e.g. array.gain_f=2, array.pcm_tolerance_siemens=0.2e-6, "
             "array.cells_per_reference=1 (repeatable; docs/array.md lists them)"),
    "--quiet": dict(is_flag=True, help="no progress bars or per-epoch lines"),
}


def train_option(decl: str, **overrides):
    """The click option ``decl`` of `pcmspice train` (e.g. "--epochs"), with ``overrides`` of its settings."""
    return click.option(decl, **{**TRAIN_OPTIONS[decl], **overrides})


def _common(f):
    for decl in reversed(TRAIN_OPTIONS):
        f = train_option(decl)(f)
    return f


def _echo_epoch(epochs: int):
    def echo(label: str, row: dict) -> None:
        click.echo(f"{label:>9s} epoch {row['epoch']:3d}/{epochs}: train {100 * row['train_accuracy']:6.2f} %  "
                   f"test {100 * row['test_accuracy']:6.2f} %")
    return echo


@click.command()
@_common
@click.option("--mode", type=click.Choice(_MODES), default="cell", show_default=True,
              help="cell = 2PCM + 3T1C; pcm-only = no 3T1C; ideal = float weights")
@click.option("--no-polarity-inversion", is_flag=True, help="keep the sign of g fixed across transfers")
@click.option("--no-baseline", is_flag=True, help="skip the float software baseline")
@click.option("--no-figures", is_flag=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder [default: runs/train/DATASET-LUTS-HASH8, HASH8 of the options; the same "
                   "options again are refused there unless --force]")
@click.option("--resume", is_flag=True,
              help="continue the interrupted run of OUT from its last finished epoch (its config is the run's)")
@click.option("--force", is_flag=True, help="replace OUT even if it holds another run")
@click.pass_context
def train(ctx, **opts):
    """Train a network on an array of unit cells and the same network in float.

    Writes OUT/summary.json (analog_test_accuracy, baseline_test_accuracy,
    pulse and transfer counts, config, LUT provenance, versions),
    history.csv, config.toml, transfers.csv, weights.npz and figures.
    After every epoch the whole state is checkpointed beside OUT
    (.OUT.resume/); after a Ctrl-C, --resume --out OUT goes on from there.
    """
    from pcmspice import train as tr
    from pcmspice.cli.interrupt import on_interrupt
    from pcmspice.core.outputs import default_dir, prepare_out_dir, refuse_same_run
    from pcmspice.train.checkpoint import FILE, Checkpointer, read_checkpoint, resume_dir
    from pcmspice.train.outputs import KIND, run_folder_key

    cfg = _build_config(ctx, opts)
    baseline = not opts["no_baseline"]
    if opts["resume"]:
        _no_config_options_with_resume(ctx)
        if not opts["out"]:
            raise ConfigError("--resume needs --out: the folder of the interrupted run (its message names it)")
        out = Path(opts["out"])
        ck_path = resume_dir(out) / FILE
        meta, _ = read_checkpoint(ck_path)
        if meta is None:
            raise ConfigError(f"{out}: nothing to resume (no checkpoint {ck_path}); run without --resume")
        cfg, baseline = tr.TrainConfig.from_toml(meta["config_toml"]), bool(meta["baseline"])
        cfg, data, luts = _resolve(cfg, ctx, fit_network=False)
    else:
        cfg, data, luts = _resolve(cfg, ctx)
        cfg = _hardware_time(cfg, ctx, luts)
        out = Path(opts["out"]) if opts["out"] else default_dir(
            "train", [cfg.dataset.split(":")[0], luts.name if luts is not None else cfg.array.mode],
            run_folder_key(cfg, baseline))
        ck_path = resume_dir(out) / FILE
        if not opts["out"]:   # the default folder of these options: a finished run there is this run
            refuse_same_run(out, KIND, run_folder_key(cfg, baseline), opts["force"])
    prepare_out_dir(out, KIND, run_folder_key(cfg, baseline), opts["force"], inputs=_inputs(cfg, opts, luts))
    if not opts["resume"] and ck_path.exists():   # an older interrupted run of this folder: start afresh
        Checkpointer(ck_path, "", "", baseline).remove()

    def saved(path: Path) -> None:
        on_interrupt(f"interrupted: the finished epochs are kept in {path}; continue with "
                     f"pcmspice train --resume --out {out}")

    on_interrupt(f"interrupted before the first epoch finished; nothing was written to {out}")
    res = tr.train(cfg, luts, data, baseline=baseline, progress=_progress(opts["quiet"]),
                   on_epoch=None if opts["quiet"] else _echo_epoch(cfg.epochs), checkpoint=ck_path,
                   resume=opts["resume"], stop_after=_STOP_AFTER_EPOCHS, on_checkpoint=saved)
    on_interrupt(f"interrupted while saving; {out} is unchanged and the finished epochs are kept in {ck_path}; "
                 f"continue with pcmspice train --resume --out {out}")
    tr.save_run(res, out, figures=not opts["no_figures"], force=opts["force"])
    Checkpointer(ck_path, "", "", baseline).remove()
    s = res.summary
    line = f"analog test accuracy {100 * s['analog_test_accuracy']:.2f} %"
    if s["baseline_test_accuracy"] is not None:
        line += (f", software baseline {100 * s['baseline_test_accuracy']:.2f} % "
                 f"(gap {s['accuracy_gap_percentage_points']:+.2f} pp)")
    click.echo(f"{line}; {cfg.network} on {s['dataset']}, {cfg.epochs} epochs, mode {cfg.array.mode}")
    click.echo(f"hardware time {s['hardware_time_seconds']:.3g} s ({cfg.array.time_per_example_seconds:.3g} s per "
               f"example); PCM drift: G now / G programmed = {s['pcm_drift_ratio_mean']:.4f} on average"
               if s.get("pcm_drift_ratio_mean") is not None else
               f"hardware time {s['hardware_time_seconds']:.3g} s")
    click.echo(f"wrote {out}")


@click.command()
@_common
@click.option("--variants", default=",".join(("ideal", "cell", "no-polarity-inversion", "pcm-only", "leak-10x")),
              show_default=True, help="comma-separated; also available: paper-offset (the paper's signed 2 uS "
              "transfer offset)")
@click.option("--retention-ratio", type=float, default=10.0, show_default=True,
              help="leak-10x: retention = transfer interval / this")
@click.option("--figures", is_flag=True, help="also write each variant's figures")
@click.option("--jobs", type=int, default=1, show_default=True, help="variants trained in parallel processes")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder [default: runs/ablate-DATASET-seedN]")
@click.option("--force", is_flag=True, help="replace OUT even if it holds another run")
@click.pass_context
def ablate(ctx, **opts):
    """Ablation table: ideal, full cell, no polarity inversion, PCM only, and the full cell
    with retention 10x shorter than the transfer interval, all against one float baseline.

    Writes OUT/ablation.csv, OUT/ablation.md, OUT/summary.json and each run's
    summary and history in OUT/VARIANT/.
    """
    from pcmspice import train as tr

    cfg = _build_config(ctx, opts)
    cfg, data, luts = _resolve(cfg, ctx)
    if luts is None:
        luts = tr.resolve_luts(cfg.luts)
    cfg = _hardware_time(cfg, ctx, luts)
    variants = tuple(v.strip() for v in opts["variants"].split(",") if v.strip())
    out = Path(opts["out"] or f"runs/ablate-{cfg.dataset.split(':')[0]}-seed{cfg.seed}")
    rows = tr.run_ablation(cfg, luts, data, variants=variants, retention_ratio=opts["retention_ratio"],
                           out_dir=out, progress=_progress(opts["quiet"]) and opts["jobs"] == 1,
                           figures=opts["figures"], log=None if opts["quiet"] else click.echo, jobs=opts["jobs"],
                           force=opts["force"])
    click.echo(tr.ablation_markdown(rows, cfg, tr.prepare_data(cfg, data)))
    click.echo(f"wrote {out}")

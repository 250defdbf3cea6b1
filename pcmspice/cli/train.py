"""`pcmspice train` and `pcmspice ablate`: options (generated from the config fields, :mod:`pcmspice.cli.options`)
-> a :class:`~pcmspice.train.TrainConfig` -> :func:`pcmspice.pipeline.train_run`, which holds the run's logic."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from pcmspice.cli.options import INTEGER, NUMBER, field_option, given
from pcmspice.core.errors import ConfigError
from pcmspice.train.config import TrainConfig

_STOP_AFTER_EPOCHS: int | None = None   # tests: stop after this many checkpointed epochs, as Ctrl-C would
_WITH_RESUME = {"out", "resume", "quiet", "no_figures", "force"}


def _no_config_options_with_resume(ctx: click.Context) -> None:
    names = [p for p in ctx.params if p not in _WITH_RESUME and given(ctx, p)]
    if names:
        shown = ", ".join("--" + p.replace("_", "-") for p in names)
        raise ConfigError(f"--resume continues the run with its own config; drop {shown}")


def _progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


# option -> the TrainConfig field it sets (its type, default and help come from the field)
FIELDS = {"--dataset": "dataset", "--luts": "luts", "--network": "network", "--epochs": "epochs",
          "--transfer-every": "array.transfer_every", "--seed": "seed", "--learning-rate": "learning_rate",
          "--lr-decay": "lr_decay", "--activation": "activation", "--batch-size": "batch_size",
          "--time-per-example": "time_per_example_seconds", "--leak-scale": "array.leak_scale",
          "--offset-scheme": "array.offset_scheme", "--rounding": "array.rounding", "--w-max": "w_max",
          "--max-train": "max_train", "--max-test": "max_test", "--mode": "array.mode"}
# switches that set a field to False
SWITCHES = {"--no-read-noise": ("array.read_noise", "switch off PCM read noise"),
            "--no-polarity-inversion": ("array.polarity_inversion", "keep the sign of g fixed across transfers")}


def _train_options() -> dict[str, dict]:
    opts = {decl: field_option(TrainConfig, path) for decl, path in FIELDS.items() if decl != "--mode"}
    opts["--luts"].update(type=click.Path(file_okay=False))
    opts["--no-read-noise"] = dict(is_flag=True, help=SWITCHES["--no-read-noise"][1])
    opts["--config"] = dict(type=click.Path(exists=True, dir_okay=False),
                            help="a TOML run config (as written to OUT/config.toml); options given override it")
    opts["--set"] = dict(multiple=True, metavar="SECTION.NAME=VALUE",
                         help="set any parameter of the run config by its dotted name, e.g. array.gain_f=2, "
                              "array.pcm_tolerance_siemens=0.2e-6, learning_rate=0.05 (repeatable; "
                              "docs/array.md lists them)")
    opts["--quiet"] = dict(is_flag=True, help="no progress bars or per-epoch lines")
    return opts


# the options of `train` and `ablate` (and those of `corners --train`, which reuses them by name)
TRAIN_OPTIONS: dict[str, dict] = _train_options()


def train_option(decl: str, **overrides):
    """The click option ``decl`` of `pcmspice train` (e.g. "--epochs"), with ``overrides`` of its settings."""
    return click.option(decl, **{**TRAIN_OPTIONS[decl], **overrides})


def _common(f):
    for decl in reversed(TRAIN_OPTIONS):
        f = train_option(decl)(f)
    return f


def _build_config(ctx: click.Context, opts: dict) -> TrainConfig:
    """defaults < --config FILE < options given on the command line < --set."""
    from pcmspice.pipeline.training import build_config
    changes = {}
    for decl, path in FIELDS.items():
        name = decl[2:].replace("-", "_")
        if name in opts and given(ctx, name):
            changes[path] = opts[name]
    if "w_max" in changes:
        try:
            changes["w_max"] = tuple(float(s) for s in changes["w_max"].split(","))
        except ValueError:
            raise ConfigError(f"--w-max '{opts['w_max']}' is invalid; expected numbers like 0.36,1.26") from None
    for decl, (path, _) in SWITCHES.items():
        if opts.get(decl[2:].replace("-", "_")):
            changes[path] = False
    return build_config(opts.get("config"), changes, opts.get("set") or ())


def _echo_epoch(epochs: int):
    def echo(label: str, row: dict) -> None:
        click.echo(f"{label:>9s} epoch {row['epoch']:3d}/{epochs}: train {100 * row['train_accuracy']:6.2f} %  "
                   f"test {100 * row['test_accuracy']:6.2f} %")
    return echo


@click.command()
@_common
@click.option("--mode", **field_option(TrainConfig, "array.mode"))
@click.option("--no-polarity-inversion", is_flag=True, help=SWITCHES["--no-polarity-inversion"][1])
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
    from pcmspice.cli.interrupt import on_interrupt
    from pcmspice.pipeline.training import resume_config, train_run

    if opts["resume"]:
        _no_config_options_with_resume(ctx)
        cfg = None
        epochs = resume_config(opts["out"])[0].epochs if opts["out"] else 0
    else:
        cfg = _build_config(ctx, opts)
        epochs = cfg.epochs
    run = train_run(cfg, opts["out"], baseline=not opts["no_baseline"], resume=opts["resume"], force=opts["force"],
                    figures=not opts["no_figures"], progress=_progress(opts["quiet"]),
                    on_epoch=None if opts["quiet"] else _echo_epoch(epochs),
                    on_interrupt=on_interrupt, stop_after=_STOP_AFTER_EPOCHS)
    cfg, s = run.config, run.summary
    line = f"analog test accuracy {100 * s['analog_test_accuracy']:.2f} %"
    if s["baseline_test_accuracy"] is not None:
        line += (f", software baseline {100 * s['baseline_test_accuracy']:.2f} % "
                 f"(gap {s['accuracy_gap_percentage_points']:+.2f} pp)")
    click.echo(f"{line}; {cfg.network} on {s['dataset']}, {cfg.epochs} epochs, mode {cfg.array.mode}")
    click.echo(f"hardware time {s['hardware_time_seconds']:.3g} s ({cfg.array.time_per_example_seconds:.3g} s per "
               f"example); PCM drift (t0 = {s['drift_t0_seconds']:.3g} s): G now / G programmed = "
               f"{s['pcm_drift_ratio_mean']:.4f} on average"
               if s.get("pcm_drift_ratio_mean") is not None else
               f"hardware time {s['hardware_time_seconds']:.3g} s")
    if s.get("pcm_caveat"):
        click.echo(f"warning: {s['pcm_caveat']}", err=True)
    click.echo(f"wrote {run.out_dir}")


@click.command()
@_common
@click.option("--variants", default=",".join(("ideal", "cell", "no-polarity-inversion", "pcm-only", "leak-10x")),
              show_default=True, help="comma-separated; also available: paper-offset (the paper's signed 2 µS "
              "transfer offset)")
@click.option("--retention-ratio", type=NUMBER, default=10.0, show_default=True,
              help="leak-10x: retention = transfer interval / this")
@click.option("--figures", is_flag=True, help="also write each variant's figures")
@click.option("--jobs", type=INTEGER, default=1, show_default=True, help="variants trained in parallel processes")
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
    from pcmspice.pipeline.training import hardware_time, prepare

    run = prepare(_build_config(ctx, opts), timed=False)
    luts = run.luts if run.luts is not None else tr.resolve_luts(run.config.luts)
    cfg, data = hardware_time(run.config, luts), run.data
    variants = tuple(v.strip() for v in opts["variants"].split(",") if v.strip())
    out = Path(opts["out"] or f"runs/ablate-{cfg.dataset.split(':')[0]}-seed{cfg.seed}")
    rows = tr.run_ablation(cfg, luts, data, variants=variants, retention_ratio=opts["retention_ratio"],
                           out_dir=out, progress=_progress(opts["quiet"]) and opts["jobs"] == 1,
                           figures=opts["figures"], log=None if opts["quiet"] else click.echo, jobs=opts["jobs"],
                           force=opts["force"])
    click.echo(tr.ablation_markdown(rows, cfg, tr.prepare_data(cfg, data)))
    click.echo(f"wrote {out}")

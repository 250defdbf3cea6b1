"""`pcmspice features`: penultimate-layer features of a small float CNN, for `pcmspice train --dataset
features:FILE.npz` (the paper's transfer learning).  A thin wrapper over pcmspice.torch.features."""
from __future__ import annotations

from pathlib import Path

import click

from pcmspice.cli.options import INTEGER, NUMBER
from pcmspice.core.errors import ConfigError, OutputError


def require_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConfigError(f"{command} needs PyTorch; install the extra: pip install -e '.[torch]'") from None


def check_out_file(path: str, suffix: str, option: str = "--out") -> Path:
    """A file that can be written at ``path`` (checked before any computing), else a one-line error."""
    from pcmspice.core.outputs import check_location

    p = Path(path)
    if p.suffix != suffix:
        raise ConfigError(f"{option} {p}: expected a file name ending in {suffix}")
    if p.is_dir():
        raise OutputError(f"{p}: is a folder; {option} takes a file name")
    check_location(p.absolute().parent)
    return p


@click.command()
@click.option("--dataset", default="fashion-mnist", show_default=True,
              help="an image data set: digits | mnist5k | fashion-mnist | idx:DIR")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="the features file (.npz) to write")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None,
              help="a CNN saved with --save-model: extract its features instead of training one")
@click.option("--save-model", type=click.Path(dir_okay=False), default=None, help="also save the trained CNN here")
@click.option("--epochs", type=INTEGER, default=3, show_default=True)
@click.option("--batch-size", type=INTEGER, default=64, show_default=True)
@click.option("--learning-rate", type=NUMBER, default=0.05, show_default=True)
@click.option("--seed", type=INTEGER, default=0, show_default=True)
@click.option("--features", type=INTEGER, default=64, show_default=True, help="penultimate layer width")
@click.option("--threads", type=INTEGER, default=1, show_default=True, help="torch CPU threads")
@click.option("--max-train", type=INTEGER, default=0, help="use only the first N training examples (0 = all)")
@click.option("--max-test", type=INTEGER, default=0, help="use only the first N test examples (0 = all)")
def features(**opts):
    """Train a small CNN in float torch on the training split (or load one with --model) and write its
    penultimate-layer features of train and test to OUT, with their provenance.

    Then `pcmspice train --dataset features:OUT` trains the last layer in analog."""
    require_torch("pcmspice features")
    from pcmspice.torch.features import FeaturesConfig, load_model, make_features, save_model, write_features
    from pcmspice.train.datasets import load_dataset

    out = check_out_file(opts["out"], ".npz")
    if opts["save_model"]:
        check_out_file(opts["save_model"], ".pt", "--save-model")
    model = None
    if opts["model_path"]:
        model, cfg = load_model(opts["model_path"])
        cfg = cfg.replace(dataset=opts["dataset"], max_train=opts["max_train"], max_test=opts["max_test"],
                          threads=opts["threads"])
    else:
        cfg = FeaturesConfig(dataset=opts["dataset"], epochs=opts["epochs"], batch_size=opts["batch_size"],
                             learning_rate=opts["learning_rate"], seed=opts["seed"], features=opts["features"],
                             threads=opts["threads"], max_train=opts["max_train"], max_test=opts["max_test"])
    cfg = cfg.validate()
    ds = load_dataset(cfg.dataset)
    if cfg.max_train or cfg.max_test:
        ds = ds.subset(cfg.max_train, cfg.max_test)
    arrays, prov, model = make_features(cfg, ds, model)
    if opts["save_model"]:
        save_model(model, cfg, ds, opts["save_model"])
    write_features(arrays, prov, out)
    n = arrays["x_train"].shape[1]
    click.echo(f"CNN test accuracy {100 * prov['cnn_test_accuracy']:.2f} % (float); wrote {out}: {n} features of "
               f"{arrays['y_train'].size} train and {arrays['y_test'].size} test examples of {ds.name}")
    click.echo(f"next: pcmspice train --dataset features:{out}")

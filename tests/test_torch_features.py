"""`pcmspice features`: a float CNN's penultimate features, in the format `pcmspice train` reads."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from pcmspice.cli.main import main  # noqa: E402
from pcmspice.train import TrainConfig, train  # noqa: E402
from pcmspice.train.datasets import load_dataset, load_features  # noqa: E402

ARGS = ["--dataset", "digits", "--epochs", "4", "--batch-size", "16", "--seed", "5"]


@pytest.fixture(scope="module")
def feats(tmp_path_factory):
    d = tmp_path_factory.mktemp("feats")
    main(["features", *ARGS, "--out", str(d / "f.npz"), "--save-model", str(d / "cnn.pt")])
    return d


def test_features_of_digits_train_the_last_layer_in_analog(feats, capsys):
    ds = load_features(feats / "f.npz")
    digits = load_dataset("digits")
    assert ds.x_train.shape == (digits.y_train.size, 64) and ds.x_test.shape == (digits.y_test.size, 64)
    assert np.array_equal(ds.y_train, digits.y_train) and np.array_equal(ds.y_test, digits.y_test)
    with np.load(feats / "f.npz") as z:
        prov = json.loads(str(z["provenance"]))
        raw = z["x_train"]
    assert raw.min() == 0 and np.array_equal(ds.x_train, raw / ds.source["feature_scale"])   # ReLU outputs
    assert prov["config"]["seed"] == 5 and prov["dataset"]["name"] == "digits" and "torch" in prov["versions"]
    assert prov["cnn_test_accuracy"] > 0.8 and len(prov["cnn_history"]) == 4
    res = train(TrainConfig(dataset=f"features:{feats / 'f.npz'}", network="64-10", epochs=2, seed=1), data=ds)
    assert res.summary["analog_test_accuracy"] > 0.75


def test_same_seed_same_features_and_a_saved_cnn_gives_them_again(feats, tmp_path):
    main(["features", *ARGS, "--out", str(tmp_path / "again.npz")])
    main(["features", "--dataset", "digits", "--model", str(feats / "cnn.pt"), "--out", str(tmp_path / "m.npz")])
    a, b, c = (load_features(p) for p in (feats / "f.npz", tmp_path / "again.npz", tmp_path / "m.npz"))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.x_test, b.x_test)
    assert np.array_equal(a.x_train, c.x_train)
    main(["features", *ARGS, "--seed", "6", "--epochs", "1", "--out", str(tmp_path / "other.npz")])
    assert not np.array_equal(a.x_train, load_features(tmp_path / "other.npz").x_train)


@pytest.mark.parametrize("args, message", [
    (["--model", "{f}"], "not a readable torch file"),
    (["--dataset", "features:{f}"], "has no 2-D image shape"),
    (["--dataset", "digits", "--epochs", "0"], "epochs"),
    (["--dataset", "digits", "--out", "{d}/x.txt"], "expected a file name ending in .npz"),
    (["--dataset", "digits", "--out", "{f}/x.npz"], "exists and is not a folder; choose another --out"),
    (["--dataset", "digits", "--out", "{d}"], "is a directory"),
    (["--dataset", "digits", "--save-model", "{d}/m.npz"], "expected a file name ending in .pt"),
])
def test_bad_inputs_are_one_line_errors(feats, tmp_path, capsys, args, message):
    args = [a.format(f=feats / "f.npz", d=tmp_path) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "o.npz")]
    with pytest.raises(SystemExit) as e:
        main(["features", *args, *out])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.npz").exists()

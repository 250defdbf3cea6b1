"""Training (pcmspice.train) and the `train` / `ablate` commands, on small networks and digits."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_array import synthetic_luts

from pcmspice import train as T
from pcmspice.array.config import ArrayConfig
from pcmspice.cli.main import main
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut.format import save_lut_set
from pcmspice.train.datasets import Dataset, load_dataset

SUMMARY_KEYS = {"pulses_up_total", "pulses_down_total", "transfers_total", "pcm_set_pulses_total",
                "pcm_reset_pulses_total", "examples_trained", "network", "dataset", "epochs", "mode",
                "cell_transfers_total",
                "time_per_example_seconds", "analog_test_accuracy", "baseline_test_accuracy",
                "analog_train_accuracy", "baseline_train_accuracy", "config", "lut_provenance", "versions"}


@pytest.fixture(scope="module")
def luts():
    return synthetic_luts(n_cells=48, n_devices=48)


@pytest.fixture(scope="module")
def lut_dir(tmp_path_factory, luts):
    return save_lut_set(luts, tmp_path_factory.mktemp("luts") / "synthetic")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _small(**kw) -> T.TrainConfig:
    base = dict(dataset="digits", network="64-16-10", epochs=2, learning_rate=0.05, seed=3,
                array=ArrayConfig(transfer_every=500))
    base.update(kw)
    return T.TrainConfig(**base).validate()


def test_cell_training_learns_and_reports_every_key(luts, digits):
    res = T.train(_small(), luts, digits)
    s = res.summary
    assert SUMMARY_KEYS <= set(s)
    assert s["network"] == "64-16-10" and s["dataset"] == "digits" and s["mode"] == "cell"
    assert s["examples_trained"] == 2 * digits.y_train.size
    assert s["baseline_test_accuracy"] > 0.85
    assert s["analog_test_accuracy"] > 0.7                     # learns far beyond chance (0.1)
    assert s["pulses_up_total"] > 0 and s["pulses_down_total"] > 0
    assert s["transfers_total"] == (2 * digits.y_train.size) // 500
    assert s["cell_transfers_total"] == s["transfers_total"] * (16 * 65 + 10 * 17)
    assert s["pcm_set_pulses_total"] > 0 and s["pcm_reset_pulses_total"] > 0
    assert s["lut_provenance"]["synthetic"] == "tests/test_array.py"
    # the training accuracy is the trained network's on the training set (a second path: evaluated here), and
    # it learned there as on the test set
    net = res.analog.network
    assert s["analog_train_accuracy"] > 0.7
    assert s["analog_train_accuracy"] == pytest.approx(net.accuracy(digits.x_train, digits.y_train, noise=False),
                                                       abs=0.03)


def test_same_seed_same_result(luts, digits):
    a = T.train(_small(epochs=1), luts, digits, baseline=False)
    b = T.train(_small(epochs=1), luts, digits, baseline=False)
    c = T.train(_small(epochs=1, seed=4), luts, digits, baseline=False)
    for k in ("analog_test_accuracy", "pulses_up_total", "pulses_down_total", "pcm_set_pulses_total"):
        assert a.summary[k] == b.summary[k]
    np.testing.assert_array_equal(a.analog.network.layers[0].weights(), b.analog.network.layers[0].weights())
    assert not np.array_equal(a.analog.network.layers[0].weights(), c.analog.network.layers[0].weights())


def test_ideal_mode_network_equals_the_float_baseline(digits):
    res = T.train(_small(array=ArrayConfig(mode="ideal")), None, digits)
    for la, lb in zip(res.analog.network.layers, res.baseline.network.layers):
        np.testing.assert_allclose(la.weights(), lb.weights(), rtol=0, atol=1e-12)
    assert res.summary["analog_test_accuracy"] == res.summary["baseline_test_accuracy"]


def test_minibatch_mode_and_pcm_only(luts, digits):
    res = T.train(_small(batch_size=16, epochs=3, learning_rate=0.2), luts, digits, baseline=False)
    assert res.summary["analog_test_accuracy"] > 0.6
    pcm = T.train(_small(array=ArrayConfig(mode="pcm-only", transfer_every=500)), luts, digits, baseline=False)
    assert pcm.summary["pulses_up_total"] == 0
    assert pcm.summary["pcm_set_pulses_update_total"] > 0
    assert pcm.summary["analog_test_accuracy"] > 0.3


def test_two_hidden_layers_and_burr_crop(luts):
    x = np.random.default_rng(0).random((60, 784))
    y = np.arange(60) % 10
    ds = Dataset("tiny28", x[:40], y[:40], x[40:], y[40:], 10, (28, 28))
    cfg = T.TrainConfig(dataset="tiny28", network="528-12-8-10", epochs=1).validate()
    prep = T.prepare_data(cfg, ds)
    assert prep.x_train.shape == (40, 528) and prep.image_shape == (22, 24)
    res = T.train(cfg, luts, ds, baseline=False)
    assert [l.shape for l in res.analog.network.layers] == [(12, 529), (8, 13), (10, 9)]


def test_config_round_trip_and_errors():
    cfg = T.TrainConfig(network="784-250-125-10", w_max=(0.3, 0.5, 1.0), lr_decay=0.9,
                        array=ArrayConfig(mode="pcm-only", transfer_every=100)).validate()
    assert T.TrainConfig.from_toml_text(cfg.to_toml()) == cfg
    with pytest.raises(ConfigError, match="network '784-x-10' is invalid"):
        T.TrainConfig(network="784-x-10").validate()
    with pytest.raises(ConfigError, match="activation = 'gelu' is invalid; expected one of sigmoid, tanh, relu"):
        T.TrainConfig(activation="gelu").validate()
    with pytest.raises(ConfigError, match=r"w_max = \[0.3\] is invalid; expected 2 positive numbers"):
        T.TrainConfig(network="784-250-10", w_max=(0.3,)).validate()
    with pytest.raises(ConfigError, match="epochs = 0 is invalid"):
        T.TrainConfig(epochs=0).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        T.TrainConfig.from_toml_text('epochz = 3\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        T.TrainConfig.from_toml_text('epochs = = 3\n')
    with pytest.raises(ConfigError, match="train config: epochs = True is invalid; "
                                          "expected an integer from 1 to 10000"):
        T.TrainConfig.from_toml_text('epochs = true\n')
    with pytest.raises(ConfigError, match="array config: gain_f = 'x' is invalid"):
        T.TrainConfig.from_toml_text('[array]\ngain_f = "x"\n')


def test_network_must_fit_the_data(digits):
    with pytest.raises(ConfigError, match="takes 784 inputs but data set digits has 64 features"):
        T.prepare_data(T.TrainConfig(dataset="digits", network="784-250-10"), digits)
    # unset, the network is fitted to the data set
    assert T.prepare_data(T.TrainConfig(dataset="digits"), digits).n_features == 64
    assert T.fitted(T.TrainConfig(dataset="digits"), digits).network == "64-250-10"
    with pytest.raises(ConfigError, match="has 5 outputs but data set digits has 10 classes"):
        T.prepare_data(T.TrainConfig(dataset="digits", network="64-5"), digits)
    assert T.default_network(digits) == "64-250-10"


def test_missing_default_luts_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "default_lut_dir", lambda: tmp_path / "nope")
    with pytest.raises(LutError, match="default LUTs are missing"):
        T.resolve_luts("")


def test_default_w_max_rule():
    assert T.default_w_max((784, 250, 10)) == pytest.approx((10 / np.sqrt(785), 20 / np.sqrt(251)))
    assert len(T.default_w_max((528, 250, 125, 10))) == 3


def test_leak_scale_for_time_constant(luts):
    from pcmspice.array.tables import leak_time_constant_seconds
    tau = np.median(leak_time_constant_seconds(luts.cell))
    assert T.leak_scale_for_time_constant(luts, tau / 10) == pytest.approx(10)


# ------------------------------------------------------------------------ CLI
def test_cli_train_writes_everything(lut_dir, tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--dataset", "digits", "--luts", str(lut_dir), "--network", "64-16-10", "--epochs", "2",
          "--learning-rate", "0.05", "--transfer-every", "600", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert "analog test accuracy" in text and "software baseline" in text
    s = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(s)
    assert s["config"]["array"]["transfer_every"] == 600 and s["epochs"] == 2
    hist = (out / "history.csv").read_text().splitlines()
    assert hist[0] == ("epoch,analog_train_accuracy,analog_test_accuracy,baseline_train_accuracy,"
                       "baseline_test_accuracy,learning_rate,transfers") and len(hist) == 3
    w = np.load(out / "weights.npz")
    assert {"layer0_w", "layer0_vc_volts", "layer0_g_plus_siemens", "baseline_layer1_w"} <= set(w.files)
    for png in ("accuracy.png", "weights.png", "conductances.png", "transfer_error.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert T.TrainConfig.from_toml(out / "config.toml").array.transfer_every == 600
    # the saved config reproduces the run
    out2 = tmp_path / "again"
    main(["train", "--config", str(out / "config.toml"), "--out", str(out2), "--quiet", "--no-figures"])
    s2 = json.loads((out2 / "summary.json").read_text())
    assert s2["analog_test_accuracy"] == s["analog_test_accuracy"]


def test_cli_ablate(lut_dir, tmp_path, capsys):
    out = tmp_path / "abl"
    main(["ablate", "--dataset", "digits", "--luts", str(lut_dir), "--network", "64-16-10", "--epochs", "1",
          "--transfer-every", "400", "--variants", "ideal,cell,leak-10x", "--out", str(out), "--quiet",
          "--jobs", "2"])
    text = capsys.readouterr().out
    assert "| ideal |" in text and "| leak-10x |" in text
    rows = (out / "ablation.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith(
        "variant,mode,polarity_inversion,leak_scale,leak_time_constant_seconds")
    leak = json.loads((out / "leak-10x" / "summary.json").read_text())
    assert leak["config"]["array"]["leak_scale"] > 1


@pytest.mark.parametrize("args,msg", [
    (["--luts", "/nonexistent/luts"], "/nonexistent/luts: LUT directory not found"),
    (["--network", "64-ab-10"], "network '64-ab-10' is invalid"),
    (["--network", "784-10"], "takes 784 inputs but data set digits has 64 features"),
    (["--dataset", "idx:/nonexistent"], "/nonexistent: no such directory"),
    (["--epochs", "0"], "epochs = 0 is invalid"),
    (["--w-max", "0.3,x"], "--w-max '0.3,x' is invalid"),
])
def test_cli_errors_are_one_line_and_exit_2(lut_dir, tmp_path, capsys, args, msg):
    base = ["train", "--dataset", "digits", "--luts", str(lut_dir), "--out", str(tmp_path / "o"), "--quiet"]
    with pytest.raises(SystemExit) as exc:
        main(base + args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and msg in err and "\n" not in err


def test_run_ablation_in_one_process_reuses_one_baseline(luts, digits):
    cfg = _small(epochs=1)
    rows = T.run_ablation(cfg, luts, digits, variants=("no-polarity-inversion", "pcm-only", "paper-offset"))
    assert [r["variant"] for r in rows] == ["no-polarity-inversion", "pcm-only", "paper-offset"]
    assert len({r["baseline_test_accuracy"] for r in rows}) == 1
    assert rows[1]["pulses_total"] == 0 and rows[1]["pcm_set_pulses_total"] > 0
    with pytest.raises(ConfigError, match="ablation variant 'fast' is unknown"):
        T.ablation_configs(cfg, luts, ("fast",))


def test_cli_features_trains_only_the_last_layer(lut_dir, tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 2, (3, 20))
    y = np.arange(150) % 3
    x = np.abs(centers[y] + rng.normal(0, 0.5, (150, 20)))
    f = tmp_path / "feats.npz"
    np.savez(f, x_train=x[:120], y_train=y[:120], x_test=x[120:], y_test=y[120:])
    out = tmp_path / "feat-run"
    main(["train", "--dataset", f"features:{f}", "--luts", str(lut_dir), "--epochs", "3", "--learning-rate", "0.05",
          "--out", str(out), "--quiet", "--no-figures"])
    s = json.loads((out / "summary.json").read_text())
    assert s["network"] == "20-3" and len(s["layers"]) == 1
    assert s["analog_test_accuracy"] > 0.8 and s["dataset_info"]["feature_scale"] > 0


def test_float_layer_has_the_layer_interface():
    from pcmspice.array import Layer
    layer = T.FloatLayer(np.ones((2, 3)))
    assert isinstance(layer, Layer) and layer.counters == {} and layer.transfer_log == []
    assert layer.pcm_pair_siemens() is None and layer.capacitor_volts() is None and layer.advance(5) is None
    assert list(layer.state()) == ["w"] and layer.summary()["siemens_per_unit_weight"] is None


def test_set_array_parameters_from_the_command_line(tmp_path, capsys):
    """`train --set array.NAME=VALUE` changes that parameter of the run (recorded in its config) and nothing
    else; a bad name, form or value is one line naming it."""
    from pcmspice.cli.main import main
    out = tmp_path / "r"
    main(["train", "--dataset", "digits", "--epochs", "1", "--max-train", "200", "--no-baseline", "--quiet",
          "--no-figures", "--set", "array.gain_f=2", "--set", "array.cells_per_reference=1", "--out", str(out)])
    a = json.loads((out / "summary.json").read_text())["config"]["array"]
    assert a["gain_f"] == 2.0 and a["cells_per_reference"] == 1 and a["transfer_every"] == 8000
    # 200 examples and a transfer every 8,000: the run says that only the 3T1C was trained
    assert "the PCM never learned" in capsys.readouterr().err
    for item, want in (("array.gainf=2", "has no parameter 'gainf'"),
                       ("gain_f=2", "the train config has no parameter 'gain_f'"),
                       ("array.gain_f", "must look like section.name=VALUE"),
                       ("array.gain_f=abc", "is not a number"), ("array.gain_f=-1", "gain_f = -1.0 is invalid")):
        with pytest.raises(SystemExit) as e:
            main(["train", "--dataset", "digits", "--set", item, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert e.value.code == 2 and want in err and err.count("\n") == 1 and err.startswith("error: ")


def test_progress_in_a_log_is_one_line_per_epoch_not_a_bar(luts, digits, capsys):
    """With stderr not a terminal (a log file, CI), progress is one line per epoch and run, no tqdm redraws
    (a 20-epoch `pcmspice run` log was one 40 KB line of bars)."""
    res = T.train(_small(epochs=2, max_train=200, max_test=100), luts, digits, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and "ex/s" not in err and "it/s" not in err
    lines = err.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["software epoch 1/2", "software epoch 2/2", "cell epoch 1/2",
                                                  "cell epoch 2/2"]
    last = res.summary["analog_test_accuracy"]
    assert f"test {100 * last:.2f} %" in lines[-1]
    # and nothing at all without progress
    T.train(_small(epochs=1, max_train=50, max_test=20), luts, digits, progress=False)
    assert capsys.readouterr().err == ""

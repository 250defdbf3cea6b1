"""`pcmspice corners --train`: corner x seed runs on the shared executor, accuracy in % as mean ± sd over
seeds (final and best epoch), the last-epoch-transfer flag, the figure, and a Dask LocalCluster run."""
from __future__ import annotations

import csv
import json
import math
import os
import statistics

import pandas as pd
import pytest
from click.testing import CliRunner

from pcmspice.characterize.corners import accuracy_columns
from pcmspice.cli.main import cli, main
from pcmspice.core import executor
from pcmspice.pipeline.corners import corner_row, parse_seeds

# 300 training examples, a transfer every 500: the one transfer falls in epoch 2, the last
TRAIN = ["--train", "--dataset", "digits", "--epochs", "2", "--max-train", "300", "--max-test", "100",
         "--transfer-every", "500"]
SMALL = ["--temps", "27", "--mc", "4", "--pcm-devices", "20", "--quiet"]


def _seeded_run(tmp_path):
    """tt and ss at 27 °C, seeds 0 and 1, two processes; records what went through the shared executor."""
    out = tmp_path / "run"
    calls, real = [], executor.execute

    def spy(tasks, jobs=1, scheduler=None):
        call = {"tasks": list(tasks), "jobs": jobs, "results": []}
        calls.append(call)
        for key, res in real(call["tasks"], jobs, scheduler):
            call["results"].append(res)
            yield key, res

    mp = pytest.MonkeyPatch()
    mp.setattr(executor, "execute", spy)
    try:
        r = CliRunner().invoke(cli, ["corners", "--corners", "tt,ss", *SMALL, *TRAIN, "--seeds", "0,1",
                                      "--jobs", "2", "--out", str(out)])
    finally:
        mp.undo()
    assert r.exit_code == 0, r.output
    return out, calls, r.output


def test_seeded_corner_run(tmp_path):
    """One run (it takes most of a minute) for the table, the executor and the report."""
    run = _seeded_run(tmp_path)
    _check_table(run)
    _check_parallel(run)
    _check_report(run, tmp_path)


def _check_table(seeded_run):
    out, _, output = seeded_run
    df = pd.read_csv(out / "corners.csv")
    for col in ("final_accuracy_mean_percent", "final_accuracy_sd_percent", "best_accuracy_mean_percent",
                "best_accuracy_sd_percent", "last_epoch_transfer_seeds", "software_accuracy_mean_percent",
                "seeds", "energy_per_example_joules", "gops_per_watt"):
        assert col in df.columns, col
    assert "analog_test_accuracy" not in df.columns   # no fractions beside the percentages
    assert list(df["corner"]) == ["tt", "ss"]
    runs = json.loads((out / "corners.json").read_text())["training_runs"]
    for _, row in df.iterrows():
        name = row["lut_dir"].split("/")[-1]
        finals, bests, flags = [], [], 0
        for seed in (0, 1):
            d = out / "train" / name / f"seed{seed}"
            s = json.loads((d / "summary.json").read_text())
            assert s["seed"] == seed
            hist = list(csv.DictReader(open(d / "history.csv")))
            finals.append(100 * s["analog_test_accuracy"])
            bests.append(100 * max(float(h["analog_test_accuracy"]) for h in hist))
            flags += int(hist[-1]["transfers"]) > 0
            # the one transfer (example 500 of 600) is in the last epoch's row of the history
            assert [int(h["transfers"]) for h in hist] == [0, 1] and s["transfers_total"] == 1
        assert row["final_accuracy_mean_percent"] == pytest.approx(statistics.mean(finals))
        assert row["final_accuracy_sd_percent"] == pytest.approx(statistics.stdev(finals))
        assert row["best_accuracy_mean_percent"] == pytest.approx(statistics.mean(bests))
        assert row["best_accuracy_sd_percent"] == pytest.approx(statistics.stdev(bests))
        assert row["last_epoch_transfer_seeds"] == flags == 2
        assert [r["seed"] for r in runs[name]] == [0, 1]
        assert row["final_accuracy_mean_percent"] > 1   # percent, not a fraction
    md = (out / "corners.md").read_text()
    assert "final acc. (%)" in md and "best acc. (%)" in md and "⚠ 2/2 seeds" in md and " ± " in md
    assert "transfer in last epoch" in output and "⚠" in output


def _check_parallel(seeded_run):
    _, calls, _ = seeded_run
    train_calls = [c for c in calls if c["tasks"] and c["tasks"][0][1].__name__ == "train_one"]
    assert len(train_calls) == 1
    call = train_calls[0]
    assert call["jobs"] == 2
    assert sorted(k for k, _, _ in call["tasks"]) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    pids = {r["worker_pid"] for r in call["results"]}
    assert os.getpid() not in pids and len(pids) == 2   # two worker processes, not this one


def _check_report(seeded_run, tmp_path):
    out, _, _ = seeded_run
    r = CliRunner().invoke(cli, ["report", str(out), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    md = (tmp_path / "rep" / "index.md").read_text()
    assert " ± " in md and "transfer in last epoch" in md and "final acc. (%)" in md
    assert list((tmp_path / "rep" / "figures").glob("*corners_overview.png"))


def test_corner_figure_height_grows_with_the_rows(tmp_path):
    from PIL import Image

    from pcmspice.report.figures import figure_corners
    rows = [{"corner": c, "temp_c": t, "final_accuracy_mean_percent": 80.0, "final_accuracy_sd_percent": 1.0,
             "best_accuracy_mean_percent": 85.0, "last_epoch_transfer_seeds": int(t == 85)}
            for c in ("tt", "ff", "ss", "fs", "sf") for t in (-40, 27, 85)]
    small = Image.open(figure_corners(pd.DataFrame(rows[:2]), tmp_path / "a.png")).size[1]
    big = Image.open(figure_corners(pd.DataFrame(rows), tmp_path / "b.png")).size[1]
    assert big > 2.5 * small   # about 0.28 in a row: 15 labels do not overrun each other


def test_corner_row_of_one_seed_and_no_transfer():
    rec = {"seed": 3, "final_accuracy_percent": 90.0, "best_accuracy_percent": 92.0, "software_accuracy_percent": 93.0,
           "last_epoch_transfers": 0, "energy_per_example_joules": 1e-9, "gops_per_watt": 5.0, "worker_pid": 1}
    row = corner_row([rec])
    assert row["final_accuracy_sd_percent"] == 0.0 and row["last_epoch_transfer_seeds"] == 0
    assert "worker_pid" not in row["runs"][0]
    shown = accuracy_columns(pd.DataFrame([{k: v for k, v in row.items() if k != "runs"}]))
    assert shown["final acc. (%)"][0] == "90.00 ± 0.00" and shown["transfer in last epoch"][0] == ""
    assert math.isclose(row["software_accuracy_mean_percent"], 93.0)


@pytest.mark.parametrize("text", ["", "a", "0,0", "-1", "1,,x"])
def test_bad_seeds_are_one_line(text):
    with pytest.raises(Exception, match="--seeds .* is invalid; expected distinct integers"):
        parse_seeds(text)


def test_bad_seeds_on_the_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["corners", "--corners", "tt", *SMALL, *TRAIN, "--seeds", "0,x", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: --seeds '0,x' is invalid") and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()   # checked before anything is simulated


@pytest.mark.slow
def test_corner_training_on_a_loopback_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        r = CliRunner().invoke(cli, ["corners", "--corners", "tt", *SMALL, "--train", "--dataset", "digits",
                                      "--epochs", "1", "--max-train", "100", "--max-test", "50", "--seeds", "0,1",
                                      "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "on the Dask cluster tcp://127.0.0.1:" in r.output
    df = pd.read_csv(tmp_path / "c" / "corners.csv")
    s0 = json.loads((tmp_path / "c" / "train" / "generic65_tt_27C_1V" / "seed0" / "summary.json").read_text())
    s1 = json.loads((tmp_path / "c" / "train" / "generic65_tt_27C_1V" / "seed1" / "summary.json").read_text())
    assert df["final_accuracy_mean_percent"][0] == pytest.approx(50 * (s0["analog_test_accuracy"]
                                                                       + s1["analog_test_accuracy"]))

"""`pcmspice run DESIGN.toml` with several corners, a technology folder relative to the design file, and the
seeds on the shared executor (a process pool, a loopback Dask cluster)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import TINY_SWEEP
from test_technologies import build_lib_folder

from pcmspice.characterize.sweep import sweep_key
from pcmspice.cli.main import cli
from pcmspice.pipeline import DesignConfig, design_key, run_design
from pcmspice.pipeline import run as run_mod

SMALL = TINY_SWEEP
TASK = """
[task]
dataset = "digits"
epochs = 1
max_train = 200
max_test = 100
"""


def _corner_design(folder: Path) -> Path:
    """A design of the generic65 card packaged as a folder next to it (named relative to the design file),
    at tt and ss, one seed."""
    build_lib_folder(folder / "techs" / "g65lib")
    f = folder / "corners.toml"
    f.write_text(f'name = "two"\nluts = "characterize"\n[sweep]\nname = "two"\ntechnology = "techs/g65lib"\n'
                 f'corners = ["tt", "ss"]\ntemps_c = [27.0]\n{SMALL}{TASK}seeds = [0]\n')
    return f


def test_a_technology_folder_is_relative_to_the_design_file(tmp_path, monkeypatch):
    f = _corner_design(tmp_path / "d")
    monkeypatch.chdir(tmp_path)          # not the design file's folder
    d = DesignConfig.from_toml(f)
    assert d.sweep.technology == str(tmp_path / "d" / "techs" / "g65lib") and d.sweep.tech().name == "g65lib"
    assert d.combos() == [("tt", 27.0, 1.0), ("ss", 27.0, 1.0)]
    assert [c.corners for c in (d.combo_sweep(*x) for x in d.combos())] == [("tt",), ("ss",)]
    # one combination: its sweep is the [sweep] itself, so the single-corner cache key is today's
    one = DesignConfig.from_toml_text(f.read_text().replace('["tt", "ss"]', '["ss"]').replace("techs/g65lib",
                                                                                          str(d.sweep.technology)))
    assert sweep_key(one.combo_sweep(*one.combos()[0])) == sweep_key(one.sweep)


@pytest.mark.slow
def test_a_two_corner_design_names_its_worst_corner_and_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "cache"))
    f = _corner_design(tmp_path)
    lines: list[str] = []
    res = run_design(f, tmp_path / "a", jobs=2, measure_cpu=False, progress=False, echo=lines.append)
    assert "[1/4] LUTs of 2 combinations: 0 reused, 2 characterized" in lines
    assert "[2/4] training 2 runs on 2 processes" in lines
    table = pd.read_csv(tmp_path / "a" / "corners" / "corners.csv")
    assert list(table["corner"]) == ["tt", "ss"] and list(table["combination"]) == ["g65lib_tt_27C_1V",
                                                                                     "g65lib_ss_27C_1V"]
    for _, row in table.iterrows():   # each combination trained on its own LUTs, the table from its summary
        s = json.loads((tmp_path / "a" / "train" / row["combination"] / "seed0" / "summary.json").read_text())
        assert Path(s["lut_dir"]) == Path(row["lut_dir"]) and Path(row["lut_dir"]).name == row["combination"]
        assert row["final_accuracy_mean_percent"] == pytest.approx(100 * s["analog_test_accuracy"])
    worst = table.loc[table["final_accuracy_mean_percent"].idxmin()]
    rep = json.loads((res.out_dir / "report.json").read_text())
    assert rep["headline"]["worst_corner"] == worst["corner"]
    assert any(v.startswith(f"**Worst corner: {worst['corner']}, 27 °C**") for v in rep["verdict"]), rep["verdict"]
    assert set(rep["design"]["lut_dirs"]) == set(table["combination"])
    # the headline is the worst corner's (issue 21), and every corner is costed on its own LUTs
    assert rep["headline"]["accuracy_corner"] == f"{worst['corner']}, 27 °C"
    assert rep["headline"]["analog_test_accuracy"] == pytest.approx(worst["final_accuracy_mean_percent"] / 100)
    energy = {}
    for name in table["combination"]:
        p = json.loads((tmp_path / "a" / "power" / name / "summary.json").read_text())
        assert Path(p["provenance"]["inputs"]["luts"]["path"]).name == name
        energy[name] = p["headline"]["energy_per_example_joules"]
    assert rep["headline"]["energy_per_example_joules"] == max(energy.values())
    # the second run: both LUT sets from the cache, nothing simulated, the same accuracies
    monkeypatch.setattr(run_mod.ch, "run_sweep", lambda *a, **k: pytest.fail("an unchanged design simulated"))
    again: list[str] = []
    run_design(f, tmp_path / "b", jobs=2, measure_cpu=False, progress=False, echo=again.append)
    key = design_key(DesignConfig.from_toml(f))[:8]
    assert sum(m.startswith(f"[1/4] reusing LUTs of design two {key}") for m in again) == 2
    assert "[1/4] LUTs of 2 combinations: 2 reused, 0 characterized: nothing simulated" in again
    again_table = pd.read_csv(tmp_path / "b" / "corners" / "corners.csv")
    assert list(again_table["final_accuracy_mean_percent"]) == list(table["final_accuracy_mean_percent"])
    assert json.loads((tmp_path / "b" / "design.json").read_text())["luts_reused"] is True


COMMITTED = f'name = "seeds"\nluts = "committed"\n{TASK}seeds = [0, 1]\n'


@pytest.mark.slow
def test_design_seeds_on_a_loopback_dask_cluster_match_this_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    f = tmp_path / "seeds.toml"
    f.write_text(COMMITTED)
    run_design(f, tmp_path / "inline", jobs=1, measure_cpu=False, progress=False, echo=lambda m: None)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        r = CliRunner().invoke(cli, ["run", str(f), "--no-cpu", "--quiet", "--scheduler", cluster.scheduler_address,
                                     "--out", str(tmp_path / "dask")])
        workers = len(cluster.workers)
    assert r.exit_code == 0, r.output
    assert "[2/4] training 2 runs on the Dask cluster tcp://127.0.0.1:" in r.output and workers == 2
    for s in (0, 1):
        a, b = (json.loads((tmp_path / w / f"train-seed{s}" / "summary.json").read_text()) for w in ("inline", "dask"))
        assert a["seed"] == b["seed"] == s
        same = ("analog_test_accuracy", "pulses_up_total", "pulses_down_total", "transfers_total", "lut_sha256")
        assert {k: a[k] for k in same} == {k: b[k] for k in same}


def test_a_bad_scheduler_is_one_line_before_anything_runs(tmp_path):
    f = tmp_path / "seeds.toml"
    f.write_text(COMMITTED)
    r = CliRunner().invoke(cli, ["run", str(f), "--scheduler", "not a host", "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "is not a Dask scheduler address" in str(r.exception or r.output)
    assert not (tmp_path / "o").exists() and os.path.isfile(f)

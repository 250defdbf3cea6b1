"""`pcmspice compare`: designs side by side, each naming its LUTs; the worst corner is the lowest accuracy."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import TINY_SWEEP, TINY_TASK

from pcmspice.core import paths
from pcmspice.core.errors import ConfigError
from pcmspice.lut import load_lut_set, save_lut_set
from pcmspice.report.compare import compare

pytestmark = pytest.mark.slow


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """Two designs: the default cell, and its tables with a 50 fF storage capacitor recorded (2 seeds each)."""
    tmp = tmp_path_factory.mktemp("designs")
    base = load_lut_set(paths.default_lut_dir())
    prov = {**base.cell.provenance, "cell_params": {**base.cell.provenance["cell_params"], "c_store_farads": 50e-15}}
    save_lut_set(dataclasses.replace(base, cell=dataclasses.replace(base.cell, provenance=prov), name="c50"),
                 tmp / "luts-c50")
    for name, luts in (("default", []), ("c50", ["--luts", "luts-c50"])):
        for seed in (0, 1):
            r = _cli("train", "--dataset", "digits", "--epochs", "2", "--max-train", "400", "--seed", str(seed),
                     "--quiet", "--no-figures", *luts, "--out", f"{name}/train-s{seed}", cwd=tmp)
            assert r.returncode == 0, r.stderr
        r = _cli("power", "--training", f"{name}/train-s0", "--no-cpu", "--out", f"{name}/power", cwd=tmp)
        assert r.returncode == 0, r.stderr
    return tmp


def test_compare_shows_both_designs_with_their_luts(designs):
    r = _cli("compare", "default", "c50", "--out", "cmp", cwd=designs)
    assert r.returncode == 0, r.stderr
    s = json.loads((designs / "cmp" / "summary.json").read_text())
    assert s["kind"] == "comparison"
    d, c = s["designs"]
    assert (d["design"], c["design"]) == ("default", "c50")
    assert d["lut_dir"] == str(paths.default_lut_dir()) and c["lut_dir"] == str((designs / "luts-c50").resolve())
    assert d["seeds"] == [0, 1] and c["seeds"] == [0, 1]
    assert c["area_per_synapse_um2"] < d["area_per_synapse_um2"] and c["area_mm2"] < d["area_mm2"]
    assert s["differing_cell_params"] == ["c_store_farads"]
    md = (designs / "cmp" / "index.md").read_text()
    assert "| quantity | default | c50 |" in md and "**c_store_farads** (differs)" in md
    assert md.count("## Design ") == 2
    assert {"accuracy.png", "energy.png"} <= set(s["figures"])
    # the area row is the whole chip (cells + periphery); the cells alone are their own row, from power's table
    assert "| chip area, cells + periphery (mm²) |" in md and "| cell array area (mm²) |" in md
    assert "array area (mm²)" not in md.replace("cell array area (mm²)", "")
    pa = json.loads((designs / "default" / "power" / "summary.json").read_text())["area_m2"]
    assert d["cell_array_area_mm2"] == pytest.approx((pa["cells"] + pa["g_shared_cells"]) * 1e6)
    assert d["area_mm2"] == pytest.approx(pa["total"] * 1e6) and d["cell_array_area_mm2"] < d["area_mm2"]
    assert c["cell_array_area_mm2"] < d["cell_array_area_mm2"]


def test_columns_named_alike_get_their_folder_and_stay_unique():
    from pcmspice.report.compare import unique_columns
    rows = [{"column": "mc (tt, 27 °C)", "path": "runs/mc"}, {"column": "mc (ss, 27 °C)", "path": "runs/mc"},
            {"column": "mc (tt, 27 °C)", "path": "x/runs/mc"}, {"column": "mc (ss, 27 °C)", "path": "x/runs/mc"},
            {"column": "other", "path": "o"}]
    cols = [r["column"] for r in unique_columns(rows)]
    assert cols == ["mc (tt, 27 °C) [runs/mc]", "mc (ss, 27 °C) [runs/mc]", "mc (tt, 27 °C) [x/runs/mc]",
                    "mc (ss, 27 °C) [x/runs/mc]", "other"]
    same = [r["column"] for r in unique_columns([{"column": "a", "path": "p"}, {"column": "a", "path": "p"}])]
    assert same == ["a [p]", "a [p] #2"]


def test_worst_corner_is_the_lowest_accuracy_whatever_the_order(tmp_path):
    for name, rows in (("a", [("tt", 27, 0.93), ("ss", 85, 0.91)]), ("b", [("ff", 85, 0.90), ("tt", 27, 0.94)])):
        (tmp_path / name).mkdir()
        pd.DataFrame([{"corner": c, "temp_c": t, "vdd_volts": 1.0, "analog_test_accuracy": a} for c, t, a in rows]
                     ).to_csv(tmp_path / name / "corners.csv", index=False)
    one = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "o1").rows
    two = compare([tmp_path / "b", tmp_path / "a"], tmp_path / "o2").rows
    assert one[0]["worst_corner"]["label"].startswith("ss") and one[1]["worst_corner"]["label"].startswith("ff")
    assert [r["worst_corner"] for r in one] == [r["worst_corner"] for r in reversed(two)]


def test_compare_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="at least two designs"):
        compare([tmp_path / "empty"], tmp_path / "o")
    with pytest.raises(ConfigError, match="holds no training, power or corner run"):
        compare([tmp_path / "empty", tmp_path / "empty"], tmp_path / "o")
    r = _cli("compare", str(tmp_path / "nope"), str(tmp_path / "empty"), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a directory" in r.stderr


TINY_DESIGN = """name = "{name}"
luts = "characterize"
[sweep]
name = "{name}"
""" + TINY_SWEEP + """[sweep.params]
{params}
""" + TINY_TASK


def test_compare_two_characterized_designs(tmp_path, monkeypatch):
    """The default cell and a 50 fF one, each characterized (a tiny population) and trained by `pcmspice run`:
    the comparison shows both, names each one's own LUTs, and the 50 fF cell is the smaller."""
    from pcmspice.pipeline import run_design
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "cache"))
    for name, params in (("c100", ""), ("c50", "c_store_farads = 50e-15")):
        (tmp_path / f"{name}.toml").write_text(TINY_DESIGN.format(name=name, params=params))
        run_design(tmp_path / f"{name}.toml", tmp_path / name, measure_cpu=False, progress=False,
                   echo=lambda m: None)
    res = compare([tmp_path / "c100", tmp_path / "c50"], tmp_path / "cmp")
    d, c = res.rows
    assert (d["design"], c["design"]) == ("c100", "c50")
    for row, name in ((d, "c100"), (c, "c50")):   # each names the LUTs its own run trained on
        lut = json.loads((tmp_path / name / "design.json").read_text())["lut_dir"]
        assert row["lut_dir"] == lut and lut.startswith(os.environ["PCMSPICE_LUT_CACHE"])   # the LUT cache
        assert load_lut_set(lut).cell.provenance["cell_params"]["c_store_farads"] == (
            50e-15 if name == "c50" else load_lut_set(paths.default_lut_dir()).cell.provenance["cell_params"][
                "c_store_farads"])
    assert d["lut_dir"] != c["lut_dir"]
    assert c["area_per_synapse_um2"] < d["area_per_synapse_um2"] and c["area_mm2"] < d["area_mm2"]
    md = (tmp_path / "cmp" / "index.md").read_text()
    assert "| quantity | c100 | c50 |" in md and "**c_store_farads** (differs)" in md
    assert d["lut_dir"] in md and c["lut_dir"] in md


def _corner_designs(tmp_path):
    for name, acc in (("a", 0.93), ("b", 0.91)):
        (tmp_path / name / "characterize" / "figures").mkdir(parents=True)
        (tmp_path / name / "characterize" / "figures" / "retention.png").write_bytes(b"png")
        (tmp_path / name / "characterize" / "summary.json").write_text('{"kind": "characterization"}')
        pd.DataFrame([{"corner": "tt", "temp_c": 27, "vdd_volts": 1.0, "analog_test_accuracy": acc}]
                     ).to_csv(tmp_path / name / "corners.csv", index=False)
    return [tmp_path / "a", tmp_path / "b"]


def test_compare_never_writes_into_its_inputs_nor_a_foreign_folder(tmp_path):
    """The review's case: `compare A B --out A/characterize` deleted A's figures and replaced its summary."""
    from pcmspice.core.errors import OutputError
    ins = _corner_designs(tmp_path)
    before = {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    for out in (tmp_path / "a" / "characterize", tmp_path / "b", tmp_path):   # inside, is, holds an input
        with pytest.raises(OutputError, match="input"):
            compare(ins, out)
    r = _cli("compare", "a", "b", "--out", "a/characterize", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: a/characterize")
    assert {p: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()} == before
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="--force"):
        compare(ins, tmp_path / "notes")
    assert (tmp_path / "notes" / "notes.txt").read_text() == "mine"
    compare(ins, tmp_path / "notes", force=True)     # with --force it is replaced, as a whole
    assert not (tmp_path / "notes" / "notes.txt").exists()
    assert json.loads((tmp_path / "notes" / "summary.json").read_text())["kind"] == "comparison"
    compare(list(reversed(ins)), tmp_path / "notes", title="again")   # a previous comparison: no --force needed
    assert json.loads((tmp_path / "notes" / "summary.json").read_text())["title"] == "again"
    (tmp_path / "old").mkdir()                       # one written before markers: recognised by its summary
    (tmp_path / "old" / "summary.json").write_text('{"kind": "comparison"}')
    (tmp_path / "old" / "stale.png").write_bytes(b"x")
    compare(ins, tmp_path / "old")
    assert not (tmp_path / "old" / "stale.png").exists() and (tmp_path / "old" / "index.md").is_file()

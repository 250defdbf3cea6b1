"""Design files (pcmspice.pipeline.design) and `pcmspice run DESIGN.toml` (pcmspice.pipeline.run_design)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_SWEEP, TINY_TASK

from pcmspice import characterize as ch
from pcmspice import pipeline, train
from pcmspice.core.errors import ConfigError
from pcmspice.pipeline import DesignConfig, TaskConfig, default_design, design_key, run_design
from pcmspice.pipeline import run as run_mod
from pcmspice.pipeline.design import apply_run_options

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "characterization" / "design_c50.toml"

# a design small enough to characterize and train in seconds
TINY = """
name = "tiny"
luts = "characterize"
[sweep]
name = "tiny"
""" + TINY_SWEEP + """[sweep.params]
c_store_farads = 50e-15
""" + TINY_TASK


def test_round_trip_of_the_default_and_the_example():
    for d in (default_design(), DesignConfig.from_toml(EXAMPLE), DesignConfig.from_toml_text(TINY)):
        again = DesignConfig.from_toml_text(d.to_toml())
        assert again == d and design_key(again) == design_key(d)
    ex = DesignConfig.from_toml(EXAMPLE)
    assert ex.sweep.params == {"c_store_farads": 50e-15} and ex.task.seeds == (0, 1) and ex.luts == "characterize"


def test_the_task_is_the_training_config_with_seeds():
    """TaskConfig reuses TrainConfig's fields (all but seed and luts) and adds seeds: a field added to
    TrainConfig must reach design files too."""
    task = {f.name for f in dataclasses.fields(TaskConfig)}
    trainf = {f.name for f in dataclasses.fields(train.TrainConfig)}
    assert task == (trainf - {"seed", "luts"}) | {"seeds"}
    t = TaskConfig(dataset="digits", epochs=3, seeds=(4, 5))
    tc = t.train_config(5, "/x")
    assert (tc.seed, tc.luts, tc.epochs, tc.network) == (5, "/x", 3, None)
    assert train.fitted(tc).network == "64-250-10"      # fitted to the data set when it is trained


def test_a_changed_netlist_parameter_changes_the_hash():
    d = DesignConfig.from_toml_text(TINY)
    other = d.replace(sweep=d.sweep.replace(params={"c_store_farads": 60e-15}))
    assert design_key(other) != design_key(d)
    assert ch.sweep.sweep_key(other.sweep) != ch.sweep.sweep_key(d.sweep)   # and the LUT cache key
    assert design_key(d.replace(task=d.task.replace(epochs=2))) != design_key(d)
    assert design_key(DesignConfig.from_toml_text(TINY)) == design_key(d)       # stable for the same content
    assert pipeline.default_out_dir(d).name == f"run-tiny-{design_key(d)[:8]}"


@pytest.mark.parametrize("text, words", [
    ("[task]\nepochs = 0\n", ["epochs = 0 is invalid", "integer"]),
    ("[task]\nseeds = []\n", ["seeds", "at least one seed"]),
    ("[sweep]\nn_cells = -1\n", ["n_cells = -1 is invalid"]),
    ("[sweep]\ncorners = ['tt', 'ff', 'ss', 'fs', 'sf']\ntemps_c = [" + ", ".join(f"{t}.0" for t in range(13)) + "]\n",
     ["65 combinations", "at most 64"]),
    ("name = 'a/b'\n", ["name = 'a/b' is invalid"]),
    ("colour = 'red'\n", ["unknown key(s) colour"]),
    ("[task]\nnetwork = 'abc'\n", ["abc"]),
    ("[power.adc]\nenob_bits = -3\n", ["adc.enob_bits"]),
])
def test_a_bad_field_is_one_line(tmp_path, text, words):
    bad = tmp_path / "bad.toml"
    bad.write_text("luts = 'characterize'\n" + text if "corners" in text else text)
    with pytest.raises(ConfigError) as e:
        DesignConfig.from_toml(bad)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(bad)) and all(w in msg for w in words), msg


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_a_bad_design_file_is_one_cli_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[task]\nepochs = 0\n")
    for args in (["run", str(bad)], ["run", str(tmp_path / "missing.toml")]):
        p = _cli(*args, "--out", str(tmp_path / "o"), cwd=tmp_path)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("error: "), p.stderr
        assert not (tmp_path / "o").exists()


def test_options_override_the_design():
    d = default_design()
    assert apply_run_options(d) == d
    o = apply_run_options(d, dataset="digits", epochs=2, seed=3, transfer_every=10, luts="/l")
    assert (o.task.dataset, o.task.epochs, o.task.seeds, o.task.array.transfer_every, o.luts) == (
        "digits", 2, (3,), 10, "/l")
    # --fresh-mc N: the committed default sweep at tt, 27 C with N cells and the training seed, as before
    f = apply_run_options(d, fresh_mc=7, seed=2)
    assert f.luts == "characterize" and (f.sweep.n_cells, f.sweep.seed, f.sweep.corners, f.sweep.temps_c) == (
        7, 2, ("tt",), (27.0,))


def test_the_default_design_is_todays_run():
    """The embedded default trains exactly what `pcmspice run` trained before design files."""
    d = default_design()
    assert d.luts == "committed" and d.task.seeds == (0,) and d.task.dataset == "mnist5k"
    old = train.TrainConfig(dataset="mnist5k", seed=0, luts="/l").replace(network="784-250-10")
    old = old.replace(array=old.array.replace(transfer_every=8000))
    assert train.fitted(d.task.train_config(0, "/l")) == old


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.npz"))}


def test_an_unchanged_design_reuses_its_luts(tmp_path, monkeypatch):
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "cache"))
    design = tmp_path / "tiny.toml"
    design.write_text(TINY)
    first: list[str] = []
    res = run_design(design, tmp_path / "a", measure_cpu=False, progress=False, echo=first.append)
    assert not any("reusing" in m for m in first)
    cache = Path(os.environ["PCMSPICE_LUT_CACHE"])
    (run_dir,) = [p for p in cache.iterdir() if p.is_dir() and p.name != "pcm"]   # pcm/: the shared PCM devices
    before = _digests(run_dir)
    mtimes = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*.npz")}
    assert any(k.startswith("luts/") for k in before)

    def no_spice(*a, **k):
        raise AssertionError("the second run of an unchanged design must not characterize")
    monkeypatch.setattr(run_mod.ch, "run_sweep", no_spice)
    second: list[str] = []
    # another run folder: the cache, not the run folder, holds the LUTs
    res2 = run_design(design, tmp_path / "b", measure_cpu=False, progress=False, echo=second.append)
    key = design_key(DesignConfig.from_toml(design))
    said = [m for m in second if m.startswith("[1/4] reusing LUTs of design tiny " + key[:8])]
    assert said and str(run_dir) in said[0], second
    assert _digests(run_dir) == before
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*.npz")} == mtimes
    # one report naming the design, its hash and the LUT folder; the same numbers
    rep = json.loads((res2.out_dir / "report.json").read_text())
    assert rep["design"]["design"] == "tiny" and rep["design"]["design_sha256"] == key
    assert rep["design"]["luts_reused"] is True and rep["design"]["lut_dir"].startswith(str(run_dir))
    assert key[:8] in res2.markdown.read_text() and rep["headline"] == json.loads(
        (res.out_dir / "report.json").read_text())["headline"]
    assert (tmp_path / "b" / "design.toml").read_text() == DesignConfig.from_toml(design).to_toml()
    tr = json.loads((tmp_path / "b" / "train" / "summary.json").read_text())
    assert Path(tr["lut_dir"]) == Path(rep["design"]["lut_dir"])


def test_a_damaged_cache_is_characterized_again(tmp_path, monkeypatch):
    """A cached LUT set that no longer loads (here: its cell table is cut short) is not reused."""
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "cache"))
    d = DesignConfig.from_toml_text(TINY)
    run_dir, lut_dir, reused = run_mod.characterize_design(d, tmp_path / "o", progress=False, echo=lambda m: None)
    assert not reused
    cell = lut_dir / "cell.lut.npz"
    cell.write_bytes(cell.read_bytes()[:100])
    lines: list[str] = []
    _, lut_dir2, reused2 = run_mod.characterize_design(d, tmp_path / "o", progress=False, echo=lines.append)
    assert not reused2 and "characterizing" in lines[0] and cell.stat().st_size > 100


def test_a_lut_folder_is_relative_to_the_design_file(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "x.toml"
    f.write_text('luts = "mine"\n')
    monkeypatch.chdir(tmp_path)
    assert DesignConfig.from_toml(f).luts == str(tmp_path / "d" / "mine")
    assert DesignConfig.from_toml(f).lut_source() == "folder"

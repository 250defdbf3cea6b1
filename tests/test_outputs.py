"""Output folders: checked before computing, written whole, never someone else's (pcmspice.core.outputs)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from pcmspice.core import outputs
from pcmspice.core.errors import ConfigError, OutputError
from pcmspice.core.provenance import atomic_write_bytes
from pcmspice.lut.format import load_lut_set, save_lut_set

TRAIN = ["train", "--dataset", "digits", "--network", "64-10", "--epochs", "1", "--max-train", "200",
         "--max-test", "50", "--no-figures", "--quiet"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def one_line_error(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in lines[0], lines[0]


# ------------------------------------------------------------------ the helper
def test_location_checks(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        outputs.check_location(f)
    with pytest.raises(OutputError, match="is a file"):
        outputs.check_location(f / "sub" / "deeper")
    if os.geteuid() == 0:
        ro = Path("/proc/pcmspice-test")   # not writable even by root
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        ro = tmp_path / "ro" / "out"
    with pytest.raises(OutputError, match="not writable"):
        outputs.check_location(ro)
    assert outputs.check_location(tmp_path / "new" / "run") == tmp_path / "new" / "run"


def test_foreign_folder_refused_unless_force(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "summary.json").write_text("my own notes")
    with pytest.raises(OutputError, match="not a pcmspice output folder.*--force"):
        outputs.prepare_out_dir(d, "train", "k1")
    with outputs.atomic_dir(d, "train", "k1", force=True) as stage:
        (stage / "summary.json").write_text("{}")
    assert (d / "summary.json").read_text() == "{}"
    assert outputs.read_marker(d)["kind"] == "train"
    # same run: replaced without --force; another config of it: refused
    with outputs.atomic_dir(d, "train", "k1") as stage:
        (stage / "history.csv").write_text("epoch\n")
    assert sorted(p.name for p in d.iterdir()) == [outputs.MARKER, "history.csv"]   # nothing of the old run mixed in
    with pytest.raises(OutputError, match="train run with another configuration"):
        outputs.prepare_out_dir(d, "train", "k2")
    with pytest.raises(OutputError, match="another configuration"):
        outputs.prepare_out_dir(d, "power", "k1")


def test_force_never_replaces_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("keep")
    monkeypatch.chdir(tmp_path)
    for p in (tmp_path, Path("."), tmp_path.parent):
        with pytest.raises(OutputError, match="never replaces"):
            outputs.prepare_out_dir(p, "report", "k", force=True)
    assert (tmp_path / "notes.txt").read_text() == "keep"


def test_interrupted_write_leaves_the_old_folder(tmp_path):
    d = tmp_path / "run"
    with outputs.atomic_dir(d, "train", "k") as stage:
        (stage / "summary.json").write_text("old")
        (stage / "history.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt), outputs.atomic_dir(d, "train", "k") as stage:
        (stage / "history.csv").write_text("new")
        raise KeyboardInterrupt   # a Ctrl-C between two files
    assert (d / "summary.json").read_text() == "old" and (d / "history.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name != ".run.lock"] == ["run"]   # no staging folder left behind


def test_unique_temporary_names(tmp_path, monkeypatch):
    """Two writers of one file never share a temporary file (characterize collided on cell.lut.npz.tmp)."""
    names = []
    real = Path.replace

    def spy(self, target):
        names.append(self.name)
        return real(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    threads = [threading.Thread(target=atomic_write_bytes, args=(tmp_path / "x.bin", bytes([i]) * 1000))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 8
    assert (tmp_path / "x.bin").read_bytes() in {bytes([i]) * 1000 for i in range(8)}
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_lut_save_uses_unique_temporary(tmp_path):
    from tests.test_report import make_luts
    (tmp_path / "luts").mkdir()
    (tmp_path / "luts" / "cell.lut.npz.tmp").mkdir()   # the old fixed name, taken: must not matter
    save_lut_set(make_luts(), tmp_path / "luts")
    assert load_lut_set(tmp_path / "luts").cell.g_siemens.shape[0] == 30


# ------------------------------------------------------------------ commands
def test_train_refuses_unrelated_folder_before_training(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "history.csv").write_text("mine")
    p = cli(*TRAIN, "--out", str(d))
    one_line_error(p, "not a pcmspice output folder", "--force")
    assert (d / "history.csv").read_text() == "mine"
    assert cli(*TRAIN, "--out", str(d), "--force").returncode == 0
    assert json.loads((d / "summary.json").read_text())["epochs"] == 1
    assert not (d / "history.csv").read_text().startswith("mine")


def test_train_same_run_rewrites_another_config_refused(tmp_path):
    d = tmp_path / "t"
    assert cli(*TRAIN, "--out", str(d)).returncode == 0
    assert cli(*TRAIN, "--out", str(d)).returncode == 0              # the same run again: fine
    one_line_error(cli(*TRAIN, "--seed", "3", "--out", str(d)), "another configuration")


def test_default_folder_names_the_run_and_its_hash():
    assert outputs.default_dir("train", ["digits", "generic65_tt_27C"], "0123456789abcdef") == Path(
        "runs/train/digits-generic65_tt_27C-01234567")
    assert outputs.default_dir("corners", ["my tech/x"], "ab" * 10).name == "my_tech_x-abababab"


def test_train_default_folders_never_collide_and_the_same_run_is_refused(tmp_path):
    """Without --out: another option (here the LUTs) gets another folder; the same options again are
    refused in one line naming the folder and --force (the run is already there); --force trains again."""
    luts = tmp_path / "other-luts"
    save_lut_set(load_lut_set(Path(__file__).resolve().parents[1] / "characterization" / "luts" / "generic65_tt_27C"),
                 luts)
    assert cli(*TRAIN, cwd=tmp_path).returncode == 0
    assert cli(*TRAIN, "--luts", str(luts), cwd=tmp_path).returncode == 0
    folders = sorted(p.name for p in (tmp_path / "runs" / "train").iterdir() if not p.name.endswith(".lock"))
    assert len(folders) == 2 and folders[0].startswith("digits-generic65_tt_27C-"), folders
    assert any(f.startswith("digits-other-luts-") for f in folders), folders
    first = tmp_path / "runs" / "train" / folders[0]
    before = (first / "summary.json").read_text()
    p = cli(*TRAIN, cwd=tmp_path)
    one_line_error(p, f"runs/train/{folders[0]}: already holds this train run", "--force")
    assert (first / "summary.json").read_text() == before
    assert cli(*TRAIN, "--force", cwd=tmp_path).returncode == 0
    assert json.loads((first / "summary.json").read_text())["analog_test_accuracy"] == json.loads(before)[
        "analog_test_accuracy"]                                      # deterministic: the same result
    assert len([p for p in (tmp_path / "runs" / "train").iterdir() if not p.name.endswith(".lock")]) == 2


@pytest.mark.parametrize("command", [
    TRAIN,
    ["simulate", "read_curve"],
    ["power", "--network", "64-10", "--no-cpu"],
    ["cosim", "--rows", "3", "--cols", "2", "--examples", "2"],
    ["characterize", "characterization/demo.toml", "--mc", "2", "--jobs", "1"],
])
def test_bad_out_is_one_line_before_computing(tmp_path, command):
    f = tmp_path / "file"
    f.write_text("x")
    one_line_error(cli(*command, "--out", str(f / "sub")), "is a file")
    p = cli(*command, "--out", str(f))   # click's own check of the option: a usage error, no traceback
    assert p.returncode == 2 and "is a file" in p.stderr and "Traceback" not in p.stderr


def test_report_refuses_foreign_folder_and_outside_links(tmp_path):
    from pcmspice.power.config import PowerConfig
    from pcmspice.power.outputs import write_power_run
    from pcmspice.report import build_report
    from tests.test_report import make_luts
    luts = tmp_path / "luts"
    save_lut_set(make_luts(), luts)
    pw = tmp_path / "power"
    write_power_run(pw, luts, "64-10", None, PowerConfig(), measure_cpu=False)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not yours")
    (pw / "leak.png").symlink_to(secret)
    foreign = tmp_path / "site"
    foreign.mkdir()
    (foreign / "index.html").write_text("my page")
    with pytest.raises(OutputError, match="--force"):
        build_report([pw], foreign)
    assert (foreign / "index.html").read_text() == "my page"
    res = build_report([pw], tmp_path / "rep")
    copied = [p.name for p in (tmp_path / "rep" / "figures").iterdir()]
    assert not any("leak" in n for n in copied)
    assert "skipped (a link to a file outside its run folder" in res.markdown.read_text()
    with pytest.raises(ConfigError, match="must not be, or hold"):
        build_report([pw], tmp_path, force=True)
    with pytest.raises(OutputError, match="is inside the run's input"):   # nor be inside an input run
        build_report([pw], pw / "report", force=True)
    assert not (pw / "report").exists()


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "..", "x/../../y"])
def test_sweep_name_must_be_plain(tmp_path, name):
    from pcmspice.characterize import SweepConfig
    with pytest.raises(ConfigError, match="plain folder name"):
        SweepConfig(name=name)
    toml = tmp_path / "s.toml"
    toml.write_text(f'name = "{name}"\ntechnology = "generic65"\n')
    one_line_error(cli("characterize", str(toml), "--mc", "2", "--out", str(tmp_path / "o")), "plain folder name")
    assert not (tmp_path / "escape").exists()


def test_characterize_outputs_replaced_whole(tmp_path):
    """A second definition in the same folder (with --force) leaves none of the first's LUT sets or figures,
    and summary.json is the last thing written."""
    import dataclasses

    from pcmspice.characterize import SweepConfig, run_sweep
    cfg = SweepConfig.from_toml("characterization/demo.toml")
    cfg = dataclasses.replace(cfg, n_cells=2, pcm_devices=2, corners=("tt",), temps_c=(27.0, 85.0))
    run_sweep(cfg, tmp_path, progress=False, figures=False)
    assert len(list((tmp_path / "luts").iterdir())) == 2
    one = dataclasses.replace(cfg, temps_c=(27.0,))
    with pytest.raises(OutputError, match="another configuration"):
        run_sweep(one, tmp_path, progress=False, figures=False)
    run_sweep(one, tmp_path, progress=False, figures=False, force=True)
    assert [p.name for p in (tmp_path / "luts").iterdir()] == ["generic65_tt_27C_1V"]
    s = json.loads((tmp_path / "summary.json").read_text())
    assert [c["temp_c"] for c in s["combos"]] == [27.0]
    assert not list(tmp_path.glob(".*partial"))
    assert np.isfinite(load_lut_set(tmp_path / "luts" / "generic65_tt_27C_1V").cell.g_siemens).all()

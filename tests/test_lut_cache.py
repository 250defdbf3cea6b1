"""Issue 21 item 7: one LUT cache.  Characterizations are stored once by content in a user cache folder (here
always a temporary one: conftest sets PCMSPICE_LUT_CACHE), reused by any run folder, written by one process at
a time, and listed and pruned by `pcmspice cache`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_SWEEP, TINY_TASK

from pcmspice.characterize import cache as lc
from pcmspice.cli.main import main
from pcmspice.pipeline import DesignConfig, run_design
from pcmspice.pipeline import run as run_mod
from pcmspice.pipeline.design import apply_sets

TINY = ('name = "tiny"\nluts = "characterize"\n[sweep]\nname = "tiny"\n' + TINY_SWEEP
        + "[sweep.params]\nc_store_farads = 50e-15\n" + TINY_TASK)


def _cli(capsys, *args):
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_only_the_epochs_changed_reuses_the_characterization_in_another_run_folder(tmp_path, monkeypatch, capsys):
    """The issue's measurement: a second `run` with only the epochs changed (another design hash, another run
    folder) re-simulated two identical characterizations.  Now it takes the cache's LUTs, bit for bit."""
    d = DesignConfig.from_toml_text(TINY)
    lines: list[str] = []
    run_design(d, tmp_path / "a", measure_cpu=False, progress=False, echo=lines.append)
    assert any("characterizing 4 cells" in m and "LUT cache" in m for m in lines), lines
    root = Path(os.environ["PCMSPICE_LUT_CACHE"])
    (entry,) = [p for p in root.iterdir() if p.is_dir() and p.name != lc.PCM_DIR]   # pcm/: the shared PCM devices
    assert entry.name == lc.cache_key(d.sweep) and (entry / "summary.json").is_file()
    assert not (tmp_path / "a" / "characterize").exists()      # stored once, in the cache only
    monkeypatch.setattr(run_mod.ch, "run_sweep", lambda *a, **k: pytest.fail("identical LUTs simulated again"))
    again: list[str] = []
    d2 = apply_sets(d, ["task.epochs=2"])
    res = run_design(d2, tmp_path / "b", measure_cpu=False, progress=False, echo=again.append)
    assert any(m.startswith("[1/4] reusing LUTs") and str(entry) in m for m in again), again
    rep = json.loads((res.out_dir / "report.json").read_text())
    assert Path(rep["design"]["lut_dir"]).parent.parent == entry

    # the list names it (key, what, size, last used); prune by age keeps a fresh entry, removes an old one
    code, out, _ = _cli(capsys, "cache")
    assert code == 0 and entry.name in out and "generic65 tt 27 C 1 V, 4 cells" in out and "last used" in out
    _pruned_only_when_old(capsys, entry, "luts")
    assert lc.entries(root) == []


def test_a_different_definition_is_another_entry():
    a = DesignConfig.from_toml_text(TINY)
    b = DesignConfig.from_toml_text(TINY.replace("50e-15", "40e-15"))
    c = DesignConfig.from_toml_text(TINY.replace('name = "tiny"\nluts', 'name = "other"\nluts'))
    assert lc.cache_key(a.sweep) != lc.cache_key(b.sweep)
    assert lc.cache_key(a.sweep) == lc.cache_key(c.sweep)          # the design's name is not content


@pytest.mark.parametrize("args, says", [
    (["cache", "prune"], "needs one of --older-than AGE (e.g. 30d) or --all"),
    (["cache", "prune", "--older-than", "30", "--all"], "needs one of --older-than"),
    (["cache", "prune", "--older-than", "a month"], "--older-than 'a month' is not an age"),
])
def test_cache_errors_are_one_line(capsys, args, says):
    code, out, err = _cli(capsys, *args)
    assert code == 2 and err.startswith("error: ") and says in err and err.count("\n") == 1, err


def test_a_cache_that_is_a_file_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = _cli(capsys, "cache", "--cache", str(f))
    assert code == 2 and err.startswith("error: ") and "is a file" in err and err.count("\n") == 1
    monkeypatch.setenv("PCMSPICE_LUT_CACHE", str(f))
    code, _, err = _cli(capsys, "cache", "list")
    assert code == 2 and err.startswith("error: the LUT cache") and "it is a file" in err and err.count("\n") == 1


def test_two_processes_write_an_entry_once(tmp_path):
    """While this process holds an entry's lock (as a process characterizing it does), another `run` of the
    same characterization waits, says so, and then reuses what the first wrote instead of simulating."""
    from pcmspice import characterize as ch
    d = DesignConfig.from_toml_text(TINY)
    root = lc.cache_dir(tmp_path / "shared")
    key = lc.cache_key(d.sweep)
    (tmp_path / "tiny.toml").write_text(TINY)
    code = ("import sys; from pcmspice.pipeline import DesignConfig; from pcmspice.pipeline.run import "
            "characterize_design as c; d = DesignConfig.from_toml(sys.argv[1]); "
            "print(c(d, None, progress=False, cache=sys.argv[2], echo=lambda m: print(m, flush=True))[2])")
    with lc.entry_lock(root, key):
        p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "tiny.toml"), str(root)],
                             stdout=subprocess.PIPE, text=True)
        first = p.stdout.readline()
        assert first.startswith("waiting for ") and f"characterizing {root / key}" in first, first
        ch.run_sweep(d.sweep, root / key, jobs=1, progress=False, force=True)
    rest = p.stdout.read()
    assert p.wait(timeout=120) == 0
    assert "[1/4] reusing LUTs" in rest and rest.strip().endswith("True"), rest


def test_corners_characterize_through_the_cache_and_reuse_what_any_run_characterized(tmp_path):
    """Issue 21: `corners` characterized into its own --out.  Now each combination is a cache entry: one that a
    design run characterized is reused (and said so), and the corner folder gets the same LUT sets."""
    import tomllib

    from pcmspice.characterize.sweep import SweepConfig
    from pcmspice.lut import load_lut_set
    from pcmspice.pipeline.corners import run_corners
    tiny = tomllib.loads(TINY_SWEEP)
    # a design run's one-combination characterization (tt, 27 C) of the same cells
    d = DesignConfig.from_toml_text(TINY)
    d = d.replace(sweep=SweepConfig(name="from-a-design", **tiny))
    run_dir, lut_dir, reused = run_mod.characterize_design(d, tmp_path, jobs=1, progress=False, echo=lambda m: None)
    assert not reused
    sweep = SweepConfig(name="corners", corners=("tt", "ss"), **tiny)
    said: list[str] = []
    res = run_corners(sweep, tmp_path / "c", jobs=1, progress=False, echo=said.append)
    assert f"tt 27 C 1 V: reusing the cached characterization {run_dir}: nothing to simulate" in said
    assert any(m.startswith("ss 27 C 1 V: characterizing into the LUT cache") for m in said)
    got = load_lut_set(tmp_path / "c" / "luts" / lut_dir.name)
    assert got.set_id == load_lut_set(lut_dir).set_id                    # the cached tables, bit for bit
    assert list(res.table["corner"]) == ["tt", "ss"] and (tmp_path / "c" / "corners.csv").is_file()
    assert not (tmp_path / "c" / "batches").exists()
    # the same corners again, in another folder: nothing simulated
    said.clear()
    res = run_corners(sweep, tmp_path / "c2", jobs=1, progress=False, echo=said.append)
    assert sum("nothing to simulate" in m for m in said) == 2 and res.sweep.computed == 0


def test_cache_lists_and_prunes_the_cosim_tables_too(tmp_path, capsys):
    """Issue 21: the co-simulation's LUT cache was separate and `pcmspice cache` did not show it.  Now both are
    listed with their kind, and pruned."""
    import os

    from pcmspice import cosim as cs
    cfg = cs.CosimConfig(rows=2, cols=2, examples=1, vc_points=11)
    cells = cs.draw_cells(cfg.run().tech, cfg.rows, cfg.cols, cfg.seed)
    cs.build_luts(cfg, cells, cs.default_cache_dir())          # where `pcmspice cosim` caches by default
    entry = cs.default_cache_dir() / cs.lut_key(cfg)
    assert entry.is_dir() and Path(os.environ["PCMSPICE_COSIM_CACHE"]) == entry.parent
    code, out, _ = _cli(capsys, "cache")
    assert code == 0, out
    line = next(ln for ln in out.splitlines() if entry.name in ln)
    assert line.split()[0] == "cosim" and "generic65 tt 27 C, 2x2 array" in line and "last used" in line
    assert f"cosim LUT cache {entry.parent}: 1 entry" in out and "LUT cache" in out.splitlines()[0]
    # a reuse counts as a use; prune by age keeps it, then removes it when old
    cs.build_luts(cfg, cells, cs.default_cache_dir())
    assert (entry / lc.LAST_USED).is_file()
    _pruned_only_when_old(capsys, entry, "cosim")


def _pruned_only_when_old(capsys, entry, kind: str) -> None:
    """`cache prune --older-than 30d` keeps ``entry`` (just used), then removes it once its last use is 31 days old."""
    code, out, _ = _cli(capsys, "cache", "prune", "--older-than", "30d")
    assert code == 0 and f"removed 0 {kind} entries" in out and entry.is_dir()
    old = time.time() - 31 * 86400
    os.utime(entry / lc.LAST_USED, (old, old))
    code, out, _ = _cli(capsys, "cache", "prune", "--older-than", "30d")
    assert code == 0 and f"removed 1 {kind} entry" in out and not entry.exists()

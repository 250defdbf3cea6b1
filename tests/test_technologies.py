"""Bring-your-own technology: a folder given by path (``--tech PATH``) to simulate, characterize, corners
and cosim, and a foundry-style ``.lib`` whose corner sections tech.toml maps (``[lib]``), no Python.

The worked example of docs/technologies.md: generic65 packaged as an external folder whose one models.lib
holds a section per corner (the corner's ``.param`` lines and a ``.lib "models.lib" mos`` of the shared
models).  It must give the built-in generic65's results.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, SpiceError
from pcmspice.spice import tech as techmod

ROOT = Path(__file__).resolve().parent.parent


def build_lib_folder(out: Path, name: str = "g65lib", sections: dict[str, str] | None = None) -> Path:
    """generic65 as a foundry-style folder: models.lib with ``.lib CORNER`` ... ``.endl`` sections and a
    tech.toml whose ``[lib]`` maps each corner to its section (what the docs' example writes)."""
    src = paths.tech_dir() / "generic65"
    out.mkdir(parents=True, exist_ok=True)
    tech = tomllib.loads((src / "tech.toml").read_text())
    corners = tech.pop("corners")
    lines = ["* generic65 as a foundry-style library: one section per corner, the models in section mos"]
    for corner, params in corners.items():
        lines += [f".lib {corner}"] + [f".param g65_{k}={float(v)!r}" for k, v in params.items()]
        lines += ['.lib "models.lib" mos', f".endl {corner}"]
    lines += [".lib mos", (src / "models.lib").read_text().rstrip(), ".endl mos"]
    (out / "models.lib").write_text("\n".join(lines) + "\n")
    tech.update(name=name, lib={"file": "models.lib", "sections": sections or {c: c for c in corners}})
    (out / "tech.toml").write_text(tomli_w.dumps(tech))
    return out


@pytest.fixture(scope="module")
def libtech(tmp_path_factory) -> Path:
    return build_lib_folder(tmp_path_factory.mktemp("tech") / "g65lib")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, timeout=600)


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# ---- the .lib folder loads and renders as .lib FILE SECTION -------------------------------------------------

def test_lib_folder_loads_with_the_builtin_corners(libtech):
    t = techmod.load(libtech)
    g = techmod.load("generic65")
    assert t.name == "g65lib" and set(t.corners) == set(g.corners)
    assert t.lib_sections == {c: c for c in g.corners}
    header = t.header("ff", 27.0)
    assert f'.lib "{libtech / "models.lib"}" ff' in header and ".include" not in header
    assert ".param" not in header                 # the corner's parameters come from its section


@pytest.mark.parametrize("corner", ["tt", "ff"])
def test_lib_folder_gives_the_builtin_read_curve(libtech, corner):
    from pcmspice.circuits import c3t1c as cell
    vc = np.linspace(0.0, 1.0, 11)
    mm = {k: np.array([0.0]) for k in ("dvt_up", "dvt_dn", "dvt_rd")}
    mm.update({k: np.array([1.0]) for k in ("mu_up", "mu_dn", "mu_rd")})
    ours = cell.read_curve(cell.Run(techmod.load(libtech), corner, 27.0), mm, vc)
    builtin = cell.read_curve(cell.Run(techmod.load("generic65"), corner, 27.0), mm, vc)
    np.testing.assert_allclose(ours, builtin, rtol=1e-9, atol=0)
    if corner == "ff":    # the section really is the corner: ff is not tt
        tt = cell.read_curve(cell.Run(techmod.load("generic65"), "tt", 27.0), mm, vc)
        assert not np.allclose(ours, tt, rtol=1e-3)


def test_simulate_cli_with_lib_folder_and_provenance(libtech, tmp_path):
    r = cli("simulate", "read_curve", "--tech", str(libtech), "--corner", "ff", "--out", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    r = cli("simulate", "read_curve", "--corner", "ff", "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    a = np.loadtxt(tmp_path / "a" / "result.csv", delimiter=",", skiprows=1)
    b = np.loadtxt(tmp_path / "b" / "result.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    prov = json.loads((tmp_path / "a" / "summary.json").read_text())["technology"]
    assert prov["technology"] == "g65lib" and prov["folder"] == str(libtech)
    from pcmspice.core.provenance import sha256_file
    assert prov["tech_toml_sha256"] == sha256_file(libtech / "tech.toml")
    assert prov["model_files"] == {"models.lib": sha256_file(libtech / "models.lib")}


def test_builtin_provenance_is_unchanged():
    # the built-in record is part of every LUT's fingerprint: name and model-file hashes only
    assert set(techmod.load("generic65").provenance()) == {"technology", "model_files"}


# ---- errors: one line ---------------------------------------------------------------------------------------

def test_missing_section_is_one_line(tmp_path):
    folder = build_lib_folder(tmp_path / "bad", sections={"tt": "tt", "ff": "fast"})
    with pytest.raises(SpiceError, match=r"sections.ff = 'fast' is not a section of models.lib \(its sections: "):
        techmod.load(folder)
    line = one_line_error(cli("simulate", "read_curve", "--tech", str(folder), "--out", str(tmp_path / "o")))
    assert "'fast' is not a section of models.lib" in line


@pytest.mark.parametrize("lib, match", [
    ({"file": "models.lib"}, r"\[lib\] sections = None is invalid"),
    ({"file": "../x.lib", "sections": {"tt": "tt"}}, r"\[lib\] file = '../x.lib' is invalid"),
    ({"file": "models.lib", "sections": {"tt": "tt; shell rm"}}, r"section of corner tt = .* is invalid"),
    ({"file": "missing.lib", "sections": {"tt": "tt"}}, r"does not exist"),
    ({"file": "models.lib", "sections": {"tt": "tt"}, "extra": 1}, r"unknown key 'extra'"),
])
def test_bad_lib_table_is_refused(tmp_path, lib, match):
    folder = build_lib_folder(tmp_path / "t")
    raw = tomllib.loads((folder / "tech.toml").read_text())
    raw["lib"] = lib
    (folder / "tech.toml").write_text(tomli_w.dumps(raw))
    with pytest.raises(SpiceError, match=match):
        techmod.load(folder)


def test_corner_without_section_is_refused(tmp_path):
    folder = build_lib_folder(tmp_path / "t", sections={"tt": "tt"})
    with open(folder / "tech.toml", "a") as fh:
        fh.write("\n[corners.ff]\ndvth_n = 0.0\n")
    with pytest.raises(SpiceError, match=r"corner\(s\) ff have no section"):
        techmod.load(folder)


def test_lib_in_a_path_with_a_space_is_read_from_a_space_free_copy(tmp_path, monkeypatch):
    """ngspice 39's .lib cannot read a path with a space: the library (and what it includes) is copied into
    the cache, keyed by content, and included from there; results and provenance are the folder's own."""
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "cache"))
    folder = build_lib_folder(tmp_path / "my techs" / "g65 lib")
    t = techmod.load(folder)
    (lib,) = t.model_paths()
    assert " " not in str(lib) and lib.is_relative_to(tmp_path / "cache" / "tech")
    assert lib.read_bytes() == (folder / "models.lib").read_bytes() and techmod.load(folder).model_paths() == [lib]
    from pcmspice.spice import safety
    assert safety.check_model_file(lib) == lib.resolve()          # the copy passes the scan
    assert f'.lib "{lib}" ff' in t.header("ff", 27.0)
    from pcmspice.circuits import c3t1c as cell
    vc = np.linspace(0.0, 1.0, 11)
    mm = {k: np.array([0.0]) for k in ("dvt_up", "dvt_dn", "dvt_rd")}
    mm.update({k: np.array([1.0]) for k in ("mu_up", "mu_dn", "mu_rd")})
    ours = cell.read_curve(cell.Run(t, "ff", 27.0), mm, vc)
    builtin = cell.read_curve(cell.Run(techmod.load("generic65"), "ff", 27.0), mm, vc)
    np.testing.assert_allclose(ours, builtin, rtol=1e-9, atol=0)
    prov = t.provenance()
    from pcmspice.core.provenance import sha256_file
    assert prov["folder"] == str(folder) and prov["model_files"] == {"models.lib": sha256_file(folder / "models.lib")}
    # changed content, another copy; a command in the spaced library is still refused
    text = (folder / "models.lib").read_text().replace(".endl ff", "shell touch /tmp/pwned\n.endl ff")
    (folder / "models.lib").write_text(text)
    with pytest.raises(SpiceError, match="starts with 'shell'"):
        techmod.load(folder)


def test_a_cache_with_a_space_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "a cache"))
    folder = build_lib_folder(tmp_path / "my tech")
    with pytest.raises(SpiceError, match="set PCMSPICE_CACHE to a folder without spaces"):
        techmod.load(folder)


def test_command_in_a_section_is_refused(tmp_path):
    folder = build_lib_folder(tmp_path / "t")
    text = (folder / "models.lib").read_text().replace(".endl ff", "shell touch /tmp/pwned\n.endl ff")
    (folder / "models.lib").write_text(text)
    line = one_line_error(cli("simulate", "read_curve", "--tech", str(folder), "--corner", "ff",
                              "--out", str(tmp_path / "o")))
    assert "starts with 'shell'" in line


def test_library_loading_its_own_section_is_scanned_once(libtech):
    from pcmspice.spice import safety
    assert safety.check_model_file(libtech / "models.lib") == (libtech / "models.lib").resolve()


# ---- configs and commands take the folder ---------------------------------------------------------------------

def test_sweep_config_takes_a_folder(libtech, tmp_path, monkeypatch):
    from pcmspice.characterize import SweepConfig
    cfg = SweepConfig(technology=str(libtech), corners=("ff",))
    assert cfg.technology == str(libtech) and cfg.tech().name == "g65lib"
    monkeypatch.chdir(libtech.parent)
    assert SweepConfig(technology="./g65lib").technology == str(libtech)      # kept as its absolute path
    with pytest.raises(ConfigError, match=r"sweep definition: technology = 'nosuch' is invalid; expected one of "
                                          r"generic65, sky130, or the path of a folder holding a tech.toml"):
        SweepConfig(technology="nosuch")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpiceError, match=r"technology file .*empty/tech.toml' does not exist"):
        SweepConfig(technology=str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="corners: unknown corner 'xx' for technology g65lib"):
        SweepConfig(technology=str(libtech), corners=("xx",))   # refused when made, before any work


def test_cosim_config_takes_a_folder(libtech):
    from pcmspice.cosim.config import CosimConfig
    cfg = CosimConfig(technology=str(libtech), corner="ff")
    assert cfg.run().tech.name == "g65lib"
    with pytest.raises(SpiceError, match="unknown corner 'xx' for technology g65lib"):
        CosimConfig(technology=str(libtech), corner="xx")
    line = one_line_error(cli("cosim", "--tech", "/nonexistent/tech", "--out", "/tmp/unused-cosim"))
    assert "technology folder '/nonexistent/tech' does not exist" in line


def test_corners_cli_refuses_a_missing_folder_in_one_line(tmp_path):
    line = one_line_error(cli("corners", "--tech", str(tmp_path / "nope"), "--out", str(tmp_path / "o")))
    assert "does not exist" in line


SMALL_SWEEP = """name = "byo"
technology = "generic65"
corners = ["ff"]
temps_c = [27.0]
n_cells = 2
vc_points = 11
step_points = 5
pcm_devices = 4
pcm_pulses = 3
pcm_cycles = 1
"""


@pytest.mark.slow
def test_characterize_with_tech_folder(libtech, tmp_path):
    (tmp_path / "small.toml").write_text(SMALL_SWEEP)
    r = cli("characterize", str(tmp_path / "small.toml"), "--tech", str(libtech), "--jobs", "1", "--quiet",
            "--out", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    r = cli("characterize", str(tmp_path / "small.toml"), "--jobs", "1", "--quiet", "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    from pcmspice.lut import format as lutmod
    ours = lutmod.load_lut_set(tmp_path / "a" / "luts" / "g65lib_ff_27C_1V")
    builtin = lutmod.load_lut_set(tmp_path / "b" / "luts" / "generic65_ff_27C_1V")
    np.testing.assert_allclose(ours.cell.g_siemens, builtin.cell.g_siemens, rtol=1e-9)
    prov = ours.cell.provenance
    assert prov["technology"] == "g65lib" and prov["tech"]["folder"] == str(libtech)
    assert prov["sweep"]["technology"] == str(libtech)
    assert "tech_toml_sha256" in prov["tech"] and "models.lib" in prov["tech"]["model_files"]

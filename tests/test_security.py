"""Nothing a user supplies reaches ngspice unchecked: a netlist is code (``.control`` blocks run commands,
``shell`` among them), so every name, number and path is checked, and the final text is scanned."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pcmspice.characterize.sweep import SweepConfig
from pcmspice.cli.spice import _parse_params
from pcmspice.core import paths
from pcmspice.core.errors import PcmSpiceError, SpiceError
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl
from pcmspice.spice import pdk, safety
from pcmspice.spice import tech as techmod

ROOT = Path(__file__).resolve().parents[1]
DC = "testbenches/3t1c_dc.cir.j2"
G65 = paths.tech_dir() / "generic65"
ENGINES = ["shared", "subprocess"]
# what an attacker would write: a line break (any kind ngspice or Python knows), then a command
PAYLOADS = ["x\n.control\nshell touch {m}\n.endc\n", "x\r.control\rshell touch {m}\r.endc\r",
            'x"\n.control\nshell touch {m}\n.endc\n*"', "\n*# shell touch {m}\n",
            "x\u2028.control\u2028shell touch {m}",
            "x\n.include /etc/passwd\n", "*ng_script\nshell touch {m}\n", "x\v.control\vshell touch {m}\v.endc"]


def _independent_check(text: str, allowed: set[str]) -> None:
    """What the scan must guarantee, written out again line by line (not with safety's regexes)."""
    for line in re.split(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]", text):
        s = line.lstrip().lower()
        assert not s.startswith((".control", ".endc", ".exec", "*#", "*ng_script", "shell")), line
        if s.startswith((".inc", ".lib")):
            assert line.strip() in {f'.include "{a}"' for a in allowed}, line


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd or ROOT)


def _one_line_error(p, want: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert want in p.stderr, p.stderr


def _tech_copy(dest: Path, **changes) -> Path:
    """generic65 copied to ``dest`` with tech.toml fields changed (``corners=...`` replaces the table)."""
    shutil.copytree(G65, dest)
    import tomllib
    raw = tomllib.loads((dest / "tech.toml").read_text())
    raw.update(changes)
    (dest / "tech.toml").write_text(tomli_w.dumps(raw))
    return dest


# ------------------------------------------------------------------ our own text
def test_no_template_holds_a_command_block():
    templates = sorted(paths.netlist_dir().rglob("*.j2")) + sorted(paths.tech_dir().glob("*/*.lib"))
    assert len(templates) > 10
    for t in templates:
        safety._commands(safety._lines(t.read_text()), str(t))      # raises on a command line
        assert not re.search(r"(?im)^\s*(\.control|\.endc|\*#|shell\b)", t.read_text()), t


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_scan_refuses_every_payload(payload, tmp_path):
    text = "* title\n" + payload.format(m=tmp_path / "m") + "\nV1 a 0 1\n.op\n.end\n"
    with pytest.raises(SpiceError, match="line|includes"):
        safety.check_netlist(text, "t", allowed=[])


@pytest.mark.parametrize("engine", ENGINES)
def test_the_engine_runs_no_netlist_with_a_control_block(engine, tmp_path):
    marker = tmp_path / "PWNED"
    text = f"* title\nV1 a 0 1\nR1 a 0 1k\n.op\n.control\nshell touch {marker}\n.endc\n.end\n"
    with pytest.raises(SpiceError, match=r"line 5: starts with '\.control'"):
        spice.run(text, "evil", engine=engine)
    assert not marker.exists()


def test_the_renderer_refuses_an_include_that_is_not_the_technology(monkeypatch, g65, tmp_path):
    other = tmp_path / "other.lib"
    other.write_text("* harmless\n")
    monkeypatch.setattr(type(g65), "header", lambda self, c, t: f'.include "{other}"')
    with pytest.raises(SpiceError, match="not a model file of the technology"):
        nl.render(DC, g65, "tt", 27.0, cells=[], read_on=True)


# ------------------------------------------------------------------ the findings, end to end
@pytest.mark.parametrize("engine", ENGINES)
def test_a_technology_name_cannot_run_a_command(engine, tmp_path):
    marker = tmp_path / "PWNED"
    folder = _tech_copy(tmp_path / "evil", name=f"x\n.control\nshell touch {marker}\n.endc\n")
    p = _cli("simulate", "read_curve", "--tech", str(folder), "--engine", engine, "--out", str(tmp_path / "o"))
    _one_line_error(p, "name = 'x\\n.control")
    assert not marker.exists()


@pytest.mark.parametrize("field,value,want", [
    ("corners", {"tt\n.control\nshell touch M\n.endc": {"dvth_n": 0.0}}, "corner name"),
    ("corners", {"tt": {"dvth_n\nshell": 0.0}}, "corner parameter"),
    ("corners", {"tt": {"dvth_n": float("nan")}}, "corners.tt.dvth_n = nan"),
    ("param_prefix", "g\n.control\n", "param_prefix"),
    ("model_file", "../../../etc/passwd", "model_file"),
    ("model_file", 'models.lib"\n.control', "model_file"),
    ("nmos_model", "n\nshell ls", "nmos_model"),
    ("vdd_volts", float("inf"), "vdd_volts = inf"),
    ("vdd_volts", "1.0\n.control", "vdd_volts"),
    ("gmin_siemens", -1.0, "gmin_siemens"),
    ("default_corner", "zz", "default_corner"),
])
def test_every_tech_toml_field_is_checked(field, value, want, tmp_path):
    folder = _tech_copy(tmp_path / "t", **{field: value})
    with pytest.raises(SpiceError, match=re.escape(want)) as exc:
        techmod.load(folder)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("where", ["models.lib", "nested.lib"])
def test_a_model_file_with_a_command_block_is_refused(where, tmp_path):
    marker = tmp_path / "PWNED"
    folder = _tech_copy(tmp_path / "t")
    evil = f"* looks like a model\n.control\nshell touch {marker}\n.endc\n"
    if where == "models.lib":
        with open(folder / "models.lib", "a") as fh:
            fh.write(evil)
    else:
        (folder / "nested.lib").write_text(evil)
        with open(folder / "models.lib", "a") as fh:
            fh.write(".include nested.lib\n")
    p = _cli("simulate", "read_curve", "--tech", str(folder), "--out", str(tmp_path / "o"))
    _one_line_error(p, f"{folder / where}, line ")
    assert "'.control', a command ngspice would run" in p.stderr
    assert not marker.exists()


def test_a_model_file_may_not_include_outside_its_folder(tmp_path):
    folder = _tech_copy(tmp_path / "t")
    (tmp_path / "outside.lib").write_text("* elsewhere\n")
    with open(folder / "models.lib", "a") as fh:
        fh.write(".include ../outside.lib\n")
    with pytest.raises(SpiceError, match="outside the technology's folder"):
        nl.render(DC, techmod.load(folder), "tt", 27.0, cells=[], read_on=True)


def test_libngspice_does_not_run_the_spiceinit_of_the_current_folder(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / ".spiceinit").write_text(f"*ng_script\n.control\nshell touch {marker}\n.endc\n")
    code = "from pcmspice.spice import engine; assert engine.shared_available()"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                   check=True, timeout=60)
    assert not marker.exists()


def _sky_cache_copy(dest: Path) -> Path:
    """The installed sky130 minimal include under another cache root (what PCMSPICE_CACHE would name)."""
    if not pdk.is_installed("sky130"):
        pytest.skip("sky130 is not installed (pcmspice pdk install sky130)")
    src = pdk.pdk_dir("sky130")
    shutil.copytree(src / "pcmspice", dest / "pdk" / "sky130" / "pcmspice")
    shutil.copy2(src / "manifest.json", dest / "pdk" / "sky130" / "manifest.json")
    return dest


@pytest.mark.parametrize("engine", ENGINES)
def test_pcmspice_cache_cannot_run_a_command(engine, tmp_path):
    marker = tmp_path / "PWNED"
    cache = _sky_cache_copy(tmp_path / f'c"\n.endc\n.control\nshell touch {marker}\n.endc\n*')
    p = _cli("simulate", "read_curve", "--tech", "sky130", "--engine", engine, "--out", str(tmp_path / "o"),
             env={"PCMSPICE_CACHE": str(cache)})
    _one_line_error(p, "which a netlist cannot quote")
    assert not marker.exists()


# ------------------------------------------------------------------ paths with spaces
@pytest.mark.parametrize("engine", ENGINES)
def test_a_technology_folder_under_a_path_with_a_space_works(engine, tmp_path):
    folder = _tech_copy(tmp_path / "my checkout" / "generic65")
    p = _cli("simulate", "read_curve", "--tech", str(folder), "--engine", engine, "--out", str(tmp_path / "o"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "o" / "result.csv").is_file()


def test_a_pcmspice_cache_with_a_space_works_for_sky130(tmp_path):
    cache = _sky_cache_copy(tmp_path / "my cache")
    p = _cli("simulate", "read_curve", "--tech", "sky130", "--out", str(tmp_path / "o"),
             env={"PCMSPICE_CACHE": str(cache)})
    assert p.returncode == 0, p.stderr


# ------------------------------------------------------------------ property-based: arbitrary input
def _evil(marker: str = "/tmp/pcmspice-never"):
    payload = st.sampled_from([p.format(m=marker) for p in PAYLOADS])
    return st.one_of(st.text(max_size=40), payload, st.builds(lambda a, b, c: a + b + c, st.text(max_size=8),
                                                              payload, st.text(max_size=8)))


_NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30))
_FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _render(t: techmod.Technology, corner: str = "tt", params=None) -> None:
    """Render a netlist of technology ``t``; if it renders, the text must be safe."""
    text, _ = nl.render(DC, t, corner, 27.0, params, cells=[{"k": 0, "dvt_up": 0.0, "dvt_dn": 0.0, "dvt_rd": 0.0,
                                                            "mu_up": 1.0, "mu_dn": 1.0, "mu_rd": 1.0}], read_on=True)
    _independent_check(text, {str(p.resolve()) for p in t.model_paths()})


@_FAST
@given(field=st.sampled_from(["name", "nmos_model", "pmos_model", "param_prefix", "model_file", "default_corner",
                              "corner", "corner_param", "description"]), value=_evil())
def test_any_tech_toml_text_is_refused_or_safe(field, value):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "t"
        if field == "corner":
            folder = _tech_copy(folder, corners={value: {"dvth_n": 0.0}}, default_corner="tt")
        elif field == "corner_param":
            folder = _tech_copy(folder, corners={"tt": {value: 0.0}})
        else:
            folder = _tech_copy(folder, **{field: value})
        try:
            t = techmod.load(folder)
            _render(t, corner=value if field == "corner" else "tt")
        except PcmSpiceError as exc:
            assert "\n" not in str(exc)


@_FAST
@given(field=st.sampled_from(["vdd_volts", "min_w_um", "gmin_siemens", "abstol_amperes", "corner_value"]),
       value=_NUMBERS)
def test_any_tech_toml_number_is_refused_or_safe(field, value):
    with tempfile.TemporaryDirectory() as tmp:
        change = {"corners": {"tt": {"dvth_n": value}}} if field == "corner_value" else {field: value}
        folder = _tech_copy(Path(tmp) / "t", **change)
        try:
            _render(techmod.load(folder))
        except PcmSpiceError as exc:
            assert "\n" not in str(exc)


@_FAST
@given(name=_evil(), value=st.one_of(_evil(), _NUMBERS.map(repr)), corner=_evil(), technology=_evil())
def test_any_command_line_text_is_refused_or_safe(g65, name, value, corner, technology):
    for attempt in (lambda: _render(g65, params=_parse_params((f"{name}={value}",))),
                    lambda: _render(g65, params=_parse_params((f"c_store_farads={value}",))),
                    lambda: _render(g65, corner=corner),
                    lambda: _render(techmod.load(technology))):
        try:
            attempt()
        except PcmSpiceError as exc:
            assert "\n" not in str(exc)


@_FAST
@given(technology=_evil(), corners=st.lists(_evil(), max_size=3), key=_evil(),
       value=st.one_of(_evil(), _NUMBERS, st.booleans()), temp=_NUMBERS)
def test_any_sweep_definition_is_refused_or_safe(technology, corners, key, value, temp):
    for fields in ({"technology": technology}, {"corners": corners}, {"params": {key: value}},
                   {"params": {"c_store_farads": value}}, {"temps_c": [temp]}):
        try:
            cfg = SweepConfig.from_dict({"name": "s", "n_cells": 1, **fields})
            for corner, temp_c, vdd in cfg.combos():
                run = cfg.run_for(corner, temp_c, vdd)
                _render(run.tech, corner, run.params)
        except PcmSpiceError as exc:
            assert "\n" not in str(exc)


@pytest.fixture(scope="module")
def sky_cache_base():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@_FAST
@given(suffix=_evil())
def test_any_pcmspice_cache_is_refused_or_safe(sky_cache_base, suffix):
    if not pdk.is_installed("sky130"):
        pytest.skip("sky130 is not installed")
    assume(suffix and "/" not in suffix and "\0" not in suffix and suffix not in (".", ".."))
    root = sky_cache_base / suffix
    try:
        root.mkdir(exist_ok=True)
    except OSError:
        assume(False)
    if not (root / "pdk").exists():
        (root / "pdk").symlink_to(pdk.pdk_dir("sky130").parent)
    old = os.environ.get("PCMSPICE_CACHE")
    os.environ["PCMSPICE_CACHE"] = str(root)
    try:
        _render(techmod.load("sky130"))
    except PcmSpiceError as exc:
        assert "\n" not in str(exc)
    finally:
        if old is None:
            os.environ.pop("PCMSPICE_CACHE")
        else:
            os.environ["PCMSPICE_CACHE"] = old

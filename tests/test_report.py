"""Reports: run discovery, the verdict, the files, the pipeline wiring, and a real headless browser."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pcmspice import report as rep
from pcmspice.core.document import Block, render_html
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import CellLut, LutSet, PcmLut, save_lut_set
from pcmspice.pipeline import run_pipeline
from pcmspice.power.config import PowerConfig
from pcmspice.power.outputs import write_power_run

ROOT = Path(__file__).resolve().parent.parent


def make_luts(n: int = 30) -> LutSet:
    """Test fixture: uS conductances, fJ 3T1C pulse energies, pJ PCM SET/RESET energies."""
    vc = np.linspace(0.0, 1.0, 41)
    g = 8e-6 * np.clip(vc - 0.3, 0.0, None)[None, :] ** 1.5 * (1 + 0.03 * np.arange(n) / n)[:, None]
    ones = np.ones((n, vc.size))
    cell = CellLut(vc_volts=vc, g_siemens=g, dv_up_volts=3e-3 * ones, dv_down_volts=-2.5e-3 * ones,
                   leak_volts_per_s=np.zeros_like(ones), e_up_joules=np.full(n, 6e-15),
                   e_down_joules=np.full(n, 4e-15), e_read_joules=np.full(n, 3e-17),
                   provenance={"technology": "generic65", "corner": "tt", "temp_c": 27.0})
    gg = np.linspace(0.0, 25e-6, 26)
    pcm = PcmLut(g_grid_siemens=gg, set_step_mean_siemens=np.full((n, 26), 1e-6),
                 set_step_std_siemens=np.full((n, 26), 0.3e-6), g_reset_siemens=np.full(n, 0.1e-6),
                 g_max_siemens=np.full(n, 25e-6), drift_nu=np.full(n, 0.05), drift_t0_seconds=1.0,
                 read_noise_rel=0.01, e_set_joules=np.full(n, 10e-12), e_reset_joules=np.full(n, 30e-12),
                 e_read_joules=np.full(n, 1e-15))
    return LutSet(cell, pcm, "generic65_tt_27C")


def training_summary(network: str = "784-250-10") -> dict:
    return {"analog_test_accuracy": 0.951, "baseline_test_accuracy": 0.958, "analog_train_accuracy": 0.97,
            "baseline_train_accuracy": 0.98, "pulses_up_total": 5.0e6, "pulses_down_total": 4.0e6,
            "transfers_total": 198_760, "pcm_set_pulses_total": 6.0e5, "pcm_reset_pulses_total": 4.0e4,
            "examples_trained": 8000, "network": network, "dataset": "mnist5k", "epochs": 2, "mode": "analog",
            "time_per_example_seconds": 1e-6, "config": {"lr": 0.1}, "provenance": {"seed": 1}}


def _png(path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0.5, 0.8, 0.9])
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    d = {k: base / k for k in ("luts", "train", "power", "corners", "cosim")}
    save_lut_set(make_luts(), d["luts"])
    d["train"].mkdir()
    (d["train"] / "summary.json").write_text(json.dumps(training_summary()))   # no "kind": recognised anyway
    _png(d["train"] / "accuracy.png", "test accuracy per epoch")
    write_power_run(d["power"], d["luts"], None, d["train"], PowerConfig(), measure_cpu=False)
    d["corners"].mkdir()
    (d["corners"] / "summary.json").write_text(json.dumps({"kind": "characterization", "config": {
        "technology": "generic65", "n_cells": 30, "seed": 1, "corners": ["tt", "ss"], "temps_c": [27.0, 85.0]},
        "combos": [{"corner": "tt", "temp_c": 27.0, "g_mean_siemens": 2.9e-6}]}))
    (d["corners"] / "corners.csv").write_text(
        "corner,temp_c,vdd_volts,g_mean_siemens,dv_up_mean_volts,dv_down_mean_volts,analog_test_accuracy,"
        "baseline_test_accuracy,energy_per_example_joules,gops_per_watt\n"
        "tt,27,1.0,2.9e-6,3e-3,-2.5e-3,0.951,0.958,1.3e-8,60000\n"
        "ss,85,1.0,2.1e-6,2e-3,-2.9e-3,0.912,0.958,1.4e-8,57000\n"
        "ff,-40,1.0,3.6e-6,4e-3,-2.1e-3,0.949,0.958,1.2e-8,65000\n")
    d["cosim"].mkdir()
    (d["cosim"] / "summary.json").write_text(json.dumps({"kind": "cosim", "passed": True, "vc_rms_error_volts": 1.2e-4,
                                                          "vc_bound_volts": 2e-3, "prediction_agreement": 0.99,
                                                          "config": {"cells": 8}, "versions": {}}))
    return d


@pytest.fixture(scope="module")
def built(runs, tmp_path_factory) -> rep.ReportResult:
    out = tmp_path_factory.mktemp("report") / "example"
    return rep.build_report([runs[k] for k in ("luts", "train", "power", "corners", "cosim")], out)


# ---------------------------------------------------------------------------------- discovery

def test_discover_kinds(runs):
    assert rep.discover(runs["train"]).kind == "training"
    assert rep.discover(runs["power"]).kind == "power"
    assert rep.discover(runs["luts"]).kind == "luts"
    assert rep.discover(runs["cosim"]).kind == "cosim"
    assert [r.kind for r in rep.discover_all(runs["corners"])] == ["characterization", "corners"]


def test_unknown_directories_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="not a pcmspice run directory"):
        rep.discover(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"kind": "mystery"}))
    with pytest.raises(ConfigError, match="kind 'mystery'"):
        rep.discover(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        rep.discover(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        rep.discover(tmp_path / "nope")
    r = subprocess.run([sys.executable, "-m", "pcmspice.cli", "report", str(tmp_path / "nope"), "--out",
                        str(tmp_path / "r")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "not a directory" in r.stderr


@pytest.mark.parametrize("field, value, want", [("config", "x", "'config' is a string \"x\", expected an object"),
                                                ("combos", "x", "'combos' is a string \"x\", expected a list"),
                                                ("combos", [1, 2], "'combos' is a list [1, 2], expected a list")])
def test_a_lut_folder_whose_summary_has_the_wrong_shape_is_one_line(tmp_path, field, value, want):
    """`pcmspice report` of a LUT folder whose summary.json has "config": "x" was an AttributeError."""
    from pcmspice.core.paths import default_lut_dir
    d = tmp_path / "luts"
    shutil.copytree(default_lut_dir(), d)
    s = json.loads((d / "summary.json").read_text())
    s[field] = value
    (d / "summary.json").write_text(json.dumps(s))
    r = subprocess.run([sys.executable, "-m", "pcmspice.cli", "report", str(d), "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
    assert r.stderr.startswith("error: ") and r.stderr.strip().count("\n") == 0, r.stderr
    assert f"{d / 'summary.json'}: {want}" in r.stderr, r.stderr
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------- content

def test_verdict_on_the_first_screen(built):
    md = built.markdown.read_text()
    head = md.split("## ", 2)[1]            # the verdict section, before any detail
    assert head.startswith("Verdict")
    assert "95.10 % analog vs 95.80 % software" in head
    assert "0.70 points below software" in head
    assert "GOP/s/W" in head and "less energy than" in head and "28,065" in head
    assert "Worst corner: ss, 85 °C" in head and "91.20 %" in head
    assert "SPICE in the loop: agrees with the LUT simulator" in head
    h = built.headline
    assert h["worst_corner"] == "ss" and h["accuracy_delta_points"] == pytest.approx(-0.7)
    assert h["gops_per_watt_training"] > 0 and h["energy_vs_best_gpu_peak"] > 1


def test_report_has_tables_figures_and_provenance(built, runs):
    md = built.markdown.read_text()
    for section in ("## Training: train", "## Energy, latency and area: 784-250-10", "## Corners: corners",
                    "## Characterization: corners", "## Lookup tables: luts", "## SPICE in the loop: cosim",
                    "## Inputs, configuration and provenance"):
        assert section in md, section
    assert "| phase | array read |" in md and "| total |" in md
    assert "P100" in md and "V100" in md and "A100" in md and "H100" in md
    imgs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(imgs) >= 5
    for src in imgs:
        assert (built.out_dir / src).is_file(), src
    for k in ("luts", "train", "power", "corners", "cosim"):
        assert rep.display_path(runs[k]) in md
    assert '"lr": 0.1' in md                          # the training config is carried along
    page = built.html.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', page), "no external resources"
    assert page.count("<img ") == len(imgs)
    lines = rep.headline_lines(built)
    assert lines[0].startswith("accuracy: 95.10 %") and "GOP/s/W" in lines[1] and "TOP/s/mm²" in lines[2]


def test_worst_corner_falls_back_to_circuit_numbers():
    import pandas as pd
    df = pd.DataFrame({"corner": ["tt", "fs"], "temp_c": [27, 85], "dv_up_mean_volts": [3e-3, 4e-3],
                       "dv_down_mean_volts": [-3e-3, -2e-3]})
    w = rep.worst_corner(df)
    assert w["row"]["corner"] == "fs" and "asymmetry" in w["criterion"]


def test_pipeline_trains_costs_and_reports(tmp_path):
    """run_pipeline end to end on given LUTs (no SPICE): train (digits, 1 epoch) -> power -> report."""
    save_lut_set(make_luts(), tmp_path / "luts")
    lines = []
    res = run_pipeline(tmp_path / "run", luts=tmp_path / "luts", dataset="digits", epochs=1,
                       measure_cpu=False, progress=False, echo=lines.append)
    train = json.loads((tmp_path / "run" / "train" / "summary.json").read_text())
    power = json.loads((tmp_path / "run" / "power" / "summary.json").read_text())
    # the training's leakage used the latency model's time per example, with its own pulse slots
    assert train["time_per_example_seconds"] == pytest.approx(power["latency"]["time_per_example_seconds"])
    assert power["network"] == train["network"] == "64-250-10"
    assert res.html.is_file() and 0 < res.headline["analog_test_accuracy"] <= 1
    assert any(l.startswith("[4/4]") for l in lines)
    out = rep.headline_lines(res)
    # digits at the paper's 8,000 examples between transfers: no transfer, and the headline says so
    assert out[0].startswith("accuracy:") and out[1].startswith("warning: the 3T1C alone was trained")
    assert "GOP/s/W" in out[2] and "TOP/s/mm²" in out[3]


# ---------------------------------------------------------------------------------- browser

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("chromium is required for the report browser test in CI (./go test installs it)")
        pytest.skip("chromium is not installed (./go test installs it)")
    return exe


def _browse(exe: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [exe, *_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *extra, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _check_page(exe: str, page: Path, tmp: Path) -> tuple[str, list[str]]:
    """(the body's data-images-loaded value, console lines) of ``page`` in headless chromium."""
    r = _browse(exe, page, tmp / "profile_dom", "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'<body[^>]*data-images-loaded="(\w+)"', r.stdout)
    console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
    return (m.group(1) if m else "not-set"), console


def test_html_opens_in_a_real_browser(built, tmp_path):
    exe = _chromium()
    state, console = _check_page(exe, built.html, tmp_path)
    assert console == [], console
    assert state == "all"
    shot = tmp_path / "shot.png"
    r = _browse(exe, built.html, tmp_path / "profile_shot", "--hide-scrollbars", "--window-size=1280,1600",
                f"--screenshot={shot}")
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    import matplotlib.image as mpimg
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    ink = (img < 0.9).any(axis=2).mean()
    assert ink > 0.02, f"screenshot looks blank ({ink:.4f} of pixels not white)"
    assert img.std() > 0.05
    box = np.array([0xF4, 0xF9, 0xF4]) / 255.0          # the verdict box's background (report CSS)
    green_box = (np.abs(img - box) < 0.012).all(axis=2).mean()
    assert green_box > 0.01, "the verdict box is not on the first screen"


def test_the_browser_check_catches_broken_pages(tmp_path):
    exe = _chromium()
    bad = tmp_path / "bad.html"
    bad.write_text(render_html([Block("p", "broken"), Block("img", "missing", src="missing.png")], "bad")
                   .replace("</body>", "<script>undefinedFunction();</script></body>"))
    state, console = _check_page(exe, bad, tmp_path)
    assert state == "broken"
    assert any("undefinedFunction" in l for l in console)


def test_accuracy_over_seeds_from_the_verdict_benchmark(tmp_path):
    """A `benchmarks/verdict.py` folder (summary.json kind "seeds") is a report input: its table shows every
    task and variant with mean ± sd over the seeds, and the verdict names the defaults' gap per task."""
    d = tmp_path / "verdict"
    d.mkdir()
    row = dict(task="mnist5k", variant="default", seeds=[0, 1, 2], analog=[91.5, 92.6, 92.4],
               software=[94.1, 93.9, 94.0], gap=[-2.6, -1.3, -1.6], best_gap=[-1.0, -0.5, -0.7],
               drift_ratio=[0.4, 0.4, 0.4], hardware_time_seconds=[0.1] * 3, energy_per_example_joules=[2e-8] * 3,
               examples_per_second=[3000.0] * 3)
    lever = dict(row, variant="tol05", analog=[93.9, 94.0, 94.1], gap=[-0.2, 0.1, 0.1])
    (d / "summary.json").write_text(json.dumps({"kind": "seeds", "epochs": 20, "rows": [row, lever],
                                                "variants": {"default": [], "tol05": ["--set", "x=1"]}}))
    r = rep.build_report([d], tmp_path / "out")
    md = r.markdown.read_text()
    assert "## Accuracy over seeds: verdict" in md
    assert "| mnist5k | default | 3 | 92.17 ± 0.59 % | 94.00 ± 0.10 % | -1.83 ± 0.68 pp |" in md
    assert "| mnist5k | tol05 | 3 |" in md and "--set x=1" in md
    assert "**Over seeds (analog - software, the defaults): mnist5k -1.83 ± 0.68 pp over 3 seeds**" in md


def test_a_multi_corner_report_names_each_power_sections_corner_and_every_corners_luts(tmp_path):
    """Two power runs on LUTs of two corners: each power section's title names its corner, and the line naming
    the design lists every corner's LUTs, not only the first's (the review's tt+ss design)."""
    import dataclasses

    from pcmspice.core import paths
    from pcmspice.lut import load_lut_set
    from pcmspice.report.build import _design_blocks
    base = load_lut_set(paths.default_lut_dir())
    for corner in ("tt", "ss"):
        prov = {**base.cell.provenance, "corner": corner}
        save_lut_set(dataclasses.replace(base, cell=dataclasses.replace(base.cell, provenance=prov),
                                         name=f"generic65_{corner}"), tmp_path / f"luts-{corner}")
        write_power_run(tmp_path / f"power-{corner}", tmp_path / f"luts-{corner}", "64-250-10", measure_cpu=False)
    md = rep.build_report([tmp_path / "power-tt", tmp_path / "power-ss"], tmp_path / "report").markdown.read_text()
    assert "## Energy, latency and area: 64-250-10 (corner tt, 27 °C)" in md
    assert "## Energy, latency and area: 64-250-10 (corner ss, 27 °C)" in md
    res = rep.build_report([tmp_path / "power-tt"], tmp_path / "report-one")
    one = res.markdown.read_text()
    lat = json.loads((tmp_path / "power-tt" / "summary.json").read_text())["latency"]
    h = json.loads((tmp_path / "report-one" / "report.json").read_text())["headline"]
    assert h["time_per_example_seconds"] == lat["time_per_example_seconds"]            # the step, for leakage
    assert h["time_per_example_incl_transfers_seconds"] == lat["training_seconds_per_example"]   # TOP/s/mm²'s
    assert "## Energy, latency and area: 64-250-10\n" in one     # one corner: the title the results page quotes
    design = {"design": "mc", "design_hash": "abcd1234", "design_sha256": "abcd1234" * 8,
              "lut_dir": str(tmp_path / "luts-tt"),
              "lut_dirs": {"tt": str(tmp_path / "luts-tt"), "ss": str(tmp_path / "luts-ss")}}
    text = _design_blocks(design)[0].text
    assert "luts-tt" in text and "luts-ss" in text and "2 corners" in text
    assert "luts-ss" not in _design_blocks({**design, "lut_dirs": {}})[0].text

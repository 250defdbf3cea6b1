"""The wheel works installed: `pip install` (not editable) into a fresh environment, then `pcmspice run`
from an unrelated folder finds its netlists, technology files and default LUTs inside the installed package."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]   # builds a wheel, runs a training


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    # build the wheel (build isolation fetches a current setuptools) and install it alone into a new venv;
    # the dependencies come from this environment's site-packages through a .pth file, so nothing is downloaded
    # but setuptools, and the checkout's editable install is not on the new environment's path
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    wheel = next((tmp / "dist").glob("pcmspice-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    return venv, elsewhere, env, site


def test_installed_package_reads_its_data_from_site_packages(installed):
    venv, elsewhere, env, site = installed
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import pcmspice, pcmspice.core.paths as p; print(pcmspice.__file__); "
                          "print(p.netlist_dir()); print(p.default_lut_dir())"],
                         cwd=elsewhere, env=env, check=True, capture_output=True, text=True).stdout.split()
    for line in out:
        assert Path(line).resolve().is_relative_to(site.resolve()), f"{line} is not inside the installed package"
    assert (Path(out[1]) / "tech" / "generic65" / "models.lib").is_file()
    assert (Path(out[2]) / "cell.lut.npz").is_file()


def test_pcmspice_run_works_installed_from_an_unrelated_folder(installed):
    venv, elsewhere, env, site = installed
    p = subprocess.run([str(venv / "bin" / "pcmspice"), "run", "--dataset", "digits", "--epochs", "1", "--quiet",
                        "--no-cpu", "--out", "run"], cwd=elsewhere, env=env, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "accuracy:" in p.stdout and "GOP/s/W" in p.stdout
    report = json.loads((elsewhere / "run" / "report" / "report.json").read_text())
    assert 0.5 < report["headline"]["analog_test_accuracy"] <= 1.0
    lut = [i["path"] for i in report["inputs"] if i["kind"] == "characterization"][0]
    assert Path(lut).resolve().is_relative_to(site.resolve())
    # and a SPICE testbench renders its netlist from the installed templates
    p = subprocess.run([str(venv / "bin" / "pcmspice"), "simulate", "read_curve", "--out", "sim"], cwd=elsewhere,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads((elsewhere / "sim" / "summary.json").read_text())["measures"]["g_at_start_siemens"] > 0


def test_wheel_ships_every_package_and_all_package_data(installed):
    """setup.py finds the packages: every code package of the checkout (pcmspice.torch included) and every
    file of netlists/ and characterization/ that git tracks is inside the installed package."""
    import subprocess as sp
    venv, elsewhere, env, site = installed
    pkg = site / "pcmspice"
    for init in sorted((ROOT / "pcmspice").rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT / "pcmspice")
        for py in init.parent.glob("*.py"):
            assert (pkg / rel / py.name).is_file(), f"the wheel lacks pcmspice/{rel}/{py.name}"
    tracked = sp.run(["git", "ls-files", "netlists", "characterization"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0 or not tracked.stdout.strip():
        pytest.skip("not a git checkout: the list of data files is not known")
    for f in tracked.stdout.split():
        assert (pkg / "data" / f).is_file(), f"the wheel lacks the package data {f}"


def test_pcmspice_features_and_export_work_installed(installed):
    """The optional torch layer ships in the wheel: `pcmspice features` and `pcmspice export aihwkit` run from
    the installed package (they failed with a traceback when pyproject.toml listed packages by hand)."""
    pytest.importorskip("torch")
    venv, elsewhere, env, site = installed
    exe = str(venv / "bin" / "pcmspice")
    p = subprocess.run([exe, "features", "--dataset", "digits", "--epochs", "1", "--batch-size", "32",
                        "--max-train", "200", "--max-test", "50", "--features", "8", "--out", "feats.npz"],
                       cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    import numpy as np
    with np.load(elsewhere / "feats.npz", allow_pickle=False) as z:
        assert z["x_train"].shape == (200, 8) and z["x_test"].shape == (50, 8)
        assert np.isfinite(z["x_train"]).all() and z["x_train"].min() >= 0   # ReLU outputs
    p = subprocess.run([exe, "export", "aihwkit", "--out", "rpu.json"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads((elsewhere / "rpu.json").read_text())
    assert "rpu_config" in doc and doc["not_expressible"]
    # it approximates the default LUTs (those inside the installed package, the same as the checkout's)
    from pcmspice.core.paths import default_lut_dir
    from pcmspice.lut.format import load_lut_set
    from pcmspice.lut.identity import lut_sha256
    assert doc["lut"]["sha256"] == lut_sha256(load_lut_set(default_lut_dir()))

"""Issue 24: after a `power` stopped by SIGTERM (or killed outright) and run again, `compare` of two identical
designs gives the energy of their power summaries (was 1.13e-8 vs 1.41e-8 J: `compare` walked into the hidden
staging folder a killed `power` had left beside its output and pooled that half-made run)."""
import json
import subprocess
import sys

import pytest

from pcmspice.report.compare import collect, compare

# `pcmspice power ...` in a child that signals itself once summary.json is staged, before the figures
_CHILD = """
import os, signal, sys
from pcmspice.power import outputs
sig = getattr(signal, sys.argv[1])
def stop(*a, **k):
    os.kill(os.getpid(), sig)
outputs.figure_power_breakdown = stop
from pcmspice.cli.main import main
sys.argv = ["pcmspice", *sys.argv[2:]]
main()
"""

POWER = ("power", "--network", "64-32-10", "--no-cpu")


def _power(*args, cwd, signal=None):
    cmd = ([sys.executable, "-c", _CHILD, signal] if signal else [sys.executable, "-m", "pcmspice.cli"])
    return subprocess.run([*cmd, *POWER, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _energy(folder):
    return json.loads((folder / "summary.json").read_text())["headline"]["energy_per_example_joules"]


@pytest.fixture(scope="module")
def two_designs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pc")
    for name in ("a", "b"):
        r = _power("--out", f"{name}/power", cwd=tmp)
        assert r.returncode == 0, r.stderr
    return tmp


def test_compare_equals_the_power_summaries_after_sigterm_and_a_kill(two_designs, tmp_path):
    import shutil
    tmp = tmp_path
    for name in ("a", "b"):
        shutil.copytree(two_designs / name, tmp / name)
    want = _energy(tmp / "b" / "power")
    # SIGTERM while `power` writes, then the same command again
    r = _power("--out", "a/power", "--force", cwd=tmp, signal="SIGTERM")
    assert r.returncode == 143, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("interrupted")
    assert not [p.name for p in (tmp / "a").iterdir() if p.name.startswith(".power.") and p.is_dir()]
    assert _energy(tmp / "a" / "power") == want   # the previous run stays
    r = _power("--out", "a/power", "--force", cwd=tmp)
    assert r.returncode == 0, r.stderr
    # a killed `power` of another setting leaves its staging folder, with a summary, beside a/power
    r = _power("--out", "a/power", "--force", "--set", "adc.fom_joules_per_step=5e-13", cwd=tmp, signal="SIGKILL")
    assert r.returncode == -9
    left = [p for p in (tmp / "a").iterdir() if p.name.startswith(".power.") and (p / "summary.json").is_file()]
    assert left and _energy(left[0]) != want
    assert _energy(tmp / "a" / "power") == want
    # compare reads the finished runs only: both designs' energy is their power summary's
    assert [p.path.name for p in collect(tmp / "a").powers] == ["power"]
    res = compare([tmp / "a", tmp / "b"], tmp / "cmp")
    assert [r["energy_per_example_joules"] for r in res.rows] == [want, want]

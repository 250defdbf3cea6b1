"""A characterization's visible result is whole or absent (issue 24): kill -9 while it publishes, a resumed run,
a tampered completion manifest."""
import json
import subprocess
import sys

import pytest

from pcmspice import characterize as ch
from pcmspice.core import complete
from pcmspice.core.errors import LutError
from pcmspice.lut import format as L

SMALL = dict(name="t", n_cells=4, cells_per_netlist=4, pcm_devices=4, pcm_pulses=6, pcm_cycles=2, step_points=7,
             vc_points=21)

# runs the same sweep again in a child that SIGKILLs itself at one moment of the final write phase
_CHILD = """
import os, signal, sys
from pcmspice import characterize as ch
from pcmspice.core import outputs
from pcmspice.lut import format as L
where = sys.argv[2]
def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
if where == "staging":            # writing the staged LUT sets: nothing published yet
    L.save_lut_set = die
    ch.execute.lutmod.save_lut_set = die
elif where == "swapping":         # after the first staged entry was renamed in
    real = outputs._swap_dir
    def swap(stage, dest):
        real(stage, dest)
        die()
    outputs._swap_dir = swap
elif where == "marking":          # everything renamed in, the completion marker not yet written
    real_commit = outputs.commit_entries
    def commit(stage, dest, *a, **k):
        real_commit(stage, dest, *a, **k)
        die()
    outputs.commit_entries = commit
ch.run_sweep(ch.SweepConfig(**SMALL), sys.argv[1], jobs=1, progress=False, figures=False)
""".replace("SMALL", repr(SMALL))


def _kill_during(out, where):
    p = subprocess.run([sys.executable, "-c", _CHILD, str(out), where], capture_output=True, text=True, timeout=300)
    assert p.returncode == -9, p.stderr[-2000:]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("complete") / "c"
    res = ch.run_sweep(ch.SweepConfig(**SMALL), out, jobs=1, progress=False, figures=False)
    lut = res.lut_dirs[("tt", 27.0, 1.0)]
    return out, lut, L.load_lut_set(lut).set_id


def test_a_finished_characterization_carries_a_valid_manifest(finished):
    out, lut, _ = finished
    body = json.loads((out / complete.COMPLETE).read_text())
    assert f"luts/{lut.name}/cell.lut.npz" in body["files"] and "summary.json" in body["files"]
    assert not any(n.startswith("batches") for n in body["files"])
    assert complete.problem(out) is None


@pytest.mark.parametrize("where, visible", [("staging", "old"), ("swapping", "none"), ("marking", "none")])
def test_kill_9_while_publishing_leaves_the_old_result_or_nothing_and_a_rerun_completes_it(finished, where, visible,
                                                                                          tmp_path):
    import shutil
    src, _, set_id = finished
    out = tmp_path / "c"
    shutil.copytree(src, out, symlinks=True)
    lut = out / "luts" / next((src / "luts").iterdir()).name
    _kill_during(out, where)
    if visible == "old":
        assert L.load_lut_set(lut).set_id == set_id
    else:
        with pytest.raises(LutError) as e:
            L.load_lut_set(lut)
        msg = str(e.value)
        assert msg.startswith(f"{out}: not a complete characterization") and f"--out {out} again" in msg
        assert "\n" not in msg
        # the CLI readers say it in one line, exit 2
        p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "lut", "stats", str(lut)], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 2 and p.stderr.startswith("error: ") and "not a complete characterization" in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    # resuming publishes the kept batches: nothing simulated, the same tables
    res = ch.run_sweep(ch.SweepConfig(**SMALL), out, jobs=1, progress=False, figures=False)
    assert res.computed == 0 and res.reused == len(ch.plan(ch.SweepConfig(**SMALL)))
    assert L.load_lut_set(lut).set_id == set_id and complete.problem(out) is None


def test_a_tampered_manifest_or_result_is_refused(finished, tmp_path):
    import shutil
    src, _, _ = finished
    out = tmp_path / "c"
    shutil.copytree(src, out, symlinks=True)
    lut = out / "luts" / next((src / "luts").iterdir()).name
    marker = out / complete.COMPLETE
    good = marker.read_text()
    body = json.loads(good)
    body["files"]["summary.json"]["sha256"] = "0" * 64
    marker.write_text(json.dumps(body))
    with pytest.raises(LutError, match="completion marker .* is damaged or edited"):
        L.load_lut_set(lut)
    marker.write_text(good)
    summary = out / "summary.json"
    summary.write_text(summary.read_text().replace('"n_cells": 4', '"n_cells": 5'))
    with pytest.raises(LutError, match="summary.json does not match its completion manifest"):
        L.load_lut_set(lut)
    marker.unlink()
    with pytest.raises(LutError, match="no completion marker"):
        L.load_lut_set(lut)

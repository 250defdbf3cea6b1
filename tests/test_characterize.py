"""Characterization: Monte Carlo statistics, resume, Dask, and the committed default tables."""
import json
import subprocess
import sys

import numpy as np
import pytest

from pcmspice import characterize as ch
from pcmspice.circuits import c3t1c as cell
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.lut import format as L


def _up_at_start(run, n, seed, avt_scale):
    mm = cell.draw_mismatch(run.tech, n, seed, avt_scale=avt_scale)
    return cell.step_map(run, mm, np.array([0.5])).dv_up_volts[:, 0]


def test_up_step_spread_scales_with_the_mismatch_coefficient(run65):
    """Small mismatch: the step is ~linear in dVt, so doubling A_vt doubles sigma (measured ratio ~2.0)."""
    s1 = _up_at_start(run65, 40, 3, 0.25).std()
    s2 = _up_at_start(run65, 40, 3, 0.5).std()
    assert 1.7 < s2 / s1 < 2.3


def test_up_step_mean_is_stable_across_seeds(run65):
    a = _up_at_start(run65, 40, 1, 1.0)
    b = _up_at_start(run65, 40, 2, 1.0)
    se = np.hypot(a.std(), b.std()) / np.sqrt(40)
    assert abs(a.mean() - b.mean()) < 4 * se
    assert abs(a.mean() - b.mean()) / a.mean() < 0.1
    assert not np.allclose(a, b)


SMALL = dict(name="t", n_cells=12, cells_per_netlist=4, pcm_devices=6, pcm_pulses=8, pcm_cycles=2, step_points=11,
             vc_points=51)


def _lut_arrays(d):
    s = L.load_lut_set(d)
    return {**{"c_" + k: v for k, v in s.cell.arrays().items()}, **{"p_" + k: v for k, v in s.pcm.arrays().items()}}


def test_interrupted_sweep_resumes_to_the_same_lut(tmp_path):
    cfg = ch.SweepConfig(**SMALL)
    with pytest.raises(KeyboardInterrupt):
        ch.run_sweep(cfg, tmp_path / "a", jobs=1, progress=False, stop_after=2, figures=False)
    finished = list((tmp_path / "a" / "batches").rglob("*.npz"))
    assert len(finished) == 2
    res = ch.run_sweep(cfg, tmp_path / "a", jobs=1, progress=False, figures=False)
    assert res.reused == 2 and res.computed == len(ch.plan(cfg)) - 2
    ref = ch.run_sweep(cfg, tmp_path / "b", jobs=2, progress=False, figures=False)
    a = _lut_arrays(res.lut_dirs[("tt", 27.0, 1.0)])
    b = _lut_arrays(ref.lut_dirs[("tt", 27.0, 1.0)])
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # an unchanged definition reuses everything
    again = ch.run_sweep(cfg, tmp_path / "a", jobs=1, progress=False, figures=False)
    assert again.computed == 0
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert s["kind"] == "characterization" and s["combos"][0]["g_mean_siemens"] > 0


def test_corrupted_batch_is_refused_not_half_read(tmp_path):
    cfg = ch.SweepConfig(**SMALL)
    with pytest.raises(KeyboardInterrupt):
        ch.run_sweep(cfg, tmp_path, jobs=1, progress=False, stop_after=1, figures=False)
    f = next((tmp_path / "batches").rglob("*.npz"))
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(LutError, match="corrupted batch file"):
        ch.run_sweep(cfg, tmp_path, jobs=1, progress=False, figures=False)


def test_dask_cluster_gives_the_same_lut(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = ch.SweepConfig(**{**SMALL, "n_cells": 8})
    local = ch.run_sweep(cfg, tmp_path / "local", jobs=1, progress=False, figures=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        remote = ch.run_sweep(cfg, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False,
                              figures=False)
    a = _lut_arrays(local.lut_dirs[("tt", 27.0, 1.0)])
    b = _lut_arrays(remote.lut_dirs[("tt", 27.0, 1.0)])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    cfg = ch.SweepConfig(**{**SMALL, "n_cells": 4})
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        ch.run_sweep(cfg, tmp_path, scheduler="tcp://127.0.0.1:1", progress=False, figures=False)


@pytest.mark.parametrize("raw,want", [
    ({"n_cells": 0}, "sweep definition: n_cells = 0 is invalid; expected an integer from 1 to 100000"),
    ({"n_cells": True}, "n_cells = True is invalid; expected an integer from 1 to 100000"),
    ({"vc_points": 2.5}, "vc_points = 2.5 is invalid; expected an integer from 3 to 10001"),
    ({"technology": "tsmc"}, "technology = 'tsmc' is invalid; expected one of"),
    ({"nonsense": 1}, "unknown key(s) nonsense; known keys are name, technology"),
    ({"corners": ["zz"]}, "unknown corner 'zz'"),
    ({"bias": "trimmed"}, "bias = 'trimmed' is invalid; expected one of fixed, replica"),
])
def test_bad_sweep_definitions(raw, want, tmp_path):
    with pytest.raises(Exception) as e:
        cfg = ch.SweepConfig.from_dict(raw)
        cfg.combos()
    assert want in str(e.value)


def test_sweep_toml_round_trip(tmp_path):
    cfg = ch.SweepConfig(name="x", corners=("tt", "ff"), temps_c=(-40.0, 85.0), params={"c_store_farads": 5e-14})
    p = tmp_path / "s.toml"
    p.write_text(cfg.to_toml())
    assert ch.SweepConfig.from_toml(p) == cfg


def test_committed_default_tables_load_and_match_their_definition():
    d = paths.default_lut_dir()
    s = L.load_lut_set(d)
    assert s.cell.n_cells >= 200
    pv = s.provenance
    assert pv["technology"] == "generic65" and pv["corner"] == "tt" and pv["temp_c"] == 27.0
    assert pv["netlist_hashes"] == ch.netlist_hashes(), \
        "netlists changed since the default LUTs were made: regenerate them (see README)"
    n = np.arange(s.cell.n_cells)
    assert np.all(s.cell.step_up(n, np.full(n.size, 0.5)) > 0)


def test_corners_cli_writes_the_table(tmp_path):
    import subprocess
    import sys

    import pandas as pd
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "corners", "--corners", "ff,tt,ss", "--temps", "27",
                        "--mc", "4", "--pcm-devices", "4", "--jobs", "2", "--out", str(tmp_path), "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    df = pd.read_csv(tmp_path / "corners.csv").set_index("corner")
    assert list(df.index) == ["ff", "tt", "ss"]
    assert df.loc["ff", "g_mean_siemens"] > df.loc["tt", "g_mean_siemens"] > df.loc["ss", "g_mean_siemens"]
    assert (tmp_path / "corners.md").read_text().startswith("| corner | T (°C)")
    assert (tmp_path / "figures" / "corner_comparison.png").stat().st_size > 10_000


def test_corners_cli_rejects_bad_temperatures(tmp_path):
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "corners", "--temps", "27,hot", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--temps '27,hot' must be a comma-separated list of numbers" in p.stderr
    assert "Traceback" not in p.stderr


def test_replica_bias_restores_the_tt_steps_at_skewed_corners():
    """fs = fast NMOS / slow PMOS.  With fixed gate levels its up step shrinks and its down
    step grows (global up/down asymmetry near -1); a replica bias lowers both gate levels
    (more PMOS drive, less NMOS drive) until the nominal cell steps as at tt, 27 degC, and
    the Monte Carlo population follows it (its mean within a few % of tt's)."""
    base = dict(name="b", corners=("tt", "fs", "sf"), temps_c=(27.0,), n_cells=12, pcm_devices=2)
    fixed = ch.SweepConfig(**base)
    replica = ch.SweepConfig(**base, bias="replica")
    p_tt = cell.cell_params(fixed.tech(), replica.run_for("tt", 27.0, 1.0).params)
    p_fs = cell.cell_params(fixed.tech(), replica.run_for("fs", 27.0, 1.0).params)
    assert p_tt["v_up_on_volts"] == cell.cell_params(fixed.tech())["v_up_on_volts"], "tt, 27 degC is the reference"
    assert p_fs["v_up_on_volts"] < p_tt["v_up_on_volts"] and p_fs["v_dn_on_volts"] < p_tt["v_dn_on_volts"]
    vc = np.array([0.5])
    mm = cell.draw_mismatch(fixed.tech(), 12, 1)
    steps = {}
    for name, cfg in (("fixed", fixed), ("replica", replica)):
        for corner in ("tt", "fs", "sf"):
            sm = cell.step_map(cfg.run_for(corner, 27.0, 1.0), mm, vc)
            steps[name, corner] = (sm.dv_up_volts.mean(), -sm.dv_down_volts.mean())
    for corner in ("fs", "sf"):
        np.testing.assert_allclose(steps["replica", corner], steps["replica", "tt"], rtol=0.03)
    up, dn = steps["fixed", "fs"]
    assert up < 0.8 * steps["fixed", "tt"][0] and dn > 1.5 * steps["fixed", "tt"][1]
    assert ch.sweep_key(fixed) != ch.sweep_key(replica), "finished batches of one bias mode never serve the other"


def test_characterize_param_overrides_a_netlist_parameter(tmp_path):
    """`characterize --param c_store_farads=50e-15`: the tables record it, and half the capacitor doubles the step
    (a pulse moves about the same charge) and shortens retention."""
    out = tmp_path / "c50"
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "characterize", str(paths.default_sweep("demo")),
                        "--mc", "4", "--jobs", "1", "--quiet", "--param", "c_store_farads=50e-15", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    (lut_dir,) = (out / "luts").iterdir()
    small = L.load_lut_set(lut_dir)
    assert small.cell.provenance["cell_params"]["c_store_farads"] == 50e-15
    ref = L.load_lut_set(paths.default_lut_dir())
    s_small, s_ref = ch.stats_at_start(small), ch.stats_at_start(ref)
    assert 1.7 < s_small["dv_up_mean_volts"] / s_ref["dv_up_mean_volts"] < 2.3
    assert s_small["retention_10mV_median_seconds"] < 0.7 * s_ref["retention_10mV_median_seconds"]
    bad = subprocess.run([sys.executable, "-m", "pcmspice.cli", "characterize", str(paths.default_sweep("demo")),
                          "--mc", "4", "--param", "c_store_farads=1_0", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert bad.stderr.startswith("error: --param c_store_farads = '1_0' is not a number (write 50e-15 or, "
                                 "as in SPICE, 50f")

"""The PCM devices of a characterization are shared through the LUT cache by every cell design: a second design
with another capacitor simulates only its cells, and its PCM tables are bit for bit those it would simulate
itself; a PCM setting of its own (the seed) is not shared, and a damaged shared file is simulated again."""
import numpy as np

from pcmspice import characterize as ch
from pcmspice.characterize import cache as lc
from pcmspice.cli.main import main
from pcmspice.lut.format import load_lut_set

#: 2 cells and 3 PCM devices: seconds of SPICE
BASE = dict(name="share", n_cells=2, pcm_devices=3, pcm_pulses=4, pcm_cycles=1, vc_points=11, step_points=3,
            retention_times_seconds=[1e-4])


def _pcm_arrays(res) -> dict[str, np.ndarray]:
    (lut_dir,) = res.lut_dirs.values()
    p = load_lut_set(lut_dir).pcm
    return {k: np.asarray(getattr(p, k)) for k in ("g_reset_siemens", "g_max_siemens", "set_step_mean_siemens",
                                                    "drift_nu", "read_noise_rel")}


def test_a_second_cell_design_takes_the_pcm_devices_of_the_first(tmp_path, capsys):
    share = tmp_path / "cache" / lc.PCM_DIR
    a = ch.SweepConfig(**BASE)
    b = ch.SweepConfig(**BASE, params={"c_store_farads": 50e-15})
    n_pcm = sum(x.kind == "pcm" for x in ch.plan(a))
    n_all = len(ch.plan(a))
    ra = ch.run_sweep(a, tmp_path / "a", pcm_cache=share, progress=False, figures=False)
    assert (ra.computed, ra.reused) == (n_all, 0)
    assert len(list(share.glob("*/batch.npz"))) == n_pcm
    rb = ch.run_sweep(b, tmp_path / "b", pcm_cache=share, progress=False, figures=False)
    assert (rb.computed, rb.reused) == (n_all - n_pcm, n_pcm)       # only its cells were simulated
    alone = ch.run_sweep(b, tmp_path / "b-alone", progress=False, figures=False)   # no cache: simulated itself
    assert alone.computed == n_all
    got, own = _pcm_arrays(rb), _pcm_arrays(alone)
    for k in own:
        np.testing.assert_array_equal(got[k], own[k], err_msg=k)
    # the cells did change with the capacitor: the sharing is of the PCM only
    (la,), (lb,) = ra.lut_dirs.values(), rb.lut_dirs.values()
    assert not np.array_equal(load_lut_set(la).cell.dv_up_volts, load_lut_set(lb).cell.dv_up_volts)
    # another seed draws other devices: not shared
    rc = ch.run_sweep(ch.SweepConfig(**{**BASE, "seed": 7}), tmp_path / "c", pcm_cache=share, progress=False,
                      figures=False)
    assert rc.computed == n_all and len(list(share.glob("*/batch.npz"))) == 2 * n_pcm
    # a damaged shared file is never read: simulated again and replaced
    f = sorted(share.glob("*/batch.npz"), key=lambda p: p.stat().st_mtime)[0]
    f.write_bytes(f.read_bytes()[:100])
    rd = ch.run_sweep(a, tmp_path / "d", pcm_cache=share, progress=False, figures=False)
    assert rd.computed == n_all
    rd2 = ch.run_sweep(b, tmp_path / "d2", pcm_cache=share, progress=False, figures=False)
    assert rd2.reused == n_pcm and all(np.array_equal(v, own[k]) for k, v in _pcm_arrays(rd2).items())
    # `pcmspice cache` lists them (kind pcm) and prunes them with the rest
    main(["cache", "--cache", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert "shared PCM devices" in out and f"pcm    {f.parent.name}  PCM tt 27 C" in out
    main(["cache", "prune", "--all", "--cache", str(tmp_path / "cache")])
    assert not list(share.glob("*/batch.npz"))

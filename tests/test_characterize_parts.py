"""The PCM batch of a characterization computed in parts (in parallel with the cell batches): the parts begin at
netlist boundaries, their merged arrays equal the whole batch's bit for bit, and they go to the workers first."""
import dataclasses

import numpy as np
import pytest

from pcmspice import characterize as ch
from pcmspice.characterize import batches as B
from pcmspice.circuits import pcm
from pcmspice.core.errors import LutError


def test_parts_begin_at_netlist_boundaries_and_cover_the_batch():
    per = pcm.DEVICES_PER_NETLIST
    b = B.Batch("pcm", "tt", 27.0, 1.0, 0, 3 * per + 7)
    parts = B.pcm_parts(b)
    assert [(p.first, p.count) for p in parts] == [(0, per), (per, per), (2 * per, per), (3 * per, 7)]
    assert all(dataclasses.replace(p, first=0, count=0) == dataclasses.replace(b, first=0, count=0) for p in parts)
    assert B.pcm_parts(dataclasses.replace(b, count=per)) == [dataclasses.replace(b, count=per)]
    # the step map's instances per device keep a part's first instance on a netlist boundary too
    from pcmspice.circuits.pcm_tables import MAP_STATES
    assert all((p.first * 2 * len(MAP_STATES)) % per == 0 for p in parts)


def _pcm(cfg, first, count):
    return B.run_batch(cfg.to_dict(), B.Batch("pcm", "tt", 27.0, 1.0, first, count))


def test_merged_parts_equal_the_whole_batch_bit_for_bit(monkeypatch):
    """With 2 devices per netlist (so that 5 devices make 3 parts in seconds), the merged parts are the whole
    batch's arrays exactly; with 3 per netlist (other companions in each netlist) they are not, which is why
    a part must begin on a netlist boundary, and one that does not is refused."""
    cfg = ch.SweepConfig(name="p", n_cells=2, pcm_devices=5)
    monkeypatch.setattr(pcm, "DEVICES_PER_NETLIST", 2)
    whole = _pcm(cfg, 0, 5)
    parts = B.pcm_parts(B.Batch("pcm", "tt", 27.0, 1.0, 0, 5))
    assert [(p.first, p.count) for p in parts] == [(0, 2), (2, 2), (4, 1)]
    merged = B.merge_pcm_parts([_pcm(cfg, p.first, p.count) for p in parts])
    assert merged.keys() == whole.keys()
    for k in whole:
        assert merged[k].dtype == whole[k].dtype and merged[k].shape == whole[k].shape, k
        np.testing.assert_array_equal(merged[k], whole[k], err_msg=k)
    assert whole["set_step_mean_siemens"].shape == (5, 61)
    with pytest.raises(LutError, match="multiple of 2 devices"):
        _pcm(cfg, 1, 2)
    monkeypatch.setattr(pcm, "DEVICES_PER_NETLIST", 3)
    other = _pcm(cfg, 0, 5)
    assert not np.array_equal(other["set_step_mean_siemens"], whole["set_step_mean_siemens"])
    np.testing.assert_allclose(other["set_step_mean_siemens"], whole["set_step_mean_siemens"], rtol=1e-2, atol=1e-9)


def test_parts_that_disagree_on_a_shared_array_are_refused():
    a = {"g_grid_siemens": np.linspace(0, 1, 3), "drift_t0_seconds": np.array(1.0), "read_noise_rel": np.zeros(3),
         "g_max_siemens": np.ones(2)}
    b = {**a, "g_max_siemens": np.full(1, 2.0)}
    m = B.merge_pcm_parts([a, b])
    np.testing.assert_array_equal(m["g_max_siemens"], [1.0, 1.0, 2.0])
    assert m["drift_t0_seconds"].shape == ()
    with pytest.raises(LutError, match="disagree on 'read_noise_rel'"):
        B.merge_pcm_parts([a, {**b, "read_noise_rel": np.ones(3)}])


def test_the_pcm_batch_goes_to_the_workers_first(tmp_path):
    """Longest first: the first batch a sweep saves is its PCM batch, before any cell batch."""
    cfg = ch.SweepConfig(name="t", n_cells=8, cells_per_netlist=4, pcm_devices=3, step_points=11, vc_points=51)
    with pytest.raises(KeyboardInterrupt):
        ch.run_sweep(cfg, tmp_path, jobs=1, progress=False, stop_after=1, figures=False)
    assert [f.name.split("_")[0] for f in (tmp_path / "batches").rglob("*.npz")] == ["pcm"]

"""The array as composed parts: a part swapped in by composition, and the versioned state_dict.

The extension point: :class:`~pcmspice.array.crossbar.AnalogArray` takes the classes of its parts
(``pcm_pairs=``, ``capacitors=``) and its strategies (``programmer=``, ``transfer=``); a new part is
a few lines that change nothing else, checked here against what it must do analytically.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_array import synthetic_luts

from pcmspice.array import AnalogArray, ArrayConfig, Capacitors, PcmPairs, program
from pcmspice.array.snapshot import flatten_state, unflatten_state
from pcmspice.core.errors import ConfigError


# ----------------------------------------------------------------- new parts (the whole of each)
class IdealCapacitors(Capacitors):
    """A 3T1C without leakage or asymmetry: every pulse moves Vc by exactly +-DV (the rails still stop it)."""

    DV = 2.0 ** -8

    def steps(self):
        v = self.cell.vc_volts
        shape = self.cell.dv_up_volts.shape
        return (np.broadcast_to(np.minimum(self.DV, v[-1] - v), shape),
                np.broadcast_to(np.maximum(-self.DV, v[0] - v), shape))

    def leak(self, seconds):
        return False

    def add_examples(self, n_examples):
        return False

    def flush_leak(self):
        return False


class DriftFreePairs(PcmPairs):
    """PCM pairs whose devices never drift, whatever the config says."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.drifts = False


def _cfg(**kw) -> ArrayConfig:
    base = dict(read_noise=False, offset_scheme="none", pcm_max_pulses=500, transfer_every=0)
    base.update(kw)
    return ArrayConfig(**base)


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_an_ideal_capacitor_part_gives_exactly_n_steps_and_no_leakage(kernel):
    luts = synthetic_luts(n_cells=8, n_devices=8)          # leaks (tau 14 ms) and steps depend on Vc
    arr = AnalogArray(2, 3, luts, _cfg(), seed=1, kernel=kernel, capacitors=IdealCapacitors)
    real = AnalogArray(2, 3, luts, _cfg(), seed=1, kernel=kernel)
    assert type(arr.capacitors) is IdealCapacitors and arr.kernel == kernel
    counts = np.array([[5, -3, 0], [12, 1, -7]])
    for a in (arr, real):
        a.apply_pulses(counts)
    v0 = arr.v_start
    np.testing.assert_array_equal(arr.vc, v0 + counts * IdealCapacitors.DV)   # exactly N dV, polarity +1
    assert not np.array_equal(real.vc, v0 + counts * IdealCapacitors.DV)
    arr.apply_pulses(-counts)                                                   # symmetric: back to v_start
    np.testing.assert_array_equal(arr.vc, np.full((2, 3), v0))
    arr.apply_pulses(counts)
    w = arr.weights()
    vc, rvc = arr.vc.copy(), real.vc.copy()
    for a in (arr, real):
        a.advance(20000)                                    # 20 ms of examples
        a.leak(0.5)
    np.testing.assert_array_equal(arr.vc, vc)                                  # no leakage
    np.testing.assert_array_equal(arr.weights(), w)
    assert np.abs(real.vc - rvc).max() > 0.01                                  # the LUT's cells leak
    # W's 3T1C part is the cell LUT's g at the stepped Vc (the PCM part unchanged)
    g = luts.cell.g(arr.cell_idx.ravel(), arr.vc.ravel()).reshape(2, 3)
    g0 = luts.cell.g(arr.cell_idx.ravel(), np.full(6, v0)).reshape(2, 3)
    np.testing.assert_allclose((g - g0) / arr.spu, arr.read_weights() - _pcm_and_ref(arr, v0), rtol=0, atol=1e-7)


def _pcm_and_ref(arr, v0):
    """W without the 3T1C's g(Vc) - g(v_start) part: the PCM pair, minus g_shared, plus g(v_start)."""
    caps = arr.capacitors
    gp, gm = arr.pcm_effective()
    g0 = arr.cell.g(arr.cell_idx.ravel(), np.full(arr.vc.size, v0)).reshape(arr.shape)
    gref = arr.cell.g(arr.ref_idx.ravel(), arr.vref.ravel()).reshape(arr.vref.shape)
    return (arr.model.pairs.F * (gp - gm) + arr.polarity * (g0 - caps.expand_ref(gref))) / arr.spu


@pytest.mark.parametrize("mode", ["cell", "pcm-only"])
def test_a_drift_free_pcm_part_reads_the_same_at_t_and_t_plus_1s(mode):
    luts = synthetic_luts(n_cells=8, n_devices=8, drift_nu=0.05, drift_t0_seconds=1e-3)
    cfg = _cfg(mode=mode, pcm_drift=True, leak_scale=0.0)
    w0 = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 4))
    arrs = {k: AnalogArray(3, 4, luts, cfg, seed=2, pcm_pairs=k) for k in (DriftFreePairs, PcmPairs)}
    for a in arrs.values():
        a.program(w0)
    still, drifting = arrs[DriftFreePairs], arrs[PcmPairs]
    before = {a: (a.weights(), a.read_weights()) for a in (still, drifting)}
    for a in (still, drifting):
        a.leak(1.0)
    np.testing.assert_array_equal(still.weights(), before[still][0])
    np.testing.assert_array_equal(still.read_weights(), before[still][1])
    np.testing.assert_array_equal(still.pcm_drift_ratios(), 1.0)
    assert still.drift_refreshes == 0 < drifting.drift_refreshes
    # the real part drifts by the law: every device ((1 s + t0) / t0)^-nu lower
    np.testing.assert_allclose(drifting.pcm_drift_ratios(), (1.001 / 1e-3) ** -0.05, rtol=1e-9)
    assert np.abs(drifting.read_weights() - before[drifting][1]).max() > 0.01


def test_programming_and_transfer_are_strategies_passed_in():
    """A programmer passed to the constructor (or set later) sees every programming of the pairs;
    a transfer strategy passed in replaces the model's."""
    luts = synthetic_luts(n_cells=8, n_devices=8)
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[1].size)
        return program(*args, **kwargs)

    class KeepPairs:        # a transfer that leaves every device alone
        def targets(self, arr, pair, gp, gm):
            t = arr.model.pairs.F * (gp - gm)
            return t, arr.program_pairs(t, gp, gm, idx=np.zeros(0, np.int64))

    arr = AnalogArray(2, 3, luts, _cfg(leak_scale=0.0, pcm_drift=False), seed=0, programmer=counting,
                      transfer=KeepPairs())
    arr.program(np.full((2, 3), 0.3))
    assert calls == [12]                                   # both devices of all 6 cells
    arr.apply_pulses(np.full((2, 3), 4))
    vc, gp = arr.vc.copy(), arr.gp.copy()
    rep = arr.transfer()
    assert calls == [12, 0] and rep.set_pulses == 0 and arr.polarity == 1
    np.testing.assert_array_equal(arr.vc, vc)
    np.testing.assert_array_equal(arr.gp, gp)
    arr.set_programmer(program)
    assert arr.programmer is program


# ----------------------------------------------------------------- state_dict
def _trained(mode, seed=3, n=300):
    luts = synthetic_luts(n_cells=16, n_devices=16)
    cfg = ArrayConfig(mode=mode, transfer_every=120, g_read_noise_rel=0.02, pcm_drift_refresh_rel=0.002)
    arr = AnalogArray(6, 40, luts, cfg, seed=seed)
    arr.program(np.random.default_rng(seed).uniform(-0.5, 0.5, arr.shape))
    return arr, luts, cfg


def _steps(arr, rng, n):
    out = []
    for _ in range(n):
        x = rng.uniform(0, 1, arr.shape[1]) * (rng.random(arr.shape[1]) < 0.5)
        y = arr.forward(x)
        arr.update(x, (y - y.mean()) * 0.3, 0.05)
        arr.advance(1)
        out.append(y)
    return np.array(out)


@pytest.mark.parametrize("mode", ["cell", "pcm-only", "ideal"])
def test_state_dict_round_trip_continues_bit_identically(mode):
    arr, luts, cfg = _trained(mode)
    _steps(arr, np.random.default_rng(1), 150)
    arrays, meta = flatten_state(arr.state_dict(), "L0.")
    meta = json.loads(json.dumps(meta))                    # as a checkpoint stores it
    twin = AnalogArray(6, 40, luts, cfg, seed=3)
    twin.program(np.random.default_rng(3).uniform(-0.5, 0.5, twin.shape))
    twin.load_state_dict(unflatten_state(arrays, meta))
    ya, yb = _steps(arr, np.random.default_rng(2), 200), _steps(twin, np.random.default_rng(2), 200)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(arr.weights(), twin.weights())
    assert arr.counters == twin.counters and arr.transfer_log == twin.transfer_log
    if mode != "ideal":
        assert arr.counters["transfers"] == 2


def test_state_dict_parts_are_versioned_and_checked():
    arr, luts, cfg = _trained("cell", n=0)
    st = arr.state_dict()
    assert st["format"] == "pcmspice-analog-array" and st["version"] == 1
    assert {k: v["version"] for k, v in st["parts"].items()} == \
        {"cache": 1, "pcm_pairs": 1, "capacitors": 1, "quantizer": 1}
    st["parts"]["capacitors"]["version"] = 0
    with pytest.raises(ConfigError, match="capacitors state of version 0 cannot be loaded: this pcmspice reads "
                                          "version 1"):
        arr.load_state_dict(st)
    other = AnalogArray(6, 40, luts, cfg.replace(mode="pcm-only"), seed=3)
    with pytest.raises(ConfigError, match="state is of a cell array of shape"):
        other.load_state_dict(arr.state_dict())
    with pytest.raises(ConfigError, match="not an analog array state"):
        arr.load_state_dict({"vc": arr.vc})


def test_a_checkpoint_of_the_earlier_format_is_refused_by_name(tmp_path):
    """Checkpoints that stored the layers' private attributes (format 1) are refused in one line."""
    import io

    from pcmspice.train.checkpoint import SCHEMA, read_checkpoint
    assert SCHEMA == "pcmspice-train-checkpoint-2"
    buf = io.BytesIO()
    meta = json.dumps({"schema": "pcmspice-train-checkpoint-1", "key": "k", "parts": {}, "sha256": {}})
    np.savez(buf, __meta__=np.frombuffer(meta.encode(), dtype=np.uint8))
    f = tmp_path / "checkpoint.npz"
    f.write_bytes(buf.getvalue())
    with pytest.raises(ConfigError, match=r"checkpoint format 'pcmspice-train-checkpoint-1' is not this "
                                          r"pcmspice's 'pcmspice-train-checkpoint-2'; delete it") as e:
        read_checkpoint(f)
    assert "\n" not in str(e.value)

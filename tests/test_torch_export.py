"""`pcmspice export aihwkit`: the exported piecewise step curves reproduce the LUTs' mean steps."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from pcmspice.array.config import ArrayConfig  # noqa: E402
from pcmspice.array.crossbar import AnalogArray  # noqa: E402
from pcmspice.cli.main import main  # noqa: E402
from pcmspice.torch.export import NOT_EXPRESSIBLE, SCHEMA, cell_step_curves, piecewise_step  # noqa: E402
from pcmspice.train.loop import resolve_luts  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp") / "rpu.json"
    main(["export", "aihwkit", "--out", str(out), "--w-max", "0.5"])
    return json.loads(out.read_text())


def _devices(doc):
    dev = doc["rpu_config"]["device"]
    fast, slow = dev["unit_cell_devices"]
    return dev, fast, slow["unit_cell_devices"][0]


def test_the_3t1c_curves_reproduce_the_cell_luts_mean_steps(exported):
    luts = resolve_luts(None)
    _, fast, _ = _devices(exported)
    arr = AnalogArray(1, 1, luts, ArrayConfig(w_max=0.5), seed=0)
    assert fast["dw_min"] == arr.dw_nominal
    cur = cell_step_curves(luts, arr.spu)
    inc = np.concatenate([[True], np.diff(cur["w"]) > 0])   # where the mean cell's weight rises with Vc
    w = cur["w"][inc]
    for key in ("up", "down"):
        want = cur[key][inc]
        got = piecewise_step(w, fast["w_min"], fast["w_max"], fast["dw_min"], fast[f"piecewise_{key}"])
        # 32 nodes over the curve: linear interpolation within 3 % of the largest step
        assert np.max(np.abs(got - want)) < 0.03 * want.max(), key
    assert fast["w_min"] < 0 < fast["w_max"]   # v_start (weight 0) inside the range


def test_the_pcm_curve_reproduces_the_pcm_luts_mean_set_step(exported):
    luts = resolve_luts(None)
    _, _, pcm = _devices(exported)
    arr = AnalogArray(1, 1, luts, ArrayConfig(w_max=0.5), seed=0)
    p = luts.pcm
    g_reset = float(np.median(p.g_reset_siemens))
    g = np.linspace(g_reset, arr.g_cap, 200)
    want = np.array([np.interp(g, p.g_grid_siemens, row) for row in p.set_step_mean_siemens]).mean(0) * 3.0 / arr.spu
    got = piecewise_step(3.0 * (g - g_reset) / arr.spu, pcm["w_min"], pcm["w_max"], pcm["dw_min"],
                         pcm["piecewise_up"])
    assert np.max(np.abs(got - want)) < 0.03 * want.max()
    assert pcm["w_max"] == pytest.approx(0.5)   # the programming span is w_max, as in the array


def test_the_file_names_its_sources_and_what_aihwkit_cannot_express(exported):
    dev, _, _ = _devices(exported)
    assert exported["schema"] == SCHEMA and exported["not_expressible"] == NOT_EXPRESSIBLE
    assert any("program-and-verify" in s for s in NOT_EXPRESSIBLE) and any("per-cell" in s for s in NOT_EXPRESSIBLE)
    assert len(exported["lut"]["sha256"]) == 64 and exported["array_config"]["w_max"] == 0.5
    assert dev["class"] == "TransferCompound" and dev["transfer_every"] == pytest.approx(8000 / 785)


def test_the_reads_have_no_adc_and_the_arrays_rms_read_noise(exported):
    """aihwkit's default DAC/ADC quantization and output noise are off (pcmspice models neither); the read
    noise is the RMS of the array's per-cell sigma at N(0, 1/n_in) weights, and zero without read noise."""
    from pcmspice.torch.export import aihwkit_config
    luts = resolve_luts(None)
    for io in (exported["rpu_config"]["forward"], exported["rpu_config"]["backward"]):
        assert io["inp_res"] < 0 and io["out_res"] < 0 and io["out_noise"] == 0
        assert io["w_noise_type"] == {"enum": "WeightNoiseType", "value": "AdditiveConstant"}
    arr = AnalogArray(64, 785, luts, ArrayConfig(w_max=0.5), seed=0)
    arr.program(np.random.default_rng(0).normal(0.0, 1.0 / np.sqrt(785), (64, 785)))
    sigma = np.sqrt(np.mean(arr.read_noise_sigma() ** 2))
    assert 1e-4 < exported["rpu_config"]["forward"]["w_noise"] == pytest.approx(sigma, rel=1e-12)
    quiet = aihwkit_config(luts, ArrayConfig(w_max=0.5, read_noise=False))["forward"]
    assert quiet["w_noise"] == 0 and quiet["w_noise_type"]["value"] == "None"


def test_bad_export_arguments_are_one_line_errors(tmp_path, capsys):
    for args, msg in ((["--out", str(tmp_path / "x.txt")], "ending in .json"),
                      ([str(tmp_path / "none"), "--out", str(tmp_path / "x.json")], "LUT directory not found"),
                      (["--out", str(tmp_path / "x.json"), "--w-max", "0"], "w_max")):
        with pytest.raises(SystemExit) as e:
            main(["export", "aihwkit", *args])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x.json").exists()


def test_build_rpu_config_makes_aihwkit_objects(exported):
    pytest.importorskip("aihwkit")
    from pcmspice.torch.export import build_rpu_config
    cfg = build_rpu_config(exported["rpu_config"])
    assert type(cfg).__name__ == "UnitCellRPUConfig" and type(cfg.device).__name__ == "TransferCompound"
    assert cfg.forward.w_noise_type.value == "AdditiveConstant" and cfg.forward.inp_res < 0
    with pytest.raises(Exception, match="not one this export writes"):
        build_rpu_config({"class": "IOParameters", "w_noise_type": {"enum": "Os", "value": "system"}})


def test_aihwkits_own_pulse_response_follows_the_luts_mean_steps(exported):
    """The exported devices run in aihwkit's simulator (noise and spreads off): each pulse's step, up from
    w_min for the 3T1C and the PCM, down from w_max for the 3T1C, is the export's curve at the weight the
    device is at, within 3 % of the largest step; and the 3T1C ends near its range's ends."""
    pytest.importorskip("aihwkit")
    from aihwkit.simulator.configs import PiecewiseStepDevice, SingleRPUConfig
    from aihwkit.utils.visualization import compute_pulse_response, get_tile_for_plotting
    _, fast, pcm = _devices(exported)
    for dev, direction in ((fast, 1), (fast, -1), (pcm, 1)):
        kw = {k: v for k, v in dev.items() if k != "class"}
        kw.update(dw_min_dtod=0.0, dw_min_std=0.0, w_min_dtod=0.0, w_max_dtod=0.0, lifetime=0.0, reset_std=0.0)
        w0, nodes = (dev["w_min"], dev["piecewise_up"]) if direction > 0 else (dev["w_max"], dev["piecewise_down"])
        tile = get_tile_for_plotting(SingleRPUConfig(device=PiecewiseStepDevice(**kw)), 1, noise_free=True, w_init=w0)
        w = np.concatenate([[w0], compute_pulse_response(tile, np.full(600, float(direction)))[:, 0, 0]])
        want = piecewise_step(w[:-1], dev["w_min"], dev["w_max"], dev["dw_min"], nodes)
        assert np.max(np.abs(np.abs(np.diff(w)) - want)) < 0.03 * want.max()
        assert abs(w[-1] - w0) > 0.5 * (dev["w_max"] - dev["w_min"])

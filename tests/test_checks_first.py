"""Issue 21 item 6 for `characterize`, `corners` and `power` (design files had it): every config file and option
is checked whole before any work; an error is one line naming the file (or option) and the key, with a
did-you-mean, exit status 2, and nothing is written."""
from __future__ import annotations

import pytest

from pcmspice.cli.main import main
from pcmspice.core import paths

DEMO = paths.default_sweep("demo").read_text()
ADC = "fom_joules_per_step, enob_bits, sample_rate_hz, lines_per_adc, area_m2, integrator_power_watts, " \
      "integrator_area_m2, integrator_capacitance_farads, integrator_swing_volts"


@pytest.fixture(autouse=True)
def _no_work(monkeypatch):
    from pcmspice.characterize import execute
    from pcmspice.power import outputs
    monkeypatch.setattr(execute, "_execute", lambda *a, **k: pytest.fail("simulated before the check"))
    monkeypatch.setattr(outputs.pw, "estimate", lambda *a, **k: pytest.fail("costed before the check"))


def _refused(capsys, tmp_path, *args) -> str:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as e:
        main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before          # nothing written, not even a lock
    return err.strip()


@pytest.mark.parametrize("edit, line", [
    (("[params]", "[params]\nc_stor_farads = 50e-15"),
     "sweep definition: [params] c_stor_farads: not a parameter of the cell's netlists (the 3T1C's and the PCM's "
     "characterization templates); did you mean c_store_farads?"),
    (("[params]", "[params]\nc_store_farads = 50e-18"),
     "sweep definition: [params] c_store_farads: parameter c_store_farads=5e-17 F is outside pcmspice's limit for "
     "it (1e-16 to 1e-11 F; storage capacitor): did you mean 5e-14?"),
    (('corners = ["tt"]', 'corners = ["tt", "sss"]'),
     "sweep definition: corners: unknown corner 'sss' for technology generic65 (choose from tt, ff, ss, fs, sf); "
     "did you mean ss?"),
    (("temps_c = [27.0]", "temps_c = [27.0, 900]"),
     "sweep definition: temps_c = [27.0, 900] is invalid; expected a list of numbers from -273.15 to 300 degC"),
    (("n_cells = 200", "n_cellz = 200"), "unknown key(s) n_cellz; known keys are name, technology, corners, temps_c, "
     "vdd_volts, n_cells, seed, vc_min_volts, vc_max_volts, vc_points, step_points, cells_per_netlist, avt_scale, "
     "read_time_seconds, retention_times_seconds, pcm_devices, pcm_pulses, pcm_cycles, params, bias; did you mean "
     "n_cells?"),
])
def test_a_sweep_definition_is_checked_before_any_work(tmp_path, capsys, edit, line):
    f = tmp_path / "sweep.toml"
    assert edit[0] in DEMO
    f.write_text(DEMO.replace(edit[0], edit[1], 1))
    assert _refused(capsys, tmp_path, "characterize", str(f), "--mc", "4") == f"error: {f}: {line}"


def test_a_param_option_is_checked_and_named(tmp_path, capsys):
    err = _refused(capsys, tmp_path, "characterize", str(paths.default_sweep("demo")), "--param",
                   "c_stor_farads=5e-14")
    assert err == ("error: --param c_stor_farads: not a parameter of the cell's netlists (the 3T1C's and the PCM's "
                   "characterization templates); did you mean c_store_farads?")


@pytest.mark.parametrize("args, line", [
    (["--corners", "tt,sss"], "--corners: unknown corner 'sss' for technology generic65 (choose from tt, ff, ss, fs, "
                              "sf); did you mean ss?"),
    (["--temps", "27,400"], "--temps = [27.0, 400.0] is invalid; expected a list of numbers from -273.15 to 300 degC"),
    (["--vdd", "20"], "--vdd = [20.0] is invalid; expected a list of numbers > 0 and <= 10 V"),
    (["--tech", "generic66"], "--tech generic66: unknown technology 'generic66' (choose from generic65, sky130, or "
                              "give the path of a folder holding a tech.toml)"),
])
def test_corners_options_are_checked_before_any_work(tmp_path, capsys, args, line):
    assert _refused(capsys, tmp_path, "corners", "--mc", "4", *args) == f"error: {line}"


@pytest.mark.parametrize("text, line", [
    ("[adc]\nfom_joules_per_stepp = 1e-15\n",
     f"unknown power parameter adc.fom_joules_per_stepp (allowed in [adc]: {ADC}); did you mean fom_joules_per_step?"),
    ("[adc]\nfom_joules_per_step = 1\n",
     "power parameter adc.fom_joules_per_step = 1 is invalid; expected a finite number from 1e-18 to 1e-09 "
     "J/conv-step: did you mean 1e-9?"),
    ("[circuit]\nc_store_farads = 50e-18\n", "power parameter circuit.c_store_farads = 5e-17 is invalid"),
])
def test_a_power_config_file_is_checked_before_any_work(tmp_path, capsys, text, line):
    f = tmp_path / "power.toml"
    f.write_text(text)
    err = _refused(capsys, tmp_path, "power", "--config", str(f), "--no-cpu")
    assert err.startswith(f"error: {f}: {line}"), err

"""Issue 21 item 4: the periphery of the design's own node.  A technology folder carries its periphery (supply,
minimum lengths, neuron, ADC, SRAM areas and energies) with their sources; sky130 has 130 nm figures; a
technology without them is costed with an explicit, printed scaling rule."""
from __future__ import annotations

import dataclasses
import shutil

import pytest

from pcmspice.core import paths
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet, load_lut_set
from pcmspice.power import PowerConfig, estimate
from pcmspice.power import periphery as per

NET = "64-16-10"


def _as_technology(luts: LutSet, technology: str) -> LutSet:
    """The committed generic65 cells labelled as characterized in ``technology`` (in memory): the same cells, so
    every difference of the estimate is the periphery's."""
    def relabel(t):
        p = dict(t.provenance)
        p["technology"] = technology
        p["sweep"] = {**(p.get("sweep") or {}), "technology": technology}
        return dataclasses.replace(t, provenance=p)
    return LutSet(relabel(luts.cell), relabel(luts.pcm), luts.name)


@pytest.fixture(scope="module")
def g65():
    return load_lut_set(paths.default_lut_dir())


def test_sky130_is_no_longer_denser_than_generic65(g65):
    """The issue: sky130 was costed with 65 nm neurons, ADCs and SRAM (and a 1.0 V supply, 60 nm access
    transistors) and came out denser than generic65.  Its 130 nm periphery makes it less dense."""
    a = estimate(g65, NET)
    b = estimate(_as_technology(g65, "sky130"), NET)
    assert b.tops_per_mm2_training < a.tops_per_mm2_training
    assert b.tops_per_mm2_inference < a.tops_per_mm2_inference
    assert b.config.routing.sram_bit_area_m2 == pytest.approx(2.09e-12)
    assert b.config.circuit.l_access_m == pytest.approx(0.15e-6) and b.config.neuron.area_m2 == pytest.approx(7.5e-9)
    assert b.config.circuit.vdd_volts == pytest.approx(1.8)
    for part in ("adc", "neuron", "drivers", "buffers"):   # the periphery's own areas, at 130 nm
        assert b.area_m2[part] > 2 * a.area_m2[part], part
    assert b.area_m2["cells"] == a.area_m2["cells"]        # the same cells
    note = next(n for n in b.notes if n.startswith("periphery of sky130 (130 nm)"))
    assert "values from its tech.toml [periphery] with their sources" in note
    # generic65 itself: the config as it is, no note
    assert a.config == PowerConfig() and not any(n.startswith("periphery of") for n in a.notes)


def test_every_sky130_periphery_value_names_its_source():
    from pcmspice.spice import tech
    node, got = per.table(tech.load("sky130"))
    assert node == 130 and len(got) >= 15
    assert all(src.strip() for _, src in got.values())


def test_a_technology_without_periphery_is_scaled_by_a_printed_rule(tmp_path, g65):
    """A technology folder with no [periphery] and a 120 nm minimum length, 1.2 V: every periphery area x 4,
    every energy x 2 x 1.44, the supply and the access length its own, and the rule in the estimate's notes."""
    folder = tmp_path / "t120"
    shutil.copytree(paths.tech_dir() / "generic65", folder)
    toml = (folder / "tech.toml").read_text()
    toml = toml.replace('name = "generic65"', 'name = "t120"').replace("min_l_um = 0.06", "min_l_um = 0.12")
    toml = toml.replace("vdd_volts = 1.0\n", "vdd_volts = 1.2\n", 1)
    (folder / "tech.toml").write_text(toml)
    e = estimate(_as_technology(g65, str(folder)), NET)
    d = PowerConfig()
    assert e.config.neuron.area_m2 == pytest.approx(4 * d.neuron.area_m2)
    assert e.config.routing.sram_bit_area_m2 == pytest.approx(4 * d.routing.sram_bit_area_m2)
    assert e.config.neuron.activation_energy_joules == pytest.approx(2 * 1.44 * d.neuron.activation_energy_joules)
    assert e.config.circuit.l_access_m == pytest.approx(0.12e-6)
    note = next(n for n in e.notes if n.startswith("periphery of t120"))
    assert "has no [periphery]" in note and "areas x (L_min/60 nm)^2 = 4" in note and "energies x" in note


def test_a_power_config_value_is_kept(g65):
    cfg = PowerConfig().with_overrides({"neuron.area_m2": 1e-9})
    e = estimate(_as_technology(g65, "sky130"), NET, config=cfg)
    assert e.config.neuron.area_m2 == 1e-9 and e.config.routing.sram_bit_area_m2 == pytest.approx(2.09e-12)
    assert any("kept from the power config: neuron.area_m2" in n for n in e.notes)


def test_a_bad_periphery_entry_is_one_line(tmp_path, g65):
    folder = tmp_path / "bad"
    shutil.copytree(paths.tech_dir() / "generic65", folder)
    (folder / "tech.toml").write_text((folder / "tech.toml").read_text().replace('name = "generic65"', 'name = "bad"')
                                      + '\n[periphery.neuron]\narea_m2 = 7.5e-9\n')
    with pytest.raises(ConfigError, match=r"\[periphery\] neuron.area_m2 = 7.5e-09 is invalid; expected "
                                          r"\{ value = NUMBER, source"):
        estimate(_as_technology(g65, str(folder)), NET)


def test_pcmspice_power_prints_the_periphery(tmp_path, g65, monkeypatch):
    """`pcmspice power` prints the note (here through the function it prints with)."""
    from pcmspice.power.outputs import summary_lines, write_power_run
    s = write_power_run(tmp_path / "p", _as_technology(g65, "sky130"), NET, measure_cpu=False)
    assert any(line.startswith("  note: periphery of sky130 (130 nm)") for line in summary_lines(s))
    s = write_power_run(tmp_path / "q", g65, NET, measure_cpu=False)
    assert not any("periphery of" in line for line in summary_lines(s))

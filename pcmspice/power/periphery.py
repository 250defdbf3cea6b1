"""The periphery of the design's own node: neurons, ADCs, integrators, drivers, SRAM buffers, supply, minimum
lengths and layout rules costed for the technology the LUTs were characterized in.

The power parameters' defaults (:mod:`pcmspice.power.config`) are the periphery of generic65, the reference
node.  A LUT set of another technology is costed with that technology's ``[periphery]`` table of its tech.toml
(every value with its source, e.g. sky130's 130 nm figures); a field it does not list, or every field of a
technology without a ``[periphery]``, is scaled from generic65 by an explicit rule that is printed with the
estimate (a note): with s = L_min / 60 nm (generic65's minimum length) and v = VDD / 1.0 V,

* areas x s^2, layout lengths x s, minimum lengths = the technology's own (``min_l_um``);
* digital and switching energies x s v^2 (C ~ L, E = C V^2), bias powers x v (the same bias current);
* the supply = the technology's ``vdd_volts``.

A field the power config sets to something other than its generic65 default is the user's and is kept.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from pcmspice.core.errors import ConfigError, PcmSpiceError

REFERENCE = "generic65"            # the node whose periphery the power defaults are
REFERENCE_MIN_L_M = 0.06e-6        # generic65's tech.toml min_l_um
REFERENCE_VDD = 1.0                # generic65's tech.toml vdd_volts

#: the periphery fields (section.name) and how the rule scales each: area, length, energy, power, supply, min_l
FIELDS: dict[str, str] = {
    "circuit.vdd_volts": "supply", "circuit.l_access_m": "min_l",
    "adc.area_m2": "area", "adc.integrator_area_m2": "area", "adc.fom_joules_per_step": "energy",
    "adc.integrator_power_watts": "power",
    "neuron.area_m2": "area", "neuron.activation_energy_joules": "energy", "neuron.derivative_energy_joules": "energy",
    "neuron.transfer_logic_energy_joules": "energy", "neuron.gain_f_combine_energy_joules": "energy",
    "drivers.area_m2": "area", "drivers.pwm_logic_energy_joules": "energy",
    "drivers.gate_cox_farads_per_m2": "keep",
    "routing.sram_bit_area_m2": "area", "routing.buffer_energy_joules_per_bit": "energy",
    "area.diffusion_extension_m": "length", "area.device_spacing_m": "length",
    "area.capacitor_density_farads_per_m2": "keep",
}


def _get(cfg: Any, dotted: str) -> Any:
    section, name = dotted.split(".")
    return getattr(getattr(cfg, section), name)


def _technology(luts: Any) -> Any:
    """The technology the LUTs were characterized in (its folder when the sweep named one), or None."""
    from pcmspice.spice import tech as techmod
    prov = luts.cell.typed_provenance
    for ref in (prov.sweep.get("technology"), prov.technology):
        if isinstance(ref, str) and ref:
            try:
                return techmod.load(ref)
            except (PcmSpiceError, OSError):
                continue
    return None


def table(tech: Any) -> tuple[float | None, dict[str, tuple[float, str]]]:
    """A technology's ``[periphery]``: its node in nm (or None) and ``{section.name: (value, source)}``;
    a one-line :class:`ConfigError` for a field that is not a periphery field or has no number or source."""
    raw = (getattr(tech, "raw", None) or {}).get("periphery") or {}
    where = f"{tech.folder / 'tech.toml'}: [periphery]"
    node = raw.get("node_nm")
    if node is not None and (isinstance(node, bool) or not isinstance(node, (int, float)) or node <= 0):
        raise ConfigError(f"{where} node_nm = {node!r} is invalid; expected a positive number of nm")
    got: dict[str, tuple[float, str]] = {}
    for section, fields in raw.items():
        if section == "node_nm":
            continue
        if not isinstance(fields, dict):
            raise ConfigError(f"{where} {section} must be a table of fields")
        for name, entry in fields.items():
            dotted = f"{section}.{name}"
            if dotted not in FIELDS:
                raise ConfigError(f"{where} {dotted} is not a periphery field; expected one of {', '.join(FIELDS)}")
            ok = (isinstance(entry, dict) and isinstance(entry.get("source"), str) and entry["source"].strip()
                  and isinstance(entry.get("value"), (int, float)) and not isinstance(entry.get("value"), bool))
            if not ok:
                raise ConfigError(f"{where} {dotted} = {entry!r} is invalid; expected {{ value = NUMBER, "
                                  "source = \"where the number comes from\" }")
            got[dotted] = (float(entry["value"]), entry["source"])
    return (float(node) if node is not None else None), got


def rule_factors(tech: Any) -> dict[str, float]:
    """The scaling rule's factors for ``tech`` relative to generic65."""
    s = (tech.min_l_um * 1e-6 / REFERENCE_MIN_L_M) if tech.min_l_um else 1.0
    v = tech.vdd_volts / REFERENCE_VDD
    return {"area": s * s, "length": s, "energy": s * v * v, "power": v, "keep": 1.0}


def apply(luts: Any, cfg: Any) -> tuple[Any, list[str], dict[str, Any] | None]:
    """``cfg`` with the periphery of the LUTs' technology, the notes that say so, and the record
    ``{technology, node_nm, fields: {section.name: {value, source}}}`` (None for generic65 or an unknown
    technology: the config as it is)."""
    from pcmspice.power.config import PowerConfig
    tech = _technology(luts)
    if tech is None or tech.name == REFERENCE and not table(tech)[1]:
        return cfg, [], None
    node, given = table(tech)
    f = rule_factors(tech)
    default = PowerConfig()
    values: dict[str, float] = {}
    fields: dict[str, dict[str, Any]] = {}
    scaled, kept = [], []
    for dotted, kind in FIELDS.items():
        if _get(cfg, dotted) != _get(default, dotted):
            kept.append(dotted)
            fields[dotted] = {"value": _get(cfg, dotted), "source": "set in the power config"}
            continue
        if dotted in given:
            v, src = given[dotted]
        elif kind == "supply":
            v, src = tech.vdd_volts, f"{tech.name} tech.toml vdd_volts"
        elif kind == "min_l":
            v, src = (tech.min_l_um * 1e-6, f"{tech.name} tech.toml min_l_um") if tech.min_l_um else (
                _get(default, dotted), "generic65 (the technology has no min_l_um)")
        else:
            v = _get(default, dotted) * f[kind]
            src = f"generic65 value x {f[kind]:.4g} (rule: {kind})"
            if kind != "keep":
                scaled.append(dotted)
        values[dotted] = v
        fields[dotted] = {"value": v, "source": src}
    sections: dict[str, dict[str, float]] = {}
    for dotted, v in values.items():
        sec, name = dotted.split(".")
        sections.setdefault(sec, {})[name] = v
    cfg = dataclasses.replace(cfg, **{sec: dataclasses.replace(getattr(cfg, sec), **kv)
                                      for sec, kv in sections.items()})
    s = f["length"]
    rule = (f"areas x (L_min/60 nm)^2 = {f['area']:.3g}, lengths x {s:.3g}, energies x (L_min/60 nm)(VDD/1 V)^2 "
            f"= {f['energy']:.3g}, bias powers x VDD/1 V = {f['power']:.3g}")
    node_txt = f" ({node:g} nm)" if node else ""
    if given:
        note = (f"periphery of {tech.name}{node_txt}: {len(given)} values from its tech.toml [periphery] with their "
                f"sources" + (f"; {len(scaled)} scaled from generic65 by the rule {rule}" if scaled else ""))
    else:
        note = (f"periphery of {tech.name}: its tech.toml has no [periphery]; every periphery value is scaled from "
                f"generic65 (65 nm) by the rule {rule}, supply {tech.vdd_volts:g} V")
    if kept:
        note += f"; kept from the power config: {', '.join(kept)}"
    return cfg, [note], {"technology": tech.name, "node_nm": node, "rule": rule, "fields": fields}

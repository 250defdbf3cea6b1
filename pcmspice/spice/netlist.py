"""Netlist templates: named, unit-carrying parameters declared in one place per netlist.

A template under ``netlists/`` is SPICE text with Jinja2 loops (``{% for %}``
over Monte Carlo cells) and declares its parameters in its header::

    *@param c_store_farads = 100e-15 F   >0    storage capacitor

(name, default, unit, constraint, description).  Constraints: ``>0``,
``>=0``, ``any``, ``LO..HI``.  A template may ``{% include %}`` cell
templates; their ``*@param`` lines count as the template's own (a parameter
of a subcircuit is set from the testbench that uses it).

Rendering checks every override against the declarations: an unknown name or
a value that breaks its constraint raises :class:`SpiceError` naming it.

Beyond its constraint, a parameter whose line does not declare its own ``LO..HI``
range must lie within pcmspice's limits for its unit (:data:`UNIT_LIMITS`, with a few
parameters named in :data:`NAME_LIMITS`): a supply of a megavolt or a pulse period of
a second is refused before ngspice starts a simulation that would never end.  A
netlist that needs more declares its range (``0..100``) on its ``*@param`` line.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from pcmspice.core import paths
from pcmspice.core.errors import SpiceError
from pcmspice.core.limits import C_STORE_FARADS_RANGE
from pcmspice.core.provenance import sha256_text
from pcmspice.core.units import did_you_mean, parse_spice_number
from pcmspice.spice import safety
from pcmspice.spice.tech import Technology

_PARAM = re.compile(r"^\*@param\s+(\w+)\s*=\s*(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")


# (lowest, highest) value of a parameter in each unit, both included, unless its *@param line
# declares a LO..HI range.  Wide enough for every shipped technology and netlist, narrow enough that
# no simulation of one cell runs for hours: cell timings are nanoseconds, supplies about a volt.
UNIT_LIMITS: dict[str, tuple[float, float]] = {
    "V": (-10.0, 10.0), "A": (0.0, 0.1), "s": (1e-12, 1e-6), "F": (0.0, 1e-9), "ohm": (0.0, 1e18),
    "um": (0.0, 1000.0), "S": (0.0, 1.0), "K/W": (0.0, 1e12), "K": (0.0, 5000.0), "1/s": (0.0, 1e18),
    "eV": (0.0, 10.0), "1": (-1e6, 1e6),
}
NAME_LIMITS: dict[str, tuple[float, float]] = {
    "drift_t0_seconds": (1e-12, 1e9),      # the drift law's reference age, not a simulated time
    "vc_step_volts": (1e-5, 10.0),         # a DC sweep step: 10 uV gives 10^5 points a volt
    "c_store_farads": C_STORE_FARADS_RANGE,   # the physical range, the same as power's circuit.c_store_farads
}


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    unit: str
    constraint: str
    doc: str

    def check(self, value: Any, netlist: str) -> float:
        # a number (a bool is not one; a text only as a number written the SPICE way, "50f", read here:
        # nothing but a float reaches the netlist)
        if isinstance(value, str):
            try:
                value = parse_spice_number(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SpiceError(f"parameter {self.name}={value!r} is not a number ({self.doc}, in {self.unit})",
                             netlist=netlist, value=value)
        v = float(value)
        c = self.constraint
        ok = math.isfinite(v)
        if c == ">0":
            ok = ok and v > 0
            want = "greater than 0"
        elif c == ">=0":
            ok = ok and v >= 0
            want = "0 or more"
        elif ".." in c:
            lo, hi = (float(x) for x in c.split(".."))
            ok = ok and lo <= v <= hi
            want = f"between {lo:g} and {hi:g}"
        else:
            want = "finite"
        if not ok:
            raise SpiceError(f"parameter {self.name}={value!r} {self.unit} is invalid (must be {want}; {self.doc})",
                             netlist=netlist, value=value)
        limits = None if ".." in c else NAME_LIMITS.get(self.name, UNIT_LIMITS.get(self.unit))
        if limits and not limits[0] <= v <= limits[1]:
            hint = did_you_mean(v, lambda g: limits[0] <= g <= limits[1]) if self.unit not in ("1", "") else ""
            raise SpiceError(f"parameter {self.name}={value!r} {self.unit} is outside pcmspice's limit for it "
                             f"({limits[0]:g} to {limits[1]:g} {self.unit}; {self.doc})"
                             + (f": did you mean {hint}?" if hint else "; a netlist may declare a wider LO..HI "
                                "range on its *@param line"), netlist=netlist, value=value)
        return v


_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(paths.netlist_dir())), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def template_path(name: str) -> Path:
    p = paths.netlist_dir() / name
    if not p.exists():
        raise SpiceError(f"no netlist template '{name}' under {paths.netlist_dir()}", value=name)
    return p


def declared_params(name: str) -> dict[str, Param]:
    """The parameters a template declares, including those of templates it includes."""
    text = template_path(name).read_text()
    params: dict[str, Param] = {}
    for inc in re.findall(r"{%-?\s*include\s+['\"]([^'\"]+)['\"]", text):
        params.update(declared_params(inc))
    for line in text.splitlines():
        m = _PARAM.match(line.strip())
        if m:
            n, d, u, c, doc = m.groups()
            params[n] = Param(n, float(d), u, c, doc.strip())
    return params


def template_hash(name: str) -> str:
    """Hash of a template and everything it includes (what the netlist is made of)."""
    text = template_path(name).read_text()
    parts = [text] + [template_hash(inc) for inc in re.findall(r"{%-?\s*include\s+['\"]([^'\"]+)['\"]", text)]
    return sha256_text("\n".join(parts))


def resolve_params(name: str, overrides: dict[str, Any] | None, tech: Technology) -> dict[str, float]:
    decl = declared_params(name)
    values = {k: p.default for k, p in decl.items()}
    # supply-dependent defaults follow the technology unless overridden
    tech_defaults = tech.raw.get("cell_defaults", {})
    for k, v in tech_defaults.items():
        if k in values:
            values[k] = decl[k].check(v, name)
    if "vdd_volts" in values:
        values["vdd_volts"] = tech.vdd_volts if "vdd_volts" not in tech_defaults else values["vdd_volts"]
    for k, v in (overrides or {}).items():
        if k not in decl:
            close = sorted(decl)
            raise SpiceError(f"unknown parameter {k!r} (known: {', '.join(close)})", netlist=name, value=k)
        values[k] = decl[k].check(v, name)
    for k, v in values.items():
        decl[k].check(v, name)
    return values


def render(name: str, tech: Technology, corner: str, temp_c: float, params: dict[str, Any] | None = None,
           **context: Any) -> tuple[str, dict[str, float]]:
    """Render template ``name`` for ``tech`` at ``corner`` / ``temp_c``.

    Returns the netlist text and the resolved parameter values.  ``context``
    holds the per-run data (Monte Carlo cells, stimulus) the template loops over.
    """
    values = resolve_params(name, params, tech)
    header = tech.header(corner, temp_c)
    try:
        body = _env.get_template(name).render(p=values, tech=tech, mos=tech.mos, header=header, **context)
    except jinja2.TemplateError as exc:
        raise SpiceError(f"template error: {exc}", netlist=name) from None
    # the last line of defence: no command, and no include but the technology's model files
    safety.check_netlist(body, name, allowed=tech.model_paths())
    return body, values


def fmt(v: float) -> str:
    """A number as SPICE text without losing precision."""
    return f"{float(v):.10g}"


def pwl(points) -> str:
    """A piecewise-linear source value from (time, value) pairs."""
    return "PWL(" + " ".join(f"{fmt(t)} {fmt(v)}" for t, v in points) + ")"


_env.filters["sp"] = fmt

"""A technology: model cards, corners, temperature range and Pelgrom mismatch (the base class).

:mod:`pcmspice.spice.tech` loads one from its ``tech.toml``; a technology whose models live
outside the repository subclasses :class:`Technology` (see :mod:`pcmspice.spice.sky130`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcmspice.core.errors import SpiceError
from pcmspice.spice.safety import check_name, quoted


@dataclass(frozen=True)
class Corner:
    name: str
    params: dict[str, float]


@dataclass(frozen=True)
class Technology:
    name: str
    description: str
    folder: Path
    vdd_volts: float
    nmos_model: str
    pmos_model: str
    corners: dict[str, Corner]
    avt_nmos_mv_um: float
    avt_pmos_mv_um: float
    abeta_nmos_pct_um: float
    abeta_pmos_pct_um: float
    min_w_um: float
    min_l_um: float
    model_file: str = "models.lib"
    default_corner: str = "tt"
    # a foundry-style library: the file of [lib] in tech.toml and the section of each corner
    # (``.lib "FILE" SECTION``); empty for a card that reads its corners from .param lines only
    lib_file: str = ""
    lib_sections: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # where ngspice reads the model files from: the folder itself, or (a library in a path with a space,
    # which ngspice's .lib cannot read) a space-free copy of them keyed by their content (tech.load)
    model_dir: Path | None = None

    # ---- netlist pieces -------------------------------------------------
    def check_corner(self, corner: str) -> Corner:
        if corner not in self.corners:
            raise SpiceError(f"unknown corner {corner!r} for technology {self.name} "
                             f"(choose from {', '.join(self.corners)})", value=corner)
        return self.corners[corner]

    def model_paths(self) -> list[Path]:
        return [(self.model_dir or self.folder) / (self.lib_file or self.model_file)]

    def model_lines(self, corner: str) -> list[str]:
        """The lines that load the models at ``corner``: ``.include "FILE"``, or for a library with
        corner sections ``.lib "FILE" SECTION``."""
        if self.lib_sections:
            section = check_name(self.lib_sections[corner], "library section", f"technology {self.name}")
            return [f".lib {quoted((self.model_dir or self.folder) / self.lib_file)} {section}"]
        return [f".include {quoted(p)}" for p in self.model_paths()]

    def header(self, corner: str, temp_c: float) -> str:
        """SPICE lines that load the models at ``corner`` and set the temperature."""
        c = self.check_corner(corner)
        check_temperature(temp_c)
        prefix = check_name(self.raw.get("param_prefix", "g65_"), "param_prefix", f"technology {self.name}")
        lines = [f"* technology {check_name(self.name, 'technology name')}, corner {check_name(corner, 'corner')}, "
                 f"{temp_c:g} degC"]
        lines += [f".param {prefix}{check_name(k, 'corner parameter')}={_finite(v, k)!r}"
                  for k, v in c.params.items()]
        lines += self.model_lines(corner)
        opts = f".options temp={temp_c:g} tnom=27"
        # ngspice's default gmin (1e-12 S) and abstol (1e-12 A) are as large as the storage
        # node's pA leakage; a technology can ask for finer ones
        if "gmin_siemens" in self.raw:
            opts += f" gmin={_finite(self.raw['gmin_siemens'], 'gmin_siemens'):g}"
        if "abstol_amperes" in self.raw:
            opts += f" abstol={_finite(self.raw['abstol_amperes'], 'abstol_amperes'):g}"
        lines.append(opts)
        return "\n".join(lines)

    def mos(self, name: str, kind: str, d: str, g: str, s: str, b: str, w_um: float, l_um: float,
            dvt_volts: float | str = 0.0, mu_mult: float | str = 1.0) -> str:
        """One transistor line.  ``dvt_volts`` raises |Vt| (slower) for both polarities;
        it and ``mu_mult`` may be numbers or subcircuit-parameter names."""
        check_size(name, w_um, l_um, self)
        model = check_name(self.nmos_model if kind == "n" else self.pmos_model, "model name", f"technology {self.name}")
        return (f"M{name} {d} {g} {s} {b} {model} W={w_um:.6g}u L={l_um:.6g}u "
                f"delvto={delvto_expr(kind, dvt_volts)} mulu0={_expr(mu_mult)}")

    # ---- mismatch ---------------------------------------------------------
    def sigma_vt_volts(self, kind: str, w_um: float, l_um: float) -> float:
        avt = self.avt_nmos_mv_um if kind == "n" else self.avt_pmos_mv_um
        return avt * 1e-3 / math.sqrt(w_um * l_um)

    def sigma_beta_rel(self, kind: str, w_um: float, l_um: float) -> float:
        ab = self.abeta_nmos_pct_um if kind == "n" else self.abeta_pmos_pct_um
        return ab * 1e-2 / math.sqrt(w_um * l_um)

    def provenance(self) -> dict[str, Any]:
        """The technology's name and the SHA-256 of its model files; for a technology given as a folder
        (``--tech PATH``) also the folder and the SHA-256 of its tech.toml, so a LUT says which card made it.
        (A built-in technology's record stays as it was: it is part of every LUT's fingerprint.)"""
        from pcmspice.core import paths
        from pcmspice.core.provenance import sha256_file
        out: dict[str, Any] = {"technology": self.name,
                               "model_files": {str(p.name): sha256_file(p) for p in self.model_paths() if p.exists()}}
        if not self.folder.resolve().is_relative_to(paths.tech_dir().resolve()):
            toml = self.folder / "tech.toml"
            out.update(folder=str(self.folder), tech_toml_sha256=sha256_file(toml) if toml.is_file() else None)
            if self.lib_sections:
                out["lib_sections"] = dict(self.lib_sections)
        return out


def _finite(v: object, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpiceError(f"{what} = {v!r} is invalid; expected a finite number", value=v)
    return float(v)


def _expr(v: float | str) -> str:
    """A number, or a subcircuit-parameter name/expression (written in braces)."""
    return f"{{{v}}}" if isinstance(v, str) else f"{v:.6g}"


def delvto_expr(kind: str, dvt: float | str) -> str:
    """BSIM delvto adds to vth0; a PMOS vth0 is negative, so a slower PMOS needs -dvt."""
    if kind == "n":
        return _expr(dvt)
    return f"{{-({dvt})}}" if isinstance(dvt, str) else f"{-dvt:.6g}"


def check_temperature(temp_c: float) -> None:
    if not (isinstance(temp_c, (int, float)) and math.isfinite(temp_c) and -55.0 <= temp_c <= 150.0):
        raise SpiceError(f"temperature {temp_c} degC is out of range (use -55 to 150 degC)", value=temp_c)


def check_size(name: str, w_um: float, l_um: float, tech: Technology) -> None:
    for what, v, vmin in (("W", w_um, tech.min_w_um), ("L", l_um, tech.min_l_um)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= vmin):
            raise SpiceError(f"transistor {name}: {what}={v} um is invalid for {tech.name} "
                             f"(must be at least {vmin} um)", value=v)

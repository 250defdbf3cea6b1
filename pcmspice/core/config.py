"""The one config idiom: frozen dataclasses whose fields carry unit, allowed range and source.

Every configuration of pcmspice (a sweep, the array, a training run, a co-simulation, the
power model) is a frozen dataclass deriving from :class:`Config`, with its fields declared by
:func:`param`::

    @dataclass(frozen=True)
    class ArrayConfig(Config):
        _where = "array config"
        gain_f: float = param(3.0, unit="1", gt=0, source="F of the paper; not published, ~3")

A config is checked when it is made (``__post_init__``), so an invalid one cannot exist;
``validate()`` is kept as a no-op that returns the config, for call chains.  The checks are the
field's type (a bool is never a number, an int is taken where a float is asked, a TOML list
where a tuple is), its range or choices, and then the class's own cross-field rule
(:meth:`Config._check`).  Errors name the config, the field, the value and what is allowed, in
one line: ``array config: gain_f = -1 is invalid; expected a finite number > 0``.

A field whose value may be unset is annotated ``X | None`` with the default ``None`` (no sentinel
values such as 0 or -1 meaning "automatic"); TOML has no null, so an unset field is simply absent
from the TOML text, and ``None`` is JSON ``null`` in ``to_dict``.  A field that used a sentinel
before declares it as ``legacy=`` so that configs saved by older versions still load (the old
sentinel reads as ``None``).

``to_dict`` / ``from_dict`` and ``to_toml`` / ``from_toml`` (a file) / ``from_toml_text`` round-trip
exactly (nested configs become TOML tables); unknown keys are refused by name.
:func:`field_table` lists every field of a config class with its type, default, unit, range, doc and
source (the CLI's options and the docs' parameter tables are generated from it);
:meth:`Config.describe` lists a config's values.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import tomli_w

from pcmspice.core.errors import ConfigError
from pcmspice.core.files import not_regular
from pcmspice.core.units import did_you_mean, parse_spice_number

MAX_TOML_BYTES = 10_000_000   # a config file is a few kB; anything this large is not one
_MISSING = dataclasses.MISSING


def param(default: Any = _MISSING, *, unit: str = "", source: str = "", gt: float | None = None,
          ge: float | None = None, lt: float | None = None, le: float | None = None,
          choices: tuple[Any, ...] | None = None, default_factory: Any = _MISSING, doc: str = "",
          legacy: Any = _MISSING) -> Any:
    """A config field with its unit, allowed range (``gt``/``ge``/``lt``/``le``) or ``choices``,
    and the source of its default ("design assumption: ..." marks a choice, not a measurement).
    ``legacy``: the sentinel older versions saved for an unset optional field (read as ``None``)."""
    meta = {"unit": unit, "source": source, "gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices, "doc": doc}
    if legacy is not _MISSING:
        meta["legacy"] = legacy
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def same_as(cls: type, name: str, default: Any = _MISSING) -> Any:
    """A field declared once, in config ``cls``, and reused by another config under the same name:
    its unit, range and source, and its default unless one is given."""
    f = {g.name: g for g in dataclasses.fields(cls)}[name]
    meta = dict(f.metadata)
    if default is _MISSING:
        default = _default(f)
    else:
        meta["doc"] = (meta.get("doc", "") + f" ({cls.__name__}'s default: {_default(f)!r})").strip()
    return dataclasses.field(default=default, metadata=meta)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return None


_PROTOS = {"float": 0.0, "int": 0, "str": "", "bool": False}


def optional(f: dataclasses.Field) -> bool:
    """Whether the field may be ``None`` (annotated ``X | None`` or ``Optional[X]``)."""
    t = f.type if isinstance(f.type, str) else repr(f.type)
    return "None" in t or "Optional" in t


def _proto(f: dataclasses.Field) -> Any:
    """A value of the field's type: its default, or (for an optional field) one made from its annotation."""
    d = _default(f)
    if d is not None:
        return d
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", repr(f.type))
    base = re.sub(r"\s*\|\s*None|None\s*\|\s*|Optional\[(.*)\]", r"\1", t).strip()
    if base.startswith("tuple"):
        inner = base[base.find("[") + 1:].split(",")[0].strip()
        return (_PROTOS[inner],) if inner in _PROTOS else ()
    return _PROTOS.get(base)


def type_name(f: dataclasses.Field) -> str:
    """The field's type in words for tables: float, int, str, bool, list of float, a config's name."""
    p = _proto(f)
    name = (type(p).__name__ if not isinstance(p, tuple) else
            "list of " + (type(p[0]).__name__ if p else "float")) if p is not None else str(f.type)
    return name + (" or None" if optional(f) else "")


def _fmt(x: float) -> str:
    return str(x) if isinstance(x, int) and not isinstance(x, bool) else f"{x:g}"


def allowed(f: dataclasses.Field) -> str:
    """What a field accepts, in words: 'a finite number > 0', 'an integer from 1 to 100', 'one of a, b'."""
    m = f.metadata
    d = _proto(f)
    if m.get("choices"):
        return "one of " + ", ".join(str(c) for c in m["choices"])
    if isinstance(d, bool):
        return "true or false"
    if isinstance(d, Config):
        return f"a table of {type(d).__name__} fields"
    if isinstance(d, str):
        return "text"
    if isinstance(d, dict):
        return "a table"
    kind = "an integer" if isinstance(d, int) else "a finite number"
    if isinstance(d, tuple):
        kind = "a list of " + ("integers" if d and isinstance(d[0], int) else "text" if d and isinstance(d[0], str)
                               else "numbers")
    lo = (">", m["gt"]) if m.get("gt") is not None else (">=", m["ge"]) if m.get("ge") is not None else None
    hi = ("<", m["lt"]) if m.get("lt") is not None else ("<=", m["le"]) if m.get("le") is not None else None
    unit = f" {m['unit']}" if m.get("unit") and m["unit"] != "1" else ""
    if lo and hi:
        if lo[0] == ">=" and hi[0] == "<=":
            return f"{kind} from {_fmt(lo[1])} to {_fmt(hi[1])}{unit}"
        return f"{kind} {lo[0]} {_fmt(lo[1])} and {hi[0]} {_fmt(hi[1])}{unit}"
    if lo:
        return f"{kind} {lo[0]} {_fmt(lo[1])}{unit}"
    if hi:
        return f"{kind} {hi[0]} {_fmt(hi[1])}{unit}"
    return kind + unit


def _in_range(v: float, m: Mapping[str, Any]) -> bool:
    return ((m.get("gt") is None or v > m["gt"]) and (m.get("ge") is None or v >= m["ge"])
            and (m.get("lt") is None or v < m["lt"]) and (m.get("le") is None or v <= m["le"]))


def _number(v: Any, integer: bool) -> float | int | None:
    """``v`` as the field's number type, or None when it is not one (bools are not numbers; a text is one
    when it is a number as SPICE writes it, ``"50f"``: TOML files)."""
    if isinstance(v, str):
        try:
            v = parse_spice_number(v)
        except ValueError:
            return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if integer:
        if isinstance(v, float) and not (math.isfinite(v) and v == int(v)):
            return None
        return int(v)
    return float(v)


class Config:
    """Base of every pcmspice config (use with ``@dataclass(frozen=True)``)."""

    _where: ClassVar[str] = "config"   # how errors name this config ("array config", "power parameter adc")

    # ---- checking -------------------------------------------------------------
    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, self._checked(f, getattr(self, f.name)))
        self._check()

    def _bad(self, name: str, value: Any, want: str) -> ConfigError:
        shown = repr(list(value)) if isinstance(value, tuple) else repr(value)
        if len(shown) > 200:   # one readable line, however long the value
            more = f" ({len(value)} values)" if isinstance(value, (tuple, list)) else ""
            shown = shown[:160] + "..." + more
        return ConfigError(f"{self._where}: {name} = {shown} is invalid; expected {want}")

    def _checked(self, f: dataclasses.Field, v: Any) -> Any:
        d, m = _proto(f), f.metadata
        want = allowed(f)
        if v is None and optional(f):
            return None
        if optional(f):
            want += " (or none: unset)"
        if isinstance(d, Config):
            if isinstance(v, Mapping):
                v = type(d).from_dict(v)
            if not isinstance(v, type(d)):
                raise self._bad(f.name, v, want)
            return v
        if m.get("choices"):
            if v not in m["choices"]:
                raise self._bad(f.name, v, want)
            return v
        if isinstance(d, bool):
            if not isinstance(v, bool):
                raise self._bad(f.name, v, want)
            return v
        if isinstance(d, str):
            if not isinstance(v, str):
                raise self._bad(f.name, v, want)
            return v
        if isinstance(d, dict):
            if not isinstance(v, Mapping):
                raise self._bad(f.name, v, want)
            return dict(v)
        if isinstance(d, tuple):
            if isinstance(v, (list, tuple)):
                items = tuple(v)
            else:
                items = (v,)
            kinds = {type(x) for x in d} or {type(x) for x in items if not isinstance(x, bool)}
            if kinds <= {str}:
                if not all(isinstance(x, str) for x in items):
                    raise self._bad(f.name, v, want)
                return items
            integer = kinds == {int}
            out = tuple(_number(x, integer) for x in items)
            if any(x is None or not math.isfinite(x) or not _in_range(x, m) for x in out):
                raise self._bad(f.name, v, want)
            return out
        if isinstance(d, (int, float)):
            x = _number(v, isinstance(d, int))
            if x is None or not math.isfinite(x) or not _in_range(x, m):
                physical = x is not None and m.get("unit") not in ("", "1")   # a value in the wrong SI scale?
                hint = did_you_mean(x, lambda g: _in_range(g, m)) if physical else ""
                raise self._bad(f.name, v, want + (f": did you mean {hint}?" if hint else ""))
            return x
        return v

    def _check(self) -> None:
        """Cross-field rules of a config (override; raise ``self._bad(...)``)."""

    def validate(self):
        """The config itself: it was checked when it was made."""
        return self

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def with_overrides(self, overrides: Mapping[str, Any] | Sequence[str], option: str = "--set"):
        """This config with fields set by dotted path: ``{"array.gain_f": 2.0}`` or ``["array.gain_f=2", ...]``
        (nested configs are sections; text values are read as the field's type, ``none`` unsets an optional
        field).  The one override mechanism of the CLI's ``--set``, design files and Python."""
        cfg = self
        for path, value in _assignments(overrides, option).items():
            cfg = _override(cfg, path.split("."), value, path, option)
        return cfg

    # ---- dict / TOML ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Config) else list(v) if isinstance(v, tuple) else (
                dict(v) if isinstance(v, dict) else v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = ""):
        where = source or cls._where
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table of fields, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            close = [m for k in unknown for m in difflib.get_close_matches(str(k), names, n=1)]
            hint = f"; did you mean {' or '.join(dict.fromkeys(close))}?" if close else ""
            raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known keys are "
                              f"{', '.join(names)}{hint}")
        data = dict(data)
        for f in dataclasses.fields(cls):   # a config saved by an older version: its sentinel means unset
            if "legacy" in f.metadata and f.name in data and _same(data[f.name], f.metadata["legacy"]):
                data[f.name] = None
        return cls(**data)

    def to_toml(self) -> str:
        """TOML text of every field; an unset (``None``) field is absent (TOML has no null)."""
        return tomli_w.dumps(_without_none(self.to_dict()))

    @classmethod
    def from_toml(cls, path: str | Path):
        """From a TOML file (a path, as a :class:`~pathlib.Path` or a string; TOML text goes to
        :meth:`from_toml_text`)."""
        path = Path(path)
        problem = not_regular(path)
        if problem:
            raise ConfigError(f"{path}: {cls._where} file {problem}")
        if path.stat().st_size > MAX_TOML_BYTES:   # parsing is bounded: a config file is a few kB
            raise ConfigError(f"{path}: {path.stat().st_size} bytes is too large for a {cls._where} file "
                              f"(at most {MAX_TOML_BYTES})")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it ({exc})") from None
        try:
            return cls.from_toml_text(text, str(path))
        except ConfigError as exc:   # every error of a file names the file
            msg = str(exc)
            if msg.startswith(str(path)):
                raise
            raise ConfigError(f"{path}: {msg}") from None

    @classmethod
    def from_toml_text(cls, text: str, source: str = ""):
        """From TOML text; ``source`` names it in errors (default: the config's name)."""
        source = source or cls._where
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc})") from None
        except RecursionError:   # a config is a few tables deep, never thousands
            raise ConfigError(f"{source}: nested too deeply to be a {cls._where} file") from None
        return cls.from_dict(data, source)

    # ---- description ------------------------------------------------------------
    @classmethod
    def fields_described(cls, prefix: str = "") -> list[dict[str, Any]]:
        """:func:`field_table` with the keys of ``describe`` (``parameter`` for ``name``)."""
        return [{"parameter": r["name"], **{k: r[k] for k in ("default", "unit", "range", "source", "doc")}}
                for r in field_table(cls, prefix)]

    def describe(self, prefix: str = "") -> list[dict[str, Any]]:
        """Like :meth:`fields_described`, with this config's values."""
        rows = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Config):
                rows += v.describe(prefix + f.name + ".")
                continue
            rows.append({"parameter": prefix + f.name, "value": v, "unit": f.metadata.get("unit", ""),
                         "range": allowed(f), "source": f.metadata.get("source", "")})
        return rows


def _assignments(overrides: Mapping[str, Any] | Sequence[str], option: str) -> dict[str, Any]:
    if isinstance(overrides, Mapping):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        name, eq, value = str(item).partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name.strip()) \
                or not value.strip():
            raise ConfigError(f"{option} {str(item)!r} must look like section.name=VALUE, e.g. array.gain_f=2")
        out[name.strip()] = value.strip()
    return out


def _override(cfg: Config, names: list[str], value: Any, path: str, option: str) -> Config:
    fs = {f.name: f for f in dataclasses.fields(cfg)}
    f = fs.get(names[0])
    if f is None:
        parts = path.split(".")
        section = ".".join(parts[:len(parts) - len(names)])
        where = f"[{section}]" if section else f"the {cfg._where}"
        raise ConfigError(f"{option} {path}: {where} has no parameter '{names[0]}' (one of: {', '.join(fs)})")
    cur = getattr(cfg, f.name)
    if isinstance(cur, Config):
        if len(names) == 1:
            raise ConfigError(f"{option} {path}: '{names[0]}' is a section; name one of its parameters, e.g. "
                              f"{path}.{dataclasses.fields(cur)[0].name}")
        return dataclasses.replace(cfg, **{f.name: _override(cur, names[1:], value, path, option)})
    if len(names) > 1:
        raise ConfigError(f"{option} {path}: '{names[0]}' is a parameter, not a section")
    if isinstance(value, str):
        proto = _proto(f)
        if optional(f) and value.lower() in ("none", "null"):
            value = None
        elif isinstance(proto, tuple):
            value = tuple(parse_value(x, proto[0] if proto else 0.0, f"{option} {path}")
                          for x in value.strip("[]()").split(",") if x.strip())
        elif not isinstance(proto, (dict, Config)):
            value = parse_value(value, proto, f"{option} {path}")
    if "legacy" in f.metadata and _same(value, f.metadata["legacy"]):
        value = None
    return dataclasses.replace(cfg, **{f.name: value})


def _same(v: Any, legacy: Any) -> bool:
    return type(v) is type(legacy) and v == legacy or (
        isinstance(v, (int, float)) and not isinstance(v, bool) and isinstance(legacy, (int, float)) and v == legacy)


def _without_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


def field_table(cls: type, prefix: str = "") -> list[dict[str, Any]]:
    """Every field of config class ``cls`` (nested configs flattened as ``section.name``), one dict each
    with keys ``name``, ``type``, ``default``, ``unit``, ``range``, ``doc`` and ``source``: what the CLI's
    options and the docs' parameter tables are generated from."""
    rows = []
    for f in dataclasses.fields(cls):
        d = _default(f)
        if isinstance(d, Config):
            rows += field_table(type(d), prefix + f.name + ".")
            continue
        rows.append({"name": prefix + f.name, "type": type_name(f), "default": d,
                     "unit": f.metadata.get("unit", ""),
                     "range": allowed(f) + (" (or none: unset)" if optional(f) else ""),
                     "doc": f.metadata.get("doc", ""), "source": f.metadata.get("source", "")})
    return rows


def parse_value(raw: str, like: Any, name: str) -> Any:
    """A command-line ``NAME=VALUE`` value as the type of ``like``: strict ASCII numbers (no ``1_0``,
    no full-width digits) with SPICE's suffixes (``50f``, ``1.2u``: :func:`pcmspice.core.units.parse_spice_number`),
    ``true``/``false`` for booleans, text as given."""
    raw = raw.strip()
    if isinstance(like, bool):
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name} = {raw!r} must be true or false")
    if isinstance(like, (int, float)):
        try:
            v = parse_spice_number(raw)   # 50e-15 or, as SPICE writes it, 50f
        except ValueError as exc:
            raise ConfigError(f"{name} = {exc}") from None
        return int(v) if isinstance(like, int) and math.isfinite(v) and v == int(v) else v
    return raw


def parse_assignments(items: Sequence[str], option: str = "--param") -> dict[str, float]:
    """``("c_store_farads=50e-15", ...)`` -> ``{"c_store_farads": 5e-14}``: netlist parameters from the command
    line, names as identifiers and values as strict numbers."""
    out: dict[str, float] = {}
    for it in items:
        name, eq, value = str(it).partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(f"{option} {str(it)!r} must look like name=value, e.g. c_store_farads=50e-15")
        out[name] = float(parse_value(value, 0.0, f"{option} {name}"))
    return out

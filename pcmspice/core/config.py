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

``to_dict`` / ``from_dict`` and ``to_toml`` / ``from_toml`` round-trip exactly (nested configs
become TOML tables); unknown keys are refused by name.  :meth:`Config.describe` lists every
field with its value, unit, range and source, for ``--describe`` style output and the docs.
"""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import tomli_w

from pcmspice.core.errors import ConfigError
from pcmspice.core.files import not_regular

MAX_TOML_BYTES = 10_000_000   # a config file is a few kB; anything this large is not one
_MISSING = dataclasses.MISSING


def param(default: Any = _MISSING, *, unit: str = "", source: str = "", gt: float | None = None,
          ge: float | None = None, lt: float | None = None, le: float | None = None,
          choices: tuple[Any, ...] | None = None, default_factory: Any = _MISSING, doc: str = "") -> Any:
    """A config field with its unit, allowed range (``gt``/``ge``/``lt``/``le``) or ``choices``,
    and the source of its default ("design assumption: ..." marks a choice, not a measurement)."""
    meta = {"unit": unit, "source": source, "gt": gt, "ge": ge, "lt": lt, "le": le, "choices": choices, "doc": doc}
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


def _fmt(x: float) -> str:
    return str(x) if isinstance(x, int) and not isinstance(x, bool) else f"{x:g}"


def allowed(f: dataclasses.Field) -> str:
    """What a field accepts, in words: 'a finite number > 0', 'an integer from 1 to 100', 'one of a, b'."""
    m = f.metadata
    d = _default(f)
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
    """``v`` as the field's number type, or None when it is not one (bools are not numbers)."""
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
        d, m = _default(f), f.metadata
        want = allowed(f)
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
                raise self._bad(f.name, v, want)
            return x
        return v

    def _check(self) -> None:
        """Cross-field rules of a config (override; raise ``self._bad(...)``)."""

    def validate(self):
        """The config itself: it was checked when it was made."""
        return self

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

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
            raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known keys are "
                              f"{', '.join(names)}")
        return cls(**dict(data))

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text_or_path: str | Path):
        """From TOML text, or from a file when given a :class:`~pathlib.Path` (or a one-line string
        without ``=``, which no TOML text of a config is)."""
        source = cls._where
        if isinstance(text_or_path, str) and "\n" not in text_or_path and "=" not in text_or_path:
            text_or_path = Path(text_or_path)
        if isinstance(text_or_path, Path):
            path = text_or_path
            problem = not_regular(path)
            if problem:
                raise ConfigError(f"{path}: {cls._where} file {problem}")
            if path.stat().st_size > MAX_TOML_BYTES:
                raise ConfigError(f"{path}: {path.stat().st_size} bytes is too large for a {cls._where} file "
                                  f"(at most {MAX_TOML_BYTES})")
            try:
                text_or_path = path.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read it ({exc})") from None
            source = str(path)
        try:
            data = tomllib.loads(text_or_path)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc})") from None
        except RecursionError:   # parsing is bounded: a config is a few tables deep, never thousands
            raise ConfigError(f"{source}: nested too deeply to be a {cls._where} file") from None
        return cls.from_dict(data, source)

    # ---- description ------------------------------------------------------------
    @classmethod
    def fields_described(cls, prefix: str = "") -> list[dict[str, Any]]:
        """Every field (nested configs flattened as ``section.name``): name, default, unit, range, source."""
        rows = []
        for f in dataclasses.fields(cls):
            d = _default(f)
            if isinstance(d, Config):
                rows += type(d).fields_described(prefix + f.name + ".")
                continue
            rows.append({"parameter": prefix + f.name, "default": d, "unit": f.metadata.get("unit", ""),
                         "range": allowed(f), "source": f.metadata.get("source", ""),
                         "doc": f.metadata.get("doc", "")})
        return rows

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


_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_value(raw: str, like: Any, name: str) -> Any:
    """A command-line ``NAME=VALUE`` value as the type of ``like``: strict ASCII numbers (no ``1_0``,
    no full-width digits), ``true``/``false`` for booleans, text as given."""
    raw = raw.strip()
    if isinstance(like, bool):
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name} = {raw!r} must be true or false")
    if isinstance(like, (int, float)):
        if not _NUMBER.fullmatch(raw):
            raise ConfigError(f"{name} = {raw!r} is not a number")
        v = float(raw)
        return int(v) if isinstance(like, int) and v == int(v) else v
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

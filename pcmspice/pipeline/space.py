"""Search spaces of ``pcmspice explore SPACE.toml``: which design fields vary, over what, toward which objectives.

A space file has four tables::

    [search]                      # how to search
    seed = 0                      # same space + seed: the same trials
    trials = 40                   # how many trials in all (--trials overrides)
    batch = 4                     # trials proposed together (a generation): fixed, so --jobs never changes them
    sampler = "tpe"               # "tpe" (multi-objective TPE) or "nsga2"
    objectives = ["gap", "energy", "area"]     # and/or "latency"
    constraints = ["gap >= -0.5"]              # NAME >= or <= a number (SPICE suffixes: "energy <= 2n")
    pruning = true                # stop hopeless trials on their learning curves (the median rule)
    design = "base.toml"          # optional: a design file the fixed parts start from

    [design]                      # the fixed parts: any design-file section (luts, [design.sweep], [design.task])

    [parameters]                  # what varies: a design field by its dotted path (as `pcmspice run --set`)
    "sweep.params.c_store_farads" = { low = "20f", high = "80f", log = true }
    "task.array.transfer_every" = { low = 500, high = 8000, log = true }   # an int field: integers
    "task.array.drift_compensation" = { choices = ["none", "column"] }

    [conditions]                  # every trial is evaluated at each value; its objectives are the worst
    "task.array.drift_t0_seconds" = [1e-7, 1.0]

:func:`load_space` reads and checks the whole file before any work: every key, every parameter path (with a
did-you-mean), both ends of every range and every choice applied to the design (netlist parameters against
their templates, array fields against their ranges), the design's data set and network.  An error is one
line naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core.config import field_table
from pcmspice.core.errors import ConfigError, PcmSpiceError
from pcmspice.core.files import not_regular
from pcmspice.core.limits import MAX_SEED
from pcmspice.core.provenance import sha256_text
from pcmspice.core.units import parse_spice_number
from pcmspice.pipeline.design import DesignConfig

SPACE_SCHEMA = "pcmspice-space-1"
#: objective -> (trial metric, direction, unit, what it is)
OBJECTIVES = {
    "gap": ("gap_pp", "maximize", "pp", "accuracy gap to software: worst setting, mean over seeds"),
    "energy": ("energy_per_example_joules", "minimize", "J", "training energy per example, remedies included"),
    "area": ("area_per_synapse_m2", "minimize", "m^2", "chip area per synapse, periphery included"),
    "latency": ("time_per_example_seconds", "minimize", "s", "time per training example, remedies included"),
}
SAMPLERS = ("tpe", "nsga2")
MAX_TRIALS = 100_000
MAX_BATCH = 256
MAX_SETTINGS = 64   # conditions x corners of one trial: each is trained once per seed
_TABLES = ("search", "design", "parameters", "conditions")
_SEARCH = {"seed": 0, "trials": 20, "batch": 4, "sampler": "tpe", "objectives": ["gap", "energy", "area"],
           "constraints": [], "pruning": True, "prune_warmup_epochs": 1, "prune_startup_trials": 4,
           "design": None, "name": None}
_CONSTRAINT = re.compile(r"^\s*(gap|energy|area|latency)\s*(>=|<=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Parameter:
    """One searched field: its dotted path and either a range (``low``..``high``, ``log``, ``integer``) or
    ``choices``."""

    path: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] | None = None

    def distribution(self) -> Any:
        import optuna.distributions as od
        if self.choices is not None:
            return od.CategoricalDistribution(list(self.choices))
        if self.integer:
            return od.IntDistribution(int(self.low), int(self.high), log=self.log)
        return od.FloatDistribution(float(self.low), float(self.high), log=self.log)

    def ends(self) -> list[Any]:
        """The values the check applies: both ends of the range, or every choice."""
        if self.choices is not None:
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.integer else [self.low, self.high]


@dataclass(frozen=True)
class Space:
    """A checked search space (:func:`load_space`)."""

    source: str
    text: str
    name: str
    seed: int
    trials: int
    batch: int
    sampler: str
    objectives: tuple[str, ...]
    constraints: tuple[tuple[str, str, float], ...]
    pruning: bool
    prune_warmup_epochs: int
    prune_startup_trials: int
    design: DesignConfig
    parameters: tuple[Parameter, ...]
    conditions: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def key(self) -> str:
        """The space's content hash: everything but the trial count (a search may be extended)."""
        d = {"schema": SPACE_SCHEMA, "seed": self.seed, "batch": self.batch, "sampler": self.sampler,
             "objectives": self.objectives, "constraints": self.constraints, "pruning": self.pruning,
             "warmup": self.prune_warmup_epochs, "startup": self.prune_startup_trials,
             "design": self.design.to_dict(), "parameters": [dataclasses.asdict(p) for p in self.parameters],
             "conditions": self.conditions}
        return sha256_text(json.dumps(d, sort_keys=True, default=str))

    def directions(self) -> list[str]:
        return [OBJECTIVES[o][1] for o in self.objectives]

    def settings(self) -> list[tuple[str, dict[str, Any]]]:
        """The condition settings every trial is evaluated at: (label, {path: value}); one unnamed without
        conditions."""
        if not self.conditions:
            return [("", {})]
        paths = [c[0] for c in self.conditions]
        out = []
        for values in itertools.product(*(c[1] for c in self.conditions)):
            label = "_".join(f"{p.rsplit('.', 1)[-1]}={v:g}" if isinstance(v, float) else f"{p.rsplit('.', 1)[-1]}={v}"
                             for p, v in zip(paths, values))
            out.append((re.sub(r"[^A-Za-z0-9._=-]", "_", label), dict(zip(paths, values))))
        return out

    def trial_designs(self, values: Mapping[str, Any], name: str) -> list[tuple[str, DesignConfig]]:
        """The designs of one trial (one per condition setting): the fixed parts with ``values`` applied."""
        d = apply_values(self.design, values).replace(name=name)
        return [(label, apply_values(d, cond)) for label, cond in self.settings()]

    def violations(self, metrics: Mapping[str, float]) -> list[float]:
        """Each constraint's violation (<= 0: met), as Optuna's constraints_func wants them."""
        out = []
        for name, op, bound in self.constraints:
            v = metrics.get(OBJECTIVES[name][0])
            if v is None or not math.isfinite(v):
                out.append(math.inf)
            else:
                out.append(bound - v if op == ">=" else v - bound)
        return out


def apply_values(design: DesignConfig, values: Mapping[str, Any]) -> DesignConfig:
    """``design`` with fields set by dotted path; ``sweep.params.NAME`` sets a netlist parameter of the cell."""
    params = {k.split(".", 2)[2]: v for k, v in values.items() if k.startswith("sweep.params.")}
    rest = {k: v for k, v in values.items() if not k.startswith("sweep.params.")}
    if params:
        design = design.replace(sweep=design.sweep.replace(params={**(design.sweep.params or {}), **params}))
    return design.with_overrides(rest) if rest else design


def _fields() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in field_table(DesignConfig)}


def _unknown(where: str, key: str, known: list[str], what: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else f" (one of: {', '.join(known)})" \
        if len(known) <= 12 else ""
    return ConfigError(f"{where} {key}: {what}{hint}")


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool):
        raise ConfigError(f"{where} = {v!r} is not a number")
    if isinstance(v, (int, float)):
        x = float(v)
    else:
        try:
            x = parse_spice_number(str(v))
        except ValueError as exc:
            raise ConfigError(f"{where} = {exc}") from None
    if not math.isfinite(x):
        raise ConfigError(f"{where} = {v!r} is not a finite number")
    return x


def _value(row: dict[str, Any] | None, v: Any, where: str) -> Any:
    """A choice or condition value as the field's type (numbers may carry SPICE suffixes)."""
    base = (row or {"type": "float"})["type"].replace(" or None", "")
    if base in ("float", "int") and not isinstance(v, bool):
        x = _number(v, where)
        return int(x) if base == "int" and x == int(x) else x
    if not isinstance(v, (str, bool, int, float)):
        raise ConfigError(f"{where} = {v!r}: a choice is a number, true/false or text")
    return v


def _parameter(path: str, spec: Any, fields: dict[str, dict[str, Any]], where: str) -> Parameter:
    row = None if path.startswith("sweep.params.") else fields.get(path)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a table, e.g. {{ low = 1, high = 4 }} or {{ choices = [...] }}")
    extra = sorted(set(spec) - {"low", "high", "log", "choices"})
    if extra:
        raise _unknown(where, extra[0], ["low", "high", "log", "choices"], "unknown key")
    base = (row or {"type": "float"})["type"].replace(" or None", "")
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise ConfigError(f"{where}: give either choices or low/high, not both")
        ch = spec["choices"]
        if not isinstance(ch, list) or not ch:
            raise ConfigError(f"{where}: choices = {ch!r} must be a non-empty list")
        vals = tuple(_value(row, v, f"{where}: choices") for v in ch)
        if len(set(vals)) != len(vals):
            raise ConfigError(f"{where}: choices = {ch!r} repeat a value")
        return Parameter(path, choices=vals)
    if base not in ("float", "int"):
        raise ConfigError(f"{where}: a {base} field takes choices = [...], not a range")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: a range needs both low and high (or give choices = [...])")
    lo, hi = _number(spec["low"], f"{where}: low"), _number(spec["high"], f"{where}: high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log = {log!r} must be true or false")
    integer = base == "int"
    if integer and (lo != int(lo) or hi != int(hi)):
        raise ConfigError(f"{where}: an integer field needs integer low and high, got {lo:g} and {hi:g}")
    if not lo < hi:
        raise ConfigError(f"{where}: low = {lo:g} must be below high = {hi:g}")
    if log and lo <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {lo:g}")
    return Parameter(path, lo, hi, log, integer)


def _check_path(path: str, fields: dict[str, dict[str, Any]], where: str) -> None:
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: a parameter is named by its dotted path, e.g. task.array.gain_f")
    if path.startswith("sweep.params."):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", path.split(".", 2)[2]):
            raise ConfigError(f"{where} {path}: not a netlist parameter name")
        return
    if path not in fields:
        known = list(fields) + ["sweep.params.NAME"]
        section = path.rsplit(".", 1)[0] + "." if "." in path else ""
        siblings = [k for k in fields if k.startswith(section)] if section else known
        last = path.rsplit(".", 1)[-1]
        near = difflib.get_close_matches(last, [k[len(section):] for k in siblings], n=2, cutoff=0.75)
        close = [section + k for k in near] or difflib.get_close_matches(path, known, n=3, cutoff=0.6)
        hint = (f"; did you mean {' or '.join(close)}?" if close else
                f" (the fields of [{section[:-1]}]: {', '.join(s[len(section):] for s in siblings)})" if siblings
                else "; see docs/config.md for the design's fields")
        raise ConfigError(f"{where} {path}: not a field of a design{hint}")
    if fields[path]["type"].startswith("list") or fields[path]["type"] == "dict":
        raise ConfigError(f"{where} {path}: a {fields[path]['type']} field cannot be searched; set it in [design]")


def _try(design: DesignConfig, values: Mapping[str, Any], where: str) -> DesignConfig:
    try:
        return apply_values(design, values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _search(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: [search] must be a table")
    for k in data:
        if k not in _SEARCH:
            raise _unknown(f"{source}: [search]", k, list(_SEARCH), "unknown key")
    s = {**_SEARCH, **data}
    for k in ("seed", "trials", "batch", "prune_warmup_epochs", "prune_startup_trials"):
        v, hi = s[k], {"seed": MAX_SEED, "trials": MAX_TRIALS, "batch": MAX_BATCH}.get(k, 10_000)
        lo = 0 if k in ("seed", "prune_warmup_epochs", "prune_startup_trials") else 1
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{source}: [search] {k} = {v!r} is invalid; expected an integer from {lo} to {hi}")
    if s["sampler"] not in SAMPLERS:
        raise _unknown(f"{source}: [search] sampler =", repr(s["sampler"]), list(SAMPLERS), "is not a sampler")
    if not isinstance(s["pruning"], bool):
        raise ConfigError(f"{source}: [search] pruning = {s['pruning']!r} must be true or false")
    obj = s["objectives"]
    if not isinstance(obj, list) or not obj or len(set(map(str, obj))) != len(obj):
        raise ConfigError(f"{source}: [search] objectives = {obj!r} must be a list of different names from "
                          f"{', '.join(OBJECTIVES)}")
    for o in obj:
        if o not in OBJECTIVES:
            raise _unknown(f"{source}: [search] objectives:", repr(o), list(OBJECTIVES), "is not an objective")
    cons = []
    if not isinstance(s["constraints"], list):
        raise ConfigError(f"{source}: [search] constraints must be a list such as [\"gap >= -0.5\"]")
    for c in s["constraints"]:
        m = _CONSTRAINT.match(c) if isinstance(c, str) else None
        if not m:
            raise ConfigError(f"{source}: [search] constraints: {c!r} must look like \"gap >= -0.5\" or "
                              f"\"energy <= 2n\" (names: {', '.join(OBJECTIVES)})")
        cons.append((m.group(1), m.group(2), _number(m.group(3), f"{source}: [search] constraints: {c!r}")))
    s["constraints"] = tuple(cons)
    for k in ("design", "name"):
        if s[k] is not None and (not isinstance(s[k], str) or not s[k].strip()):
            raise ConfigError(f"{source}: [search] {k} = {s[k]!r} must be text")
    return s


def _flat(table: Mapping[str, Any], leaf: Any, prefix: str = "") -> dict[str, Any]:
    """``{"task": {"array": {"gain_f": spec}}}`` (dotted keys written unquoted in TOML) -> ``{"task.array.gain_f":
    spec}``; ``leaf(value)`` says where a path ends."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if isinstance(v, Mapping) and not leaf(v):
            out.update(_flat(v, leaf, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def _base_design(path: Path, search: dict[str, Any], inline: Any, source: str) -> DesignConfig:
    if inline is not None and not isinstance(inline, Mapping):
        raise ConfigError(f"{source}: [design] must be a table of design-file sections")
    base = DesignConfig()
    if search["design"]:
        f = Path(search["design"]).expanduser()
        f = f if f.is_absolute() else path.parent / f
        if not f.is_file():
            raise ConfigError(f"{source}: [search] design = {search['design']!r}: no such design file ({f})")
        base = DesignConfig.from_toml(f)
    if not inline:
        return base
    try:
        design = DesignConfig.from_dict(_deep_merge(base.to_dict(), inline), f"{source}: [design]")
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(source) else f"{source}: [design] {msg}") from None
    if design.luts not in ("committed", "characterize") and not Path(design.luts).is_absolute():
        design = design.replace(luts=str(path.parent / design.luts))
    return design


def load_space(path: str | Path) -> Space:
    """Read and check the space file ``path`` whole (see the module's doc); a :class:`ConfigError` in one line
    naming the file and the key otherwise."""
    from pcmspice.pipeline.checks import _check_params, check_design
    path = Path(path)
    source = str(path)
    problem = not_regular(path)
    if problem:
        raise ConfigError(f"{path}: space file {problem}")
    try:
        text = path.read_text()
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for k in data:
        if k not in _TABLES:
            raise _unknown(f"{source}:", f"[{k}]", [f"[{t}]" for t in _TABLES], "unknown table")
    search = _search(data.get("search", {}), source)
    design = _base_design(path, search, data.get("design"), source)
    check_design(design, f"{source}: [design]")
    fields = _fields()
    raw = data.get("parameters")
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{source}: [parameters] is missing or empty: name at least one design field to search, "
                          "e.g. \"task.array.gain_f\" = { low = 1, high = 4 }")
    raw = _flat(raw, lambda v: bool(set(v) & {"low", "high", "log", "choices"}))
    params = []
    for p, spec in raw.items():
        where = f"{source}: [parameters]"
        _check_path(p, fields, where)
        par = _parameter(p, spec, fields, f"{where} {p}")
        if p.startswith("sweep.params.") and design.luts != "characterize":
            raise ConfigError(f"{where} {p}: a netlist parameter needs the cell characterized; set luts = "
                              "\"characterize\" in [design]")
        for v in par.ends():
            d = _try(design, {p: v}, f"{where} {p} = {v!r}")
            if p.startswith("sweep.params."):
                _check_params(d, f"{where} {p} = {v!r}")
        params.append(par)
    conds = []
    rawc = data.get("conditions", {})
    if not isinstance(rawc, Mapping):
        raise ConfigError(f"{source}: [conditions] must be a table of path = [values]")
    n = max(1, len(design.combos()))
    for p, vals in _flat(rawc, lambda v: False).items():
        where = f"{source}: [conditions]"
        _check_path(p, fields, where)
        if p in raw:
            raise ConfigError(f"{where} {p}: is also a parameter; a field is either searched or a condition")
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"{where} {p} = {vals!r} must be a non-empty list of values")
        row = None if p.startswith("sweep.params.") else fields[p]
        vs = tuple(_value(row, v, f"{where} {p}") for v in vals)
        for v in vs:
            d = _try(design, {p: v}, f"{where} {p} = {v!r}")
            if p.startswith("sweep.params."):
                _check_params(d, f"{where} {p} = {v!r}")
        conds.append((p, vs))
        n *= len(vs)
    if n > MAX_SETTINGS:
        raise ConfigError(f"{source}: [conditions] x corners make {n} settings per trial; at most {MAX_SETTINGS}")
    name = search["name"] or path.stem
    try:
        design.replace(name=name)
    except PcmSpiceError:
        raise ConfigError(f"{source}: [search] name = {name!r} must be a plain folder name") from None
    return Space(source, text, name, search["seed"], search["trials"], search["batch"], search["sampler"],
                 tuple(search["objectives"]), search["constraints"], search["pruning"],
                 search["prune_warmup_epochs"], search["prune_startup_trials"], design, tuple(params), tuple(conds))

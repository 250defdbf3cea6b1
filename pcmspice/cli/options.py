"""Command-line options generated from the config fields' metadata (:func:`pcmspice.core.config.field_table`):
one declaration of each parameter (its type, default, range, unit and help) for the config, the CLI and the
docs; and :func:`given`, whether an option was typed on the command line."""
from __future__ import annotations

from typing import Any

import click

from pcmspice.core.config import field_table


def given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was given (on the command line or by the environment), not left at its default."""
    src = ctx.get_parameter_source(name)
    return src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")


class SpiceNumber(click.ParamType):
    """A number option read as every numeric input is (:func:`pcmspice.core.units.parse_spice_number`):
    ``--time-per-example 1.16u`` is ``1.16e-6``."""

    def __init__(self, integer: bool = False) -> None:
        self.integer = integer
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from pcmspice.core.units import parse_spice_number
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if self.integer:    # a plain integer exactly as written (a float would turn 99999999999999999999 into 1e20)
            try:
                return int(str(value).strip(), 10)
            except ValueError:
                pass
        try:
            v = parse_spice_number(value)
        except ValueError as exc:
            if self.integer:
                self.fail(f"{value!r} is not a valid integer (e.g. 8000 or, as in SPICE, 8k)", param, ctx)
            self.fail(str(exc), param, ctx)
        if self.integer:
            if not v.is_integer():
                self.fail(f"{value!r} is not a valid integer", param, ctx)
            return int(v)
        return v


def _click_type(row: dict[str, Any], choices: tuple[Any, ...] | None) -> Any:
    if choices:
        return click.Choice([str(c) for c in choices])
    base = row["type"].replace(" or None", "")
    return {"int": SpiceNumber(integer=True), "float": SpiceNumber()}.get(base, str)


def field_option(cls: type, path: str, decl: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The click settings of the option for field ``path`` (dotted, e.g. ``array.transfer_every``) of config
    class ``cls``: its type (or choices), default and help from the field's doc, unit and source.  Ranges are
    checked by the config itself, so that the error names the field and its range as everywhere else."""
    import dataclasses
    rows = {r["name"]: r for r in field_table(cls)}
    row = rows[path]
    owner = cls
    for part in path.split(".")[:-1]:
        owner = type({f.name: f for f in dataclasses.fields(owner)}[part].default_factory())
    f = {g.name: g for g in dataclasses.fields(owner)}[path.split(".")[-1]]
    choices = f.metadata.get("choices")
    words = row["doc"] or row["source"]
    unit = f" ({row['unit']})" if row["unit"] and row["unit"] != "1" else ""
    default = row["default"]
    settings: dict[str, Any] = {"type": _click_type(row, choices), "default": default,
                                "show_default": default is not None, "help": (words + unit).strip() or None}
    if isinstance(default, bool):
        settings = {"is_flag": True, "default": default, "help": settings["help"]}
    if isinstance(default, tuple):
        settings.update(type=str, default=None, show_default=False)
    return {**settings, **overrides}


#: the click types of hand-declared number options: ``type=NUMBER``, ``type=INTEGER``
NUMBER = SpiceNumber()
INTEGER = SpiceNumber(integer=True)

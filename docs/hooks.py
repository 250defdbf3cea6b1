"""MkDocs hooks of the pcmspice documentation (listed under ``hooks:`` in mkdocs.yml; not a page).

What they do, so that the reference is generated from the code and the results from the committed report:

* ``<!-- config-table: pcmspice.array.config:ArrayConfig -->`` in a page becomes the table of that config's
  fields (name, type, default, unit, allowed range, meaning, source), read from the fields' metadata
  (``param(...)`` in :mod:`pcmspice.core.config`) - the same metadata that checks a config when it is made;
  ``... without array,power -->`` leaves nested sections out (they have their own table).
* ``<!-- report-section: Verdict -->`` becomes that section of the committed example report
  (``reports/example/index.md``), its figures served from the report's own folder; ``<!-- report-generated -->``
  becomes the report's "Generated <date> by pcmspice <version> ..." line; ``report-section?:`` marks a section
  the report may lack (the page then says so instead of stopping the build).
* ``CHANGELOG.md`` (at the repository root, outside the nav) is served as ``changelog.md``, and the pages' links
  to ``../CHANGELOG.md`` and ``../reports/example/...``, which work on GitHub, are pointed at the site's copies.

A marker that names a config class or a report section that does not exist stops the build (an error, not a
silently empty table).
"""
from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "reports" / "example"
CHANGELOG = ROOT / "CHANGELOG.md"

_CONFIG_MARKER = re.compile(r"^<!-- config-table: ([\w.]+):(\w+)(?: without ([\w,]+))? -->$", re.M)
_REPORT_MARKER = re.compile(r"^<!-- report-section(\?)?: (.+?) -->$", re.M)
_GENERATED_MARKER = re.compile(r"^<!-- report-generated -->$", re.M)


# ---- files ------------------------------------------------------------------------------------------------
def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, "changelog.md", abs_src_path=str(CHANGELOG)))
    for png in sorted((EXAMPLE / "figures").glob("*.png")):
        files.append(File.generated(config, f"example/figures/{png.name}", abs_src_path=str(png)))
    return files


# ---- config tables ----------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"' if value else '""'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_default_text(v) for v in value) + "]"
    return str(value)


def _annotation(cls: type, dotted: str) -> str:
    """The annotation of field ``section.name`` of ``cls`` (nested configs followed through their defaults)."""
    *sections, last = dotted.split(".")
    for s in sections:
        f = {g.name: g for g in dataclasses.fields(cls)}[s]
        cls = type(f.default if f.default is not dataclasses.MISSING else f.default_factory())
    kind = {g.name: g for g in dataclasses.fields(cls)}[last].type
    return getattr(kind, "__name__", str(kind))


def _rows(cls: type) -> list[dict[str, Any]]:
    """The fields of ``cls``: through ``pcmspice.core.config.field_table`` when the code has it, else from
    ``Config.fields_described`` (both read the same ``param(...)`` metadata)."""
    from pcmspice.core import config as core_config

    table = getattr(core_config, "field_table", None)
    raw = table(cls) if table is not None else cls.fields_described()
    rows = []
    for r in raw:
        name = r.get("name", r.get("parameter"))
        kind = r.get("type") or _annotation(cls, str(name))
        rows.append({"name": name, "type": getattr(kind, "__name__", kind), "default": r.get("default"),
                     "unit": r.get("unit", ""), "range": r.get("range", ""), "doc": r.get("doc", ""),
                     "source": r.get("source", "")})
    return rows


def config_table(module: str, name: str, without: str | None = None) -> str:
    """The table of config ``module:name``; ``without`` names nested sections (``array,power``) left out."""
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"config-table: {module}:{name} cannot be imported ({exc})") from None
    lines = ["| parameter | type | default | unit | allowed | meaning | source of the default |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    skip = tuple(s + "." for s in (without or "").split(",") if s)
    for r in _rows(cls):
        if skip and str(r["name"]).startswith(skip):
            continue
        unit = "" if r["unit"] in ("", "1") else r["unit"]
        lines.append(f"| `{r['name']}` | {_cell(r['type'])} | `{_cell(_default_text(r['default']))}` | "
                     f"{_cell(unit)} | {_cell(r['range'])} | {_cell(r['doc'])} | {_cell(r['source'])} |")
    return "\n".join(lines)


# ---- the example report -----------------------------------------------------------------------------------
def report_section(heading: str, optional: bool = False) -> str:
    """The section of reports/example/index.md under ``## heading`` (to the next ``## ``), its own heading
    left out, sub-headings moved down one level, figure links pointed at the site's copies.  A missing
    section stops the build, unless the marker is ``report-section?`` (optional): then the page says so."""
    text = (EXAMPLE / "index.md").read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if m is None and optional:
        return (f'!!! note "Not in the committed report"\n    The committed report has no section '
                f'"{heading}": it was made without that input.\n')
    if m is None:
        raise PluginError(f"report-section: no section '## {heading}' in {EXAMPLE / 'index.md'}")
    body = m.group(1).strip("\n")
    body = re.sub(r"^(#{3,5}) ", r"#\1 ", body, flags=re.M)
    return body.replace("](figures/", "](example/figures/")


def report_generated() -> str:
    text = (EXAMPLE / "index.md").read_text(encoding="utf-8")
    m = re.search(r"^Generated .+$", text, flags=re.M)
    if m is None:
        raise PluginError(f"report-generated: no 'Generated ...' line in {EXAMPLE / 'index.md'}")
    return f"*The committed report: {m.group(0)}*"


# ---- pages ------------------------------------------------------------------------------------------------
def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri == "changelog.md":
        return markdown.replace("](docs/", "](")
    markdown = _CONFIG_MARKER.sub(lambda m: config_table(m.group(1), m.group(2), m.group(3)), markdown)
    markdown = _REPORT_MARKER.sub(lambda m: report_section(m.group(2), bool(m.group(1))), markdown)
    markdown = _GENERATED_MARKER.sub(lambda m: report_generated(), markdown)
    markdown = markdown.replace("](../CHANGELOG.md", "](changelog.md")
    return markdown.replace("](../reports/example/figures/", "](example/figures/")

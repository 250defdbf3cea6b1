"""Documents as a list of blocks, rendered to Markdown and to one self-contained HTML page.

A block is a heading, paragraph, list, verdict box, table, image or collapsed
code section.  The power layer writes power.md with it and the report layer
index.md and index.html; the HTML has no external resources and marks on
``<body data-images-loaded>`` whether every image loaded (the browser test reads it).
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Block:
    """One piece of a document; which fields it uses depends on ``kind``."""
    kind: str                  # h1 h2 h3 p ul table img details verdict
    text: str = ""
    items: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    src: str = ""


def _md_inline(text: str) -> str:
    return text


def _html_inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    return t


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    """GitHub-flavoured Markdown (collapsed sections as <details>)."""
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out += ["#" * int(b.kind[1]) + " " + b.text, ""]
        elif b.kind == "p":
            out += [_md_inline(b.text), ""]
        elif b.kind in ("ul", "verdict"):
            out += [f"- {_md_inline(i)}" for i in b.items] + [""]
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
            out.append("|" + "|".join(" --- " for _ in b.columns) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
            out.append("")
        elif b.kind == "img":
            out += [f"![{b.text}]({b.src})", ""]
        elif b.kind == "details":
            out += [f"<details><summary>{html.escape(b.text)}</summary>", "", "```", b.src, "```", "", "</details>",
                    ""]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.86em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}
.verdict{background:#f4f9f4;border:1px solid #9c9;border-radius:6px;padding:.6em 1.2em;font-size:1.05em}
.verdict li{margin:.3em 0}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em}
details{margin:.4em 0}code{background:#f3f3f3;padding:0 .2em}.small{color:#666;font-size:.85em}
"""

# sets data-images-loaded on <body> once every image has loaded (checked by the browser test)
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-loaded', ok ? 'all' : 'broken');
  document.body.setAttribute('data-images-count', String(imgs.length));
});
"""


def render_html(blocks: Sequence[Block], title: str) -> str:
    """One HTML page with inline CSS and script, no external resources."""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
           f"<script>{_SCRIPT}</script></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{_html_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{_html_inline(b.text)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_html_inline(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "verdict":
            out.append('<div class="verdict"><ul>' + "".join(f"<li>{_html_inline(i)}</li>" for i in b.items)
                       + "</ul></div>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in b.columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "img":
            out.append(f'<figure><img src="{html.escape(b.src)}" alt="{html.escape(b.text)}" loading="eager">'
                       f'<figcaption class="small">{html.escape(b.text)}</figcaption></figure>')
        elif b.kind == "details":
            out.append(f"<details><summary>{html.escape(b.text)}</summary><pre>{html.escape(b.src)}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def table_from_pairs(pairs: list[tuple[str, str]], head=("quantity", "value")) -> Block:
    """A two-column table from (name, value) pairs."""
    return Block("table", columns=list(head), rows=[[a, b] for a, b in pairs])


"""What may reach ngspice: checked names, quotable paths, and a scan of every netlist and model file.

A netlist is code: ngspice runs the commands of a ``.control`` ... ``.endc`` block (``shell`` among
them), a line starting with ``*#`` is a control line, and a file whose title is ``*ng_script`` is a
script.  So nothing a user supplies is written into a netlist unchecked:

* a name (technology, corner, model, parameter prefix, model file) matches :data:`NAME`
  (``[A-Za-z_][A-Za-z0-9_.-]*``, at most 64 characters), see :func:`check_name`;
* a number is finite and in its declared range (``*@param`` lines, :mod:`pcmspice.spice.netlist`);
* a path exists, is a regular file (or folder) and holds none of the characters ngspice cannot
  quote (quotes, backslash, ``;``, ``$``, control characters), and is written quoted
  (:func:`quoted`); spaces are fine.

The last line of defence is :func:`check_netlist`, run on the final text by the renderer and again
by the engine before ngspice sees it: it refuses any line that starts (after white space) with a
command (``.control``, ``.endc``, ``.exec``, ``*#``, ``*ng_script``, ``shell``, ...) and any
``.include`` / ``.lib`` of a file that is not one of the technology's model files or that holds such
a line itself (:func:`check_model_file`, which follows nested includes).  pcmspice's own templates
contain no control blocks (tests/test_security.py checks every one).
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path

from pcmspice.core.errors import SpiceError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
NAME_RULE = "a name of at most 64 letters, digits, '_', '.' or '-' that starts with a letter or '_'"

# characters ngspice cannot take inside a quoted .include path (checked with ngspice 39: a ';' or ' $'
# starts a comment, a backslash is an escape), plus quotes and control characters
_BAD_PATH = re.compile(r"[\"'\\;$\x00-\x1f\x7f]")

# what ngspice treats as a line break (and more: Python's splitlines set); the scan maps them all to
# "\n" and then anchors at line starts
_BREAKS = str.maketrans({c: "\n" for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})
# a command: a control block, a control line, a script title, or an interpreter command as first word
_COMMAND = re.compile(r"^[^\S\n]*(?P<cmd>\.control|\.endc|\.exec|\.osdi|\*#|\*ng_script"
                      r"|(?:shell|pre_osdi|codemodel)(?![A-Za-z0-9_]))", re.IGNORECASE | re.MULTILINE)
# an include: ngspice takes any word starting with .inc / .lib (ciprefix)
_INCLUDE = re.compile(r"^[^\S\n]*(?P<cmd>\.inc\S*|\.lib\S*)(?P<arg>[^\n]*)", re.IGNORECASE | re.MULTILINE)
_MAX_DEPTH = 8


def check_name(value: object, what: str, where: str = "") -> str:
    """``value`` if it is a safe SPICE name, else a one-line :class:`SpiceError` naming it."""
    if isinstance(value, str) and NAME.fullmatch(value):
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise SpiceError(f"{where + ': ' if where else ''}{what} = {shown} is invalid; expected {NAME_RULE}",
                     value=value)


def check_path(path: str | Path, what: str, kind: str = "file") -> Path:
    """``path`` as an absolute Path if it exists, is a ``kind`` ("file" or "dir") and ngspice can quote it."""
    p = Path(path)
    with contextlib.suppress(RuntimeError):       # ~user of an unknown user stays as it is
        p = p.expanduser()
    _quotable(str(p), what)
    if not is_kind(p, kind):
        state = "does not exist" if not is_kind(p, "any") else \
            f"is not a {'regular file' if kind == 'file' else 'folder'}"
        raise SpiceError(f"{what} {str(p)!r} {state}", value=str(p))
    real = p.resolve()
    _quotable(str(real), what)                    # a symbolic link may lead somewhere unquotable
    return real


def _quotable(text: str, what: str) -> None:
    bad = _BAD_PATH.search(text)
    if bad:
        raise SpiceError(f"{what} {text!r} holds the character {bad.group(0)!r}, which a netlist cannot quote "
                         "(move it to a path without quotes, backslashes, ';', '$' or control characters)",
                         value=text)


def is_kind(p: Path, kind: str) -> bool:
    """``p`` is a regular file / a folder / anything; False for names the system refuses (too long, ...)."""
    try:
        return p.is_file() if kind == "file" else p.is_dir() if kind == "dir" else p.exists()
    except (OSError, ValueError):
        return False


def quoted(path: str | Path, what: str = "model file") -> str:
    """The checked ``path`` in double quotes, as an ``.include`` takes it."""
    return f'"{check_path(path, what)}"'


def _lines(text: str) -> str:
    """``text`` with every line break as one "\n" (line numbers are counted on it)."""
    if text.isascii() and not re.search(r"[\r\x0b\x0c\x1c-\x1e]", text):
        return text
    return text.replace("\r\n", "\n").translate(_BREAKS)


normalized_lines = _lines


def _line_no(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _include_target(arg: str) -> tuple[str | None, int]:
    """(path, number of arguments) of an .include / .lib line's argument text."""
    arg = arg.strip()
    if arg[:1] in "\"'":
        end = arg.find(arg[0], 1)
        if end < 0:
            return None, 1
        return arg[1:end], 1 + len(arg[end + 1:].split())
    words = arg.split()
    return (words[0] if words else None), len(words)


def _commands(text: str, where: str) -> None:
    m = _COMMAND.search(text)
    if m:
        line = _line_no(text, m.start("cmd"))
        raise SpiceError(f"{where}, line {line}: starts with '{m.group('cmd')}', a command ngspice would run; "
                         "pcmspice refuses netlists and model files with command blocks", value=m.group("cmd"))


def _includes(text: str, where: str, base: Path | None) -> Iterable[tuple[Path, int]]:
    """The files ``text`` includes (a one-word ``.lib NAME`` is a section of a library, not an include)."""
    for m in _INCLUDE.finditer(text):
        cmd = m.group("cmd").lower()
        target, nargs = _include_target(m.group("arg"))
        line = _line_no(text, m.start("cmd"))
        if cmd.startswith(".lib") and nargs <= 1:     # .lib SECTION starts a section of a library file
            continue
        if target is None or _BAD_PATH.search(target):
            raise SpiceError(f"{where}, line {line}: {m.group('cmd')} of {target!r} cannot be checked", value=target)
        p = Path(target)
        if not p.is_absolute():
            if base is None:
                raise SpiceError(f"{where}, line {line}: {m.group('cmd')} of the relative path {target!r} "
                                 "(a netlist includes absolute paths only)", value=target)
            p = base / p
        yield p, line


_scanned: dict[tuple[str, int, int], None] = {}


def check_model_file(path: str | Path, root: Path | None = None, _depth: int = 0,
                     _open: frozenset[Path] = frozenset()) -> Path:
    """Refuse a model file (and what it includes, which must lie under ``root``, by default its own
    folder) that holds a command line.  A clean file is remembered by path, size and time.  A library
    that loads one of its own sections (``.lib "models.lib" mos`` inside models.lib, as foundry
    libraries do) is being scanned whole already, so such a loop is followed once."""
    p = check_path(path, "model file")
    root = (root or p.parent).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key in _scanned:
        return p
    if _depth > _MAX_DEPTH:
        raise SpiceError(f"{p}: includes nest more than {_MAX_DEPTH} deep", value=str(p))
    text = _lines(p.read_bytes().decode("latin-1"))
    _commands(text, str(p))
    for inc, line in _includes(text, str(p), p.parent):
        q = inc.resolve()
        if not q.is_relative_to(root):
            raise SpiceError(f"{p}, line {line}: includes {inc}, outside the technology's folder {root}",
                             value=str(inc))
        if not q.is_file():
            raise SpiceError(f"{p}, line {line}: includes {inc}, which is not a regular file", value=str(inc))
        if q != p and q not in _open:
            check_model_file(q, root, _depth + 1, _open | {p})
    if len(_scanned) > 1024:
        _scanned.clear()
    _scanned[key] = None
    return p


def model_file_closure(path: Path) -> list[Path]:
    """``path`` and every file it includes, nested (resolved, each once, ``path`` first): the files a copy of a
    library must hold.  Scan them with :func:`check_model_file` first."""
    seen: list[Path] = []
    todo = [Path(path).resolve()]
    while todo:
        p = todo.pop(0)
        if p in seen:
            continue
        seen.append(p)
        text = _lines(p.read_bytes().decode("latin-1"))
        todo += [inc.resolve() for inc, _ in _includes(text, str(p), p.parent)]
    return seen


def check_netlist(text: str, name: str = "netlist", allowed: Iterable[Path] | None = None) -> None:
    """Refuse a netlist that holds a command or includes a file that is not a clean model file
    (with ``allowed``: not one of these files)."""
    text = _lines(text)
    _commands(text, f"{name}: netlist")
    ok = None if allowed is None else {Path(a).resolve() for a in allowed}
    for inc, line in _includes(text, f"{name}: netlist", None):
        q = inc.resolve()
        if ok is not None and q not in ok:
            raise SpiceError(f"{name}: netlist, line {line}: includes {inc}, which is not a model file of the "
                             "technology", netlist=name, value=str(inc))
        check_model_file(q)

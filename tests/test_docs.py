"""The documentation works as written.

* Every ```bash or ```python block of README.md and docs/*.md that is preceded by a ``<!-- doc-test -->``
  line runs, in a fresh temporary folder (with ``characterization/`` and ``benchmarks/`` copied in, as in
  the repository root), and must exit with status 0.  ``pcmspice`` there runs this checkout's code, so a
  worktree is tested against itself and not against whatever the virtual environment's script points at.
* README.md's relative links point at files that exist, and their ``#anchors`` at headings that exist.
* ``mkdocs build --strict`` passes (skipped when mkdocs is not installed: ``pip install -e ".[docs]"``).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- doc-test -->"
BLOCK_TIMEOUT_SECONDS = 180     # marked blocks take well under 20 s; the margin is for a loaded machine
COPIED_FOLDERS = ("characterization", "benchmarks")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int          # 1-based line of the opening fence
    lang: str
    code: str
    tested: bool

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced ```bash / ```python blocks of a page, each with whether the marker line precedes it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(bash|python)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        prev = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        out.append(Block(page, i + 1, m.group(1), "\n".join(lines[i + 1:j]) + "\n", prev == MARKER))
        i = j + 1
    return out


ALL_BLOCKS = [b for p in PAGES for b in blocks(p)]
TESTED = [b for b in ALL_BLOCKS if b.tested]


def test_some_examples_are_marked():
    assert len(TESTED) >= 10, [b.name for b in TESTED]
    assert all(b.lang in ("bash", "python") for b in TESTED)


def _environment(tmp: Path) -> dict[str, str]:
    """PATH with a ``pcmspice`` that runs this checkout's CLI, then the venv's bin; PYTHONPATH = the checkout."""
    bin_dir = tmp / "_bin"
    bin_dir.mkdir()
    shim = bin_dir / "pcmspice"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pcmspice.cli "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("block", TESTED, ids=[b.name for b in TESTED])
def test_example_runs(block: Block, tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    for folder in COPIED_FOLDERS:
        shutil.copytree(ROOT / folder, work / folder)
    env = _environment(tmp_path)
    if block.lang == "bash":
        script = tmp_path / "example.sh"
        script.write_text("set -euo pipefail\n" + block.code)
        cmd = ["bash", str(script)]
    else:
        script = tmp_path / "example.py"
        script.write_text(block.code)
        cmd = [sys.executable, str(script)]
    try:
        res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                             timeout=BLOCK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.name}: the example did not finish in {BLOCK_TIMEOUT_SECONDS} s:\n{block.code}")
    assert res.returncode == 0, (f"{block.name}: exit status {res.returncode}\n--- example\n{block.code}"
                                 f"--- stdout (end)\n{res.stdout[-2000:]}\n--- stderr (end)\n{res.stderr[-3000:]}")


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default slugify)."""
    text = re.sub(r"[`*_]", "", heading)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)     # no headings inside code blocks
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M)}


def test_readme_links_resolve():
    readme = ROOT / "README.md"
    links = re.findall(r"\]\(([^)\s]+)\)", readme.read_text(encoding="utf-8"))
    relative = [link for link in links if not re.match(r"^[a-z]+:", link) and not link.startswith("#")]
    assert relative, "README.md links to no docs page"
    bad = []
    for link in relative:
        path, _, anchor = link.partition("#")
        target = (readme.parent / path).resolve()
        if not target.exists():
            bad.append(f"{link}: {path} does not exist")
        elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
            bad.append(f"{link}: no heading '#{anchor}' in {path}")
    assert not bad, "\n".join(bad)


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES[1:] if p.name not in nav]
    assert not missing, f"pages missing from the nav of mkdocs.yml: {missing}"


def test_mkdocs_build_strict(tmp_path: Path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            pytest.skip(f"{module} is not installed (pip install -e \".[docs]\"); the docs build is not checked")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                          "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"mkdocs build --strict failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "python-api" / "index.html").is_file()

"""The documentation works as written.

* Every ```bash or ```python block of README.md and docs/*.md that is preceded by a ``<!-- doc-test -->``
  line runs, in a fresh temporary folder (with ``characterization/`` and ``benchmarks/`` copied in, as in
  the repository root), and must exit with status 0.  ``pcmspice`` there runs this checkout's code, so a
  worktree is tested against itself and not against whatever the virtual environment's script points at.
* The blocks of a page marked ``<!-- doc-test: NAME -->`` are one chain: they run in page order in one
  folder, each on what the ones before it wrote (the tutorial, end to end).  After the tutorial, every
  top-level key of every ``summary.json`` it wrote must be listed in docs/outputs.md, and its training must
  have transferred into the PCMs.
* docs/results.md quotes the committed example report's headline numbers as they are in its report.json.
* README.md's relative links point at files that exist, and their ``#anchors`` at headings that exist.
* ``mkdocs build --strict`` passes (skipped when mkdocs is not installed: ``pip install -e ".[docs]"``).
"""
from __future__ import annotations

import importlib.util
import json
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
CHAIN_MARKER = re.compile(r"^<!-- doc-test: ([\w-]+) -->$")
BLOCK_TIMEOUT_SECONDS = 180     # marked blocks take well under 20 s; the margin is for a loaded machine
COPIED_FOLDERS = ("characterization", "benchmarks")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int          # 1-based line of the opening fence
    lang: str
    code: str
    tested: bool
    chain: str = ""    # the chain a ``<!-- doc-test: NAME -->`` block belongs to

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
        chain = CHAIN_MARKER.match(prev)
        out.append(Block(page, i + 1, m.group(1), "\n".join(lines[i + 1:j]) + "\n", prev == MARKER,
                         chain.group(1) if chain else ""))
        i = j + 1
    return out


ALL_BLOCKS = [b for p in PAGES for b in blocks(p)]
TESTED = [b for b in ALL_BLOCKS if b.tested]
CHAINS: dict[str, list[Block]] = {}
for _b in ALL_BLOCKS:
    if _b.chain:
        CHAINS.setdefault(f"{_b.page.relative_to(ROOT)}:{_b.chain}", []).append(_b)


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


def _work_folder(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for folder in COPIED_FOLDERS:
        shutil.copytree(ROOT / folder, work / folder)
    return work


def _run_block(block: Block, work: Path, env: dict[str, str], tmp_path: Path) -> None:
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


@pytest.mark.slow
@pytest.mark.parametrize("block", TESTED, ids=[b.name for b in TESTED])
def test_example_runs(block: Block, tmp_path: Path):
    work = _work_folder(tmp_path)
    _run_block(block, work, _environment(tmp_path), tmp_path)


def test_the_tutorial_is_one_chain():
    assert "docs/tutorial.md:tutorial" in CHAINS
    steps = CHAINS["docs/tutorial.md:tutorial"]
    assert len(steps) >= 6 and not any(b.tested for b in steps)
    code = "".join(b.code for b in steps)
    for command in ("simulate", "characterize", "train", "power", "report", "compare"):
        assert f"pcmspice {command} " in code, f"the tutorial does not run pcmspice {command}"


def _summary_keys(work: Path) -> dict[str, set[str]]:
    """The top-level keys of every summary.json (and report.json) a chain wrote, by file."""
    out = {}
    for f in sorted([*work.rglob("summary.json"), *work.rglob("report.json")]):
        rel = f.relative_to(work)
        if rel.parts[0] in COPIED_FOLDERS or "batches" in rel.parts:
            continue
        out[str(rel)] = set(json.loads(f.read_text()))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("chain", sorted(CHAINS), ids=sorted(CHAINS))
def test_chain_runs(chain: str, tmp_path: Path):
    work = _work_folder(tmp_path)
    env = _environment(tmp_path)
    for block in CHAINS[chain]:
        _run_block(block, work, env, tmp_path)
    if chain != "docs/tutorial.md:tutorial":
        return
    # the tutorial's settings exercise the PCM: its trainings transferred g into the PCMs (see its text)
    for run in ("designs/default/train-s0", "designs/c50/train-s1"):
        s = json.loads((work / run / "summary.json").read_text())
        assert s["transfers_total"] >= 5 and s["pcm_drift_ratio_mean"] < 1.0, (run, s["transfers_total"])
        assert s["pcm_trained"] is True, (run, s.get("pcm_caveat"))
    # the output reference lists every key the commands wrote
    listed = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", (ROOT / "docs" / "outputs.md").read_text()))
    keys = _summary_keys(work)
    assert len(keys) >= 8, sorted(keys)
    missing = {f: sorted(k - listed) for f, k in keys.items() if k - listed}
    assert not missing, f"summary keys not listed in docs/outputs.md: {missing}"


def test_results_page_quotes_the_example_report():
    """The headline numbers docs/results.md states are the committed report's own (report.json)."""
    head = json.loads((ROOT / "reports" / "example" / "report.json").read_text())["headline"]
    page = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    quoted = {
        "analog test accuracy": f"{100 * head['analog_test_accuracy']:.2f} %",
        "software test accuracy": f"{100 * head['baseline_test_accuracy']:.2f} %",
        "energy per training example": f"{1e9 * head['energy_per_example_joules']:.1f} nJ",
        "GOP/s/W (training)": f"{head['gops_per_watt_training']:,.0f} GOP/s/W",
        "TOP/s/mm² (training)": f"{head['tops_per_mm2_training']:.4f} TOP/s/mm²",
    }
    wrong = {k: v for k, v in quoted.items() if v not in page.replace("**", "")}
    assert not wrong, f"docs/results.md does not state the example report's {wrong}"
    assert "<!-- report-section: Verdict -->" in page
    assert re.search(r"<!-- report-section\??: Accuracy over seeds: verdict -->", page)


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


def _flat_fields(cls: type, prefix: str = "") -> list[str]:
    """Every field of a config, nested configs flattened as ``section.name`` (read from the dataclass itself)."""
    import dataclasses
    names = []
    for f in dataclasses.fields(cls):
        d = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        if dataclasses.is_dataclass(d):
            names += _flat_fields(type(d), prefix + f.name + ".")
        else:
            names.append(prefix + f.name)
    return names


def test_config_tables_list_every_field():
    """The generated tables of docs/config.md hold one row per config field (none dropped, none invented)."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e \".[docs]\")")
    spec = importlib.util.spec_from_file_location("pcmspice_docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    markers = hooks._CONFIG_MARKER.findall(page)
    assert len(markers) >= 6, markers
    for module, name, without in markers:
        if module.startswith("pcmspice.torch") and importlib.util.find_spec("torch") is None:
            continue
        cls = getattr(importlib.import_module(module), name)
        table = hooks.config_table(module, name, without or None)
        rows = re.findall(r"^\| `([\w.]+)` \|", table, flags=re.M)
        skip = tuple(s + "." for s in (without or "").split(",") if s)
        expected = [n for n in _flat_fields(cls) if not (skip and n.startswith(skip))]
        assert rows == expected, (name, sorted(set(rows) ^ set(expected)))

"""The dependency rule of docs/development.md, read off the import graph of the source.

Every ``import`` and ``from ... import`` of a pcmspice module is an edge, wherever it stands (a
function-level import is a dependency too), and so is every command of the CLI's lazy registry.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "pcmspice"
LAYERS = ["core", "lut", "spice", "circuits", "testbenches", "characterize", "array", "train", "torch", "cosim",
          "power", "report", "pipeline", "cli"]
# the SPICE branch and the array branch meet only through lut
NEVER = {"array": {"spice", "circuits", "testbenches", "characterize"},
         "train": {"spice", "circuits", "testbenches", "characterize"},
         "torch": {"spice", "circuits", "testbenches", "characterize"}}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(mod: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".")[: -node.level] if not mod.endswith("__init__") else mod.split(".")
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> the pcmspice modules it imports (``from pkg import name`` counts name when it is a module)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        edges = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.startswith("pcmspice")}
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, node)
                if not target.startswith("pcmspice"):
                    continue
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    edges.add(sub if sub in modules else target)
            elif isinstance(node, ast.Dict) and mod == "pcmspice.cli.main":
                for v in node.values:   # the lazy command registry: {"name": ("pcmspice.cli.x", "attr")}
                    if isinstance(v, ast.Tuple) and isinstance(v.elts[0], ast.Constant):
                        edges.add(v.elts[0].value)
        graph[mod] = {e for e in edges if e != mod}
    return graph


def layer_of(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


GRAPH = import_graph()


def test_every_module_is_in_a_layer():
    stray = [m for m in GRAPH if m != "pcmspice" and layer_of(m) is None and not m.startswith("pcmspice.data")]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"


def test_cli_registry_names_real_modules():
    missing = [e for e in GRAPH["pcmspice.cli.main"] if e not in GRAPH and e.startswith("pcmspice.cli")]
    assert not missing


def violations(graph: dict[str, set[str]], mod: str) -> list[str]:
    """What breaks the rule in ``mod``'s imports."""
    out = []
    own = LAYERS.index(layer_of(mod))
    for target in sorted(graph[mod]):
        if target == "pcmspice":
            continue   # only __version__ (the root package imports nothing at import time)
        t = layer_of(target)
        if t is None:
            out.append(f"{mod} imports {target}, which is in no layer")
        elif LAYERS.index(t) > own:
            out.append(f"{mod} ({layer_of(mod)}) imports {target} ({t}), a later layer")
        elif t in NEVER.get(layer_of(mod), ()):
            out.append(f"{mod} imports {target}: {layer_of(mod)} never imports {t}")
    return out


@pytest.mark.parametrize("mod", sorted(m for m in GRAPH if layer_of(m)))
def test_no_module_imports_a_later_layer(mod):
    assert not violations(GRAPH, mod)


def test_the_checker_finds_violations():
    g = {"pcmspice.lut.bad": {"pcmspice.train.loop", "pcmspice.core.errors"},
         "pcmspice.array.bad": {"pcmspice.spice.engine", "pcmspice.lut.format"},
         "pcmspice.report.ok": {"pcmspice.train.loop", "pcmspice.power.model", "pcmspice"}}
    assert violations(g, "pcmspice.lut.bad") == [
        "pcmspice.lut.bad (lut) imports pcmspice.train.loop (train), a later layer"]
    assert violations(g, "pcmspice.array.bad") == [
        "pcmspice.array.bad imports pcmspice.spice.engine: array never imports spice"]
    assert violations(g, "pcmspice.report.ok") == []


def test_the_root_package_imports_no_layer_at_import_time():
    tree = ast.parse((ROOT / "__init__.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n for n in top if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("pcmspice")]
    uses_root = {m for m, es in GRAPH.items() if "pcmspice" in es}
    for m in uses_root:
        src = (ROOT.parent / (m.replace(".", "/") + ".py"))
        src = src if src.exists() else ROOT.parent / m.replace(".", "/") / "__init__.py"
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "pcmspice" and node.level == 0:
                names = [a.name for a in node.names if f"pcmspice.{a.name}" not in GRAPH]   # not a layer package
                assert names in ([], ["__version__"]), f"{m} imports {names} from the root package"


def test_no_import_cycles():
    graph = {m: {e for e in es if e in GRAPH and e != "pcmspice"} for m, es in GRAPH.items() if m != "pcmspice"}
    # a package's __init__ that re-exports its modules is not a cycle with them: drop edges module -> own package
    for m in graph:
        graph[m] = {e for e in graph[m] if not m.startswith(e + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for e in sorted(graph[m]):
            if state.get(e) == 1:
                cycle = stack[stack.index(e):] + [e]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if e not in state:
                visit(e)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_plugins_are_registered_explicitly():
    """No module loads code by a name held in a string, except the CLI's lazy command table (checked above) and
    the root package's table of public names (tests/test_api.py)."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        if "import_module(" in text or "__import__(" in text:
            if _module_name(path) not in ("pcmspice.cli.main", "pcmspice"):
                offenders.append(_module_name(path))
    assert not offenders


def test_no_module_over_500_lines():
    long = {_module_name(p): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long, f"modules over 500 lines: {long}"


def test_every_layer_says_what_it_does_and_may_import():
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / layer / "__init__.py").read_text()))
        assert doc and len(doc) > 80, f"pcmspice/{layer}/__init__.py needs a docstring saying what the layer does"
        assert "import" in doc, f"pcmspice/{layer}/__init__.py: say what the layer may import"

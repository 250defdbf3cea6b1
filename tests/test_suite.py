"""The test suite checks itself: every test has a time limit, the slowest are listed, no test asserts a
wall-clock time (the suite runs on shared machines: timing belongs in benchmarks/)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TIMERS = {"time", "perf_counter", "monotonic", "process_time", "perf_counter_ns", "monotonic_ns", "time_ns"}


def test_every_test_has_a_time_limit_and_the_slowest_are_listed(request):
    cfg = request.config
    assert cfg.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed (pip install -e '.[test]')"
    default = float(cfg.getini("timeout"))
    assert 0 < default <= 600
    assert "--durations=15" in cfg.getini("addopts")
    from conftest import SLOW_TIMEOUT_SECONDS
    assert SLOW_TIMEOUT_SECONDS > default
    for item in request.session.items:   # the slow tests of this session have a larger limit of their own
        if item.get_closest_marker("slow"):
            limit = item.get_closest_marker("timeout")
            assert limit is not None and limit.args[0] >= SLOW_TIMEOUT_SECONDS, item.nodeid


def _timer_call(node: ast.AST) -> bool:
    """``time.perf_counter()``, ``time.time()``, ``perf_counter()``, ... anywhere in ``node``."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            if (isinstance(f, ast.Attribute) and f.attr in TIMERS and isinstance(f.value, ast.Name)
                    and f.value.id == "time") or (isinstance(f, ast.Name) and f.id in TIMERS - {"time"}):
                return True
    return False


def wall_clock_asserts(source: str) -> list[int]:
    """Line numbers of the asserts that compare a wall-clock reading (a timer call, or a name that holds one)."""
    tree = ast.parse(source)
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        timed: set[str] = set()
        for n in ast.walk(fn):
            if isinstance(n, ast.Assign) and _timer_call(n.value):
                timed |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        for n in ast.walk(fn):
            if isinstance(n, ast.Assert) and any(isinstance(c, ast.Compare) for c in ast.walk(n.test)):
                names = {x.id for x in ast.walk(n.test) if isinstance(x, ast.Name)}
                if _timer_call(n.test) or names & timed:
                    found.append(n.lineno)
    return sorted(set(found))


def test_the_wall_clock_check_finds_what_it_should():
    bad = ("import time\ndef test_a():\n    t0 = time.perf_counter()\n    took = time.perf_counter() - t0\n"
           "    assert took < 3.0\n    assert time.time() - t0 < 1\n")
    assert wall_clock_asserts(bad) == [5, 6]
    good = "import time\ndef test_b():\n    t0 = time.monotonic()\n    assert 1 < 2\n    time.sleep(0.1)\n"
    assert wall_clock_asserts(good) == []


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda p: p.name)
def test_no_test_asserts_a_wall_clock_time(path):
    lines = wall_clock_asserts(path.read_text())
    assert not lines, f"{path.name} asserts wall-clock times at lines {lines}: move the timing to benchmarks/"

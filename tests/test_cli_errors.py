"""Option and argument errors of every command are one line too (click's own usage errors included)."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args, words", [
    (["train", "--epochs", "zero"], ["'--epochs'", "'zero' is not a valid integer", "pcmspice train --help"]),
    (["train", "--activation", "gelu"], ["'--activation'", "'gelu'"]),
    (["nosuch"], ["No such command 'nosuch'", "pcmspice --help"]),
    (["characterize"], ["Missing argument 'SWEEP'"]),
])
def test_usage_errors_are_one_line_exit_2(args, words, tmp_path):
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True, cwd=tmp_path,
                       timeout=60)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: "), p.stderr
    for w in words:
        assert w in p.stderr


def test_out_naming_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "train", "--dataset", "digits", "--out", "afile"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "afile" in p.stderr and "is a file" in p.stderr

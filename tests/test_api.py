"""The public Python API: ``import pcmspice`` is cheap, and every name it promises resolves."""
from __future__ import annotations

import subprocess
import sys

import pcmspice


def test_every_public_name_resolves():
    for name in pcmspice.__all__:
        assert getattr(pcmspice, name) is not None, name
    assert pcmspice.load_luts is pcmspice.lut.load_lut_set
    assert pcmspice.train_network is pcmspice.train.train


def test_import_pcmspice_loads_no_layer():
    code = "import sys, pcmspice; print(sorted(m for m in sys.modules if m.startswith('pcmspice.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_name_is_an_attribute_error():
    try:
        pcmspice.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("no AttributeError")

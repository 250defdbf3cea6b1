"""The public Python API: ``import pcmspice`` is cheap, and every name it promises resolves."""
from __future__ import annotations

import subprocess
import sys

import pcmspice


def test_every_public_name_resolves():
    import importlib
    import importlib.metadata
    import inspect
    assert set(pcmspice.__all__) == {"__version__", *pcmspice._EXPORTS} and dir(pcmspice) == sorted(pcmspice.__all__)
    assert pcmspice.__version__ == importlib.metadata.version("pcmspice")
    for name, (module, attr) in pcmspice._EXPORTS.items():
        obj = getattr(pcmspice, name)
        assert obj is getattr(importlib.import_module(module), attr), name
        assert inspect.isclass(obj) or inspect.isfunction(obj), (name, obj)
        # defined in the layer it is exported from (pcmspice.<layer>...), not re-exported from elsewhere
        assert obj.__module__.split(".")[:2] == module.split(".")[:2], (name, obj.__module__)
    assert pcmspice.load_luts is pcmspice.lut.load_lut_set
    assert pcmspice.train_network is pcmspice.train.train
    assert issubclass(pcmspice.ConfigError, pcmspice.PcmSpiceError)
    # and they work together: the committed LUTs load as a LutSet
    assert isinstance(pcmspice.load_luts(pcmspice.default_lut_dir()), pcmspice.LutSet)


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


SCRIPT = """
from pcmspice import characterize as ch
from pcmspice.core import paths

def main():
    cfg = ch.SweepConfig.from_toml(paths.default_sweep("demo")).replace(n_cells=4, pcm_devices=4)
    res = ch.run_sweep(cfg, "OUT", jobs=2, progress=False, figures=False)
    print("done", res.computed)
"""


def test_a_parallel_script_with_the_main_guard_works_and_without_it_says_why(tmp_path):
    (tmp_path / "guarded.py").write_text(SCRIPT.replace("OUT", "out1") + '\nif __name__ == "__main__":\n    main()\n')
    (tmp_path / "bare.py").write_text(SCRIPT.replace("OUT", "out2") + "\nmain()\n")
    ok = subprocess.run([sys.executable, "guarded.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and "done 2" in ok.stdout, ok.stderr[-800:]
    bare = subprocess.run([sys.executable, "bare.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert bare.returncode == 1
    last = bare.stderr.strip().splitlines()[-1]
    assert last.startswith("pcmspice.core.errors.PcmSpiceError: the worker processes stopped before they started")
    assert 'if __name__ == "__main__":' in last
    assert "BrokenProcessPool" not in bare.stderr and bare.stderr.count("Traceback") == 1

import os
import signal

import pytest

# A suite started in the background by a non-interactive shell (`./go test &`) inherits SIGINT ignored
# (POSIX: asynchronous commands ignore it), and so would every command the Ctrl-C tests start, which
# then finish instead of stopping.  Python's own handler here means the commands start with the default
# disposition (an exec resets a handler, not an ignore), as they do from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def g65():
    from pcmspice.spice import tech as tech
    return tech.load("generic65")


@pytest.fixture(scope="session")
def run65(g65):
    from pcmspice.circuits import c3t1c as cell
    return cell.Run(g65, "tt", 27.0)


#: the sweep fields of a tiny characterization (4 cells, 4 PCM devices: seconds), for design-file tests
TINY_SWEEP = """n_cells = 4
cells_per_netlist = 4
pcm_devices = 4
pcm_pulses = 8
pcm_cycles = 2
step_points = 5
vc_points = 21
"""

#: the training task of those tests: digits, one epoch on 200 examples, one seed
TINY_TASK = """[task]
dataset = "digits"
epochs = 1
max_train = 200
max_test = 100
seeds = [0]
"""


#: the time limit of a test marked slow that does not mark its own (the default of every other test, 600 s, is
#: pytest-timeout's `timeout` in pyproject.toml)
SLOW_TIMEOUT_SECONDS = 1200


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_SECONDS))


@pytest.fixture(autouse=True)
def _lut_cache(tmp_path_factory, monkeypatch):
    """Every test's LUT caches are fresh temporary folders (never the user's ~/.cache/pcmspice/luts or cosim)."""
    monkeypatch.setenv("PCMSPICE_LUT_CACHE", str(tmp_path_factory.mktemp("lut-cache")))
    monkeypatch.setenv("PCMSPICE_COSIM_CACHE", str(tmp_path_factory.mktemp("cosim-cache")))

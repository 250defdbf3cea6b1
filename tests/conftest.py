import os

import pytest

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

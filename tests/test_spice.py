"""The engine: both paths agree, and every failure is one clear SpiceError."""
import subprocess
import sys

import numpy as np
import pytest

from pcmspice.circuits import c3t1c as cell
from pcmspice.core.errors import SpiceError
from pcmspice.spice import engine as spice


def _rc_netlist():
    return ("* rc step\nV1 in 0 PULSE(0 1 1n 1n 1n 20n 40n)\nR1 in out 1k\nC1 out 0 1p\n"
            ".tran 0.1n 40n 0 0.1n\n.end\n")


def test_shared_and_subprocess_agree_on_a_transistor_netlist(g65):
    text, _ = cell.Run(g65).render("testbenches/3t1c_dc.cir.j2", cells=cell._cells(cell.nominal_mismatch(2)),
                                   read_on=True)
    a = spice.run(text, "dc", engine="shared")
    b = spice.run(text, "dc", engine="subprocess")
    assert set(a.vectors) == set(b.vectors)
    for k in a.vectors:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-18)


def test_selected_vectors_are_the_full_sets_entries(g65):
    """``vectors=``: only the named vectors, each exactly the full listing's (a DC current, a node voltage of a
    transient, a noise summary of one device), on both engines; a name the analysis lacks is absent."""
    mm = cell.nominal_mismatch(2)
    run = cell.Run(g65)
    dc, _ = run.render("testbenches/3t1c_dc.cir.j2", cells=cell._cells(mm), read_on=True)
    insts = [{**{k: float(mm[k][i]) for k in cell.MISMATCH_KEYS}, "name": f"n{i}_0", "vc": 0.6, "k": i, "j": 0}
             for i in range(2)]
    noise, _ = run.render("testbenches/3t1c_noise.cir.j2", insts=insts, f_low=1.0, f_high=5e7, points_per_decade=10)
    for text, want in ((dc, ["i(vrd1)", "V-SWEEP", "i(nosuch)"]), (_rc_netlist(), ["v(out)", "time"]),
                       (noise, ["v(onoise_total.m.xn1_0.mrd)", "v(onoise_total)"])):
        for engine in ("shared", "subprocess"):
            full = spice.run(text, "t", engine=engine)
            some = spice.run(text, "t", engine=engine, vectors=want)
            assert set(some.vectors) == {w.lower() for w in want if w.lower() in full.vectors}
            assert len(some.vectors) >= len(want) - 1 and len(full.vectors) > len(some.vectors)
            for k in some.vectors:
                np.testing.assert_array_equal(some[k], full[k], err_msg=k)
    with pytest.raises(SpiceError, match="no vector 'i.nosuch.'"):
        spice.run(dc, "t", engine="shared", vectors=["i(nosuch)"])["i(nosuch)"]


def test_shared_and_subprocess_agree_on_a_transient():
    a = spice.run(_rc_netlist(), "rc", engine="shared")
    b = spice.run(_rc_netlist(), "rc", engine="subprocess")
    np.testing.assert_allclose(a["time"], b["time"], rtol=1e-12)
    np.testing.assert_allclose(a["v(out)"], b["v(out)"], rtol=1e-9, atol=1e-12)
    # and the physics: 1k * 1p = 1 ns; 5 tau after the edge the output has settled
    t = a["time"]
    assert a["v(out)"][np.searchsorted(t, 8e-9)] == pytest.approx(1.0, abs=0.01)


def test_long_shared_session_does_not_accumulate_plots():
    for _ in range(5):
        spice.run(_rc_netlist(), "rc", engine="shared")
    ng = spice._make_shared()
    assert len([p for p in ng.plot_names if p != "const"]) == 0


def test_missing_model_names_the_line(g65):
    text = g65.header("tt", 27) + "\nV1 a 0 1\nM1 a a 0 0 nosuchmodel W=1u L=1u\n.op\n.end\n"
    for engine in ("shared", "subprocess"):
        with pytest.raises(SpiceError) as e:
            spice.run(text, "badmodel", engine=engine)
        msg = str(e.value)
        assert "badmodel" in msg and "model used by the netlist is missing" in msg and "nosuchmodel" in msg
        assert "\n" not in msg


def test_non_convergent_circuit():
    text = "* clash\nV1 a 0 1\nV2 a 0 2\nR1 a 0 1k\n.op\n.end\n"
    for engine in ("shared", "subprocess"):
        with pytest.raises(SpiceError, match="did not converge"):
            spice.run(text, "clash", engine=engine)


def test_ngspice_missing(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SpiceError, match="ngspice is not installed"):
        spice.run(_rc_netlist(), "rc", engine="subprocess")


def test_unknown_engine():
    with pytest.raises(SpiceError, match="unknown engine 'spectre'"):
        spice.run(_rc_netlist(), "rc", engine="spectre")


def test_pyspice_version_warning_is_silenced(capfd):
    # a fresh interpreter loading libngspice must print nothing on stderr
    code = "from pcmspice.spice import engine as spice; spice.run(open(0).read(), 'rc', engine='shared')"
    p = subprocess.run([sys.executable, "-c", code], input=_rc_netlist(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Unsupported Ngspice version" not in p.stderr + p.stdout
    assert p.stderr.strip() == ""


def test_raw_parser_reads_ngspice_ascii(tmp_path):
    cir = tmp_path / "a.cir"
    cir.write_text("* ascii\n.options filetype=ascii\nV1 a 0 DC 0\nR1 a 0 2k\n.dc V1 0 1 0.5\n.end\n")
    raw = tmp_path / "a.raw"
    subprocess.run([spice.ngspice_executable(), "-b", "-r", str(raw), str(cir)], capture_output=True, timeout=60)
    _, vecs = spice.parse_raw(raw)
    np.testing.assert_allclose(vecs["v(a)"], [0, 0.5, 1.0])
    np.testing.assert_allclose(vecs["i(v1)"], [0, -0.25e-3, -0.5e-3], rtol=1e-6)

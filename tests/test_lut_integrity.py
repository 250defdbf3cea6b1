"""LUT integrity: the seal (provenance inside the checksum), set ids binding the tables of a set,
type checks before use, special files refused unopened, and the committed (older, unsealed) LUTs."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from pcmspice.core import paths
from pcmspice.core.errors import LutError
from pcmspice.lut import format as L
from pcmspice.lut import integrity as integ
from pcmspice.lut.format import SCHEMA_VERSION


def _luts(n: int = 5, corner: str = "tt", temp_c: float = 27.0, shift: float = 0.0) -> L.LutSet:
    vc = np.linspace(0.0, 1.0, 11)
    g = (1e-6 + shift) * (1 + vc)[None, :] * (1 + 0.01 * np.arange(n))[:, None]
    ones = np.ones((n, vc.size))
    prov = {"technology": "generic65", "corner": corner, "temp_c": temp_c, "seed": 1}
    cell = L.CellLut(vc_volts=vc, g_siemens=g, dv_up_volts=2e-3 * ones, dv_down_volts=-2e-3 * ones,
                     leak_volts_per_s=np.zeros_like(ones), e_up_joules=np.full(n, 1e-15),
                     e_down_joules=np.full(n, 1e-15), e_read_joules=np.full(n, 1e-17), provenance=prov)
    gg = np.linspace(0.0, 25e-6, 6)
    pcm = L.PcmLut(g_grid_siemens=gg, set_step_mean_siemens=np.full((n, 6), 1e-6),
                   set_step_std_siemens=np.full((n, 6), 0.1e-6), g_reset_siemens=np.full(n, 0.1e-6),
                   g_max_siemens=np.full(n, 25e-6), drift_nu=np.full(n, 0.05), drift_t0_seconds=1.0,
                   read_noise_rel=0.01, e_set_joules=np.full(n, 1e-11), e_reset_joules=np.full(n, 3e-11),
                   e_read_joules=np.full(n, 1e-15), provenance=prov)
    return L.LutSet(cell, pcm)


def _members(f) -> dict[str, bytes]:
    with zipfile.ZipFile(f) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write_members(f, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(f, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _edit_meta(f, change) -> None:
    """Edit a LUT's metadata the way a person with numpy would: every other member kept."""
    m = _members(f)
    meta = json.loads(np.load(io.BytesIO(m["__meta__.npy"])).tobytes().decode())
    meta = change(meta) or meta
    m["__meta__.npy"] = _npy(np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8))
    _write_members(f, m)


@pytest.fixture()
def lut_dir(tmp_path):
    return L.save_lut_set(_luts(), tmp_path / "set")


def test_a_saved_set_is_sealed_with_one_set_id(lut_dir):
    back = L.load_lut_set(lut_dir)
    assert len(back.set_id) == 32 and back.set_id == L.lut_set_id(_luts())
    for f in (L.CELL_FILE, L.PCM_FILE):
        seal = str(np.load(lut_dir / f)[integ.SEAL_MEMBER])
        assert back.set_id in seal


@pytest.mark.parametrize("edit", [lambda m: m["provenance"].update(corner="ff"),
                                  lambda m: m["provenance"].update(temp_c=85.0)])
def test_edited_provenance_is_refused(lut_dir, edit):
    _edit_meta(lut_dir / L.CELL_FILE, edit)
    with pytest.raises(LutError, match="metadata checksum mismatch"):
        L.load_cell_lut(lut_dir / L.CELL_FILE)
    with pytest.raises(LutError, match="metadata checksum mismatch"):
        L.load_lut_set(lut_dir)


def test_tables_of_two_sweeps_are_refused_together(tmp_path, lut_dir):
    other = L.save_lut_set(_luts(corner="ss", shift=1e-7), tmp_path / "other")
    shutil.copy(other / L.PCM_FILE, lut_dir / L.PCM_FILE)
    L.load_cell_lut(lut_dir / L.CELL_FILE)          # each file is fine on its own
    L.load_pcm_lut(lut_dir / L.PCM_FILE)
    with pytest.raises(LutError, match="are not one LUT set"):
        L.load_lut_set(lut_dir)


def test_an_unsealed_table_beside_a_sealed_one_is_refused(lut_dir):
    m = _members(lut_dir / L.PCM_FILE)
    del m[integ.SEAL_MEMBER + ".npy"]
    _write_members(lut_dir / L.PCM_FILE, m)
    with pytest.raises(LutError, match="unsealed"):
        L.load_lut_set(lut_dir)


@pytest.mark.parametrize("meta,want", [
    ([1, 2], "metadata is a JSON list"),
    ("text", "metadata is a JSON str"),
    ({"schema": "pcmspice-lut", "schema_version": SCHEMA_VERSION, "kind": "cell", "sha256": [1]},
     "'sha256' is a JSON list"),
    ({"schema": "pcmspice-lut", "schema_version": SCHEMA_VERSION, "kind": "cell", "sha256": {}, "provenance": 5},
     "'provenance' is a JSON int"),
])
def test_metadata_of_the_wrong_type_is_refused(lut_dir, meta, want):
    f = lut_dir / L.CELL_FILE
    m = _members(f)
    m.pop(integ.SEAL_MEMBER + ".npy")
    m = {k: v for k, v in m.items() if k == "__meta__.npy"}
    m["__meta__.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    _write_members(f, m)
    with pytest.raises(LutError, match=want):
        L.load_cell_lut(f)


@pytest.mark.parametrize("array", [np.array(["a", "b"]), np.array([1, 2], dtype=np.int64)])
def test_arrays_that_are_not_float64_are_refused(lut_dir, array):
    f = lut_dir / L.CELL_FILE
    m = _members(f)
    m["vc_volts.npy"] = _npy(array)
    _write_members(f, m)
    with pytest.raises(LutError, match=f"array 'vc_volts' has dtype {array.dtype}"):
        L.load_cell_lut(f)


def test_object_arrays_are_refused_without_unpickling(lut_dir):
    f = lut_dir / L.CELL_FILE
    m = _members(f)
    m["vc_volts.npy"] = _npy(np.array([{"a": 1}], dtype=object))
    _write_members(f, m)
    with pytest.raises(LutError, match="corrupted or truncated"):
        L.load_cell_lut(f)


def test_an_npy_in_place_of_the_npz_is_refused(lut_dir):
    f = lut_dir / L.CELL_FILE
    f.write_bytes(_npy(np.arange(3.0)))
    with pytest.raises(LutError, match="single .npy array"):
        L.load_cell_lut(f)


def test_a_forged_seal_is_refused(lut_dir):
    f = lut_dir / L.CELL_FILE
    m = _members(f)
    m[integ.SEAL_MEMBER + ".npy"] = _npy(np.array("pcmspice-lut-integrity {\"version\": 1}"))
    _write_members(f, m)
    with pytest.raises(LutError, match="malformed"):
        L.load_cell_lut(f)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_a_lut_is_refused_without_opening_it(lut_dir):
    f = lut_dir / L.CELL_FILE
    f.unlink()
    os.mkfifo(f)
    with pytest.raises(LutError, match="FIFO"):      # would block forever if it were opened for reading
        L.load_lut_set(lut_dir)
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "report", str(lut_dir),
                        "--out", str(lut_dir.parent / "r")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "FIFO" in p.stderr and "Traceback" not in p.stderr


def test_a_directory_in_place_of_a_lut_is_refused(lut_dir):
    f = lut_dir / L.PCM_FILE
    f.unlink()
    f.mkdir()
    with pytest.raises(LutError, match="is a directory"):
        L.load_lut_set(lut_dir)


# ------------------------------------------------------------ older, unsealed copies of the committed LUTs
@pytest.fixture()
def committed(tmp_path):
    """The committed set with its seals taken off, and its summary without the set id, as files written
    before seals existed were."""
    d = tmp_path / "generic65_tt_27C"
    shutil.copytree(paths.default_lut_dir(), d)
    for name in (L.CELL_FILE, L.PCM_FILE):
        m = _members(d / name)
        m.pop(integ.SEAL_MEMBER + ".npy")
        _write_members(d / name, m)
    s = json.loads((d / L.SUMMARY_FILE).read_text())
    s.pop("set_id", None)
    (d / L.SUMMARY_FILE).write_text(json.dumps(s))
    return d


def test_the_committed_luts_are_one_sealed_set():
    luts = L.load_lut_set(paths.default_lut_dir())
    assert luts.set_id == L.lut_set_id(luts) and luts.cell.n_cells == 200
    z = np.load(paths.default_lut_dir() / L.CELL_FILE)
    assert integ.SEAL_MEMBER in z.files


def test_an_older_unsealed_set_still_loads(committed):
    luts = L.load_lut_set(committed)
    assert luts.set_id == "" and luts.cell.n_cells == 200


@pytest.mark.parametrize("edit,want", [
    (lambda m: m["provenance"].update(corner="ff"), "corner = 'ff' is not one of its sweep's"),
    (lambda m: m["provenance"].update(temp_c=85.0), "temp_c = 85.0 is not one of its sweep's"),
    (lambda m: m["provenance"]["sweep"].update(corners=["ff"]), "does not match its recorded sweep key"),
])
def test_edited_provenance_of_an_older_table_is_refused(committed, edit, want):
    _edit_meta(committed / L.CELL_FILE, edit)
    with pytest.raises(LutError, match=want):
        L.load_cell_lut(committed / L.CELL_FILE)


def test_older_tables_of_two_sweeps_are_refused_together(committed, tmp_path):
    # the same edit in both files keeps each consistent with itself, but the pair differs
    _edit_meta(committed / L.PCM_FILE, lambda m: m["provenance"].update(versions={"pcmspice": "0"}))
    with pytest.raises(LutError, match="provenances differ"):
        L.load_lut_set(committed)


def test_a_summary_of_another_sweep_is_refused(committed):
    s = json.loads((committed / L.SUMMARY_FILE).read_text())
    s["sweep_key"] = "0" * 16
    (committed / L.SUMMARY_FILE).write_text(json.dumps(s))
    with pytest.raises(LutError, match="describes another sweep"):
        L.load_lut_set(committed)
    (committed / L.SUMMARY_FILE).write_text("[1, 2]")
    with pytest.raises(LutError, match="JSON list, not an object"):
        L.load_lut_set(committed)


def test_a_summary_naming_another_set_is_refused(lut_dir):
    (lut_dir / L.SUMMARY_FILE).write_text(json.dumps({"set_id": "f" * 32}))
    with pytest.raises(LutError, match="names LUT set"):
        L.load_lut_set(lut_dir)
    (lut_dir / L.SUMMARY_FILE).write_text(json.dumps({"set_id": L.lut_set_id(_luts())}))
    L.load_lut_set(lut_dir)


def test_report_of_a_lut_folder_with_a_corrupt_table_exits_non_zero(committed, tmp_path):
    f = committed / L.CELL_FILE
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x40
    f.write_bytes(bytes(data))
    assert (committed / L.SUMMARY_FILE).is_file()       # the summary is intact
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", "report", str(committed), "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stdout
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "cell.lut.npz" in p.stderr


def test_batch_files_are_type_checked_and_special_files_refused(tmp_path):
    from pcmspice.characterize.batches import Batch, _load_batch, _save_batch
    b = Batch("cell", "tt", 27.0, 1.0, 0, 2)
    f = tmp_path / "b.npz"
    _save_batch(f, "k", b, {"g_siemens": np.ones((2, 3))})
    assert _load_batch(f, "k", b)["g_siemens"].shape == (2, 3)
    np.savez(f, __meta__=np.frombuffer(b"[1, 2]", dtype=np.uint8), g_siemens=np.ones((2, 3)))
    with pytest.raises(LutError, match="not a pcmspice batch file"):
        _load_batch(f, "k", b)
    meta = json.dumps({"schema": "pcmspice-batch-1", "key": "k", "batch": {}, "sha256": {"g": "x"}}).encode()
    np.savez(f, __meta__=np.frombuffer(meta, dtype=np.uint8), g=np.array(["a", "b"]))
    with pytest.raises(LutError, match="not a pcmspice batch file"):
        _load_batch(f, "k", b)
    if hasattr(os, "mkfifo"):
        f.unlink()
        os.mkfifo(f)
        with pytest.raises(LutError, match="FIFO"):
            _load_batch(f, "k", b)

"""Lookup tables: what the circuit does, per Monte Carlo cell, at numpy speed.

On-disk format (schema ``pcmspice-lut`` version 2), one file per
(technology, corner, temperature, supply), extension ``.lut.npz``:

* a NumPy ``.npz`` archive (zip) holding named float64 arrays, and
* a member ``__meta__`` holding UTF-8 JSON: ``schema``, ``schema_version``,
  ``axes`` (array name -> list of axis names), ``units`` (array name -> unit),
  ``provenance`` (technology, corner, temperature, supply, seed, netlist
  hashes, versions, the sweep config) and ``sha256`` of every array's bytes.

A member ``__seal__`` (text) holds the SHA-256 of the metadata bytes and the id of the
set the file belongs to (see :mod:`pcmspice.lut.integrity`): the provenance is inside the
checksum, and the cell and PCM tables of a folder load only as one set.

Loading refuses special files (FIFOs, devices) without opening them, checks the types of
the metadata and arrays, the schema name and version, the seal, every checksum, finiteness,
shapes against the axes, and physics (g rises with Vc on every cell, the up
step is positive and the down step negative, PCM SET steps are on average
non-negative).  Anything else is refused with :class:`LutError`.

Arrays of a cell table (``CellLut``), n = number of Monte Carlo cells:

====================  ==============  =====================================
name                  axes            meaning
====================  ==============  =====================================
vc_volts              (vc,)           capacitor-voltage grid
g_siemens             (cell, vc)      read conductance of the 3T1C
dv_up_volts           (cell, vc)      Vc change per up pulse (> 0)
dv_down_volts         (cell, vc)      Vc change per down pulse (< 0)
leak_volts_per_s      (cell, vc)      dVc/dt with both switches off
e_up_joules           (cell,)         supply energy of one up pulse
e_down_joules         (cell,)         supply energy of one down pulse
e_read_joules         (cell,)         energy of one read at Vc = v_start
read_noise_rel        (cell, vc)      std / g of one read of the 3T1C read path
c_gate_up_farads      (cell,)         gate load of the up switch on its pulse line
c_gate_down_farads    (cell,)         gate load of the down switch on its pulse line
mismatch_<name>       (cell,)         the mismatch draws (V for dvt, x for mu)
====================  ==============  =====================================

Arrays of a PCM table (``PcmLut``), m = number of PCM devices:

====================  ==============  =====================================
g_grid_siemens        (g,)            conductance grid
set_step_mean_siemens (device, g)     mean dG per partial-SET pulse at G
set_step_std_siemens  (device, g)     cycle-to-cycle std of that step
g_reset_siemens       (device,)       conductance after a RESET
g_max_siemens         (device,)       fully crystalline conductance
drift_nu              (device, g)     drift exponent of the device programmed to G,
                                      G(t) = G0 ((t + t0)/t0)^-nu, t from the end of programming
drift_t0_seconds      ()              drift reference time t0
read_noise_rel        (g,)            relative read noise (std / G) of one read at G
e_set_joules          (device,)       energy of one partial-SET pulse
e_reset_joules        (device,)       energy of one RESET pulse
e_read_joules         (device,)       energy of one PCM read
====================  ==============  =====================================
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice.core import complete
from pcmspice.core.errors import ConfigError, LutError
from pcmspice.core.files import require_regular
from pcmspice.core.limits import check_memory
from pcmspice.core.provenance import atomic_write_bytes
from pcmspice.lut import integrity as integ
from pcmspice.lut.integrity import array_sha256
from pcmspice.lut.interp import interp_rows as _interp_rows
from pcmspice.lut.provenance import LutProvenance

SCHEMA = "pcmspice-lut"
#: 2: per-G read noise and drift exponents, the 3T1C's read noise and gate loads (version 1 is refused:
#: its tables had no read noise and one drift exponent per device; regenerate them)
SCHEMA_VERSION = 2

_CELL_AXES = {
    "vc_volts": ("vc",),
    "g_siemens": ("cell", "vc"),
    "dv_up_volts": ("cell", "vc"),
    "dv_down_volts": ("cell", "vc"),
    "leak_volts_per_s": ("cell", "vc"),
    "e_up_joules": ("cell",),
    "e_down_joules": ("cell",),
    "e_read_joules": ("cell",),
    "read_noise_rel": ("cell", "vc"),
    "c_gate_up_farads": ("cell",),
    "c_gate_down_farads": ("cell",),
}
_CELL_UNITS = {
    "vc_volts": "V", "g_siemens": "S", "dv_up_volts": "V", "dv_down_volts": "V",
    "leak_volts_per_s": "V/s", "e_up_joules": "J", "e_down_joules": "J",
    "e_read_joules": "J", "read_noise_rel": "1", "c_gate_up_farads": "F", "c_gate_down_farads": "F",
}
_PCM_AXES = {
    "g_grid_siemens": ("g",),
    "set_step_mean_siemens": ("device", "g"),
    "set_step_std_siemens": ("device", "g"),
    "g_reset_siemens": ("device",),
    "g_max_siemens": ("device",),
    "drift_nu": ("device", "g"),
    "drift_t0_seconds": (),
    "read_noise_rel": ("g",),
    "e_set_joules": ("device",),
    "e_reset_joules": ("device",),
    "e_read_joules": ("device",),
}
_PCM_UNITS = {
    "g_grid_siemens": "S", "set_step_mean_siemens": "S", "set_step_std_siemens": "S",
    "g_reset_siemens": "S", "g_max_siemens": "S", "drift_nu": "1",
    "drift_t0_seconds": "s", "read_noise_rel": "1", "e_set_joules": "J",
    "e_reset_joules": "J", "e_read_joules": "J",
}


@dataclass(frozen=True)
class CellLut:
    """Per-cell transfer characteristics of the 3T1C (see module docstring)."""

    vc_volts: np.ndarray
    g_siemens: np.ndarray
    dv_up_volts: np.ndarray
    dv_down_volts: np.ndarray
    leak_volts_per_s: np.ndarray
    e_up_joules: np.ndarray
    e_down_joules: np.ndarray
    e_read_joules: np.ndarray
    v_start_volts: float = 0.5
    mismatch: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    read_noise_rel: np.ndarray | None = None      # None: no read noise (zeros)
    c_gate_up_farads: np.ndarray | None = None    # None: not measured (zeros)
    c_gate_down_farads: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = np.shape(self.g_siemens)[0] if np.ndim(self.g_siemens) == 2 else 0
        shape = np.shape(self.g_siemens)
        for name, default_shape in (("read_noise_rel", shape), ("c_gate_up_farads", (n,)),
                                    ("c_gate_down_farads", (n,))):
            v = getattr(self, name)
            v = np.zeros(default_shape) if v is None else np.asarray(v, dtype=np.float64)
            if name == "read_noise_rel" and v.ndim == 0:
                v = np.full(shape, float(v))
            object.__setattr__(self, name, v)

    @property
    def n_cells(self) -> int:
        return int(self.g_siemens.shape[0])

    @property
    def typed_provenance(self) -> LutProvenance:
        """``provenance`` read by name (see :class:`~pcmspice.lut.provenance.LutProvenance`)."""
        return LutProvenance.from_dict(self.provenance)

    def g(self, cells: np.ndarray, vc: np.ndarray) -> np.ndarray:
        """Read conductance (S) of ``cells`` at capacitor voltages ``vc`` (V)."""
        return _interp_rows(self.vc_volts, self.g_siemens, cells, vc)

    def step_up(self, cells: np.ndarray, vc: np.ndarray) -> np.ndarray:
        """Vc change (V, > 0) caused by one up pulse at state ``vc``."""
        return _interp_rows(self.vc_volts, self.dv_up_volts, cells, vc)

    def step_down(self, cells: np.ndarray, vc: np.ndarray) -> np.ndarray:
        """Vc change (V, < 0) caused by one down pulse at state ``vc``."""
        return _interp_rows(self.vc_volts, self.dv_down_volts, cells, vc)

    def leak_rate(self, cells: np.ndarray, vc: np.ndarray) -> np.ndarray:
        """dVc/dt (V/s) with both switches off."""
        return _interp_rows(self.vc_volts, self.leak_volts_per_s, cells, vc)

    def leak(self, cells: np.ndarray, vc: np.ndarray, seconds: float, substeps: int = 4) -> np.ndarray:
        """Vc after ``seconds`` of leakage, integrated with midpoint (RK2) sub-steps.

        The leakage ODE is stiff only near its equilibrium, where the rate is
        small; RK2 with a few sub-steps matches SPICE within microvolts over
        the retention times of interest (see tests/test_lut.py).
        """
        vc = np.asarray(vc, dtype=np.float64)
        if seconds <= 0:
            return vc.copy()
        h = seconds / substeps
        lo, hi = self.vc_volts[0], self.vc_volts[-1]
        for _ in range(substeps):
            k1 = self.leak_rate(cells, vc)
            mid = np.clip(vc + 0.5 * h * k1, lo, hi)
            vc = np.clip(vc + h * self.leak_rate(cells, mid), lo, hi)
        return vc

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.asarray(getattr(self, k), dtype=np.float64) for k in _CELL_AXES}
        out["v_start_volts"] = np.asarray(self.v_start_volts, dtype=np.float64)
        for k, v in self.mismatch.items():
            out[f"mismatch_{k}"] = np.asarray(v, dtype=np.float64)
        return out

    def validate(self, source: str = "<memory>") -> None:
        _check_shapes(self.arrays(), _CELL_AXES, source)
        n = self.n_cells
        for k, v in self.mismatch.items():
            if np.shape(v) != (n,):
                raise LutError(f"{source}: mismatch_{k} has shape {np.shape(v)}, expected ({n},)")
        if np.any(np.diff(self.vc_volts) <= 0):
            raise LutError(f"{source}: vc_volts must be strictly increasing")
        bad = np.where(np.any(np.diff(self.g_siemens, axis=1) < 0, axis=1))[0]
        if bad.size:
            raise LutError(f"{source}: g_siemens is not monotonic in Vc for cell {int(bad[0])} "
                           "(read conductance must rise with the gate voltage)")
        if np.any(self.dv_up_volts < 0):
            raise LutError(f"{source}: dv_up_volts has negative values (an up pulse must raise Vc)")
        if np.any(self.dv_down_volts > 0):
            raise LutError(f"{source}: dv_down_volts has positive values (a down pulse must lower Vc)")
        if np.any(self.g_siemens < 0):
            raise LutError(f"{source}: g_siemens has negative conductances")
        for k in ("read_noise_rel", "c_gate_up_farads", "c_gate_down_farads"):
            if np.any(getattr(self, k) < 0):
                raise LutError(f"{source}: {k} has negative values")


@dataclass(frozen=True)
class PcmLut:
    """Per-device programming characteristics of the PCM (see module docstring)."""

    g_grid_siemens: np.ndarray
    set_step_mean_siemens: np.ndarray
    set_step_std_siemens: np.ndarray
    g_reset_siemens: np.ndarray
    g_max_siemens: np.ndarray
    drift_nu: np.ndarray
    drift_t0_seconds: float
    read_noise_rel: np.ndarray
    e_set_joules: np.ndarray
    e_reset_joules: np.ndarray
    e_read_joules: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a constant is broadcast: a scalar read noise to every G, one exponent per device to every G
        ng = np.size(self.g_grid_siemens)
        rn = np.asarray(self.read_noise_rel, dtype=np.float64)
        object.__setattr__(self, "read_noise_rel", np.full(ng, float(rn)) if rn.ndim == 0 else rn)
        nu = np.asarray(self.drift_nu, dtype=np.float64)
        object.__setattr__(self, "drift_nu", np.repeat(nu[:, None], ng, axis=1) if nu.ndim == 1 else nu)

    @property
    def n_devices(self) -> int:
        return int(self.set_step_mean_siemens.shape[0])

    @property
    def typed_provenance(self) -> LutProvenance:
        """``provenance`` read by name (see :class:`~pcmspice.lut.provenance.LutProvenance`)."""
        return LutProvenance.from_dict(self.provenance)

    def set_step(self, devices: np.ndarray, g: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """dG (S) of one partial-SET pulse on ``devices`` at conductance ``g``.

        With ``rng`` the spread is drawn (normal: a pulse may lower G); without, the mean is returned.
        """
        mean = _interp_rows(self.g_grid_siemens, self.set_step_mean_siemens, devices, g)
        if rng is None:
            return mean
        std = _interp_rows(self.g_grid_siemens, self.set_step_std_siemens, devices, g)
        return mean + std * rng.standard_normal(mean.shape)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k), dtype=np.float64) for k in _PCM_AXES}

    def validate(self, source: str = "<memory>") -> None:
        _check_shapes(self.arrays(), _PCM_AXES, source)
        if np.any(np.diff(self.g_grid_siemens) <= 0):
            raise LutError(f"{source}: g_grid_siemens must be strictly increasing")
        if self.set_step_mean_siemens.mean() <= 0:
            raise LutError(f"{source}: set_step_mean_siemens is not positive on average (partial SET must raise G)")
        if np.any(self.set_step_std_siemens < 0):
            raise LutError(f"{source}: set_step_std_siemens has negative values")
        if np.any(self.read_noise_rel < 0) or np.any(self.drift_nu < 0):
            raise LutError(f"{source}: read_noise_rel and drift_nu must be non-negative")
        if np.any(self.g_reset_siemens >= self.g_max_siemens):
            raise LutError(f"{source}: g_reset_siemens must lie below g_max_siemens")


def _check_shapes(arrays: dict[str, np.ndarray], axes: dict[str, tuple], source: str) -> None:
    sizes: dict[str, int] = {}
    for name, ax in axes.items():
        if name not in arrays:
            raise LutError(f"{source}: array '{name}' is missing")
        a = arrays[name]
        if a.ndim != len(ax):
            raise LutError(f"{source}: array '{name}' has {a.ndim} dimensions, expected {len(ax)} {ax}")
        for axis_name, n in zip(ax, a.shape):
            if sizes.setdefault(axis_name, n) != n:
                raise LutError(f"{source}: array '{name}' axis '{axis_name}' has length {n}, "
                               f"others have {sizes[axis_name]}")
        if not np.all(np.isfinite(a)):
            raise LutError(f"{source}: array '{name}' holds NaN or infinite values")


def _meta_bytes(kind: str, arrays: dict[str, np.ndarray], units: dict[str, str], axes: dict[str, tuple],
                provenance: dict[str, Any]) -> bytes:
    meta = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "axes": {k: list(axes.get(k, ("cell",) if k.startswith("mismatch_") else ())) for k in arrays},
        "units": {k: units.get(k, "V" if k.startswith("mismatch_dvt") else "1") for k in arrays},
        "sha256": {k: array_sha256(v) for k, v in arrays.items()},
        "provenance": provenance,
    }
    return json.dumps(meta, sort_keys=True, default=str).encode()


def _write_npz(path: Path, meta: bytes, arrays: dict[str, np.ndarray], set_id: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(meta, dtype=np.uint8), **arrays,
             **{integ.SEAL_MEMBER: np.array(integ.seal_text(integ.digest(meta), set_id))})
    atomic_write_bytes(path, buf.getvalue())  # a reader never sees half a file; unique temporary name


_READ_ERRORS = (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError, zlib.error,
                json.JSONDecodeError, UnicodeDecodeError)


def _read_npz(path: Path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any], integ.Seal]:
    """The arrays, metadata and seal of one LUT file, every part checked (type, checksum, seal)."""
    path = require_regular(path, LutError, "no such LUT file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LutError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if data[:6] == b"\x93NUMPY":
        raise LutError(f"{path}: is a single .npy array, not a .lut.npz archive; refusing a foreign file")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LutError(f"{path}: corrupted or truncated LUT file (not a zip archive, which an .npz is)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
        check_memory(f"{path}: reading this LUT file", unpacked, "check that it is a pcmspice LUT")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise LutError(f"{path}: not a pcmspice LUT (no metadata member); refusing a foreign file")
            raw = z["__meta__"]
            if raw.dtype != np.uint8 or raw.ndim != 1:
                raise LutError(f"{path}: its metadata member has dtype {raw.dtype}; expected UTF-8 JSON bytes")
            meta_bytes = raw.tobytes()
            meta = json.loads(meta_bytes.decode())
            seal_raw = z[integ.SEAL_MEMBER] if integ.SEAL_MEMBER in z.files else None
            arrays = {k: np.array(z[k]) for k in z.files if k not in ("__meta__", integ.SEAL_MEMBER)}
    except (LutError, ConfigError):
        raise
    except _READ_ERRORS as exc:
        raise LutError(f"{path}: corrupted or truncated LUT file ({type(exc).__name__}: {exc})") from None
    seal = integ.check_file(path, kind, meta, meta_bytes, seal_raw, arrays, SCHEMA, SCHEMA_VERSION)
    return arrays, meta, seal


def save_cell_lut(lut: CellLut, path: str | Path, set_id: str = "") -> Path:
    """Write one cell table (``set_id``: the set it belongs to, see :func:`save_lut_set`)."""
    lut.validate(str(path))
    _write_npz(Path(path), _cell_meta(lut), lut.arrays(), set_id)
    return Path(path)


def _cell_meta(lut: CellLut) -> bytes:
    return _meta_bytes("cell", lut.arrays(), _CELL_UNITS, _CELL_AXES, lut.provenance)


def _pcm_meta(lut: PcmLut) -> bytes:
    return _meta_bytes("pcm", lut.arrays(), _PCM_UNITS, _PCM_AXES, lut.provenance)


def _load_cell(path: str | Path) -> tuple[CellLut, integ.Seal]:
    arrays, meta, seal = _read_npz(Path(path), "cell")
    mism = {k[len("mismatch_"):]: arrays.pop(k) for k in list(arrays) if k.startswith("mismatch_")}
    try:
        v_start = float(arrays.pop("v_start_volts"))
        lut = CellLut(**arrays, v_start_volts=v_start, mismatch=mism, provenance=meta.get("provenance", {}))
    except (TypeError, KeyError, ValueError) as exc:
        raise LutError(f"{path}: arrays do not form a cell table ({exc})") from None
    lut.validate(str(path))
    return lut, seal


def load_cell_lut(path: str | Path) -> CellLut:
    return _load_cell(path)[0]


def save_pcm_lut(lut: PcmLut, path: str | Path, set_id: str = "") -> Path:
    """Write one PCM table (``set_id``: the set it belongs to, see :func:`save_lut_set`)."""
    lut.validate(str(path))
    _write_npz(Path(path), _pcm_meta(lut), lut.arrays(), set_id)
    return Path(path)


def _load_pcm(path: str | Path) -> tuple[PcmLut, integ.Seal]:
    arrays, meta, seal = _read_npz(Path(path), "pcm")
    try:
        scalars = {"drift_t0_seconds": float(arrays.pop("drift_t0_seconds"))}
        lut = PcmLut(**arrays, **scalars, provenance=meta.get("provenance", {}))
    except (TypeError, KeyError, ValueError) as exc:
        raise LutError(f"{path}: arrays do not form a PCM table ({exc})") from None
    lut.validate(str(path))
    return lut, seal


def load_pcm_lut(path: str | Path) -> PcmLut:
    return _load_pcm(path)[0]


@dataclass(frozen=True)
class LutSet:
    """The tables of one (technology, corner, temperature, supply)."""

    cell: CellLut
    pcm: PcmLut
    name: str = "lut"
    set_id: str = ""          # the id binding the two files on disk ("" in memory or for older files)

    @property
    def provenance(self) -> dict[str, Any]:
        return self.cell.provenance

    @property
    def typed_provenance(self) -> LutProvenance:
        """The cell table's provenance read by name."""
        return self.cell.typed_provenance


CELL_FILE = "cell.lut.npz"
PCM_FILE = "pcm.lut.npz"
SUMMARY_FILE = "summary.json"


def save_lut_set(luts: LutSet, directory: str | Path) -> Path:
    """Write both tables of a set, sealed with one set id (see :mod:`pcmspice.lut.integrity`)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    luts.cell.validate(str(d / CELL_FILE))
    luts.pcm.validate(str(d / PCM_FILE))
    sid = integ.set_id_of(integ.digest(_cell_meta(luts.cell)), integ.digest(_pcm_meta(luts.pcm)))
    save_cell_lut(luts.cell, d / CELL_FILE, sid)
    save_pcm_lut(luts.pcm, d / PCM_FILE, sid)
    return d


def lut_set_id(luts: LutSet) -> str:
    """The set id :func:`save_lut_set` gives these tables."""
    return integ.set_id_of(integ.digest(_cell_meta(luts.cell)), integ.digest(_pcm_meta(luts.pcm)))


def load_lut_set(directory: str | Path) -> LutSet:
    """Both tables of a folder, checked together: one set id (or, for older files, one provenance), and a
    ``summary.json`` beside them, if any, describing the same set."""
    d = Path(directory)
    if not d.is_dir():
        raise LutError(f"{d}: LUT directory does not exist (expected a folder with {CELL_FILE} and {PCM_FILE})")
    # a set of a characterization folder is read only from a complete (published, unchanged) result
    complete.check_lut_dir(d, (CELL_FILE, PCM_FILE))
    if not (d / CELL_FILE).exists():     # pointed one level too high: name the sets inside
        inner = sorted(str(f.parent.relative_to(d)) for f in d.glob(f"**/{CELL_FILE}"))[:5]
        if inner:
            raise LutError(f"{d}: not a LUT set folder (no {CELL_FILE}); it holds the set(s) "
                           f"{', '.join(inner)}: pass one of them, e.g. {d / inner[0]}")
    cell, cseal = _load_cell(d / CELL_FILE)
    pcm, pseal = _load_pcm(d / PCM_FILE)
    if cseal.sealed != pseal.sealed:
        old = CELL_FILE if not cseal.sealed else PCM_FILE
        raise LutError(f"{d}: {CELL_FILE} and {PCM_FILE} are not one LUT set ({old} is unsealed, the other "
                       "sealed); regenerate the set")
    if cseal.sealed:
        want = integ.set_id_of(cseal.meta_sha256, pseal.meta_sha256)
        if not (cseal.set_id == pseal.set_id == want):
            raise LutError(f"{d}: {CELL_FILE} and {PCM_FILE} are not one LUT set (set ids {cseal.set_id or '-'} "
                           f"and {pseal.set_id or '-'}; the pair's is {want}); use the tables of one sweep")
        sid = want
    else:
        sid = ""
        if cell.provenance != pcm.provenance:
            raise LutError(f"{d}: {CELL_FILE} and {PCM_FILE} are not one LUT set (their provenances differ: "
                           "tables of two sweeps?); use the tables of one sweep")
    integ.check_summary(d / SUMMARY_FILE, sid, cell.provenance)
    return LutSet(cell=cell, pcm=pcm, name=d.name, set_id=sid)

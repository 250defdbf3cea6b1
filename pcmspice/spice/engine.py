"""The SPICE engine: render a netlist, run ngspice, return arrays.

Two paths give the same numbers (tests/test_spice.py checks it):

* ``shared`` - libngspice loaded in-process through PySpice's shared mode.
  Fast for many small runs (no process start, no file I/O).
* ``subprocess`` - ``ngspice -b -r out.raw`` in a child process, parsed from
  the binary raw file.  Used when the shared library cannot be loaded, for
  isolation, and as the independent reference.

ngspice's quirks are handled here so callers never see them: PySpice's
"Unsupported Ngspice version" warning (versions it does not know are
registered with its newest table), stderr lines that are not errors ("Using
SPARSE ...", "Note: ...", warnings), one OpenMP thread per process, and old
plots freed after every run.  Every failure raises :class:`SpiceError` with
the netlist name, the offending value and ngspice's own message.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pcmspice.core import signals
from pcmspice.core.errors import SpiceError
from pcmspice.core.provenance import sha256_text
from pcmspice.spice.safety import check_netlist

log = logging.getLogger(__name__)

# stderr lines from ngspice that are informational, not errors
_BENIGN_STDERR = re.compile(
    r"^\s*(warning|note|using sparse|using klu|doing analysis|supplies reduced|"
    r"trying gmin|gmin stepping|source stepping|reference value|no\. of data rows|"
    r"total analysis time|total elapsed|circuit:|ngspice-|\*|$)", re.IGNORECASE)
_ERROR_HINT = re.compile(r"error|could not find|unknown|not found|too small|singular|abort|fatal|"
                         r"no such|can't|cannot|failed|unable", re.IGNORECASE)


@dataclass
class SimResult:
    """Vectors of one analysis, keyed by normalized name (``time``, ``v(node)``, ``i(vsource)``)."""

    netlist_name: str
    netlist_hash: str
    analysis: str
    vectors: dict[str, np.ndarray]
    log: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> np.ndarray:
        key = name.lower()
        if key not in self.vectors:
            raise SpiceError(f"no vector '{name}' in the results (have: {', '.join(sorted(self.vectors)[:12])}"
                             f"{'...' if len(self.vectors) > 12 else ''})", netlist=self.netlist_name, value=name)
        return self.vectors[key]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.vectors

    @property
    def scale(self) -> np.ndarray:
        for k in ("time", "v-sweep", "i-sweep", "temp-sweep", "res-sweep", "frequency"):
            if k in self.vectors:
                return self.vectors[k]
        return np.arange(len(next(iter(self.vectors.values()))))

    def to_frame(self):
        import pandas as pd
        n = max(len(v) for v in self.vectors.values())
        return pd.DataFrame({k: v for k, v in self.vectors.items() if len(v) == n})


def _normalize(name: str, vtype: str = "") -> str:
    n = name.strip().lower()
    m = re.match(r"^([vi])\((.+)\)$", n)
    if m:
        inner = m.group(2)
        if "sweep" in inner:
            return inner
        if inner.endswith("#branch"):
            return f"i({inner[:-7]})"
        return f"{m.group(1)}({inner})"
    if n.endswith("#branch"):
        return f"i({n[:-7]})"
    if n in ("time", "v-sweep", "i-sweep", "temp-sweep", "res-sweep", "frequency") or "sweep" in n:
        return n
    if vtype == "current":
        return f"i({n})"
    if n.startswith("@"):
        return n
    return f"v({n})"


# ---------------------------------------------------------------- subprocess
def ngspice_executable() -> str:
    exe = shutil.which("ngspice")
    if not exe:
        raise SpiceError("ngspice is not installed or not on PATH (install the Debian package 'ngspice', "
                         "or run ./go setup)")
    return exe


def parse_raw(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Parse an ngspice binary (or ascii) raw file; returns (plot name, vectors).

    Only the last plot is returned; pcmspice runs one analysis per netlist.
    """
    data = Path(path).read_bytes()
    pos = 0
    plots: list[tuple[str, dict[str, np.ndarray]]] = []
    while pos < len(data):
        header: dict[str, str] = {}
        names: list[tuple[str, str]] = []
        while True:
            end = data.index(b"\n", pos)
            line = data[pos:end].decode("latin-1")
            pos = end + 1
            if line.startswith("Variables:"):
                nvar = int(header["no. variables"])
                for _ in range(nvar):
                    end = data.index(b"\n", pos)
                    parts = data[pos:end].decode("latin-1").split()
                    pos = end + 1
                    names.append((parts[1], parts[2] if len(parts) > 2 else ""))
                continue
            if line.startswith("Binary:") or line.startswith("Values:"):
                binary = line.startswith("Binary:")
                break
            key, _, val = line.partition(":")
            header[key.strip().lower()] = val.strip()
        nvar, npts = int(header["no. variables"]), int(header["no. points"])
        complex_ = "complex" in header.get("flags", "")
        if binary:
            width = 16 if complex_ else 8
            nbytes = nvar * npts * width
            raw = np.frombuffer(data[pos:pos + nbytes], dtype=np.complex128 if complex_ else np.float64)
            pos += nbytes
            table = raw.reshape(npts, nvar)
        else:
            vals: list[float] = []
            text = data[pos:].decode("latin-1").split("\n")
            consumed = 0
            for ln in text:
                consumed += len(ln) + 1
                tok = ln.split()
                if not tok:
                    if len(vals) >= nvar * npts:
                        break
                    continue
                vals.append(float(tok[-1].split(",")[0]))
                if len(vals) >= nvar * npts:
                    break
            pos += consumed
            table = np.asarray(vals).reshape(npts, nvar)
        vecs = {_normalize(n, t): np.array(table[:, i].real if not complex_ else table[:, i])
                for i, (n, t) in enumerate(names)}
        plots.append((header.get("plotname", ""), vecs))
        while pos < len(data) and data[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1
    if not plots:
        raise SpiceError(f"raw file {path} holds no plot")
    return plots[-1]


def run_subprocess(text: str, name: str = "netlist", timeout_s: float = 600.0) -> SimResult:
    exe = ngspice_executable()
    with tempfile.TemporaryDirectory(prefix="pcmspice-") as tmp:
        cir = Path(tmp) / "netlist.cir"
        raw = Path(tmp) / "out.raw"
        cir.write_text(text)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        try:
            proc = subprocess.run([exe, "-b", "-r", str(raw), str(cir)], capture_output=True, text=True,
                                  timeout=timeout_s, cwd=tmp, env=env)
        except subprocess.TimeoutExpired:
            raise SpiceError(f"ngspice did not finish within {timeout_s:g} s", netlist=name) from None
        out = (proc.stdout or "") + "\n" + (proc.stderr or "")
        errors = _error_lines(out.splitlines())
        if proc.returncode != 0 or not raw.exists() or raw.stat().st_size == 0:
            raise SpiceError(_classify(errors or out.splitlines()[-5:], text), netlist=name,
                             ngspice_message="\n".join(errors or out.splitlines()[-5:]))
        plot, vecs = parse_raw(raw)
    return SimResult(name, sha256_text(text), plot.lower(), vecs, out.splitlines())


def _error_lines(lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        s = ln.strip()
        if not s or _BENIGN_STDERR.match(s) and not re.match(r"^\s*error", s, re.I):
            continue
        if _ERROR_HINT.search(s):
            out.append(s)
    return out


def _offending_line(errors: list[str], text: str) -> str:
    """ngspice says 'Error on line N'; name that line of the netlist."""
    for e in errors:
        m = re.search(r"error on line (\d+)", e, re.I)
        if m:
            lines = [ln for ln in text.splitlines()]
            n = int(m.group(1))
            # ngspice counts the title line as line 1 in batch mode and 0 in shared mode
            for cand in (n - 1, n):
                if 0 <= cand < len(lines) and lines[cand].strip() and not lines[cand].startswith("*"):
                    return lines[cand].strip()[:160]
    return ""


def _classify(errors: list[str], text: str = "") -> str:
    line = _offending_line(errors, text) if text else ""
    msg = _classify_kind(errors)
    return f"{msg} at '{line}'" if line else msg


def _classify_kind(errors: list[str]) -> str:
    text = " ".join(errors).lower()
    if "timestep too small" in text or "singular matrix" in text or "gmin" in text or "convergence" in text \
            or "source stepping failed" in text:
        return "the circuit did not converge"
    if "could not find" in text and "model" in text or "unable to find definition of model" in text:
        return "a model used by the netlist is missing"
    if "no such file" in text or "could not find include" in text:
        return "a file included by the netlist is missing"
    return "ngspice failed"


# ---------------------------------------------------------------- shared mode
_shared_lock = threading.Lock()
_shared_instance = None
_shared_failed: str | None = None


def _make_shared():
    """One libngspice per process (ngspice keeps global state)."""
    global _shared_instance, _shared_failed
    if _shared_instance is not None:
        return _shared_instance
    if _shared_failed:
        raise SpiceError(_shared_failed)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from PySpice.Spice.NgSpice import Shared as _sh
        from PySpice.Spice.NgSpice.SimulationType import SIMULATION_TYPE
    except Exception as exc:  # pragma: no cover - depends on the install
        _shared_failed = f"PySpice cannot be imported ({exc}); use engine='subprocess'"
        raise SpiceError(_shared_failed) from None
    # register ngspice versions PySpice 1.5 does not know, so it does not warn
    for v in range(35, 60):
        SIMULATION_TYPE.setdefault(v, SIMULATION_TYPE["last"])
    logging.getLogger("PySpice").setLevel(logging.CRITICAL)

    class _Shared(_sh.NgSpiceShared):
        @staticmethod
        def _send_char(message_c, ngspice_id, user_data):
            self = _sh.ffi.from_handle(user_data)
            message = _sh.ffi_string_utf8(message_c)
            prefix, _, content = message.partition(" ")
            if prefix == "stderr":
                self._stderr.append(content)
                if not _BENIGN_STDERR.match(content) and _ERROR_HINT.search(content):
                    self._error_in_stderr = True
            else:
                self._stdout.append(content)
                if re.match(r"^\s*error", content, re.I):
                    self._error_in_stdout = True
            return 0

    # libngspice runs the .spiceinit of its working directory when it starts: start it in pcmspice's
    # private scratch folder, never in the user's (a checkout or a download may hold one)
    cwd = os.getcwd()
    try:
        os.chdir(_scratch())
        inst = _Shared.new_instance()
    except (OSError, NameError) as exc:
        _shared_failed = f"libngspice could not be loaded ({exc}); install libngspice0-dev or use engine='subprocess'"
        raise SpiceError(_shared_failed) from None
    finally:
        os.chdir(cwd)
    inst.exec_command("set num_threads=1")
    _shared_instance = inst
    return inst


def shared_available() -> bool:
    try:
        with signals.deferred(), _shared_lock:
            _make_shared()
        return True
    except SpiceError:
        return False


def _shared_vectors(ng, plot_name: str, wanted: list[str] | None = None) -> dict[str, np.ndarray]:
    """Every vector of the plot, or only those named in ``wanted`` (normalized names; a noise analysis of many
    instances has tens of thousands of vectors, and copying them all costs more than the analysis)."""
    from PySpice.Spice.NgSpice import Shared as _sh
    lib = ng._ngspice_shared
    out: dict[str, np.ndarray] = {}
    if wanted is not None:
        for w in wanted:
            got = _shared_vector(lib, plot_name, w)
            if got is not None:
                out[w] = got
        return out
    names_c = lib.ngSpice_AllVecs(plot_name.encode())
    i = 0
    while names_c[i] != _sh.FFI.NULL:
        vname = _sh.ffi_string_utf8(names_c[i])
        i += 1
        info = lib.ngGet_Vec_Info(f"{plot_name}.{vname}".encode())
        key, arr = _vector_of(info, vname)
        out[key] = arr
    return out


def _vector_of(info, vname: str) -> tuple[str, np.ndarray]:
    """(normalized name, a copy of the data) of one ngspice vector."""
    from PySpice.Spice.NgSpice import Shared as _sh
    ffi = _sh.ffi
    n = info.v_length
    if info.v_compdata == _sh.FFI.NULL:
        arr = np.frombuffer(ffi.buffer(info.v_realdata, n * 8), dtype=np.float64).copy()
    else:
        arr = np.frombuffer(ffi.buffer(info.v_compdata, n * 16), dtype=np.complex128).copy()
    return _normalize(vname, "current" if info.v_type == 2 else ""), arr


def _shared_vector(lib, plot_name: str, key: str) -> np.ndarray | None:
    """The vector whose normalized name is ``key`` (as the full listing would name it), or None.  ngspice's
    own names are tried: ``v(node)`` is ``node``, ``i(source)`` is ``source#branch``, anything else as is;
    a vector is taken only if its normalized name is ``key``, so the answer is the full listing's entry."""
    from PySpice.Spice.NgSpice import Shared as _sh
    m = re.match(r"^([vi])\((.+)\)$", key)
    cands = ([m.group(2) + "#branch", m.group(2)] if m.group(1) == "i" else [m.group(2)]) if m else []
    for raw in [*cands, key]:
        info = lib.ngGet_Vec_Info(f"{plot_name}.{raw}".encode())
        if info == _sh.FFI.NULL:
            continue
        name, arr = _vector_of(info, _sh.ffi_string_utf8(info.v_name))
        if name == key:
            return arr
    return None


_scratch_dir: str | None = None


def _scratch() -> str:
    """A private folder for files ngspice writes into its working directory (bsim4v5.out, ...)."""
    global _scratch_dir
    if _scratch_dir is None or not os.path.isdir(_scratch_dir):
        import atexit
        _scratch_dir = tempfile.mkdtemp(prefix="pcmspice-ngspice-")
        atexit.register(shutil.rmtree, _scratch_dir, True)
    return _scratch_dir


def run_shared(text: str, name: str = "netlist", vectors: list[str] | None = None) -> SimResult:
    # a Ctrl-C / SIGTERM inside libngspice's callbacks would be swallowed by cffi: record it and raise it
    # when the simulation returns (pcmspice.core.signals)
    with signals.deferred(), _shared_lock:
        cwd = os.getcwd()
        os.chdir(_scratch())
        try:
            return _run_shared_locked(text, name, vectors)
        finally:
            os.chdir(cwd)


def _run_shared_locked(text: str, name: str, vectors: list[str] | None = None) -> SimResult:
    ng = _make_shared()
    try:
        ng.load_circuit(text)
    except Exception:
        msgs = _error_lines(ng._stdout + ng._stderr) or (ng._stdout + ng._stderr)[-5:]
        _reset(ng)
        raise SpiceError(_classify(msgs, text), netlist=name, ngspice_message="\n".join(msgs)) from None
    load_log = list(ng._stdout) + list(ng._stderr)  # run() clears ngspice's output buffers
    try:
        ng.run()
    except Exception:
        allm = load_log + list(ng._stdout) + list(ng._stderr)
        msgs = _error_lines(allm) or allm[-5:]
        _reset(ng)
        raise SpiceError(_classify(msgs, text), netlist=name, ngspice_message="\n".join(msgs)) from None
    logs = load_log + list(ng._stdout) + list(ng._stderr)
    plot = ng.last_plot
    if plot == "const":
        msgs = _error_lines(logs) or logs[-5:]
        _reset(ng)
        raise SpiceError(_classify(msgs, text), netlist=name, ngspice_message="\n".join(msgs))
    vecs = _shared_vectors(ng, plot, vectors)
    _reset(ng)
    analysis = re.sub(r"\d+$", "", plot).lower()
    return SimResult(name, sha256_text(text), analysis, vecs, logs)


def _reset(ng) -> None:
    """Free old plots and the circuit so a long session does not grow."""
    for cmd in ("destroy all", "remcirc"):
        try:
            ng.exec_command(cmd)
        except Exception:
            pass


# ---------------------------------------------------------------- public
ENGINES = ("auto", "shared", "subprocess")


def run(text: str, name: str = "netlist", engine: str = "auto", timeout_s: float = 600.0,
        vectors: Iterable[str] | None = None) -> SimResult:
    """Simulate netlist ``text`` (one analysis) and return its vectors.

    ``engine``: ``shared`` (libngspice via PySpice), ``subprocess``
    (``ngspice -b``) or ``auto`` (shared when it loads, else subprocess, or
    as set by the environment variable PCMSPICE_ENGINE).  ``vectors``: return only these (normalized names,
    e.g. ``v(out)``, ``i(vdd)``; one that the analysis lacks is absent, as it would be from the full set);
    None: every vector.  The simulation is the same either way; only what is copied out differs.
    """
    wanted = None if vectors is None else list(dict.fromkeys(v.lower() for v in vectors))
    if engine == "auto":
        engine = os.environ.get("PCMSPICE_ENGINE", "auto")
    if engine not in ENGINES:
        raise SpiceError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})", value=engine)
    # whoever built the text, ngspice runs no command and includes only clean model files
    check_netlist(text, name)
    ngspice_executable() if engine == "subprocess" else None
    if engine == "shared" or (engine == "auto" and shared_available()):
        return run_shared(text, name, wanted)
    res = run_subprocess(text, name, timeout_s)
    if wanted is not None:
        res.vectors = {k: res.vectors[k] for k in wanted if k in res.vectors}
    return res

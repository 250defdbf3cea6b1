"""Characterization sweeps: Monte Carlo populations x corners x temperatures -> lookup tables.

A sweep definition (``characterization/*.toml``, see :class:`SweepConfig`) names
a technology, corners, temperatures, supplies, the number of Monte Carlo cells,
a seed, the Vc grid, parameter overrides for the cell and the PCM settings.

Work is split (:mod:`~pcmspice.characterize.batches`) into batches of about 100 cells (one netlist each, the measured
sweet spot for ngspice).  Each batch is written atomically to
``OUT/batches/<key>/...npz`` as soon as it finishes, where ``key`` hashes the
definition and the netlists: an interrupted run resumes (``resume=True``)
with exactly the batches it still lacks, and re-running an unchanged
definition reuses every finished batch.  Cell k's mismatch comes from its own
seed stream, so batching never changes the result.

Batches run in local processes (``jobs``, one ngspice thread each) or on a
Dask distributed cluster (``scheduler="tcp://..."``); both give identical tables.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np

from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm
from pcmspice.core.config import Config, param
from pcmspice.core.errors import ConfigError, SpiceError
from pcmspice.core.limits import MAX_CELLS, MAX_PCM_DEVICES, MAX_SEED, check_memory
from pcmspice.spice import netlist as nl
from pcmspice.spice import tech as techmod

CELL_TEMPLATES = ("testbenches/3t1c_dc.cir.j2", "testbenches/3t1c_step.cir.j2", "testbenches/3t1c_pulses.cir.j2",
                  "testbenches/3t1c_gate.cir.j2", "testbenches/3t1c_noise.cir.j2")


BIAS_MODES = ("fixed", "replica")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
# upper limits of the fields that set work or memory (docs/characterization.md#limits)
MAX_COMBOS = 1000            # corners x temperatures x supplies
MAX_TEMP_C = 300.0
MAX_VDD_VOLTS = 10.0
_TECH = ("the name of a technology under netlists/tech (generic65, sky130) or the path of a technology folder "
         "holding a tech.toml (docs/technologies.md)")


@dataclass(frozen=True)
class SweepConfig(Config):
    """One characterization sweep; round-trips to TOML (``characterization/*.toml``)."""

    _where = "sweep definition"

    name: str = param("sweep", doc="names the output folder and the LUT set")
    technology: str = param("generic65", source=_TECH)
    corners: tuple[str, ...] = param(("tt",))
    temps_c: tuple[float, ...] = param((27.0,), unit="degC", ge=-273.15, le=MAX_TEMP_C)
    vdd_volts: tuple[float, ...] = param((), unit="V", gt=0, le=MAX_VDD_VOLTS,
                                         doc="empty: the technology's nominal supply")
    n_cells: int = param(1000, ge=1, le=MAX_CELLS, doc="Monte Carlo cells (the paper ran 1,000)")
    seed: int = param(1, ge=0, le=MAX_SEED)
    vc_min_volts: float = param(0.0, unit="V", ge=-MAX_VDD_VOLTS, le=MAX_VDD_VOLTS)
    vc_max_volts: float = param(-1.0, unit="V", ge=-MAX_VDD_VOLTS, le=MAX_VDD_VOLTS, doc="-1: the supply voltage")
    vc_points: int = param(101, ge=3, le=10_001, doc="read curve / leakage grid")
    step_points: int = param(26, ge=3, le=201, doc="start voltages of the single-pulse step map")
    cells_per_netlist: int = param(100, ge=1, le=1000, source="measured sweet spot for ngspice")
    avt_scale: float = param(1.0, ge=0, le=100, doc="multiplies the Pelgrom coefficients")
    read_time_seconds: float = param(10e-9, unit="s", gt=0, le=1,
                                     doc="integration time of one read (energy; read-noise bandwidth 1/(2T))")
    retention_times_seconds: tuple[float, ...] = param((1e-4, 1e-3, 1e-2, 1e-1), unit="s", gt=0, le=1e6,
                                                       doc="retention figure span and marks")
    pcm_devices: int = param(200, ge=1, le=MAX_PCM_DEVICES)
    pcm_pulses: int = param(20, ge=1, le=1000)
    pcm_cycles: int = param(3, ge=1, le=100)
    params: dict[str, float] = param(default_factory=dict, doc="netlist parameter overrides")
    bias: str = param("fixed", choices=BIAS_MODES,
                      doc='"replica": pulse gate levels regulated per corner / temperature / supply')

    def _check(self) -> None:
        if not _PLAIN_NAME.fullmatch(self.name) or ".." in self.name:
            raise self._bad("name", self.name, "a plain folder name: letters, digits, '.', '_' or '-', not starting "
                                               "with '.' or '-' and without '/' or '..'")
        # a folder is loaded (every tech.toml field checked) and kept as its absolute path
        object.__setattr__(self, "technology", check_technology(self, self.technology))
        for name in ("corners", "temps_c", "vdd_volts"):   # sets: an equal value twice is simulated once
            items = getattr(self, name)
            if len(set(items)) != len(items):
                object.__setattr__(self, name, tuple(dict.fromkeys(items)))
        if not self.corners:
            raise self._bad("corners", self.corners, "at least one corner")
        if not self.temps_c:
            raise self._bad("temps_c", self.temps_c, "at least one temperature")
        n = len(self.corners) * len(self.temps_c) * max(1, len(self.vdd_volts))
        if n > MAX_COMBOS:
            raise ConfigError(f"{self._where}: {n} combinations of corners x temperatures x supplies is invalid; "
                              f"expected at most {MAX_COMBOS}")
        self._check_names()

    def _check_names(self) -> None:
        """Before any work (issue 21): every corner is one of the technology's, every ``[params]`` name is a
        parameter of the cell's or the PCM's netlists (with a did-you-mean) and its value within its limits."""
        import difflib
        corners = tuple(self.tech().corners)
        for c in self.corners:
            if c not in corners:
                close = difflib.get_close_matches(str(c), corners, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigError(f"{self._where}: corners: unknown corner {c!r} for technology {self.tech().name} "
                                  f"(choose from {', '.join(corners)}){hint}")
        decl = _declared()
        for k, v in self.params.items():
            shown = k if isinstance(k, str) and _PLAIN_NAME.fullmatch(k) else repr(k)   # one line, whatever k is
            if k not in decl:
                close = difflib.get_close_matches(str(k), sorted(decl), n=2)
                hint = (f"; did you mean {' or '.join(close)}?" if close else
                        f" (known: {', '.join(sorted(decl))})")
                raise ConfigError(f"{self._where}: [params] {shown}: not a parameter of the cell's netlists (the "
                                  f"3T1C's and the PCM's characterization templates){hint}")
            try:
                decl[k].check(v, "")
            except SpiceError as exc:
                raise ConfigError(f"{self._where}: [params] {shown}: {exc}") from None

    def memory_bytes(self) -> float:
        """An estimate of the memory the sweep holds at its peak: every finished batch (kept until the tables
        are assembled), the assembled tables and the batch list, for every combination."""
        combos = len(self.corners) * len(self.temps_c) * max(1, len(self.vdd_volts))
        cell = self.n_cells * (4 * self.vc_points + 16) * 8
        pcm = self.pcm_devices * (3 * 61 + 8) * 8
        batches = -(-self.n_cells // self.cells_per_netlist) + 1
        return combos * (3 * (cell + pcm) + 2000 * batches)

    def check_resources(self) -> None:
        """Refuse a sweep whose memory estimate is above the limit before any batch runs (netlist parameters
        are checked when the definition is made)."""
        check_memory(f"{self._where} {self.name!r} ({self.n_cells} cells x {self.vc_points} points per "
                     "combination)", self.memory_bytes(), "use fewer cells (--mc), combinations or vc_points")

    # --- derived ------------------------------------------------------------
    def tech(self) -> techmod.Technology:
        return techmod.load(self.technology)

    def supplies(self) -> tuple[float, ...]:
        return self.vdd_volts or (self.tech().vdd_volts,)

    def combos(self) -> list[tuple[str, float, float]]:
        t = self.tech()
        for c in self.corners:
            t.check_corner(c)
        return [(c, float(T), float(v)) for c in self.corners for T in self.temps_c for v in self.supplies()]

    def vc_grid(self, vdd: float) -> np.ndarray:
        hi = vdd if self.vc_max_volts < 0 else self.vc_max_volts
        return np.linspace(self.vc_min_volts, hi, self.vc_points)

    def run_for(self, corner: str, temp_c: float, vdd: float, engine: str = "auto",
                kind: str = "cell") -> cellmod.Run:
        """The Run of one combination; with ``bias = "replica"``, its pulse gate levels are the
        ones a replica bias sets there (:func:`pcmspice.circuits.c3t1c.replica_bias`; the reference is tt,
        27 degC at the definition's own parameters and supply, where nothing changes).  ``kind``:
        "cell" (the 3T1C's run: PCM-only parameters left out) or "pcm" (every parameter)."""
        params = dict(self.params) if kind == "pcm" else pcm.cell_only(self.params)
        tech = self.tech()
        if abs(vdd - tech.vdd_volts) > 1e-12 or "vdd_volts" in params:
            params.setdefault("vdd_volts", vdd)
        if self.bias == "replica":
            params.update(_replica_levels(self.technology, json.dumps(pcm.cell_only(self.params), sort_keys=True),
                                          corner, float(temp_c), float(vdd), engine))
        return cellmod.Run(tech, corner, temp_c, params, engine)


@functools.lru_cache(maxsize=1)
def _declared() -> dict[str, nl.Param]:
    """Every netlist parameter of the cell's and the PCM's characterization templates."""
    decl: dict[str, nl.Param] = {}
    for t in CELL_TEMPLATES + pcm.LUT_TEMPLATES:
        decl.update(nl.declared_params(t))
    return decl


@functools.lru_cache(maxsize=64)
def _replica_levels(technology: str, params_json: str, corner: str, temp_c: float, vdd: float,
                    engine: str) -> tuple[tuple[str, float], ...]:
    """Replica-bias gate levels of one combination (cached: every batch of a combination asks)."""
    tech = techmod.load(technology)
    base = json.loads(params_json)
    ref = cellmod.Run(tech, "tt", 27.0, base, engine)
    ref_vdd = cellmod.cell_params(tech, base)["vdd_volts"]
    if corner == "tt" and temp_c == 27.0 and abs(vdd - ref_vdd) < 1e-12:
        return ()
    run = cellmod.Run(tech, corner, temp_c, {**base, "vdd_volts": vdd}, engine)
    return tuple(cellmod.replica_bias(run, ref).items())


def check_technology(cfg: Config, value: str) -> str:
    """``value`` as a config keeps it (:func:`pcmspice.spice.tech.reference`), or the config's one-line error."""
    if not techmod.is_reference(value):
        raise cfg._bad("technology", value, "one of " + ", ".join(techmod.available()) +
                       ", or the path of a folder holding a tech.toml")
    return techmod.reference(value)


def combo_name(tech: str, corner: str, temp_c: float, vdd: float) -> str:
    return f"{tech}_{corner}_{temp_c:g}C_{vdd:g}V".replace("-", "m")


def netlist_hashes() -> dict[str, str]:
    names = list(CELL_TEMPLATES) + list(pcm.LUT_TEMPLATES)
    return {n: nl.template_hash(n) for n in names}


def sweep_key(cfg: SweepConfig) -> str:
    """What a finished batch depends on: the definition (minus its name) and the netlists."""
    d = cfg.to_dict()
    d.pop("name")
    d.pop("retention_times_seconds")
    t = cfg.tech()
    blob = json.dumps({"cfg": d, "net": netlist_hashes(), "tech": t.provenance()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]

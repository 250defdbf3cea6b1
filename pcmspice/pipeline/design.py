"""Design files: one frozen config from a cell design to a verdict (``pcmspice run DESIGN.toml``).

A design (:class:`DesignConfig`) gathers, in one TOML file, everything ``pcmspice run`` needs:

* ``name`` and ``luts`` - where the lookup tables come from: ``"committed"`` (the committed population),
  ``"characterize"`` (a fresh characterization of the ``[sweep]`` section) or a LUT folder;
* ``[sweep]`` - a :class:`~pcmspice.characterize.SweepConfig` (technology, corners, temperatures, supply,
  population size and seed, and the cell's netlist parameters in ``[sweep.params]``);
* ``[task]`` - a :class:`TaskConfig`: the training task (the fields of
  :class:`~pcmspice.train.TrainConfig` but its ``seed`` and ``luts``, plus ``seeds``; the array settings,
  transfer interval, program-and-verify tolerance and offset scheme, in ``[task.array]``);
* ``[power]`` - the :class:`~pcmspice.power.PowerConfig` parameters.

Every section is an existing config nested as it is; :func:`design_key` is the content hash of the whole.
:func:`default_design` is the embedded default (what ``pcmspice run`` without a design file runs).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice import power as pw
from pcmspice import train
from pcmspice.array.config import ArrayConfig
from pcmspice.characterize.sweep import SweepConfig
from pcmspice.core import paths
from pcmspice.core.config import Config, param, same_as
from pcmspice.core.errors import ConfigError
from pcmspice.core.limits import MAX_SEED
from pcmspice.core.provenance import sha256_text

LUT_SOURCES = ("committed", "characterize")
DESIGN_SCHEMA = "pcmspice-design-1"
MAX_SEEDS = 100
MAX_COMBOS = 64   # corners x temperatures x supplies of one design: each is characterized and trained
_T = train.TrainConfig


@dataclass(frozen=True)
class TaskConfig(Config):
    """The training task of a design: a :class:`~pcmspice.train.TrainConfig` without its ``seed`` and ``luts``
    (the design's LUTs are used), trained once per seed of ``seeds``."""

    _where = "design [task]"

    dataset: str = same_as(_T, "dataset")
    network: str | None = same_as(_T, "network")
    activation: str = same_as(_T, "activation")
    epochs: int = same_as(_T, "epochs")
    learning_rate: float = same_as(_T, "learning_rate")
    lr_decay: float = same_as(_T, "lr_decay")
    batch_size: int = same_as(_T, "batch_size")
    seeds: tuple[int, ...] = param((0,), ge=0, le=MAX_SEED, doc="one training run per seed")
    max_train: int | None = same_as(_T, "max_train")
    max_test: int | None = same_as(_T, "max_test")
    w_max: tuple[float, ...] = same_as(_T, "w_max")
    time_per_example_seconds: float | None = same_as(_T, "time_per_example_seconds")
    array: ArrayConfig = param(default_factory=ArrayConfig)

    def _check(self) -> None:
        if not self.seeds:
            raise self._bad("seeds", self.seeds, "at least one seed")
        if len(self.seeds) > MAX_SEEDS or len(set(self.seeds)) != len(self.seeds):
            raise self._bad("seeds", self.seeds, f"at most {MAX_SEEDS} different seeds")
        if self.network:   # checked as the training run will check it
            self.train_config(self.seeds[0], "")

    def train_config(self, seed: int, lut_dir: str | Path) -> train.TrainConfig:
        """The training run of one seed on ``lut_dir`` (an unset ``network`` is fitted to the data set when it
        is trained)."""
        d = self.to_dict()
        d.pop("seeds")
        return train.TrainConfig.from_dict({**d, "seed": seed, "luts": str(lut_dir)}, self._where)


def _default_sweep() -> SweepConfig:
    """The committed default sweep (characterization/default.toml), else its built-in equivalent."""
    if paths.default_sweep().is_file():
        return SweepConfig.from_toml(paths.default_sweep())
    return SweepConfig(name="default", technology="generic65", corners=("tt",), temps_c=(27.0,))


@dataclass(frozen=True)
class DesignConfig(Config):
    """One design: LUT source, characterization sweep, training task and power parameters (a TOML file)."""

    _where = "design"

    name: str = param("default", doc="names the design in its outputs and its default output folder")
    luts: str = param("committed", doc='"committed", "characterize" (the [sweep]) or a LUT folder')
    sweep: SweepConfig = param(default_factory=_default_sweep)
    task: TaskConfig = param(default_factory=TaskConfig)
    power: pw.PowerConfig = param(default_factory=pw.PowerConfig)

    def _check(self) -> None:
        try:   # the sweep's folder-name rule: the name names the default output folder
            self.sweep.replace(name=self.name)
        except ConfigError:
            raise self._bad("name", self.name, "a plain folder name: letters, digits, '.', '_' or '-', not "
                                               "starting with '.' or '-'") from None
        if self.luts == "characterize":
            n = len(self.sweep.corners) * len(self.sweep.temps_c) * max(1, len(self.sweep.vdd_volts))
            if n > MAX_COMBOS:
                raise ConfigError(f"{self._where}: [sweep] has {n} combinations of corners x temperatures x "
                                  f"supplies; a design runs at most {MAX_COMBOS} (pcmspice corners runs more)")
        elif self.luts != "committed" and not self.luts.strip():
            raise self._bad("luts", self.luts, '"committed", "characterize" or a LUT folder')

    @classmethod
    def from_toml(cls, path: str | Path) -> DesignConfig:
        """From a design file; a bad field is one line naming the file, the section and the field.  A relative
        ``[sweep] technology`` folder or ``luts`` folder is relative to the design file."""
        path = Path(path)
        text = _tech_relative_to(path)
        try:
            design = super().from_toml(path) if text is None else cls.from_toml_text(text, str(path))
        except ConfigError as exc:
            msg = str(exc)
            if msg.startswith(str(path)):
                msg = msg[len(str(path)) + 2:]
            # the sweep's own check names its table as a design file has it
            msg = msg.replace("sweep definition: [params] ", "[sweep.params] ", 1)
            raise ConfigError(f"{path}: {msg}") from None
        if design.luts not in LUT_SOURCES and not Path(design.luts).is_absolute():
            # a LUT folder is relative to the design file, as a path written in a file is read
            design = design.replace(luts=str(path.parent / design.luts))
        return design

    def lut_source(self) -> str:
        return self.luts if self.luts in LUT_SOURCES else "folder"

    def combos(self) -> list[tuple[str, float, float]]:
        """The (corner, temperature, supply) combinations the design characterizes and trains on (one for
        the committed LUTs or a LUT folder)."""
        return self.sweep.combos() if self.luts == "characterize" else []

    def combo_sweep(self, corner: str, temp_c: float, vdd: float) -> SweepConfig:
        """The ``[sweep]`` of one combination: one corner, one temperature (and the supply if the design
        names supplies).  For a one-combination design it is the ``[sweep]`` itself (the same cache key)."""
        return self.sweep.replace(corners=(corner,), temps_c=(temp_c,),
                                  vdd_volts=(vdd,) if self.sweep.vdd_volts else ())


def _tech_relative_to(path: Path) -> str | None:
    """The TOML text of design file ``path`` with a relative ``[sweep] technology`` folder made absolute
    against the design file's folder (as a path written in a file is read); None when there is nothing to
    change or the file does not parse (the normal reading then says why, in one line)."""
    import tomllib

    import tomli_w

    from pcmspice.spice import tech as techmod
    try:
        data = tomllib.loads(path.read_text()) if path.is_file() else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    sweep = data.get("sweep") if isinstance(data, dict) else None
    tech = sweep.get("technology") if isinstance(sweep, dict) else None
    if not isinstance(tech, str) or tech in techmod.available() or Path(tech).expanduser().is_absolute():
        return None
    folder = path.parent / tech
    if not (folder / "tech.toml").is_file():
        return None
    data["sweep"]["technology"] = str(folder.absolute())
    return tomli_w.dumps(data)


def default_design() -> DesignConfig:
    """The embedded default design: the committed LUTs (generic65, tt, 27 °C), mnist5k, seed 0, the paper's
    8,000 examples between transfers, the default power parameters."""
    return DesignConfig()


def design_key(design: DesignConfig) -> str:
    """The content hash of a design (64 hex digits): every field of every section, names included."""
    return sha256_text(json.dumps({"schema": DESIGN_SCHEMA, "design": design.to_dict()}, sort_keys=True))


def load_design(path_or_config: str | Path | DesignConfig | None) -> DesignConfig:
    """A design from a file, a config, or None for :func:`default_design`."""
    if path_or_config is None:
        return default_design()
    if isinstance(path_or_config, DesignConfig):
        return path_or_config
    return DesignConfig.from_toml(Path(path_or_config))


def design_summary(design: DesignConfig, lut_dir: Path, reused: bool) -> dict[str, Any]:
    """What every output of a design run records about it."""
    key = design_key(design)
    return {"design": design.name, "design_sha256": key, "design_hash": key[:8], "lut_dir": str(lut_dir),
            "luts_reused": reused, "lut_source": design.lut_source()}


def apply_sets(design: DesignConfig, sets: list[str] | tuple[str, ...]) -> DesignConfig:
    """``pcmspice run --set``: ``section.name=VALUE`` by dotted path into the design (``task.epochs=2``,
    ``task.array.transfer_every=500``, ``sweep.n_cells=50``, ``power.adc.enob_bits=6``); a path that starts
    with a power section (``adc.enob_bits=6``) is a power parameter, as before design files."""
    names = {f.name for f in dataclasses.fields(DesignConfig)}
    items = [s if str(s).partition(".")[0].partition("=")[0].strip() in names else f"power.{s}" for s in sets]
    return design.with_overrides(items)


def apply_run_options(design: DesignConfig, *, luts: str | Path | None = None, fresh_mc: int | None = None,
                      dataset: str | None = None, epochs: int | None = None, network: str | None = None,
                      seed: int | None = None, transfer_every: int | None = None,
                      power: pw.PowerConfig | None = None) -> DesignConfig:
    """``design`` with the options of ``pcmspice run`` (None: the design's own value).

    ``fresh_mc``: characterize that many cells of the ``[sweep]`` at tt, 27 °C with the seed ``seed``
    (else the first training seed), as ``pcmspice run --fresh-mc`` always did."""
    changes = {"task.dataset": dataset, "task.epochs": epochs, "task.network": network,
               "task.seeds": (seed,) if seed is not None else None, "task.array.transfer_every": transfer_every}
    design = design.with_overrides({k: v for k, v in changes.items() if v is not None})
    task = design.task
    if power is not None:
        design = design.replace(power=power)
    if fresh_mc is not None:
        sweep = design.sweep.replace(corners=("tt",), temps_c=(27.0,), vdd_volts=(), n_cells=fresh_mc,
                                     seed=task.seeds[0])
        design = design.replace(luts="characterize", sweep=sweep)
    if luts is not None:
        design = design.replace(luts=str(luts))
    return design

"""The steps of ``pcmspice run`` that are not training: the run's folders, its default folder, and the
LUTs of a design characterized once per content (:func:`characterize_design`)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcmspice import characterize as ch
from pcmspice.core import paths
from pcmspice.core.errors import PcmSpiceError
from pcmspice.core.outputs import prepare_out_dir, write_marker
from pcmspice.lut.format import load_lut_set


def _lut_dir_of_sweep(res: Any) -> Path:
    dirs = list(res.lut_dirs.values())
    if len(dirs) != 1:
        raise PcmSpiceError(f"the default sweep produced {len(dirs)} LUT sets; expected one (tt, 27 C)")
    return Path(dirs[0])


def _run_folders(out_dir: str | Path, report_dir: str | Path | None, key: str, force: bool) -> tuple[Path, Path]:
    """A run's own folder (checked, marked) and its report folder (checked when given on its own)."""
    out = prepare_out_dir(out_dir, "run", key, force)
    report = Path(report_dir) if report_dir else out / "report"
    if report_dir:   # a folder of its own: any earlier report may be replaced, nothing else
        prepare_out_dir(report, "report", None, force)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "run", key)
    return out, report


# ---- design files -----------------------------------------------------------------------------------------

def default_out_dir(design: Any, root: str | Path = "runs") -> Path:
    """``runs/run-<name>-<hash8>``: the folder of ``pcmspice run DESIGN.toml`` when no --out is given."""
    from pcmspice.pipeline.design import design_key
    return Path(root) / f"run-{design.name}-{design_key(design)[:8]}"


def _cached_luts(run_dir: Path, key: str, lut_name: str) -> Path | None:
    """The LUT folder of a finished characterization of ``key`` in ``run_dir``, or None: its marker names the
    key, its summary is written and its LUT set loads (seals checked)."""
    from pcmspice.characterize.execute import KIND
    from pcmspice.core.outputs import read_marker
    m = read_marker(run_dir)
    lut_dir = run_dir / "luts" / lut_name
    if m is None or m.get("kind") != KIND or m.get("key") != key or not (run_dir / "summary.json").is_file():
        return None
    try:
        load_lut_set(lut_dir)
    except (PcmSpiceError, OSError, ValueError):
        return None
    return lut_dir


def characterize_design(design: Any, out: Path, *, jobs: int = 2, progress: bool = True,
                        echo: Callable[[str], Any] = print, sweep: Any = None, folder: str = "characterize",
                        scheduler: str | None = None) -> tuple[Path, Path, bool]:
    """The LUTs of a design's ``[sweep]`` (or of ``sweep``, one combination of it), characterized once per
    content: in ``$PCMSPICE_CACHE/designs/<key>`` when PCMSPICE_CACHE is set, else in ``out/<folder>``; a
    finished characterization of the same key (the sweep, the netlists and the technology) is reused without
    running SPICE.  ``scheduler``: the batches run on that Dask cluster.
    Returns (characterization folder, LUT folder, reused)."""
    import os

    from pcmspice.characterize.sweep import combo_name, sweep_key
    from pcmspice.pipeline.design import design_key
    sweep = sweep if sweep is not None else design.sweep
    key = sweep_key(sweep)
    run_dir = (paths.writable_dir(paths.cache_root() / "designs", "the design cache") / key
               if os.environ.get("PCMSPICE_CACHE") else out / folder)
    (corner, temp, vdd), = sweep.combos()
    name = combo_name(sweep.tech().name, corner, temp, vdd)   # as run_sweep names it (a folder too)
    from pcmspice.core import locks
    with locks.waiting(run_dir, "characterizing", on_wait=echo):   # one process characterizes, the others reuse
        cached = _cached_luts(run_dir, key, name)
        if cached is not None:
            echo(f"[1/4] reusing LUTs of design {design.name} {design_key(design)[:8]} (characterization {key}) "
                 f"from {cached}: nothing to simulate")
            return run_dir, cached, True
        echo(f"[1/4] characterizing {sweep.n_cells} cells ({sweep.technology}, {corner}, {temp:g} C, {vdd:g} V; "
             f"characterization {key}) into {run_dir}")
        res = ch.run_sweep(sweep, run_dir, jobs=jobs, progress=progress, force=True, scheduler=scheduler)
        return run_dir, _lut_dir_of_sweep(res), False

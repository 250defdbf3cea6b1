"""The steps of ``pcmspice run`` that are not training: the run's folders, its default folder, and the
LUTs of a design characterized once per content (:func:`characterize_design`)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcmspice import characterize as ch
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
    key, it is complete (:mod:`pcmspice.core.complete`) and its LUT set loads (seals and manifest checked)."""
    from pcmspice.characterize.execute import KIND
    from pcmspice.core import complete
    from pcmspice.core.outputs import read_marker
    m = read_marker(run_dir)
    lut_dir = run_dir / "luts" / lut_name
    if m is None or m.get("kind") != KIND or m.get("key") != key or complete.problem(run_dir, verify_files=False):
        return None
    try:
        load_lut_set(lut_dir)
    except (PcmSpiceError, OSError, ValueError):
        return None
    return lut_dir


def characterize_design(design: Any, out: Path, *, jobs: int = 2, progress: bool = True,
                        echo: Callable[[str], Any] = print, sweep: Any = None, folder: str = "characterize",
                        scheduler: str | None = None, cache: str | Path | None = None) -> tuple[Path, Path, bool]:
    """The LUTs of a design's ``[sweep]`` (or of ``sweep``, one combination of it), characterized once per
    content into the LUT cache (:mod:`pcmspice.characterize.cache`: ``cache``, else ``$PCMSPICE_LUT_CACHE``,
    else ``$PCMSPICE_CACHE/luts``), entry ``<cache key>``; a finished characterization of the same key is
    reused by any run folder without running SPICE, an unfinished one resumes from its batches.  One process
    at a time writes an entry (a file lock); ``out``/``folder`` are kept for the keyword API and unused.
    ``scheduler``: the batches run on that Dask cluster.  Returns (characterization folder, LUT folder, reused)."""
    from pcmspice.characterize import cache as lut_cache
    from pcmspice.characterize.sweep import combo_name, sweep_key
    from pcmspice.pipeline.design import design_key
    sweep = sweep if sweep is not None else design.sweep
    key = sweep_key(sweep)
    root = lut_cache.cache_dir(cache)
    entry = lut_cache.cache_key(sweep)
    run_dir = root / entry
    (corner, temp, vdd), = sweep.combos()
    name = combo_name(sweep.tech().name, corner, temp, vdd)   # as run_sweep names it (a folder too)
    with lut_cache.entry_lock(root, entry, echo):
        cached = _cached_luts(run_dir, key, name)
        if cached is not None:
            lut_cache.touch(run_dir)
            echo(f"[1/4] reusing LUTs of design {design.name} {design_key(design)[:8]} (characterization {key}) "
                 f"from {cached}: nothing to simulate")
            return run_dir, cached, True
        echo(f"[1/4] characterizing {sweep.n_cells} cells ({sweep.technology}, {corner}, {temp:g} C, {vdd:g} V; "
             f"characterization {key}) into the LUT cache {run_dir}")
        res = ch.run_sweep(sweep, run_dir, jobs=jobs, progress=progress, force=True, scheduler=scheduler,
                           pcm_cache=root / lut_cache.PCM_DIR)
        lut_cache.touch(run_dir)
        echo(f"[1/4] characterization {key}: {res.computed} batches simulated ({res.reused} batches reused)")
    return run_dir, _lut_dir_of_sweep(res), False

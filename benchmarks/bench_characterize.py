"""Characterization benchmark (run on demand, not in CI).

A full 1,000-cell characterization of one corner (generic65, tt, 27 degC) with
the batched executor (100 cells per netlist, --jobs processes), against the
naive path -- one netlist per cell and per measurement, one process --
measured on a subset and extrapolated linearly (the naive cost per cell does
not depend on the population size).

    .venv/bin/python benchmarks/bench_characterize.py [--cells 1000] [--jobs 2] [--naive-subset 20]
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

from pcmspice import characterize as ch
from pcmspice.circuits import c3t1c as cell
from pcmspice.core import paths


def naive(cfg: ch.SweepConfig, n: int, n_pulses: int = 400) -> float:
    """The straightforward path: per cell, its own netlists, one process; the step per pulse
    vs Vc measured as a textbook testbench would, by walking the range with an up train from
    near 0 V and a down train from near VDD (n_pulses each), Vc sampled after every pulse."""
    import numpy as np
    run = cfg.run_for("tt", 27.0, 1.0)
    mm = cell.draw_mismatch(run.tech, n, cfg.seed)
    grid = cfg.vc_grid(1.0)
    t0 = time.perf_counter()
    for k in range(n):
        one = cell.subset(mm, slice(k, k + 1))
        cell.read_curve(run, one, grid)
        cell.leak_curve(run, one, grid)
        cell.pulses(run, one, np.array([0.05]), np.ones((1, n_pulses), int))
        cell.pulses(run, one, np.array([0.95]), -np.ones((1, n_pulses), int))
    return time.perf_counter() - t0


def batched_single_process(cfg: ch.SweepConfig, n: int) -> float:
    """Our per-cell path (single-pulse step map) without batching or parallelism, for reference."""
    run = cfg.run_for("tt", 27.0, 1.0)
    mm = cell.draw_mismatch(run.tech, n, cfg.seed)
    t0 = time.perf_counter()
    for k in range(n):
        ch.cell_arrays(run, cell.subset(mm, slice(k, k + 1)), cfg.vc_grid(1.0), cfg.step_points, cfg.read_time_seconds)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description="1,000-cell characterization: batched vs naive")
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--naive-subset", type=int, default=5)
    a = ap.parse_args(argv)
    cfg = dataclasses.replace(ch.SweepConfig.from_toml(paths.default_sweep("default")), n_cells=a.cells)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = ch.run_sweep(cfg, tmp, jobs=a.jobs, resume=False, progress=True, figures=False)
        t_batched = time.perf_counter() - t0
    t_sub = naive(cfg, a.naive_subset)
    t_naive = t_sub / a.naive_subset * a.cells
    t_one = batched_single_process(cfg, 4 * a.naive_subset) / (4 * a.naive_subset) * a.cells
    print(f"batched: {a.cells} cells + {cfg.pcm_devices} PCM devices, {a.jobs} jobs: {t_batched:.1f} s "
          f"({res.computed} batches)")
    print(f"naive:   {a.naive_subset} cells one by one (pulse-train step walk) took {t_sub:.1f} s -> {a.cells} cells "
          f"extrapolated {t_naive:.0f} s (cell part only, no PCM)")
    print(f"step-map path, one cell per run, one process: {a.cells} cells extrapolated {t_one:.0f} s")
    print(f"ratio naive/batched = {t_naive / t_batched:.1f}x; step-map-single-process/batched = {t_one / t_batched:.1f}x")


if __name__ == "__main__":
    main()

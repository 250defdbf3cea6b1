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

from pcmspice import cell, characterize as ch


def naive(cfg: ch.SweepConfig, n: int) -> float:
    run = cfg.run_for("tt", 27.0, 1.0)
    mm = cell.draw_mismatch(run.tech, n, cfg.seed)
    grid = cfg.vc_grid(1.0)
    t0 = time.perf_counter()
    for k in range(n):
        one = cell.subset(mm, slice(k, k + 1))
        ch.cell_arrays(run, one, grid, cfg.step_points, cfg.read_time_seconds)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description="1,000-cell characterization: batched vs naive")
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--naive-subset", type=int, default=20)
    a = ap.parse_args(argv)
    cfg = dataclasses.replace(ch.SweepConfig.from_toml(ch.SWEEP_DIR / "default.toml"), n_cells=a.cells)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = ch.run_sweep(cfg, tmp, jobs=a.jobs, resume=False, progress=True, figures=False)
        t_batched = time.perf_counter() - t0
    t_sub = naive(cfg, a.naive_subset)
    t_naive = t_sub / a.naive_subset * a.cells
    print(f"batched: {a.cells} cells + {cfg.pcm_devices} PCM devices, {a.jobs} jobs: {t_batched:.1f} s "
          f"({res.computed} batches)")
    print(f"naive:   {a.naive_subset} cells one by one took {t_sub:.1f} s -> {a.cells} cells extrapolated "
          f"{t_naive:.0f} s (cell part only, no PCM)")
    print(f"ratio naive/batched = {t_naive / t_batched:.1f}x")


if __name__ == "__main__":
    main()

"""SPICE engine benchmark (run on demand, not in CI):

1. one 3T1C 100-pulse transient: shared mode (libngspice in-process) vs
   subprocess mode (`ngspice -b`);
2. 100 Monte Carlo cells: 100 separate runs vs one netlist holding all 100.

Prints the times and ratios measured in this run.
    .venv/bin/python benchmarks/bench_spice.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from pcmspice.circuits import c3t1c as cell
from pcmspice.spice import tech as tech


def _best(fn, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cells", type=int, default=100)
    a = ap.parse_args(argv)
    t = tech.load("generic65")
    seq = np.r_[np.ones(50, int), -np.ones(50, int)][None, :]
    one = cell.nominal_mismatch(1)
    runs = {e: dataclasses.replace(cell.Run(t), engine=e) for e in ("shared", "subprocess")}
    cell.pulses(runs["shared"], one, np.array([0.5]), seq)  # load libngspice once
    ts = {e: _best(lambda r=r: cell.pulses(r, one, np.array([0.5]), seq), a.repeat) for e, r in runs.items()}
    print(f"1. one 3T1C, 100-pulse transient: shared {ts['shared']*1e3:.1f} ms, subprocess "
          f"{ts['subprocess']*1e3:.1f} ms -> subprocess/shared = {ts['subprocess']/ts['shared']:.2f}x")
    n = a.cells
    mm = cell.draw_mismatch(t, n, seed=1)
    grid = np.linspace(0, 1, 11)
    r = runs["shared"]
    t_sep = _best(lambda: [cell.step_map(r, cell.subset(mm, slice(k, k + 1)), grid) for k in range(n)], 1)
    t_one = _best(lambda: cell.step_map(r, mm, grid), 1)
    print(f"2a. {n} cells x {grid.size} start voltages, step map (transient): {n} runs {t_sep:.2f} s, one netlist "
          f"{t_one:.2f} s -> separate/one = {t_sep/t_one:.2f}x")
    vgrid = np.linspace(0, 1, 101)
    t_sep = _best(lambda: [cell.read_curve(r, cell.subset(mm, slice(k, k + 1)), vgrid) for k in range(n)], a.repeat)
    t_one = _best(lambda: cell.read_curve(r, mm, vgrid), a.repeat)
    print(f"2b. {n} cells, read curve (DC sweep, 101 points): {n} runs {t_sep:.2f} s, one netlist {t_one:.2f} s "
          f"-> separate/one = {t_sep/t_one:.2f}x")
    seq20 = np.tile(np.r_[np.ones(10, int), -np.ones(10, int)], (n, 1))
    v0 = np.full(n, 0.5)
    t_sep = _best(lambda: [cell.pulses(r, cell.subset(mm, slice(k, k + 1)), v0[k:k + 1], seq20[k:k + 1])
                           for k in range(n)], 1)
    t_one = _best(lambda: cell.pulses(r, mm, v0, seq20), 1)
    print(f"2c. {n} cells, 20-pulse train (transient): {n} runs {t_sep:.2f} s, one netlist {t_one:.2f} s "
          f"-> separate/one = {t_sep/t_one:.2f}x")


if __name__ == "__main__":
    main()

"""SPICE in the loop vs the LUT array, timed in the same run (run on demand, not in CI):

trains the co-simulation's network on both paths (the same cells, data order
and pulses) and prints the time per example of each path, their ratio, and
where the SPICE path's time goes.

    .venv/bin/python benchmarks/bench_cosim.py [--rows 8 --cols 8 --examples 30 --transfer-every 15]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pcmspice.cosim import CosimConfig, default_cache_dir, run_cosim


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--cols", type=int, default=8)
    ap.add_argument("--examples", type=int, default=30)
    ap.add_argument("--transfer-every", type=int, default=15)
    ap.add_argument("--no-cache", action="store_true", help="build the cells' LUTs afresh (timed separately)")
    a = ap.parse_args(argv)
    cfg = CosimConfig(rows=a.rows, cols=a.cols, examples=a.examples, transfer_every=a.transfer_every)
    cache = Path(tempfile.mkdtemp(prefix="bench-cosim-")) if a.no_cache else default_cache_dir()
    s = run_cosim(cfg, cache_dir=cache).summary
    n = cfg.examples
    print(f"{cfg.rows}x{cfg.cols} array, {n} examples, {s['transfers']} transfers, {s['pulses_total']} pulses")
    print(f"SPICE in the loop: {s['spice_seconds']:.2f} s = {1e3 * s['spice_seconds_per_example']:.1f} ms/example")
    print(f"LUT array:         {s['lut_seconds']:.4f} s = {1e3 * s['lut_seconds_per_example']:.3f} ms/example")
    print(f"-> SPICE / LUT = {s['spice_over_lut_time']:.0f}x   (LUT build for these cells: "
          f"{s['lut_build_seconds']:.1f} s{', cached' if s['lut_build_seconds'] == 0 else ''})")
    total = sum(s["spice_seconds_by_operation"].values())
    for op, t in sorted(s["spice_seconds_by_operation"].items(), key=lambda kv: -kv[1]):
        print(f"   {op:18s} {t:8.2f} s  {100 * t / total:5.1f} %")


if __name__ == "__main__":
    main()

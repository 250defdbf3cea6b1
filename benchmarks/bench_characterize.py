"""Characterization benchmark (run on demand, not in CI): 1,000 cells + 200 PCM devices at one corner.

The paper-scale characterization of one corner (characterization/default.toml: generic65, tt, 27 degC) is
timed with ``--jobs 1`` and ``--jobs 2``, each run in a fresh process (imports, ngspice start and the worker
pool counted), and against baselines measured in the same run, interleaved round by round so that the load
of a shared machine falls on all of them alike:

* ``new``    this checkout (PCM batch in parts of 50 devices, run first and beside the cell batches);
* ``legacy`` this checkout's SPICE code with the old schedule: the 200 PCM devices as one task, after the
  cell batches (what the executor did before issue 22), so ``legacy/new`` is the scheduling's share;
* ``before`` (with ``--before DIR``) another checkout of pcmspice, e.g. the commit before this work
  (``git worktree add /tmp/before 146e72f``), run with ``PYTHONPATH=DIR``: the whole before/after.

Every run prints its wall time, its CPU time (its own and its workers'), the load average around it, and the
SHA-256 of its LUT arrays: every variant must give the same tables (the benchmark says so, or says which
differ).  Wall-clock ratios on a busy machine are noisy; the CPU seconds are steadier (``CPU / jobs`` is what
the wall time would be on an idle machine with perfect packing).  Optionally, ``--naive-subset N`` also times
the naive path (one netlist per cell and measurement) on N cells and extrapolates it.

    .venv/bin/python benchmarks/bench_characterize.py [--cells 1000] [--pcm 200] [--jobs 1,2] [--rounds 1]
        [--variants new,legacy] [--before DIR] [--naive-subset 0]
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def _config(cells: int, pcm: int):
    from pcmspice import characterize as ch
    from pcmspice.core import paths
    return dataclasses.replace(ch.SweepConfig.from_toml(paths.default_sweep("default")), n_cells=cells,
                               pcm_devices=pcm)


def _lut_hash(lut_root: Path) -> str:
    import numpy as np
    h = hashlib.sha256()
    for f in sorted(lut_root.rglob("*.lut.npz")):
        with np.load(f, allow_pickle=False) as z:
            for k in sorted(z.files):
                if k != "__meta__":
                    h.update(f"{f.parent.name}/{f.name}:{k}".encode())
                    h.update(np.ascontiguousarray(z[k]).tobytes())
    return h.hexdigest()[:16]


def _legacy_sweep(cfg, out: Path, jobs: int) -> None:
    """The old schedule with this checkout's SPICE code: the cell batches, then the whole PCM batch as one task,
    on the same executor; the tables assembled and written as run_sweep does."""
    from pcmspice.characterize.batches import plan, run_batch
    from pcmspice.characterize.sweep import combo_name, sweep_key
    from pcmspice.characterize.tables import assemble
    from pcmspice.core import executor
    from pcmspice.lut import format as lutmod
    key = sweep_key(cfg)
    d = cfg.to_dict()
    have = dict(executor.execute([(b, run_batch, (d, b, "auto")) for b in plan(cfg)], jobs))
    for corner, temp, vdd in cfg.combos():
        parts = {b: a for b, a in have.items() if (b.corner, b.temp_c, b.vdd) == (corner, temp, vdd)}
        lutmod.save_lut_set(assemble(cfg, corner, temp, vdd, parts, key),
                            out / "luts" / combo_name(cfg.tech().name, corner, temp, vdd))


def one(variant: str, jobs: int, cells: int, pcm: int) -> dict:
    """One timed characterization in this process (called in a fresh child by :func:`measure`)."""
    t0 = time.perf_counter()
    from pcmspice import characterize as ch
    cfg = _config(cells, pcm)
    with tempfile.TemporaryDirectory() as tmp:
        if variant == "legacy":
            _legacy_sweep(cfg, Path(tmp), jobs)
        else:
            ch.run_sweep(cfg, tmp, jobs=jobs, resume=False, progress=False, figures=False)
        wall = time.perf_counter() - t0
        return {"wall": wall, "lut": _lut_hash(Path(tmp) / "luts")}


def measure(variant: str, jobs: int, cells: int, pcm: int, before: str | None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if variant == "before":
        env["PYTHONPATH"] = before + os.pathsep + env.get("PYTHONPATH", "")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    p = subprocess.run([sys.executable, str(HERE), "--one", variant, "--jobs", str(jobs), "--cells", str(cells),
                        "--pcm", str(pcm)], env=env, capture_output=True, text=True, cwd=str(HERE.parent.parent))
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise SystemExit(f"error: the {variant} run with --jobs {jobs} failed:\n{p.stderr[-2000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res.update(variant=variant, jobs=jobs, load=(load0 + os.getloadavg()[0]) / 2,
               cpu=(r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime))
    return res


def naive(cells: int, pcm: int, n: int, n_pulses: int = 400) -> float:
    """The straightforward path, seconds per cell: per cell its own netlists, one process; the step per pulse vs
    Vc walked with an up train from near 0 V and a down train from near VDD (n_pulses each)."""
    import numpy as np

    from pcmspice.circuits import c3t1c as cell
    cfg = _config(cells, pcm)
    run = cfg.run_for("tt", 27.0, 1.0)
    mm = cell.draw_mismatch(run.tech, n, cfg.seed)
    grid = cfg.vc_grid(1.0)
    t0 = time.perf_counter()
    for k in range(n):
        o = cell.subset(mm, slice(k, k + 1))
        cell.read_curve(run, o, grid)
        cell.leak_curve(run, o, grid)
        cell.pulses(run, o, np.array([0.05]), np.ones((1, n_pulses), int))
        cell.pulses(run, o, np.array([0.95]), -np.ones((1, n_pulses), int))
    return (time.perf_counter() - t0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description="1,000 cells + 200 PCM devices at one corner: --jobs 1 and 2, "
                                             "against baselines in the same run")
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--pcm", type=int, default=200)
    ap.add_argument("--jobs", default="1,2", help="comma-separated numbers of worker processes")
    ap.add_argument("--rounds", type=int, default=1, help="repetitions, interleaved")
    ap.add_argument("--variants", default="new,legacy", help="new, legacy (and before, with --before)")
    ap.add_argument("--before", help="another pcmspice checkout to time as the 'before' variant")
    ap.add_argument("--naive-subset", type=int, default=0, help="also time the naive path on this many cells")
    ap.add_argument("--json", help="write every measurement to this file")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one, int(a.jobs), a.cells, a.pcm)))
        return
    jobs = [int(j) for j in a.jobs.split(",")]
    variants = [v for v in a.variants.split(",") if v]
    if a.before and "before" not in variants:
        variants.append("before")
    if "before" in variants and not a.before:
        raise SystemExit("error: the 'before' variant needs --before DIR (a pcmspice checkout)")
    runs = []
    for r in range(a.rounds):
        order = [(v, j) for j in jobs for v in variants]
        for v, j in (order if r % 2 == 0 else order[::-1]):   # alternate the order between rounds
            m = measure(v, j, a.cells, a.pcm, a.before)
            runs.append(m)
            print(f"round {r + 1} {v:7s} --jobs {j}: wall {m['wall']:6.1f} s  cpu {m['cpu']:6.1f} s  "
                  f"load {m['load']:.1f}  luts {m['lut']}", flush=True)
    print(f"\n{a.cells} cells + {a.pcm} PCM devices, one corner (median over {a.rounds} round(s)); "
          f"{os.cpu_count()} CPUs")

    def med(v, j, k):
        xs = sorted(m[k] for m in runs if m["variant"] == v and m["jobs"] == j)
        return xs[len(xs) // 2] if xs else float("nan")
    for v in variants:
        for j in jobs:
            print(f"  {v:7s} --jobs {j}: {med(v, j, 'wall'):6.1f} s wall, {med(v, j, 'cpu'):6.1f} s CPU "
                  f"(CPU/jobs {med(v, j, 'cpu') / j:5.1f} s)")
    for v in variants:
        if 1 in jobs and 2 in jobs:
            print(f"  {v}: --jobs 1 / --jobs 2 = {med(v, 1, 'wall') / med(v, 2, 'wall'):.2f}x wall")
    for base in ("legacy", "before"):
        if base in variants and "new" in variants:
            for j in jobs:
                print(f"  {base}/new, --jobs {j}: {med(base, j, 'wall') / med('new', j, 'wall'):.2f}x wall, "
                      f"{med(base, j, 'cpu') / med('new', j, 'cpu'):.2f}x CPU")
    luts = {m["lut"] for m in runs}
    print("  LUTs: bit-identical across every run" if len(luts) == 1 else
          f"  LUTs DIFFER between runs: {sorted({(m['variant'], m['jobs'], m['lut']) for m in runs})}")
    if a.naive_subset:
        per = naive(a.cells, a.pcm, a.naive_subset)
        print(f"  naive path (one netlist per cell and measurement, 400-pulse trains): {per:.2f} s per cell, "
              f"{a.cells} cells extrapolated {per * a.cells:.0f} s (cells only)")
    if a.json:
        Path(a.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()

"""Search throughput of ``pcmspice explore`` (run on demand, not in CI).

A 5-parameter space (gain F, transfer interval, drift compensation, pre-distortion, verify window) on the
committed LUTs, mnist5k, 20 epochs, pruning on, searched four times with the same seed: on 1 and on 2 local
processes, and on a loopback Dask cluster of 1 and of 2 workers; and once more on 2 processes with every training
run training its own software baseline, as trials did before a search shared one per task and seed.  Prints the
trials per hour of each and the ratios measured in this run, and checks that the searches made the same trials
(``--no-local``, ``--no-dask``, ``--no-own-baselines`` skip some of them).

A batch waits for its slowest trial before the next is proposed, so 2 workers lose the tail of every batch
(one long complete trial among pruned ones): a longer search in larger batches (``--trials 16 --batch 8``)
shows the scaling with that tail amortized.

    .venv/bin/python benchmarks/bench_explore.py [--trials 8] [--batch 4] [--epochs 20] [--max-train N]
                                                 [--dataset mnist5k] [--no-dask] [--no-own-baselines] [--no-local]

The issue's target: at least 100 trials per hour on 2 cores, and at least 1.7x the trials per hour with 2
Dask workers against 1.  A short run (--trials 4 --epochs 3 --max-train 1000) takes a few minutes.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SPACE = """[search]
seed = 0
trials = {trials}
batch = {batch}
objectives = ["gap", "energy", "area"]
constraints = ["gap >= -0.5"]
pruning = true
prune_startup_trials = {startup}

[design.task]
dataset = "{dataset}"
epochs = {epochs}
seeds = [0]
{max_train}

[parameters]
"task.array.gain_f" = {{ low = 1, high = 6 }}
"task.array.transfer_every" = {{ low = 500, high = 16000, log = true }}
"task.array.drift_compensation" = {{ choices = ["none", "column"] }}
"task.array.drift_predistort" = {{ choices = [false, true] }}
"task.array.pcm_tolerance_siemens" = {{ low = "0.3u", high = "3u", log = true }}
"""


def search(space: Path, out: Path, **kw) -> tuple[float, object]:
    import pandas as pd

    from pcmspice.pipeline.explore import run_search
    t0 = time.perf_counter()
    s = run_search(space, out, echo=lambda m: None, **kw)
    wall = time.perf_counter() - t0
    table = pd.read_csv(out / "trials.csv").drop(columns=["seconds"])
    return wall, (s, table)


def main(argv=None):
    ap = argparse.ArgumentParser(description="pcmspice explore: trials per hour, 1 vs 2 workers")
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--no-dask", action="store_true", help="skip the two Dask searches")
    ap.add_argument("--no-own-baselines", action="store_true",
                    help="skip the search whose every run trains its own software baseline")
    ap.add_argument("--no-local", action="store_true", help="skip the local searches (the Dask ones only)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        space = tmp / "bench.toml"
        space.write_text(SPACE.format(trials=a.trials, batch=a.batch, epochs=a.epochs, dataset=a.dataset,
                                      startup=max(2, a.batch),
                                      max_train=f"max_train = {a.max_train}" if a.max_train else ""))
        # the in-process search runs first, so every search starts cold (this process, new worker processes or a
        # new cluster) in its own folder: each trains its software baseline and evaluates the reference design
        rows = []
        own = None
        for name, kw in (("local, 1 process", {"jobs": 1}), ("local, 2 processes", {"jobs": 2}),
                         ("local, 2, own baselines", {"jobs": 2, "share_baselines": False})):
            if a.no_local or "share_baselines" in kw and a.no_own_baselines:
                continue
            wall, (s, table) = search(space, tmp / name.replace(" ", "").replace(",", "-"), **kw)
            if "share_baselines" in kw:
                own = (name, wall, s, table)   # the reference of the shared software baseline, printed last
            else:
                rows.append((name, wall, s, table))
        if not a.no_dask:
            from dask.distributed import LocalCluster
            for n in (1, 2):
                with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
                    wall, (s, table) = search(space, tmp / f"dask{n}", scheduler=cluster.scheduler_address)
                rows.append((f"Dask loopback, {n} worker{'s' if n > 1 else ''}", wall, s, table))
    if not rows:
        raise SystemExit("error: --no-local and --no-dask leave nothing to measure")
    same = all(r[3].equals(rows[0][3]) for r in rows)
    print(f"space: 5 parameters, {a.dataset}, {a.epochs} epochs{f', {a.max_train} examples' if a.max_train else ''}, "
          f"{a.trials} trials in batches of {a.batch}, pruning on (+ the reference design in the first batch)")
    for name, wall, s, _ in rows:
        t = s["trials"]
        print(f"  {name:26s} {wall:8.1f} s  {3600 * a.trials / wall:7.1f} trials/hour  "
              f"({t['complete']} complete, {t['pruned']} pruned)")
    wall = {name: w for name, w, _, _ in rows}
    if not a.no_local:
        print(f"  2 vs 1 local processes: {wall['local, 1 process'] / wall['local, 2 processes']:.2f}x the trials "
              "per hour")
    if not a.no_dask:
        print(f"  2 vs 1 Dask workers:    {wall['Dask loopback, 1 worker'] / wall['Dask loopback, 2 workers']:.2f}x "
              "the trials per hour")
    if own is not None:
        print(f"  shared vs per-trial software baselines (2 processes): {own[1] / wall['local, 2 processes']:.2f}x "
              "the trials per hour "
              f"({own[1]:.1f} s with every run training its own)")
        same = same and own[3].equals(rows[0][3])
    print(f"  the same trials in every search: {same}")


if __name__ == "__main__":
    main()

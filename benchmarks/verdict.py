"""The verdict: analog vs software accuracy over seeds on the published tasks (run on demand, not in CI).

Runs ``pcmspice train`` (as a user would) for every task x seed x variant on a pool of processes,
each into ``OUT/<variant>/<task>/seed<N>``; a run whose summary.json exists is not run again, so an
interrupted verdict resumes.  Then prints (and writes OUT/verdict.md, OUT/verdict.json) one row per
task and variant: the final-epoch analog and software test accuracy as mean +- sd over the seeds,
the gap (analog - software, percentage points) as mean +- sd, the best epoch's gap, the PCM drift
ratio, the hardware time and the energy per example of the run's LUTs and pulse counts
(``pcmspice power --training``).

    .venv/bin/python benchmarks/verdict.py --tasks mnist5k,mnist5k-backrand,fashion-mnist --seeds 0,1,2
    .venv/bin/python benchmarks/verdict.py --tasks mnist5k-backrand \\
        --variant "tol_half=--config levers/tol_half.toml" --variant "no_pi=--no-polarity-inversion"

A variant is NAME=ARGS (extra `pcmspice train` arguments, split on spaces); "default" (no extra
arguments) is always included unless --no-default (then the default runs already in OUT, if any, give
the baselines).  A variant given --no-baseline is compared with the
default's software baseline of the same seed (the float run does not depend on the array settings).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PCMSPICE = [str(Path(sys.executable).parent / "pcmspice")]   # the console script of this environment


def _run(cmd: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)


def train_one(out: Path, task: str, seed: int, extra: list[str], epochs: int) -> dict:
    run = out / "run"
    if not (run / "summary.json").exists():
        t = time.perf_counter()
        rc = _run([*PCMSPICE, "train", "--dataset", task, "--seed", str(seed), "--epochs", str(epochs),
                   "--out", str(run), "--force", "--quiet", "--no-figures", *extra], out / "train.log")
        if rc:
            raise SystemExit(f"{run}: pcmspice train failed (exit {rc}); see {out / 'train.log'}")
        print(f"  {out}: {time.perf_counter() - t:.0f} s", flush=True)
    if not (out / "power" / "summary.json").exists():
        rc = _run([*PCMSPICE, "power", "--training", str(run), "--out", str(out / "power"), "--force"],
                  out / "power.log")
        if rc:
            raise SystemExit(f"{out}: pcmspice power failed (exit {rc}); see {out / 'power.log'}")
    s = json.loads((run / "summary.json").read_text())
    p = json.loads((out / "power" / "summary.json").read_text())
    hist = [line.split(",") for line in (run / "history.csv").read_text().splitlines()]
    head, rows = hist[0], hist[1:]
    return {"summary": s, "power": p, "history": [dict(zip(head, r)) for r in rows]}


def _ms(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def _best(r: dict, key: str) -> float:
    """The best test accuracy (%) over the epochs of a run's history (NaN without that column)."""
    xs = [float(h[key]) for h in r["history"] if h.get(key) not in (None, "")]
    return 100 * max(xs) if xs else float("nan")


def _best_gap(r: dict, default: dict | None) -> float:
    """The best epoch of the analog run against the best epoch of the software run (its own, or the
    default variant's of the same seed when it ran without one), percentage points."""
    soft = _best(r, "baseline_test_accuracy")
    if math.isnan(soft) and default is not None:
        soft = _best(default, "baseline_test_accuracy")
    return _best(r, "analog_test_accuracy") - soft


def _energy(p: dict) -> float:
    """Energy per training example (J) of a `pcmspice power` summary."""
    return float(p["headline"]["energy_per_example_joules"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="mnist5k,mnist5k-backrand,fashion-mnist")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--variant", action="append", default=[], help="NAME=extra train arguments")
    ap.add_argument("--no-default", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/verdict")
    a = ap.parse_args(argv)
    out = Path(a.out)
    variants = {} if a.no_default else {"default": []}
    for v in a.variant:
        name, _, args = v.partition("=")
        variants[name] = shlex.split(args)
    tasks, seeds = a.tasks.split(","), [int(s) for s in a.seeds.split(",")]
    jobs = [(v, t, s) for t in tasks for v in variants for s in seeds]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(a.jobs) as ex:
        res = dict(zip(jobs, ex.map(lambda j: train_one(out / j[0] / j[1] / f"seed{j[2]}", j[1], j[2],
                                                           variants[j[0]], a.epochs), jobs)))
    if a.no_default:     # the default runs' baselines, if a verdict run left them in OUT
        for t in tasks:
            for s_ in seeds:
                d = out / "default" / t / f"seed{s_}"
                if (d / "run" / "summary.json").exists() and (d / "power" / "summary.json").exists():
                    res[("default", t, s_)] = train_one(d, t, s_, [], a.epochs)
    rows = []
    for t in tasks:
        for v in variants:
            rs = [res[(v, t, s)] for s in seeds]
            sm = [dict(r["summary"]) for r in rs]
            for s_, x in zip(seeds, sm):   # a variant run with --no-baseline: the default's baseline of its seed
                if x.get("baseline_test_accuracy") is None and ("default", t, s_) in res:
                    x["baseline_test_accuracy"] = res[("default", t, s_)]["summary"]["baseline_test_accuracy"]
                    x["accuracy_gap_percentage_points"] = 100 * (x["analog_test_accuracy"]
                                                                 - x["baseline_test_accuracy"])
            rows.append({
                "task": t, "variant": v, "seeds": seeds, "epochs": a.epochs,
                "analog": [100 * x["analog_test_accuracy"] for x in sm],
                "software": [100 * x["baseline_test_accuracy"] for x in sm],
                "gap": [x["accuracy_gap_percentage_points"] for x in sm],
                "best_gap": [_best_gap(r, res.get(("default", t, s_))) for s_, r in zip(seeds, rs)],
                "drift_ratio": [x.get("pcm_drift_ratio_mean", float("nan")) for x in sm],
                "hardware_time_seconds": [x["hardware_time_seconds"] for x in sm],
                "energy_per_example_joules": [_energy(r["power"]) for r in rs],
                "examples_per_second": [x["analog_examples_per_second"] for x in sm],
            })
    lines = ["| task | variant | analog % | software % | gap (pp) | best epoch vs best epoch (pp) | "
             "PCM drift G/G_prog | hardware time (s) | energy / example (nJ) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['variant']} | {_ms(r['analog'])} | {_ms(r['software'])} | "
                     f"{_ms(r['gap'])} | {_ms(r['best_gap'])} | {statistics.mean(r['drift_ratio']):.3f} | "
                     f"{statistics.mean(r['hardware_time_seconds']):.3g} | "
                     f"{1e9 * statistics.mean(r['energy_per_example_joules']):.2f} |")
    table = "\n".join(lines)
    print(table)
    print(f"({len(jobs)} runs, seeds {a.seeds}, {a.epochs} epochs, {time.perf_counter() - t0:.0f} s)")
    (out / "verdict.md").write_text(table + "\n")
    (out / "verdict.json").write_text(json.dumps(rows, indent=2))
    # a folder `pcmspice report` reads (kind "seeds"): every row seen so far in OUT, this run's replacing
    old = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    keep = {(r["task"], r["variant"]): r for r in old.get("rows", [])}
    keep.update({(r["task"], r["variant"]): r for r in rows})
    allv = {**old.get("variants", {}), **variants}
    (out / "summary.json").write_text(json.dumps({"kind": "seeds", "epochs": a.epochs, "rows": list(keep.values()),
                                                  "variants": allv}, indent=2))


if __name__ == "__main__":
    main()

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

The drift-onset axis (issue 20): ``--t0 1e-7,1e-5,1e-3,0.1,20`` runs every variant at each t0
(``--set array.drift_t0_seconds=T0``, no re-characterization) into ``OUT/<variant>/t0=<T0>/<task>/seed<N>``;
only the first variant at the first t0 trains the software baseline of a task and seed (the others run
with --no-baseline and take it: the float run does not depend on the array), and ``OUT/verdict_t0.png``
plots the gap against t0, one line per variant.  Jobs run seed by seed, then t0 by t0 in the order
given (every t0, task and variant of seed 0 first; give the extremes first), so a sweep cut short has
whole seeds; ``--collect`` only tabulates the runs already in
OUT (nothing is trained) and says which are missing.

    nice -n 15 .venv/bin/python benchmarks/verdict.py --tasks mnist5k,mnist5k-backrand --seeds 0,1,2 \\
        --no-default --variant "paper=" --variant "robust=--config characterization/train/drift-robust.toml" \\
        --t0 1e-7,1e-5,1e-3,0.1,20 --out runs/verdict-t0

``--tasks-of NAME=TASKS`` runs a variant on some of the tasks only (each remedy alone on the two mnist5k
tasks, say, beside the paper's scheme and the combination on Fashion-MNIST too); what did not run is named
per variant and task (seeds, onsets), on the console and in the published table.

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
import shutil
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


def _t0_name(t0: float | None) -> str:
    return "" if t0 is None else f"t0={t0:g}"


def _run_dir(out: Path, variant: str, t0: float | None, task: str, seed: int) -> Path:
    d = out / variant
    return (d / _t0_name(t0) if t0 is not None else d) / task / f"seed{seed}"


def _row(task: str, variant: str, t0: float | None, seeds: list[int], rs: list[dict], epochs: int,
         baseline: dict, default: dict) -> dict:
    """One table row: a task x variant (x t0) over the seeds that ran; a run without its own software
    baseline takes the one of its task and seed."""
    sm = [dict(r["summary"]) for r in rs]
    for s_, x in zip(seeds, sm):
        if x.get("baseline_test_accuracy") is None and (task, s_) in baseline:
            x["baseline_test_accuracy"] = baseline[(task, s_)]["summary"]["baseline_test_accuracy"]
            x["accuracy_gap_percentage_points"] = 100 * (x["analog_test_accuracy"] - x["baseline_test_accuracy"])
    return {
        "task": task, "variant": variant if t0 is None else f"{variant} (t0 = {t0:g} s)", "scheme": variant,
        "t0_seconds": t0, "seeds": seeds, "epochs": epochs,
        "analog": [100 * x["analog_test_accuracy"] for x in sm],
        "software": [100 * x["baseline_test_accuracy"] for x in sm],
        "gap": [x["accuracy_gap_percentage_points"] for x in sm],
        "best_gap": [_best_gap(r, default.get((task, s_)) or baseline.get((task, s_))) for s_, r in zip(seeds, rs)],
        "drift_ratio": [x.get("pcm_drift_ratio_mean", float("nan")) for x in sm],
        "hardware_time_seconds": [x["hardware_time_seconds"] for x in sm],
        "energy_per_example_joules": [_energy(r["power"]) for r in rs],
        "training_seconds_per_example": [float(r["power"]["headline"]["training_seconds_per_example"]) for r in rs],
        "pcm_set_pulses_total": [x.get("pcm_set_pulses_total") for x in sm],
        "pcm_not_converged_total": [x.get("pcm_not_converged_total") for x in sm],
        "examples_per_second": [x["analog_examples_per_second"] for x in sm],
    }


def figure(rows: list[dict], path: Path) -> None:
    """Gap to software against the drift onset t0 (log axis), one line per scheme, one panel per task;
    error bars: sd over the seeds (none for one seed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in rows if r.get("t0_seconds") is not None]
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    if not tasks:
        return
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(6.5, 5.2 * len(tasks)), 4.6), squeeze=False)
    color = {sc: f"C{i}" for i, sc in enumerate(dict.fromkeys(r["scheme"] for r in rows))}   # one per scheme
    for ax, task in zip(axes[0], tasks):
        schemes = list(dict.fromkeys(r["scheme"] for r in rows if r["task"] == task))
        for sc in schemes:
            rs = sorted((r for r in rows if r["task"] == task and r["scheme"] == sc), key=lambda r: r["t0_seconds"])
            x = [r["t0_seconds"] for r in rs]
            y = [statistics.mean(r["gap"]) for r in rs]
            e = [statistics.stdev(r["gap"]) if len(r["gap"]) > 1 else 0.0 for r in rs]
            n = sorted({len(r["gap"]) for r in rs})
            seeds = f"{'/'.join(map(str, n))} seed{'s' if n != [1] else ''}"
            ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=f"{sc} ({seeds})", color=color[sc])
        ax.axhline(0.0, color="k", lw=1, ls="--", label="software (float64)")
        ax.set_xscale("log")
        ax.set_xlabel("drift onset t0 (s)")
        ax.set_ylabel("analog - software test accuracy (pp)")
        ax.set_title(task)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Gap to software vs the PCM drift onset t0\n(error bars: sd over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def not_run_summary(missing: list[tuple], seeds: list[int], t0s: list[float | None]) -> list[str]:
    """The runs of the plan that did not run, one phrase per variant and task: which seeds at which
    onsets (e.g. "comp on mnist5k: seeds 1, 2 at every t0")."""
    out = []
    onsets: dict[tuple, dict[int, list]] = {}   # (variant, task) -> seed -> the onsets it missed
    for v, t0, t, s_ in missing:
        onsets.setdefault((v, t), {}).setdefault(s_, []).append(t0)
    for (v, t), by_seed in onsets.items():
        groups: dict[tuple, list[int]] = {}
        for s_, ts in by_seed.items():
            groups.setdefault(tuple(ts), []).append(s_)
        parts = []
        for ts, ss in groups.items():
            at = ("" if ts == (None,) else " at every t0" if len(ts) == len(t0s)
                  else " at t0 = " + ", ".join(f"{x:g} s" for x in ts))
            parts.append(("every seed" if len(ss) == len(seeds) else
                          f"seed{'s' if len(ss) > 1 else ''} " + ", ".join(map(str, ss))) + at)
        out.append(f"{v} on {t}: " + "; ".join(parts))
    return out


def publish(path: Path, rows: list[dict], variants: dict, epochs: int, not_run: list[str]) -> None:
    """The t0 table the report reads (pcmspice.report.drift), with what made it: written whole or not at all."""
    import datetime
    import os
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent).stdout.strip() or "?"
    keys = ("task", "scheme", "t0_seconds", "seeds", "analog", "software", "gap", "energy_per_example_joules",
            "training_seconds_per_example", "pcm_set_pulses_total", "pcm_not_converged_total")
    doc = {"schema": "pcmspice-drift-verdict-1",
           "command": "benchmarks/verdict.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
           "git_commit": commit, "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
           "epochs": epochs, "schemes": variants, "not_run": not_run,
           "rows": [{k: r[k] for k in keys} for r in rows if r.get("t0_seconds") is not None]}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="mnist5k,mnist5k-backrand,fashion-mnist")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--variant", action="append", default=[], help="NAME=extra train arguments")
    ap.add_argument("--no-default", action="store_true")
    ap.add_argument("--tasks-of", action="append", default=[], metavar="NAME=TASKS",
                    help="run the variant NAME on these tasks only (comma separated; default: every --tasks)")
    ap.add_argument("--t0", default="", help="drift onsets (s), comma separated: the t0 axis")
    ap.add_argument("--collect", action="store_true", help="tabulate the runs already in OUT; train nothing")
    ap.add_argument("--publish", default="", help="also write the t0 table with its provenance to this JSON "
                                                  "(characterization/drift_verdict.json: the report reads it)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/verdict")
    a = ap.parse_args(argv)
    out = Path(a.out)
    variants = {} if a.no_default else {"default": []}
    for v in a.variant:
        name, _, args = v.partition("=")
        variants[name] = shlex.split(args)
    tasks, seeds = a.tasks.split(","), [int(s) for s in a.seeds.split(",")]
    only: dict[str, set[str]] = {}
    for v in a.tasks_of:
        name, _, ts = v.partition("=")
        if name not in variants or not set(ts.split(",")) <= set(tasks):
            raise SystemExit(f"--tasks-of {v}: give NAME=TASKS with a --variant NAME and tasks among --tasks "
                             f"({a.tasks})")
        only[name] = set(ts.split(","))
    t0s: list[float | None] = [float(x) for x in a.t0.split(",")] if a.t0 else [None]
    first = (next(iter(variants)), t0s[0]) if variants else None
    jobs = [(v, t0, t, s) for s in seeds for t0 in t0s for t in tasks for v in variants
            if t in only.get(v, {t})]

    def extra(v: str, t0: float | None) -> list[str]:
        x = list(variants[v])
        if t0 is not None:
            x += ["--set", f"array.drift_t0_seconds={t0!r}"]
            if (v, t0) != first and "--no-baseline" not in x:
                x.append("--no-baseline")
        return x

    def done(j) -> bool:   # trained and costed (a run whose power step is still going is not done yet)
        d = _run_dir(out, j[0], j[1], j[2], j[3])
        return (d / "run" / "summary.json").exists() and (d / "power" / "summary.json").exists()

    todo = [j for j in jobs if done(j)] if a.collect else jobs
    missing = [j for j in jobs if j not in todo]
    start = time.perf_counter()
    with ThreadPoolExecutor(a.jobs) as ex:
        res = dict(zip(todo, ex.map(lambda j: train_one(_run_dir(out, *j), j[2], j[3], extra(j[0], j[1]), a.epochs),
                                    todo)))
    default: dict = {}   # the default runs' results: theirs are the "best epoch" baselines
    for t in tasks:
        for s_ in seeds:
            if ("default", None, t, s_) in res:
                default[(t, s_)] = res[("default", None, t, s_)]
            elif a.no_default:     # the default runs' baselines, if a verdict run left them in OUT
                d = out / "default" / t / f"seed{s_}"
                if (d / "run" / "summary.json").exists() and (d / "power" / "summary.json").exists():
                    default[(t, s_)] = train_one(d, t, s_, [], a.epochs)
    baseline = dict(default)
    for (_v, _t0, t, s_), r in res.items():
        if r["summary"].get("baseline_test_accuracy") is not None:
            baseline.setdefault((t, s_), r)
    rows = []
    for t in tasks:
        for t0 in t0s:
            for v in variants:
                ss = [s_ for s_ in seeds if (v, t0, t, s_) in res and (t, s_) in baseline]
                if ss:
                    rows.append(_row(t, v, t0, ss, [res[(v, t0, t, s_)] for s_ in ss], a.epochs, baseline, default))
    lines = ["| task | variant | seeds | analog % | software % | gap (pp) | best epoch vs best epoch (pp) | "
             "PCM drift G/G_prog | hardware time (s) | energy / example (nJ) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['variant']} | {len(r['seeds'])} | {_ms(r['analog'])} | "
                     f"{_ms(r['software'])} | {_ms(r['gap'])} | {_ms(r['best_gap'])} | "
                     f"{statistics.mean(r['drift_ratio']):.3f} | "
                     f"{statistics.mean(r['hardware_time_seconds']):.3g} | "
                     f"{1e9 * statistics.mean(r['energy_per_example_joules']):.2f} |")
    table = "\n".join(lines)
    print(table)
    print(f"({len(todo)} runs, {len(missing)} not run, seeds {a.seeds}, {a.epochs} epochs, "
          f"{time.perf_counter() - start:.0f} s)")
    if missing:
        print("not run: " + "; ".join(not_run_summary(missing, seeds, t0s)))
    out.mkdir(parents=True, exist_ok=True)
    (out / "verdict.md").write_text(table + "\n")
    (out / "verdict.json").write_text(json.dumps(rows, indent=2))
    if t0s != [None]:
        figure(rows, out / "verdict_t0.png")
        if a.publish:
            publish(Path(a.publish), rows, variants, a.epochs,
                    not_run_summary(missing, seeds, t0s))
            shutil.copyfile(out / "verdict_t0.png", Path(a.publish).with_suffix(".png"))
    # a folder `pcmspice report` reads (kind "seeds"): every row seen so far in OUT, this run's replacing
    old = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
    keep = {(r["task"], r["variant"]): r for r in old.get("rows", [])}
    keep.update({(r["task"], r["variant"]): r for r in rows})
    allv = {**old.get("variants", {}), **variants}
    (out / "summary.json").write_text(json.dumps({"kind": "seeds", "epochs": a.epochs, "rows": list(keep.values()),
                                                  "variants": allv}, indent=2))


if __name__ == "__main__":
    main()

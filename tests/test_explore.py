"""`pcmspice explore`: a small search writes every output, a SIGKILL'd search resumes to the same trials as an
uninterrupted one, the Pareto extraction against a hand-computed front, one-line errors for bad space files,
the same trials on a loopback Dask cluster, and --confirm agreeing with the search through `pcmspice run`."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pcmspice.cli.main import main

#: a 3-parameter space on a tiny task: digits, 3 epochs on 150 examples (pruning can act at epoch 2)
SPACE = """[search]
seed = 3
trials = 6
batch = 3
objectives = ["gap", "energy", "area"]
constraints = ["gap >= -40"]
prune_startup_trials = 2

[design.task]
dataset = "digits"
epochs = 3
max_train = 150
max_test = 100
seeds = [0]

[parameters]
"task.array.gain_f" = { low = 1, high = 5 }
"task.array.transfer_every" = { low = 40, high = 400, log = true }
"task.array.drift_compensation" = { choices = ["none", "column"] }
"""
#: the columns that differ between two runs of the same search: wall time only
TIMED = ["seconds"]


def _space(tmp: Path, text: str = SPACE, name: str = "tiny.toml") -> Path:
    p = tmp / name
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One uninterrupted search, in this process (jobs 1)."""
    from pcmspice.pipeline.explore import run_search
    tmp = tmp_path_factory.mktemp("explore")
    space = _space(tmp)
    summary = run_search(space, tmp / "out", jobs=1, echo=lambda m: None)
    return space, tmp / "out", summary


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "trials.csv").drop(columns=TIMED)


def test_search_writes_every_output(searched):
    from pcmspice.pipeline import DesignConfig
    from pcmspice.pipeline.checks import check_design
    from pcmspice.pipeline.trial import pareto_front
    space, out, summary = searched
    for f in ("study.journal", "space.toml", "summary.json", "reference.json", "trials.csv", "trials.parquet",
              "pareto.csv", "importances.csv", "report.md", "report.html", "figures/pareto.png"):
        assert (out / f).is_file(), f
    df = pd.read_csv(out / "trials.csv")
    assert list(df["number"]) == list(range(6)) and set(df["state"]) <= {"complete", "pruned"}
    assert pd.read_parquet(out / "trials.parquet")["number"].tolist() == list(range(6))
    done = df[df.state == "complete"]
    assert (done.software_accuracy_percent - done.analog_accuracy_percent + done.gap_pp).abs().max() < 1e-9
    assert (done.energy_per_example_joules > 0).all() and (done.area_per_synapse_m2 > 0).all()
    # the trials' values lie in the space, the gain an integer-free float, the interval an integer
    assert df["task.array.gain_f"].between(1, 5).all() and df["task.array.transfer_every"].between(40, 400).all()
    assert set(df["task.array.drift_compensation"]) <= {"none", "column"}
    # the Pareto set is the non-dominated feasible complete trials, each with its design file
    ok = done[done.feasible]
    front = pareto_front(ok[["gap_pp", "energy_per_example_joules", "area_per_synapse_m2"]].values,
                         ["maximize", "minimize", "minimize"])
    assert sorted(ok.number.iloc[front]) == sorted(df.number[df.pareto]) == [p["number"] for p in summary["pareto"]]
    for n in df.number[df.pareto]:
        d = DesignConfig.from_toml(out / "pareto" / f"design-{n:05d}.toml")
        check_design(d)
        row = df[df.number == n].iloc[0]
        assert d.task.array.gain_f == pytest.approx(row["task.array.gain_f"])
        assert d.task.array.transfer_every == row["task.array.transfer_every"]
    s = json.loads((out / "summary.json").read_text())
    assert s["space_sha256"] and s["seed"] == 3 and s["versions"]["optuna"] and s["trials"]["asked"] == 6
    assert json.loads((out / "reference.json").read_text())["state"] == "complete"
    report = (out / "report.md").read_text()
    assert "Pareto front" in report
    # the report shows the front in a designer's units: nJ and µm², the CSV's SI values scaled
    assert "| energy per example (nJ) | area per synapse (µm²) |" in report
    first = df[df.pareto].iloc[0]
    assert (f"| {first['energy_per_example_joules'] * 1e9:.4g} | {first['area_per_synapse_m2'] * 1e12:.4g} |"
            in report)


def test_killed_search_resumes_to_the_same_trials(searched, tmp_path):
    """kill -9 while trial 4 trains (trials 0-3 told, 4 running, 5 proposed): the same command again keeps the
    finished trials, trains 4 and 5 again with their recorded parameters and ends with the same table."""
    space, ref_out, _ = searched
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pcmspice.cli", "explore", str(space), "--out", str(out), "--jobs", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (out / "trials" / "00004").exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"the search ended (or hung) before trial 4 started: {p.communicate()[1].decode()[-500:]}")
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    before = pd.read_csv(out / "trials.csv") if (out / "trials.csv").exists() else None
    assert before is not None and len(before) == 3   # the first batch was written; the second was cut
    r = subprocess.run(cmd[:-1], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "resuming: 4 finished trials kept" in r.stdout
    pd.testing.assert_frame_equal(_table(out), _table(ref_out))
    # the trials finished before the kill were kept, not trained again
    assert (pd.read_csv(out / "trials.csv").seconds[:3] == before.seconds).all()


def test_one_software_baseline_serves_every_trial(searched):
    """The trials train the analog network only: the software baseline of the task and seed is trained once, in
    baselines/, and every trial's and the reference's gap is measured against it."""
    _, out, _ = searched
    files = list((out / "baselines").glob("*.json"))
    assert len(files) == 1   # one seed, no task parameter in the space
    sw = 100 * json.loads(files[0].read_text())["test_accuracy"]
    df = pd.read_csv(out / "trials.csv")
    done = df[df.state == "complete"]
    assert len(done) and (done.software_accuracy_percent == sw).all()
    assert json.loads((out / "reference.json").read_text())["metrics"]["software_accuracy_percent"] == sw
    run = json.loads(next((out / "trials").glob("*/train/seed0/summary.json")).read_text())
    assert run["baseline_test_accuracy"] is None and run["baseline_train_wall_seconds"] is None


def test_the_baseline_is_a_task_of_its_own_and_trials_that_finish_first_wait_for_it(searched, tmp_path, monkeypatch):
    """A search trains each software baseline once, as its own task ahead of the batch's trials, never inside a
    trial.  Trials whose runs finish before it (here: the executor runs each batch's tasks in reverse order, the
    baseline last) are held and finished when it is in: the same trials table as the search in order."""
    from pcmspice import train as tr
    from pcmspice.core import executor
    from pcmspice.pipeline import explore
    space, ref_out, _ = searched
    calls, order = [], []
    real_sw, real_ex = tr.train_software, executor.execute
    monkeypatch.setattr(tr, "train_software", lambda c, *a: calls.append(c.seed) or real_sw(c, *a))

    def reversed_execute(tasks, *a, **kw):
        order.append([k for k, _, _ in tasks])
        return real_ex(tasks[::-1], *a, **kw)

    monkeypatch.setattr(explore.executor, "execute", reversed_execute)
    lines = []
    run_search = explore.run_search
    run_search(space, tmp_path / "out", jobs=1, echo=lines.append)
    assert calls == [0]                                      # once, for the one seed of the task
    assert order[0][0][:2] == ("baseline", "digits seed 0")  # the first task of the first batch
    assert all(not isinstance(k, tuple) for batch in order[1:] for k in batch)   # not again in later batches
    first = [i for i, ln in enumerate(lines) if ln.startswith("  software baseline, digits seed 0: ")]
    assert len(first) == 1 and lines[first[0]].endswith(" % test accuracy")
    # the first batch's trials ran before it, and were finished (and said) only once it was in
    assert not any(ln.startswith(("  trial ", "  reference")) for ln in lines[:first[0]])
    pd.testing.assert_frame_equal(_table(tmp_path / "out"), _table(ref_out))
    assert json.loads((tmp_path / "out" / "reference.json").read_text())["metrics"] == \
        json.loads((ref_out / "reference.json").read_text())["metrics"]


def test_the_software_baseline_alone_is_the_runs_bit_for_bit(tmp_path, monkeypatch):
    """train_software gives the history a full run trains beside its analog network, whatever the array; the
    stored baseline is reused, and a corrupted or foreign file is trained again, never read."""
    from pcmspice import train as tr
    from pcmspice.pipeline import trial
    cfg = tr.TrainConfig(dataset="digits", epochs=2, max_train=120, max_test=80, seed=5)
    full = tr.train(cfg.replace(array=cfg.array.replace(gain_f=1.5, transfer_every=50)))
    alone = tr.train_software(cfg)
    assert alone.history == full.baseline.history
    for w_full, w_alone in zip(full.baseline.network.layers, alone.network.layers):
        assert (w_full.weights() == w_alone.weights()).all()
    acc = trial.software_accuracy(cfg, tmp_path)
    assert acc == full.baseline.history[-1]["test_accuracy"]
    (f,) = tmp_path.glob("*.json")
    calls = []
    real = tr.train_software
    monkeypatch.setattr(tr, "train_software", lambda c: calls.append(c) or real(c))
    # another array, the same baseline: read from the file, not trained
    assert trial.software_accuracy(cfg.replace(array=cfg.array.replace(gain_f=4.0)), tmp_path) == acc and not calls
    f.write_text(f.read_text()[:40])                       # cut short: trained again and replaced
    assert trial.software_accuracy(cfg, tmp_path) == acc and len(calls) == 1
    rec = json.loads(f.read_text())
    rec["config"]["seed"] = 6                              # another config's file under this name: not used
    f.write_text(json.dumps(rec))
    assert trial.software_accuracy(cfg, tmp_path) == acc and len(calls) == 2
    assert json.loads(f.read_text())["config"]["seed"] == 5


@pytest.mark.parametrize("curve, pruned_at", [([0.90, 0.50, 0.52, 0.55], None),   # a dip after a good start
                                               ([0.50, 0.55, 0.58, 0.70], 2)])    # below the median throughout
def test_pruning_compares_the_best_so_far_with_the_median(monkeypatch, curve, pruned_at):
    """The median rule on a run's best accuracy so far (as Optuna's MedianPruner): a transfer's dip in one
    epoch does not stop a run that was above the median; a run below it at every epoch is stopped after the
    warm-up.  The last epoch is never pruned."""
    from pcmspice.pipeline import DesignConfig, training, trial

    class Done(Exception):
        pass

    def fake_run(cfg, out, on_epoch=None, **kw):
        for e, a in enumerate(curve, start=1):
            on_epoch("software", {"epoch": e, "test_accuracy": 1.0})
            on_epoch("cell", {"epoch": e, "test_accuracy": a})
        raise Done

    monkeypatch.setattr(training, "train_run", fake_run)
    d = DesignConfig.from_toml_text('[task]\ndataset = "digits"\nepochs = 4\nseeds = [0]\n')
    limits = {"seed0": [0.6, 0.6, 0.6, 0.9]}
    if pruned_at is None:
        with pytest.raises(Done):
            trial.evaluate([("", d)], "unused", limits, 1, None)
    else:
        r = trial.evaluate([("", d)], "unused", limits, 1, None)
        assert r["state"] == "pruned" and r["pruned_at_epoch"] == pruned_at
        assert r["reason"] == "seed0 epoch 2: best 55.00 % < median 60.00 %"
        assert r["curves"] == {"seed0": curve[:2]}


def test_pareto_front_against_a_hand_computed_one():
    from pcmspice.pipeline.trial import pareto_front
    # (gap pp: maximize, energy nJ: minimize, area: minimize)
    pts = [(-0.2, 5.0, 1.0),    # 0: front (best gap)
           (-0.5, 3.0, 1.0),    # 1: front (less energy)
           (-0.6, 3.0, 1.0),    # 2: dominated by 1
           (-1.0, 2.0, 2.0),    # 3: front (least energy)
           (-0.5, 3.0, 0.5),    # 4: front, and dominates 1
           (-0.2, 5.0, 1.0),    # 5: equal to 0: kept with it
           (float("nan"), 1.0, 0.1),   # 6: a NaN is never on the front
           (-3.0, 9.0, 9.0)]    # 7: dominated by all
    assert pareto_front(pts, ["maximize", "minimize", "minimize"]) == [0, 3, 4, 5]
    assert pareto_front([(1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (2.0, 2.0)], ["minimize", "minimize"]) == [0, 1, 2]
    assert pareto_front([(1.0, 1.0), (2.0, 0.5), (0.5, 2.0), (2.0, 2.0)], ["maximize", "maximize"]) == [3]
    assert pareto_front([], ["minimize"]) == []


@pytest.mark.parametrize("change, where", [
    (('"task.array.gain_f" = { low = 1, high = 5 }', '"task.array.gian_f" = { low = 1, high = 5 }'),
     "[parameters] task.array.gian_f: not a field of a design; did you mean task.array.gain_f"),
    (('"task.array.gain_f" = { low = 1, high = 5 }', '"task.array.gain_f" = { low = 5, high = 1 }'),
     "[parameters] task.array.gain_f: low = 5 must be below high = 1"),
    (('"task.array.gain_f" = { low = 1, high = 5 }', '"task.array.gain_f" = { low = -1, high = 5 }'),
     "[parameters] task.array.gain_f = -1.0: array config: gain_f = -1.0 is invalid; expected a finite number > 0"),
    (('choices = ["none", "column"]', 'choices = ["none", "colum"]'),
     "[parameters] task.array.drift_compensation = 'colum': "),
    (('seed = 3', 'sed = 3'), "[search] sed: unknown key; did you mean seed?"),
    (('constraints = ["gap >= -40"]', 'constraints = ["gap > -40"]'), "[search] constraints: 'gap > -40' must"),
    (('objectives = ["gap", "energy", "area"]', 'objectives = ["gap", "energyy"]'),
     "[search] objectives: 'energyy': is not an objective; did you mean energy?"),
    (('dataset = "digits"', 'dataset = "digitz"'), "[design]: [task] dataset = 'digitz'"),
    (('"task.array.gain_f" = { low = 1, high = 5 }', '"sweep.params.c_store_farads" = { low = "20f", high = "80f" }'),
     '[parameters] sweep.params.c_store_farads: a netlist parameter needs the cell characterized'),
    (('[design.task]', '[design]\nluts = "characterize"\n[design.sweep]\nn_cells = 4\n'
                       '[design.sweep.params]\nc_stor = 5e-14\n[design.task]'),
     "c_stor: not a parameter of the cell's netlists"),
    (('"task.array.gain_f" = { low = 1, high = 5 }', '"task.seeds" = { choices = [1, 2] }'),
     "[parameters] task.seeds: a list of int field cannot be searched"),
])
def test_bad_space_files_are_one_line_errors(tmp_path, capsys, change, where):
    space = _space(tmp_path, SPACE.replace(*change))
    with pytest.raises(SystemExit) as e:
        main(["explore", str(space), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: {space}"), err
    assert where in err, err
    assert not (tmp_path / "o").exists()   # checked before anything is written


def test_a_foreign_folder_is_refused(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "mine.txt").write_text("x")
    with pytest.raises(SystemExit) as e:
        main(["explore", str(_space(tmp_path)), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "is not a pcmspice output folder" in err and "--force" in err


def test_same_trials_on_two_local_processes(searched, tmp_path):
    """Two worker processes, kept across the batches: the same trials as one process."""
    from pcmspice.pipeline.explore import run_search
    space, ref_out, _ = searched
    lines = []
    run_search(space, tmp_path / "two", jobs=2, echo=lines.append)
    assert "on 2 processes" in lines[0]
    pd.testing.assert_frame_equal(_table(tmp_path / "two"), _table(ref_out))


@pytest.mark.slow
def test_same_trials_on_a_loopback_dask_cluster(searched, tmp_path, monkeypatch):
    """The same trials on 2 Dask workers, with one connection to the scheduler for the search's 2 batches."""
    distributed = pytest.importorskip("distributed")
    from pcmspice.core import executor
    from pcmspice.pipeline.explore import run_search
    space, ref_out, _ = searched
    connects, real = [], executor._connect
    monkeypatch.setattr(executor, "_connect", lambda a: connects.append(a) or real(a))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        lines = []
        run_search(space, tmp_path / "dask", scheduler=cluster.scheduler_address, echo=lines.append)
    assert "on the Dask cluster tcp://127.0.0.1:" in lines[0]
    pd.testing.assert_frame_equal(_table(tmp_path / "dask"), _table(ref_out))
    assert connects == [cluster.scheduler_address]


def test_a_failed_baseline_fails_its_trials_and_the_next_batch_tries_again(searched, tmp_path, monkeypatch):
    """The software baseline's task failing: the first batch's trials fail with its error (they are not scored
    against a baseline trained in the search's own process), and the next batch submits it again."""
    from pcmspice.core.errors import PcmSpiceError
    from pcmspice.pipeline import explore
    space, _, _ = searched
    calls, real = [], explore.train_baseline

    def flaky(*a):
        calls.append(a[1])
        if len(calls) == 1:
            raise PcmSpiceError("disk full while writing the baseline")
        return real(*a)

    monkeypatch.setattr(explore, "train_baseline", flaky)
    lines = []
    explore.run_search(space, tmp_path / "out", jobs=1, echo=lines.append)
    df = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert calls == [0, 0]
    assert (df.state[:3] == "fail").all()
    assert df.error[0] == "the software baseline (digits seed 0) failed: disk full while writing the baseline"
    assert set(df.state[3:]) <= {"complete", "pruned"} and (df.state[3:] == "complete").any()
    assert "  software baseline, digits seed 0: failed: disk full while writing the baseline" in lines


def test_confirm_reruns_a_pareto_design_through_run(searched, tmp_path):
    """--confirm with the search's own seed: `pcmspice run` on the design file gives the trial's numbers."""
    import shutil

    from pcmspice.pipeline.explore_confirm import confirm_pareto
    _, ref_out, summary = searched
    out = tmp_path / "c"
    shutil.copytree(ref_out, out)
    rows = confirm_pareto(out, 1, (0,), jobs=1, echo=lambda m: None)
    best = min(summary["pareto"], key=lambda r: r["energy_per_example_joules"])
    assert len(rows) == 1 and rows[0]["number"] == best["number"]
    r = rows[0]
    assert r["confirmed_gap_pp"] == pytest.approx(r["predicted_gap_pp"], abs=1e-9)
    assert r["confirmed_energy_per_example_joules"] == pytest.approx(r["predicted_energy_per_example_joules"],
                                                                     rel=1e-9)
    assert r["confirmed_area_per_synapse_m2"] == pytest.approx(r["predicted_area_per_synapse_m2"], rel=1e-9)
    assert pd.read_csv(out / "confirm.csv")["number"].tolist() == [best["number"]]
    # and the energy is what `pcmspice power` put in the run's headline (the drift remedies counted once)
    power = json.loads((out / "confirm" / f"{best['number']:05d}" / "digits" / "power" / "summary.json").read_text())
    assert power["headline"]["energy_per_example_joules"] == pytest.approx(r["confirmed_energy_per_example_joules"],
                                                                          rel=1e-12)


def _synthetic(designs, out_dir, limits, warmup, cache, baselines=None):
    """A stand-in for a trial's training (the sampler's side only): objectives computed from the parameters."""
    a = designs[0][1].task.array
    gap = -abs(a.gain_f - 3.2) - (0.5 if a.drift_compensation == "none" else 0.0)
    m = {"gap_pp": gap, "energy_per_example_joules": 1e-9 * (a.gain_f + 4000 / a.transfer_every),
         "area_per_synapse_m2": 1e-10 * (1 + a.gain_f / 10), "time_per_example_seconds": 1e-6,
         "analog_accuracy_percent": 90 + gap, "software_accuracy_percent": 90.0, "worst_setting": "-"}
    return {"state": "complete", "metrics": m, "settings": [], "curves": {}, "seconds": 0.0}


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_same_seed_same_trials_for_each_sampler(tmp_path, monkeypatch, sampler):
    """Past the random start-up (TPE: 10 trials; NSGA-II: one generation), the proposals still depend only on
    the space and seed: two searches agree, another seed does not."""
    from pcmspice.pipeline import explore
    monkeypatch.setattr(explore, "evaluate", _synthetic)
    text = SPACE.replace("trials = 6", "trials = 12").replace("batch = 3", "batch = 4").replace(
        'objectives = ["gap", "energy", "area"]', f'sampler = "{sampler}"\nobjectives = ["gap", "energy", "area"]')
    tables = []
    for seed, name, n in ((3, "a", None), (3, "b", None), (4, "c", 4)):
        space = _space(tmp_path, text.replace("seed = 3", f"seed = {seed}"), f"{name}.toml")
        explore.run_search(space, tmp_path / name, jobs=1, trials=n, echo=lambda m: None)
        tables.append(_table(tmp_path / name).drop(columns=["worst_setting", "luts_reused", "error"]))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert not tables[0]["task.array.gain_f"][:4].equals(tables[2]["task.array.gain_f"])
    assert (tables[0].state == "complete").all() and tables[0].pareto.any()


def test_unquoted_dotted_keys_are_the_same_space(tmp_path):
    """`task.array.gain_f = {...}` (TOML dotted keys: nested tables) reads as the quoted path: the same hash."""
    from pcmspice.pipeline.space import load_space
    quoted = load_space(_space(tmp_path, SPACE, "q.toml"))
    bare = load_space(_space(tmp_path, SPACE.replace('"task.array.', "task.array.").replace('" = {', " = {"),
                             "q2.toml"))
    assert [p.path for p in bare.parameters] == [p.path for p in quoted.parameters] and bare.key == quoted.key


def test_the_committed_headline_space_is_checked_whole():
    """characterization/explore/headline.toml (the search behind docs/results.md) stays a valid space: 8
    parameters, both ends of the drift-onset range as conditions, the 0.5 pp constraint."""
    from pcmspice.core import paths
    from pcmspice.pipeline.space import load_space
    s = load_space(paths.characterization_dir() / "explore" / "headline.toml")
    assert s.trials == 80 and s.seed == 0 and len(s.parameters) == 8
    assert [c for c in s.constraints] == [("gap", ">=", -0.5)]
    assert s.trial_designs({}, "x")[0][1].task.dataset == "mnist5k"
    # and the design it found (docs/results.md) is a valid design of that space's task and parameters
    from pcmspice.pipeline import DesignConfig
    from pcmspice.pipeline.checks import check_design
    d = DesignConfig.from_toml(paths.characterization_dir() / "design_tight_verify.toml")
    check_design(d)
    found = s.trial_designs({"task.array.gain_f": 2.0, "task.array.transfer_every": 13619,
                             "task.array.pcm_tolerance_siemens": 3.3804123420206326e-07,
                             "task.array.verify_settle_seconds": 6.1371738633938695e-06,
                             "task.array.incremental_transfer": True, "task.array.drift_compensation": "none",
                             "task.array.drift_predistort": False}, "x")[0][1]
    assert found.task.array.replace(drift_t0_seconds=None) == d.task.array

"""The drift-onset verdict table in reports (issue 20, pcmspice.report.drift): read whole or refused,
where each scheme holds, and the committed table."""
from __future__ import annotations

import json

import pytest

from pcmspice.report import drift


def _table(**kw) -> dict:
    rows = [{"task": "mnist5k", "scheme": s, "t0_seconds": t, "seeds": [0, 1], "gap": g,
             "energy_per_example_joules": [90e-9, 91e-9], "training_seconds_per_example": [2e-6, 2e-6]}
            for s, t, g in (("paper", 1e-7, [-1.9, -1.5]), ("paper", 20.0, [-0.4, -0.5]),
                            ("robust", 1e-7, [-0.3, 0.1]), ("robust", 20.0, [0.2, -0.6]))]
    return {"schema": drift.SCHEMA, "epochs": 20, "command": "benchmarks/verdict.py --t0 1e-7,20",
            "git_commit": "abc1234", "created": "2026-12-07 16:00 UTC", "schemes": {"paper": [], "robust": ["-x"]},
            "not_run": [], "rows": rows, **kw}


def test_holds_is_the_mean_gap_within_half_a_point(tmp_path):
    p = tmp_path / "v.json"
    p.write_text(json.dumps(_table()))
    d, why = drift.load(p)
    assert why is None
    assert drift.holds(d, "mnist5k", "paper") == ([20.0], [1e-7])      # -1.7 at 100 ns, -0.45 at 20 s
    assert drift.holds(d, "mnist5k", "robust") == ([1e-7, 20.0], [])   # -0.1 and -0.2
    line = drift.verdict_item(d, 1e-7)
    assert "mnist5k, paper: -1.7 to -0.5 pp over the 2 onsets run, within 0.5 pp at t0 = 20 s" in line
    assert "mnist5k, robust: -0.2 to -0.1 pp over the 2 onsets run, within 0.5 pp at t0 = 100 ns, 20 s" in line
    assert "this run's t0 is 100 ns" in line
    table = next(b for b in drift.blocks(d) if b.kind == "table")
    assert table.rows[0][:4] == ["mnist5k", "paper", "-1.70 ± 0.28 (2)", "-0.45 ± 0.07 (2)"]
    assert table.rows[1][-1] == "100 ns, 20 s"
    for r in d["rows"]:            # a scheme that holds nowhere says so in words
        r["gap"] = [g - 5 for g in r["gap"]]
    assert "mnist5k, paper: -6.7 to -5.5 pp over the 2 onsets run, within 0.5 pp at none of them" in \
        drift.verdict_item(d, None)


def test_the_verdict_line_names_the_paper_and_the_recommended_scheme_and_the_table_every_scheme(tmp_path):
    """With each remedy alone in the sweep, the verdict line stays the paper's scheme against the recommended
    combination; the section's table has a row for every scheme, and the runs not made are named."""
    d = _table(not_run=["comp on mnist5k: seeds 1, 2 at every t0"])
    d["rows"].append({**d["rows"][0], "scheme": "comp", "gap": [-3.0, -2.0]})
    line = drift.verdict_item(d, None)
    assert "mnist5k, paper:" in line and "mnist5k, robust:" in line and "comp" not in line
    blocks = drift.blocks(d)
    table = next(b for b in blocks if b.kind == "table")
    assert [r[1] for r in table.rows] == ["paper", "robust", "comp"]
    assert table.rows[2][2:4] == ["-2.50 ± 0.71 (2)", "not run"]
    assert any("comp on mnist5k: seeds 1, 2 at every t0" in b.text for b in blocks if b.kind == "p")
    d["rows"] = [r for r in d["rows"] if r["scheme"] == "comp"]     # neither of the two: every scheme
    assert "mnist5k, comp:" in drift.verdict_item(d, None)


@pytest.mark.parametrize("text, word", [("{not json", "not readable"), (json.dumps({"schema": "other"}), "schema"),
                                         (json.dumps({**_table(), "rows": [{"task": "x"}]}), "incomplete")])
def test_a_foreign_or_damaged_table_is_refused_whole(tmp_path, text, word):
    p = tmp_path / "v.json"
    p.write_text(text)
    d, why = drift.load(p)
    assert d is None and word in why
    assert drift.load(tmp_path / "absent.json") == (None, None)


def test_a_report_with_a_training_run_carries_the_table(tmp_path, monkeypatch):
    """`pcmspice report` of a training run: a verdict line and the section, from the committed table (here a
    stand-in put in its place); with the table damaged, one note in the verdict and no section."""
    from pcmspice import report as rep
    table = tmp_path / "drift_verdict.json"
    table.write_text(json.dumps(_table()))
    monkeypatch.setattr(drift, "verdict_path", lambda: table)
    run = tmp_path / "train"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({
        "kind": "training", "analog_test_accuracy": 0.95, "baseline_test_accuracy": 0.96, "network": "784-250-10",
        "dataset": "mnist5k", "epochs": 2, "mode": "cell", "drift_t0_seconds": 1e-7, "config": {}}))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.figure(figsize=(2, 2))
    plt.savefig(table.with_suffix(".png"))
    plt.close("all")
    res = rep.build_report([run], tmp_path / "r1")
    md = res.markdown.read_text()
    assert "](figures/drift_verdict_t0.png)" in md and (res.out_dir / "figures" / "drift_verdict_t0.png").is_file()
    head = md.split("## ", 2)[1]
    assert "mnist5k, robust: -0.2 to -0.1 pp over the 2 onsets run, within 0.5 pp at t0 = 100 ns, 20 s" in head
    assert "this run's t0 is 100 ns" in head
    assert "## Drift onset t0: the paper's scheme and the drift remedies" in md and "abc1234" in md
    table.write_text("{damaged")
    md = rep.build_report([run], tmp_path / "r2").markdown.read_text()
    assert "the committed drift verdict table is not used (drift_verdict.json is not readable JSON" in md
    assert "## Drift onset t0" not in md


def test_the_committed_table_is_readable_and_names_its_schemes():
    d, why = drift.load()
    if d is None and why is None:
        pytest.skip("no committed characterization/drift_verdict.json")
    assert why is None, why
    assert {"paper", "robust"} <= {r["scheme"] for r in d["rows"]}
    robust = d["schemes"]["robust"]     # the run config (the software baseline may come from the paper's runs)
    assert robust[:2] == ["--config", "characterization/train/drift-robust.toml"]
    assert set(robust[2:]) <= {"--no-baseline"}
    assert all(len(r["gap"]) == len(r["seeds"]) == len(r["energy_per_example_joules"]) for r in d["rows"])
    assert drift.verdict_path().with_suffix(".png").is_file()


def _verdict_script():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "verdict.py"
    spec = importlib.util.spec_from_file_location("verdict_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_sweeps_missing_runs_are_named_per_scheme_and_task():
    """benchmarks/verdict.py names what did not run in one phrase per scheme and task (seeds, onsets)."""
    v = _verdict_script()
    t0s, seeds = [1e-7, 1e-3, 20.0], [0, 1, 2]
    missing = ([("comp", t, "mnist5k", s) for s in (1, 2) for t in t0s]
               + [("robust", 1e-3, "fashion-mnist", s) for s in seeds] + [("paper", 20.0, "mnist5k", 2)])
    assert v.not_run_summary(missing, seeds, t0s) == [
        "comp on mnist5k: seeds 1, 2 at every t0", "robust on fashion-mnist: every seed at t0 = 0.001 s",
        "paper on mnist5k: seed 2 at t0 = 20 s"]


def test_a_variant_limited_to_some_tasks_and_a_bad_limit(tmp_path, capsys):
    """--tasks-of NAME=TASKS: the variant's runs on other tasks are neither run nor missing; a limit naming an
    unknown variant or task is refused in one line before any work."""
    v = _verdict_script()
    with pytest.raises(SystemExit, match="--tasks-of comp=digits: give NAME=TASKS"):
        v.main(["--tasks", "mnist5k", "--no-default", "--variant", "comp=", "--tasks-of", "comp=digits",
                "--out", str(tmp_path), "--collect"])
    v.main(["--tasks", "mnist5k,fashion-mnist", "--seeds", "0", "--no-default", "--variant", "paper=",
            "--variant", "comp=-x", "--tasks-of", "comp=mnist5k", "--t0", "1e-7", "--out", str(tmp_path),
            "--collect"])
    out = capsys.readouterr().out
    assert "(0 runs, 3 not run" in out
    assert "comp on mnist5k: every seed at every t0" in out and "comp on fashion-mnist" not in out

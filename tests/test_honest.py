"""Issue 21: honest answers.  A run whose PCM never received a transfer says so (summary.json, console,
report); a report over corners headlines the worst corner (accuracy as mean ± sd over its seeds, energy and
area of the worst costed corner) and names it, the same in report.json, index.md, the HTML and the console."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_report import make_luts, training_summary

from pcmspice import report as rep
from pcmspice.cli.main import cli
from pcmspice.core.errors import ConfigError
from pcmspice.lut.format import LutSet, save_lut_set
from pcmspice.power.config import PowerConfig
from pcmspice.power.outputs import write_power_run
from pcmspice.train.outputs import pcm_training

TINY = ["--dataset", "digits", "--epochs", "1", "--max-train", "200", "--max-test", "100", "--no-figures"]


def test_pcm_training_flags_follow_the_transfer_log():
    # cell mode, no transfer in 1,438 examples at the paper's 8,000: the 3T1C alone learned
    f = pcm_training("cell", 8000, 1438, [])
    assert f["pcm_trained"] is False and f["examples_since_last_transfer"] is None
    assert "the PCM never learned" in f["pcm_caveat"] and "8,000" in f["pcm_caveat"]
    # transfers at 500 and 1,000 of 1,438: trained, 438 examples after the last (not "just after")
    f = pcm_training("cell", 500, 1438, [{"examples": 500}, {"examples": 1000}])
    assert f == {"pcm_trained": True, "examples_since_last_transfer": 438, "ended_after_transfer": False,
                 "pcm_caveat": None}
    # ended 10 examples after a transfer (fewer than 5 % of 1,000): measured right after it
    f = pcm_training("cell", 1000, 1010, [{"examples": 1000}])
    assert f["pcm_trained"] is True and f["ended_after_transfer"] is True and "10 examples after" in f["pcm_caveat"]
    assert pcm_training("ideal", 8000, 1438, [])["pcm_trained"] is None
    assert pcm_training("pcm-only", 8000, 1438, [])["pcm_trained"] is True    # its updates are the PCM's


def test_a_digits_run_without_a_transfer_is_flagged_in_summary_console_and_report(tmp_path):
    r = CliRunner().invoke(cli, ["train", *TINY, "--quiet", "--out", str(tmp_path / "none")])
    assert r.exit_code == 0, r.output
    assert "warning: the 3T1C alone was trained; the PCM never learned" in r.output
    s = json.loads((tmp_path / "none" / "summary.json").read_text())
    assert s["transfers_total"] == 0 and s["pcm_trained"] is False and s["examples_since_last_transfer"] is None
    res = rep.build_report([tmp_path / "none"], tmp_path / "report")
    assert res.headline["pcm_trained"] is False
    verdict = res.markdown.read_text().split("## ", 2)[1]
    assert "The 3T1C alone was trained; the PCM never learned" in verdict
    assert "the PCM never learned" in res.html.read_text()
    assert any(line.startswith("warning: the 3T1C alone") for line in rep.headline_lines(res))
    # the same run with a transfer every 60 examples: 3 transfers, the last 20 examples before the end
    r = CliRunner().invoke(cli, ["train", *TINY, "--quiet", "--transfer-every", "60", "--out", str(tmp_path / "x")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "x" / "summary.json").read_text())
    assert s["transfers_total"] == 3 and s["pcm_trained"] is True and s["examples_since_last_transfer"] == 20
    assert "never learned" not in r.output
    res = rep.build_report([tmp_path / "x"], tmp_path / "report-x")
    assert res.headline["pcm_trained"] is True and "never learned" not in res.markdown.read_text()
    assert res.headline["ended_after_transfer"] is False
    # a transfer every 50 of 200 examples: the last one at the very end, so the verdict says so too
    r = CliRunner().invoke(cli, ["train", *TINY, "--quiet", "--transfer-every", "50", "--out", str(tmp_path / "e")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["ended_after_transfer"] is True
    res = rep.build_report([tmp_path / "e"], tmp_path / "report-e")
    verdict = res.markdown.read_text().split("## ", 2)[1]
    assert res.headline["ended_after_transfer"] is True and "0 examples after a transfer" in verdict


def _corner_luts(corner: str, energy_scale: float, tech: str = "generic65", bias: str = "fixed") -> LutSet:
    luts = make_luts()
    cell = dataclasses.replace(luts.cell, e_up_joules=luts.cell.e_up_joules * energy_scale,
                               e_down_joules=luts.cell.e_down_joules * energy_scale,
                               dv_down_volts=luts.cell.dv_down_volts / energy_scale,
                               provenance={"technology": tech, "corner": corner, "temp_c": 27.0,
                                           "sweep": {"bias": bias}})
    return LutSet(cell, luts.pcm, f"{tech}_{corner}_27C")


def _corner_runs(base: Path, corners=(("tt", (0.951, 0.947), 1.0), ("ss", (0.602, 0.664), 4.0)),
                 tech: str = "generic65", bias: str = "fixed") -> list[Path]:
    """tt (95.1, 94.7 %) and ss (60.2, 66.4 %: it collapses) at two seeds each, and each corner costed on its own
    LUTs (ss's 3T1C pulses cost 4x tt's, its down steps are 4x smaller)."""
    dirs = []
    for corner, accs, scale in corners:
        lut_dir = base / f"luts_{corner}"
        save_lut_set(_corner_luts(corner, scale, tech, bias), lut_dir)
        for seed, a in enumerate(accs):
            d = base / corner / f"seed{seed}"
            d.mkdir(parents=True)
            s = {**training_summary("64-250-10"), "analog_test_accuracy": a, "seed": seed, "mode": "cell",
                 "config": {"lr": 0.1, "seed": seed, "luts": str(lut_dir)}, "lut_sha256": corner,
                 "lut_dir": str(lut_dir), "accuracy_gap_percentage_points": 100 * (a - 0.958),
                 "lut_provenance": {"technology": "generic65", "corner": corner, "temp_c": 27.0}}
            (d / "summary.json").write_text(json.dumps(s))
            dirs.append(d)
        write_power_run(base / "power" / corner, lut_dir, "64-250-10", base / corner / "seed0", PowerConfig(),
                        measure_cpu=False)
        dirs.append(base / "power" / corner)
    return dirs


def test_a_collapsed_ss_corner_is_the_headline_everywhere(tmp_path):
    res = rep.build_report(_corner_runs(tmp_path), tmp_path / "report")
    h = res.headline
    assert h["accuracy_corner"] == "ss, 27 °C" and h["accuracy_groups"] == 2 and h["accuracy_seeds"] == 2
    assert h["analog_test_accuracy"] == pytest.approx(0.633)
    assert h["analog_test_accuracy_sd"] == pytest.approx(float(np.std([0.602, 0.664], ddof=1)))
    tt = json.loads((tmp_path / "power" / "tt" / "summary.json").read_text())["headline"]
    ss = json.loads((tmp_path / "power" / "ss" / "summary.json").read_text())["headline"]
    assert ss["energy_per_example_joules"] > tt["energy_per_example_joules"]
    assert h["energy_corner"] == "ss, 27 °C" and h["energy_per_example_joules"] == ss["energy_per_example_joules"]
    assert h["tops_per_mm2_training"] == min(tt["tops_per_mm2_training"], ss["tops_per_mm2_training"])
    line = "Accuracy (the worst of 2 corners: ss, 27 °C; mean ± sd over 2 seeds): 63.30 ± 4.38 % analog"
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["headline"]["accuracy_corner"] == "ss, 27 °C" and line in saved["verdict"][0]
    assert line in res.markdown.read_text().split("## ", 2)[1]
    assert line in res.html.read_text()
    assert "Energy (the worst of 2 corners: ss, 27 °C)" in res.html.read_text()
    lines = rep.headline_lines(res)
    assert lines[0].startswith("accuracy: 63.30 ± 4.38 % (mean ± sd over 2 seeds) analog")
    assert "at ss, 27 °C" in lines[0]
    assert "at ss, 27 °C" in lines[1]


def test_the_quick_look_design_of_the_docs_exercises_the_pcm():
    from pcmspice.pipeline import DesignConfig
    from pcmspice.train.datasets import load_dataset
    d = DesignConfig.from_toml(Path(__file__).resolve().parent.parent / "characterization" / "design_c50.toml")
    n = d.task.epochs * load_dataset(d.task.dataset).y_train.size
    every = d.task.array.transfer_every
    log = [{"examples": k * every} for k in range(1, n // every + 1)]
    f = pcm_training(d.task.array.mode, every, n, log)
    assert f["pcm_trained"] is True and f["pcm_caveat"] is None and len(log) >= 2


def test_compare_gives_one_row_per_design_and_corner(tmp_path):
    from pcmspice.report.compare import compare
    _corner_runs(tmp_path / "a")
    _corner_runs(tmp_path / "b", (("tt", (0.93, 0.92), 1.0),), tech="sky130", bias="replica")
    res = compare([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    rows = {r["column"]: r for r in res.rows}
    assert sorted(rows) == ["a (ss, 27 °C)", "a (tt, 27 °C)", "b"]     # the folders' order (a/ss/ before a/tt/)
    att, ass, btt = rows["a (tt, 27 °C)"], rows["a (ss, 27 °C)"], rows["b"]
    # seeds pooled only within a corner; each corner's numbers from its own runs and LUTs
    assert att["seeds"] == ass["seeds"] == btt["seeds"] == [0, 1]
    assert ass["accuracy_percent_mean"] == pytest.approx(63.3) and att["accuracy_percent_mean"] == pytest.approx(94.9)
    power = {c: json.loads((tmp_path / "a" / "power" / c / "summary.json").read_text())["headline"]
             for c in ("tt", "ss")}
    for row, c in ((att, "tt"), (ass, "ss")):
        assert row["energy_per_example_joules"] == power[c]["energy_per_example_joules"]
        assert Path(row["lut_dir"]) == (tmp_path / "a" / f"luts_{c}").resolve()
    assert ass["energy_per_example_joules"] > att["energy_per_example_joules"]
    assert ass["asymmetry_mean"] != att["asymmetry_mean"]
    s = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert {"technology", "bias mode", "corner"} <= set(s["differing_fields"])
    md = (tmp_path / "cmp" / "index.md").read_text()
    assert "| quantity | a (ss, 27 °C) | a (tt, 27 °C) | b |" in md
    assert "| **technology** (differs) | **generic65** | **generic65** | **sky130** |" in md
    assert "| **bias mode** (differs) | **fixed** | **fixed** | **replica** |" in md


def _corner_table(folder: Path) -> Path:
    from pcmspice.characterize.corners import write_table
    rows = [{"combination": f"generic65_{c}_27C_1V", "corner": c, "temp_c": 27.0, "vdd_volts": 1.0,
             "g_mean_siemens": g, "dv_up_sigma_volts": 1e-4, "lut_dir": str(folder / c), "seeds": "0,1",
             "final_accuracy_mean_percent": a, "final_accuracy_sd_percent": sd, "best_accuracy_mean_percent": a + 1,
             "best_accuracy_sd_percent": 0.5, "software_accuracy_mean_percent": 95.8, "last_epoch_transfer_seeds": 0,
             "energy_per_example_joules": e, "gops_per_watt": 6e4}
            for c, g, a, sd, e in (("tt", 2.9e-6, 94.9, 0.28, 1.3e-8), ("ss", 2.1e-6, 63.3, 4.38, 1.9e-8))]
    write_table(folder, rows)
    return folder


def test_reports_for_reading(tmp_path, monkeypatch):
    import matplotlib

    from pcmspice.core.units import fmt_si
    from pcmspice.report import figures
    figs = []

    def keep(fig, path):     # the corners chart as drawn, before it is saved and closed
        figs.append(fig)
        return Path(path)
    monkeypatch.setattr(figures, "_save", keep)
    design = {"design": "two", "design_hash": "abcd1234", "design_sha256": "ab" * 32, "lut_dir": str(tmp_path),
              "toml": 'name = "two"\n' + "# a long design file\n" * 190}
    res = rep.build_report([*_corner_runs(tmp_path), _corner_table(tmp_path / "corners")], tmp_path / "report",
                           design=design)
    md = res.markdown.read_text()
    # the verdict first, the design file last
    assert md.index("## Verdict") < md.index("a long design file")
    assert md.index("a long design file") > md.index("## Inputs, configuration and provenance")
    # every training section names its corner and seed
    for c in ("tt", "ss"):
        for seed in (0, 1):
            assert f"## Training: seed{seed} (corner {c}, 27 °C, seed {seed})" in md
    # the corner table: human headers, units in the cells
    table = md[md.index("## Corners: corners"):]
    table = table[:table.index("\n## ", 5)]
    header = next(line for line in table.splitlines() if line.startswith("| corner"))
    assert "final_accuracy_mean_percent" not in header and "_" not in header, header
    assert "| g mean |" in header and "| final acc. (%) |" in header and "| software acc. |" in header
    assert "2.9 µS" in table and "uS" not in table and fmt_si(2.9e-6, "S") == "2.9 µS"
    # the corners chart: bars from 0, the software reference drawn, the legend beside the panels
    fig = figs[-1]
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 100.0)
    soft = [line for line in ax.get_lines() if line.get_label().startswith("software")]
    assert len(soft) == 1 and soft[0].get_xdata()[0] == pytest.approx(95.8)
    fig.canvas.draw()
    leg = fig.legends[0].get_window_extent()
    bars = [p.get_window_extent() for a in fig.axes for p in a.patches]
    assert bars and not any(leg.overlaps(b) for b in bars)
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("change, want", [
    ('dataset = "digit"', r"\[task\] dataset = 'digit': unknown data set 'digit'"),
    ('network = "32-250-10"', r"\[task\] network = '32-250-10': network 32-250-10 takes 32 inputs"),
    ("[sweep.params]\nc_stor_farads = 50e-15", r"\[sweep.params\] c_stor_farads: not a parameter of the cell's "
                                                 r"netlists .*did you mean c_store_farads"),
    # 50 aF (a typo for 50 fF): refused here, before ngspice, by the same range power uses (it was refused by
    # power only after the characterization)
    ("[sweep.params]\nc_store_farads = 50e-18", r"\[sweep.params\] c_store_farads: .*parameter c_store_farads=5e-17 F "
                                                 r"is outside pcmspice's limit for it \(1e-16 to 1e-11 F; .*did you "
                                                 r"mean 5e-14\?"),
])
def test_a_design_is_checked_whole_before_any_work(tmp_path, monkeypatch, capsys, change, want):
    from pcmspice.pipeline import run as run_mod
    from pcmspice.pipeline import run_design
    from pcmspice.pipeline import training as training_mod
    monkeypatch.setattr(run_mod.ch, "run_sweep", lambda *a, **k: pytest.fail("characterized before the check"))
    monkeypatch.setattr(training_mod, "train_run", lambda *a, **k: pytest.fail("trained before the check"))
    task = {"dataset": 'dataset = "digits"', "network": "", "[sweep.params]": ""}
    body = {k: v for k, v in task.items()}
    key = next(k for k in task if change.startswith(k))
    body[key] = change
    sweep = body.pop("[sweep.params]")
    f = tmp_path / "bad.toml"
    f.write_text(f'name = "bad"\nluts = "characterize"\n[sweep]\nname = "bad"\n{sweep}\n[task]\n'
                 f'{body["dataset"]}\n{body["network"]}\nepochs = 1\n')
    with pytest.raises(ConfigError, match=f"^{re.escape(str(f))}: {want}"):
        run_design(f, tmp_path / "out", measure_cpu=False, progress=False, echo=lambda m: None)
    assert not (tmp_path / "out").exists()
    # the command line: one line, exit status 2, naming the file and the key
    from pcmspice.cli.main import main
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(f), "--no-cpu", "--quiet", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and err.startswith(f"error: {f}: "), err
    assert not (tmp_path / "cli").exists()

"""Ctrl-C: one line saying what is kept and how to go on, exit 130, no worker tracebacks; train --resume
ends bit-identical to a run that was never stopped."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pcmspice.cli.train as cli_train
from pcmspice.cli.main import main
from pcmspice.train.checkpoint import FILE, resume_dir

TRAIN = ["train", "--dataset", "digits", "--network", "64-16-10", "--epochs", "3", "--max-train", "400",
         "--max-test", "100", "--transfer-every", "150", "--no-figures", "--quiet"]
TIMINGS = ("seconds", "per_second", "versions")


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
        raise SystemExit(0)
    cap = capsys.readouterr()
    return e.value.code, cap.out, cap.err


def fingerprint(d: Path) -> tuple[str, dict]:
    s = json.loads((d / "summary.json").read_text())
    s = {k: v for k, v in s.items() if not any(t in k for t in TIMINGS)}
    return hashlib.sha256((d / "weights.npz").read_bytes()).hexdigest(), s


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("whole") / "run"
    p = subprocess.run([sys.executable, "-m", "pcmspice.cli", *TRAIN, "--out", str(d)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return fingerprint(d)


@pytest.mark.parametrize("stop_after", [1, 4])   # in the software baseline's epochs; in the analog network's
def test_train_resume_is_bit_identical(tmp_path, capsys, monkeypatch, uninterrupted, stop_after):
    out = tmp_path / "run"
    monkeypatch.setattr(cli_train, "_STOP_AFTER_EPOCHS", stop_after)
    code, _, err = run_main([*TRAIN, "--out", str(out)], capsys)
    assert code == 130
    assert len(err.strip().splitlines()) == 1 and f"--resume --out {out}" in err, err
    assert not out.exists()                                    # nothing half-written
    assert (resume_dir(out) / FILE).is_file()
    monkeypatch.setattr(cli_train, "_STOP_AFTER_EPOCHS", None)
    code, _, err = run_main(["train", "--resume", "--out", str(out), "--no-figures", "--quiet"], capsys)
    assert code == 0, err
    assert fingerprint(out) == uninterrupted
    assert not resume_dir(out).exists()                        # the checkpoint goes with the finished run


def test_resume_refuses_other_options_and_missing_checkpoint(tmp_path, capsys):
    code, _, err = run_main(["train", "--resume", "--out", str(tmp_path / "none")], capsys)
    assert code == 2 and "nothing to resume" in err
    code, _, err = run_main(["train", "--resume", "--epochs", "5", "--out", str(tmp_path / "none")], capsys)
    assert code == 2 and "drop --epochs" in err


def test_corrupt_checkpoint_is_refused(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(cli_train, "_STOP_AFTER_EPOCHS", 1)
    assert run_main([*TRAIN, "--out", str(out)], capsys)[0] == 130
    ck = resume_dir(out) / FILE
    data = bytearray(ck.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ck.write_bytes(bytes(data))
    monkeypatch.setattr(cli_train, "_STOP_AFTER_EPOCHS", None)
    code, _, err = run_main(["train", "--resume", "--out", str(out)], capsys)
    assert code == 2 and ("corrupted" in err or "checksum" in err), err


def test_ctrl_c_while_train_saves_keeps_the_old_run(tmp_path, capsys, monkeypatch, uninterrupted):
    out = tmp_path / "run"
    assert run_main([*TRAIN, "--out", str(out)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import pcmspice.train.outputs as touts
    real = touts.csv_text
    calls = {"n": 0}

    def interrupted_csv(*a, **k):   # the Ctrl-C lands between two files of the save
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(touts, "csv_text", interrupted_csv)
    code, _, err = run_main([*TRAIN, "--out", str(out)], capsys)
    assert code == 130 and len(err.strip().splitlines()) == 1 and "--resume" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # the previous complete run, untouched
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    monkeypatch.setattr(touts, "csv_text", real)
    code, _, err = run_main(["train", "--resume", "--out", str(out), "--no-figures", "--quiet"], capsys)
    assert code == 0, err
    assert fingerprint(out) == uninterrupted


def _wait_for(pred, proc, timeout=240):
    t0 = time.monotonic()
    while not pred():
        assert proc.poll() is None, proc.communicate()
        if time.monotonic() - t0 > timeout:   # a hang guard (the event never came), not a speed requirement
            proc.kill()
            pytest.fail(f"waited {timeout} s for the run to reach the point to interrupt it")
        time.sleep(0.05)


@pytest.mark.slow
def test_sigint_on_parallel_characterize(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) on `--jobs 2`: exit 130, one
    line mentioning --resume, no worker traceback, the finished batches kept and reused by a rerun."""
    out = tmp_path / "X"
    cmd = [sys.executable, "-m", "pcmspice.cli", "characterize", "characterization/demo.toml", "--mc", "400",
           "--jobs", "2", "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(lambda: list(out.glob("batches/*/*.npz")), p)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "--resume" in err, err
    kept = sorted(x.name for x in out.glob("batches/*/*.npz"))
    assert kept
    time.sleep(1)   # the workers are gone: nothing more is written
    assert sorted(x.name for x in out.glob("batches/*/*.npz")) == kept
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    reused = int(r.stdout.split(" reused")[0].rsplit(", ", 1)[1])
    assert reused >= len(kept)


@pytest.mark.slow
def test_sigint_during_train_then_resume(tmp_path, uninterrupted):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "pcmspice.cli", *TRAIN, "--out", str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(lambda: (resume_dir(out) / FILE).exists(), p)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert p.returncode == 130 and len(err.strip().splitlines()) == 1 and "--resume" in err, err
    assert not out.exists()
    r = subprocess.run([sys.executable, "-m", "pcmspice.cli", "train", "--resume", "--out", str(out),
                        "--no-figures", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert fingerprint(out) == uninterrupted

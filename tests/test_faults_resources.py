"""Fault injection, the machine's limits: a full disk (a small tmpfs, /dev/full as stdout), a file-size limit,
few file descriptors, a memory limit, unusable file names and a minimal environment.

Each ends in one line naming the resource and what to do, exit status 2, and the previous good output
intact (no staging folder left)."""
from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "characterization" / "demo.toml")
TRAIN = ["train", "--dataset", "digits", "--network", "64-16-10", "--epochs", "1", "--max-train", "100",
         "--max-test", "50", "--quiet", "--mode", "ideal"]


def _cli(*args: str, limit: tuple[int, int] | None = None, env: dict | None = None, stdout=subprocess.PIPE,
         cwd=None) -> subprocess.CompletedProcess:
    def pre():
        if limit is not None:
            resource.setrlimit(limit[0], (limit[1], limit[1]))
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, errors="replace", timeout=300, preexec_fn=pre, env=env, cwd=cwd)


def _one_line(p: subprocess.CompletedProcess, *words: str) -> str:
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr
    assert p.returncode == 2, p.stderr
    line, = p.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(w in line for w in words), line
    return line


def _digests(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


def _no_staging(root: Path) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith((".partial", ".tmp", ".old"))]


@pytest.fixture()
def tmpfs(tmp_path):
    """A 300 kB file system: room for one small training run, not for two."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()}); test_disk_full_patched covers it")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_under_out_keeps_the_previous_run(tmpfs):
    out = tmpfs / "a"
    assert _cli(*TRAIN, "--out", str(out)).returncode == 0
    before = _digests(out)
    _one_line(_cli(*TRAIN, "--seed", "1", "--force", "--out", str(out)), "no space left", str(out))
    assert _digests(out) == before
    _no_staging(tmpfs)


def test_disk_full_patched(tmp_path, monkeypatch, capsys):
    """The same in-process, where no tmpfs can be mounted: the fsync of a staged file reports ENOSPC."""
    import errno

    from pcmspice.cli.main import main
    out = tmp_path / "a"
    main([*TRAIN, "--no-figures", "--out", str(out)])
    before = _digests(out)
    calls = {"n": 0}
    real = os.fsync

    def full(fd):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SystemExit) as e:
        main([*TRAIN, "--no-figures", "--seed", "2", "--force", "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "no space left" in err and "Traceback" not in err, err
    assert _digests(out) == before
    _no_staging(tmp_path)


def test_stdout_on_a_full_device():
    with open("/dev/full", "w") as full:
        p = _cli("lut", "stats", stdout=full)
    _one_line(p, "writing to standard output: no space left on the device")
    assert "--out" not in p.stderr     # `lut stats` has no --out: the resource that failed is stdout


def test_file_size_limit(tmp_path):
    out = tmp_path / "a"
    p = _cli(*TRAIN, "--out", str(out), limit=(resource.RLIMIT_FSIZE, 4000))
    _one_line(p, "file too large", "4000")
    assert not out.exists()
    _no_staging(tmp_path)


def test_few_file_descriptors_with_workers(tmp_path):
    out = tmp_path / "c"
    p = _cli("characterize", DEMO, "--mc", "4", "--pcm-devices", "4", "--jobs", "2", "--quiet", "--out", str(out),
             limit=(resource.RLIMIT_NOFILE, 16))
    _one_line(p, "too many open files", "--jobs 1")
    assert not (out / "summary.json").exists()
    _no_staging(tmp_path)


def test_memory_limit_the_estimate_allowed(tmp_path):
    """A network under the 8 GB estimate, under a 2.5 GB address-space limit: numpy's _ArrayMemoryError."""
    out = tmp_path / "m"
    p = _cli("train", "--dataset", "digits", "--network", "64-10000-10000-10", "--epochs", "1", "--max-train", "20",
             "--max-test", "10", "--quiet", "--mode", "ideal", "--no-baseline", "--out", str(out),
             limit=(resource.RLIMIT_AS, 2_500_000_000))
    _one_line(p, "out of memory", "2.5 GB")
    assert not out.exists()


def test_unusable_names(tmp_path):
    _one_line(_cli(*TRAIN, "--out", str(tmp_path / ("x" * 300))), "file name too long")
    # a name that is not valid in the locale's encoding is still a name the file system takes
    p = _cli(*TRAIN, "--no-figures", "--out", os.fsdecode(bytes(tmp_path) + b"/bad\xff"),
             env={**os.environ, "LC_ALL": "C", "LANG": "C"})
    assert p.returncode == 0, p.stderr
    assert (Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff")) / "summary.json").is_file()


@pytest.mark.parametrize("env", [{"PATH": os.environ["PATH"]},                        # no HOME, no LANG
                                 {"LANG": "xx_YY.NOPE", "LC_ALL": "xx_YY.NOPE"},
                                 {"MPLBACKEND": "no-such-backend"}])
def test_minimal_or_odd_environment(tmp_path, env):
    full = env if "HOME" not in env and len(env) == 1 else {**os.environ, **env}
    full = {**full, "PCMSPICE_CACHE": str(tmp_path / "cache")}
    p = _cli(*TRAIN, "--out", str(tmp_path / "o"), env=full, cwd=tmp_path)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert (tmp_path / "o" / "accuracy.png").is_file()

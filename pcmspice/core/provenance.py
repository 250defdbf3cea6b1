"""What made an output: versions, hashes, configs; and atomic writes so nothing half-written survives."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from pcmspice import __version__


@functools.lru_cache(maxsize=1)
def ngspice_version() -> str:
    exe = shutil.which("ngspice")
    if not exe:
        return "not installed"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    for line in out.splitlines():
        if "ngspice-" in line:
            return line.split("ngspice-")[1].split()[0].strip(" :")
    return "unknown"


def versions() -> dict[str, str]:
    import pandas
    import scipy
    try:
        import PySpice
        pyspice = PySpice.__version__
    except Exception:  # PySpice is optional for the array layers
        pyspice = "not importable"
    return {
        "pcmspice": __version__,
        "ngspice": ngspice_version(),
        "PySpice": pyspice,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
        "python": platform.python_version(),
    }


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per process and call: two writers of one path never share a temporary file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_parquet(path: str | Path, df) -> Path:
    """A pandas DataFrame as Parquet (pyarrow), written atomically like :func:`atomic_write_bytes`."""
    import io
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return atomic_write_bytes(path, buf.getvalue())


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=True, default=str) + "\n")


def save_png(fig, path: str | Path, dpi: int = 110, tight: bool = False) -> Path:
    """Write a matplotlib figure as PNG atomically and close it (every figure of pcmspice goes through here)."""
    import io

    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    if not tight:
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())

"""Regenerate the committed default LUTs: characterization/demo.toml -> characterization/luts/generic65_tt_27C.

    .venv/bin/python -m pcmspice.characterize.defaults
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pcmspice import characterize as ch
from pcmspice.core import paths


def main() -> Path:
    cfg = ch.SweepConfig.from_toml(paths.default_sweep("demo"))
    with tempfile.TemporaryDirectory() as tmp:
        res = ch.run_sweep(cfg, tmp, jobs=2, resume=False, progress=True, figures=False)
        src = res.lut_dirs[("tt", 27.0, 1.0)]
        dst = paths.default_lut_dir()
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            shutil.copy2(f, dst / f.name)
        shutil.copy2(Path(tmp) / "summary.json", dst / "summary.json")
    print(f"wrote {dst}")
    return dst


if __name__ == "__main__":
    main()

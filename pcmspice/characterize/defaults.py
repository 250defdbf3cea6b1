"""Regenerate the committed default LUTs: characterization/demo.toml -> characterization/luts/generic65_tt_27C.

    .venv/bin/python -m pcmspice.characterize.defaults
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from pcmspice import characterize as ch
from pcmspice.core import paths
from pcmspice.core.provenance import write_json
from pcmspice.lut import format as lutmod


def main() -> Path:
    cfg = ch.SweepConfig.from_toml(paths.default_sweep("demo"))
    with tempfile.TemporaryDirectory() as tmp:
        res = ch.run_sweep(cfg, tmp, jobs=2, resume=False, progress=True, figures=False)
        src = res.lut_dirs[("tt", 27.0, 1.0)]
        dst = paths.default_lut_dir()
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            shutil.copy2(f, dst / f.name)
        # the summary beside the tables names their set (load_lut_set checks it)
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        write_json(dst / "summary.json", {**summary, "set_id": lutmod.load_lut_set(src).set_id})
    print(f"wrote {dst}")
    return dst


if __name__ == "__main__":
    main()

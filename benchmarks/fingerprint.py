"""Fingerprint of pcmspice's results, for refactors that must keep every result bit-identical.

Runs, into OUT (a fresh folder):
  pcmspice train --dataset digits --epochs 2 --seed 0            (cell, plus pcm-only and ideal modes)
  pcmspice characterize characterization/demo.toml --mc 4
  pcmspice power on the committed LUTs with the cell training run
and prints one SHA-256 per result: weights.npz, summary.json without versions and timings,
the LUT array checksums, the power summary's numbers.  Compare two checkouts' outputs with diff.

    python benchmarks/fingerprint.py OUT > before.txt
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

DROP = ("versions", "wall_seconds", "examples_per_second", "seconds_wall", "elapsed", "created", "path", "dir",
        "out", "wall", "summary_sha256")


def _clean(o, key=""):
    if isinstance(o, dict):
        return {k: _clean(v, k) for k, v in sorted(o.items()) if not any(d in k for d in DROP)}
    if isinstance(o, list):
        return [_clean(v) for v in o]
    return o


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=False)
    exe = [sys.executable, "-m", "pcmspice.cli"]
    runs = {}
    for mode in ("cell", "pcm-only", "ideal"):
        d = out / f"train-{mode}"
        subprocess.run(exe + ["train", "--dataset", "digits", "--epochs", "2", "--seed", "0", "--mode", mode,
                              "--quiet", "--out", str(d)], check=True, stdout=subprocess.DEVNULL)
        runs[mode] = d
        s = json.loads((d / "summary.json").read_text())
        print(f"train {mode} weights.npz {sha((d / 'weights.npz').read_bytes())}")
        clean = json.dumps(_clean(s), sort_keys=True).replace(str(out), 'OUT')
        print(f"train {mode} summary.json(clean) {sha(clean.encode())}")
        print(f"train {mode} accuracy {s['analog_test_accuracy']!r} baseline {s.get('baseline_test_accuracy')!r}")
    d = out / "char"
    subprocess.run(exe + ["characterize", "characterization/demo.toml", "--mc", "4", "--jobs", "1", "--quiet",
                          "--out", str(d)], check=True, stdout=subprocess.DEVNULL)
    import numpy as np
    for f in sorted(d.rglob("*.lut.npz")):
        z = np.load(f, allow_pickle=False)
        for k in sorted(z.files):
            a = z[k]
            if a.dtype.kind in "fiub":
                print(f"char {f.parent.name}/{f.name}:{k} {sha(np.ascontiguousarray(a).tobytes())}")
    s = json.loads((d / "summary.json").read_text())
    print(f"char summary.json(clean) {sha(json.dumps(_clean(s), sort_keys=True).replace(str(out), 'OUT').encode())}")
    d = out / "power"
    subprocess.run(exe + ["power", "--training", str(runs["cell"]), "--no-cpu", "--out", str(d)], check=True,
                   stdout=subprocess.DEVNULL)
    s = json.loads((d / "summary.json").read_text())
    print(f"power summary.json(clean) {sha(json.dumps(_clean(s), sort_keys=True).replace(str(out), 'OUT').encode())}")
    for k in ("energy_per_example_joules", "gops_per_watt", "tops_per_mm2", "area_mm2"):
        if k in s:
            print(f"power {k} {s[k]!r}")


if __name__ == "__main__":
    main()

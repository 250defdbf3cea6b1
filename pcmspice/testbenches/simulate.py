"""Run a named testbench and write its outputs with provenance (the logic behind `pcmspice simulate`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pcmspice import testbenches as tb
from pcmspice.circuits import c3t1c as cell
from pcmspice.core.errors import ConfigError
from pcmspice.core.outputs import atomic_dir, prepare_out_dir, run_key
from pcmspice.core.provenance import atomic_write_bytes, atomic_write_parquet, versions, write_json
from pcmspice.spice import netlist as nl
from pcmspice.spice import tech as techmod

KIND = "simulate"   # the marker of a simulation folder


def simulate_testbench(name: str, technology: str = "generic65", corner: str = "tt", temp_c: float = 27.0,
                       params: dict[str, Any] | None = None, seed: int | None = None, engine: str = "auto",
                       fmt: str = "csv", out: str | Path | None = None, force: bool = False):
    """Run testbench ``name`` and write result.csv (or .parquet), summary.json and a figure into ``out``
    (checked before simulating; written whole, :mod:`pcmspice.core.outputs`)."""
    fn = tb.get(name)
    if fmt == "parquet":
        require_parquet()
    out = Path(out or Path("runs") / "simulate" / name)
    key = run_key(name, technology, corner, temp_c, params or {}, seed, engine, fmt)
    prepare_out_dir(out, KIND, key, force)
    tech = techmod.load(technology)
    tech.check_corner(corner)
    techmod.check_temperature(temp_c)
    run = cell.Run(tech, corner, temp_c, params or {}, engine)
    res = fn(run, seed=seed)
    with atomic_dir(out, KIND, key, force) as stage:
        _write(res, stage, name, technology, corner, temp_c, params, seed, engine, fmt, tech)
    return res, out


#: the one line when Parquet output is asked for without pyarrow (the ``parquet`` extra of pyproject.toml)
NEEDS_PARQUET_EXTRA = ("--format parquet needs pyarrow, which comes with the 'parquet' extra: "
                       "pip install 'pcmspice[parquet]' (in a checkout: pip install -e '.[parquet]'); "
                       "or use --format csv")


def require_parquet() -> None:
    """pyarrow importable, or the one-line :class:`ConfigError` naming the extra (checked before simulating)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError(NEEDS_PARQUET_EXTRA) from None


def _write(res, out: Path, name, technology, corner, temp_c, params, seed, engine, fmt, tech) -> None:
    if fmt == "parquet":
        atomic_write_parquet(out / "result.parquet", res.table)
    else:
        atomic_write_bytes(out / "result.csv", res.table.to_csv(index=False).encode())
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    res.plot(ax)
    ax.grid(alpha=0.3)
    from pcmspice.core.provenance import save_png
    save_png(fig, out / f"{name}.png")
    write_json(out / "summary.json", {
        "kind": "simulation", "testbench": name, "measures": res.measures,
        "config": {"technology": technology, "corner": corner, "temp_c": temp_c, "params": params or {},
                   "seed": seed, "engine": engine},
        "mismatch_draws": res.mismatch,
        "netlist_hashes": {n: nl.template_hash(n) for n in res.netlists},
        "technology": tech.provenance(), "versions": versions(),
    })

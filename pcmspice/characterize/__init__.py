"""Characterization: Monte Carlo populations x corners x temperatures x supplies -> lookup tables.

Layer: imports core, lut, spice, circuits (never array, train or later layers).  A sweep
definition (:class:`SweepConfig`, ``characterization/*.toml``) is planned into batches
(:mod:`.batches`), run in local processes or on a Dask cluster and resumed after an interruption
(:mod:`.execute`), assembled into cell and PCM tables (:mod:`.tables`), summarized
(:mod:`.stats`), drawn (:mod:`.figures`) and tabulated across corners (:mod:`.corners`).
"""
from pcmspice.characterize.batches import Batch, plan, run_batch
from pcmspice.characterize.execute import SweepResult, run_sweep
from pcmspice.characterize.stats import retention_10mv_seconds, stats_at_start, summarize
from pcmspice.characterize.sweep import BIAS_MODES, CELL_TEMPLATES, SweepConfig, combo_name, netlist_hashes, sweep_key
from pcmspice.characterize.tables import assemble, cell_arrays, cell_lut

__all__ = ["BIAS_MODES", "CELL_TEMPLATES", "Batch", "SweepConfig", "SweepResult", "assemble", "cell_arrays",
           "cell_lut", "combo_name", "netlist_hashes", "plan", "retention_10mv_seconds", "run_batch", "run_sweep",
           "stats_at_start", "summarize", "sweep_key"]

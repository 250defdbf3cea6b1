"""Report sections, one per kind of run: training, accuracy over seeds, corners, characterization, LUTs,
co-simulation.

The power section is the power layer's own (:func:`pcmspice.power.outputs.power_blocks`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pcmspice.characterize.corners import COLUMNS, TRANSFER_NOTE, accuracy_columns
from pcmspice.core.document import Block, table_from_pairs
from pcmspice.core.units import fmt_num, fmt_pct, fmt_si
from pcmspice.lut.format import LutSet
from pcmspice.report.discover import RunInput, corner_label, worst_corner
from pcmspice.report.headline import pcm_trained, run_label


def training_blocks(run: RunInput) -> list[Block]:
    """Accuracies against software and the pulse, transfer and PCM counts of a training run."""
    s = run.summary
    pairs = [("network", str(s.get("network", "-"))), ("data set", str(s.get("dataset", "-"))),
             ("mode", str(s.get("mode", "-"))), ("epochs", fmt_num(s.get("epochs"))),
             ("examples trained", fmt_num(s.get("examples_trained"))),
             ("analog test accuracy", fmt_pct(s.get("analog_test_accuracy"))),
             ("software test accuracy (same network)", fmt_pct(s.get("baseline_test_accuracy"))),
             ("analog train accuracy", fmt_pct(s.get("analog_train_accuracy"))),
             ("software train accuracy", fmt_pct(s.get("baseline_train_accuracy"))),
             ("3T1C up / down pulses", f"{fmt_num(s.get('pulses_up_total'))} / {fmt_num(s.get('pulses_down_total'))}"),
             ("transfers", fmt_num(s.get("transfers_total"))),
             ("PCM SET / RESET pulses",
              f"{fmt_num(s.get('pcm_set_pulses_total'))} / {fmt_num(s.get('pcm_reset_pulses_total'))}"),
             ("time per example assumed for leakage", fmt_si(s.get("time_per_example_seconds"), "s")),
             ("PCM drift onset t0", fmt_si(s.get("drift_t0_seconds"), "s"))]
    trained = pcm_trained(s)
    if trained is not None:
        pairs.insert(11, ("PCM trained (a g -> PCM transfer happened)", "yes" if trained else
                          "no: the 3T1C alone was trained"))
    return [Block("h2", f"Training: {run_label(run)}"), table_from_pairs(pairs)]



def corners_blocks(run: RunInput, df, fig: str | None) -> list[Block]:
    """The corner table ``df`` with units, the worst corner, and figure ``fig`` if any."""
    blocks = [Block("h2", f"Corners: {run.path.name}")]
    if df is None:
        return blocks + [Block("p", "No corner table found.")]
    flagged = "last_epoch_transfer_seeds" in df.columns and bool((df["last_epoch_transfer_seeds"] > 0).any())
    w = worst_corner(df)
    df = accuracy_columns(df.drop(columns=[c for c in df.columns if c in ("lut_dir", "combination")
                                            or c.endswith("sigma_volts")]))
    cols = list(df.columns)
    rows = []
    for r in df.itertuples(index=False):
        row = []
        for c, v in zip(cols, r):
            if isinstance(v, (float, np.floating)) and c.endswith("_percent"):
                row.append(f"{v:.2f} %")
            elif isinstance(v, (float, np.floating)) and "accuracy" in c:
                row.append(fmt_pct(v))
            elif isinstance(v, (float, np.floating)) and c.endswith("_joules"):
                row.append(fmt_si(v, "J"))
            elif isinstance(v, (float, np.floating)) and c.endswith("_siemens"):
                row.append(fmt_si(v, "S"))
            elif isinstance(v, (float, np.floating)) and c.endswith("_volts"):
                row.append(fmt_si(v, "V"))
            elif isinstance(v, (float, np.floating)) and c.endswith("_seconds"):
                row.append(fmt_si(v, "s"))
            else:
                row.append(fmt_num(v))
        rows.append(row)
    blocks.append(Block("table", columns=[column_header(c) for c in cols], rows=rows))
    if flagged:
        blocks.append(Block("p", "⚠ " + TRANSFER_NOTE + "."))
    if w:
        blocks.append(Block("p", f"Worst corner ({w['criterion']}): **{corner_label(w['row'])}**."))
    if fig:
        blocks.append(Block("img", "Corners and temperatures", src=fig))
    return blocks


_UNIT_SUFFIXES = ("_siemens", "_volts", "_joules", "_seconds", "_percent")


def column_header(name: str) -> str:
    """A corner-table column as a reader reads it: the corner table's own label (:data:`COLUMNS`), without the
    unit where every cell shows its own (siemens, volts, joules, seconds, %), else the name in words."""
    label = COLUMNS.get(name)
    if label is None:
        base = name
        for suffix in _UNIT_SUFFIXES:
            base = base.removesuffix(suffix)
        return base.replace("_", " ")
    if name.endswith(_UNIT_SUFFIXES):
        label = label.rsplit(" (", 1)[0]
    return label


def characterization_blocks(run: RunInput) -> list[Block]:
    """The sweep's technology, population and combinations."""
    s = run.summary
    blocks = [Block("h2", f"Characterization: {run.path.name}")]
    cfg = s.get("config", {})
    if cfg:
        blocks.append(Block("p", f"Technology {cfg.get('technology', '-')}, {fmt_num(cfg.get('n_cells'))} Monte Carlo "
                                 f"cells, seed {cfg.get('seed', '-')}, "
                                 f"corners {', '.join(map(str, cfg.get('corners', [])))}, "
                                 f"temperatures {', '.join(f'{t:g}' for t in cfg.get('temps_c', []))} °C."))
    combos = s.get("combos") or []
    if combos:
        keys = [k for k in combos[0] if k not in ("lut_dir",)]
        rows = [[fmt_by_name(k, c.get(k)) for k in keys] for c in combos]
        blocks.append(Block("table", columns=keys, rows=rows))
    return blocks


def fmt_by_name(name: str, v: Any) -> str:
    """A number with the unit its name ends in (_joules, _siemens, _volts, _seconds)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        for suffix, unit in (("_joules", "J"), ("_siemens", "S"), ("_volts", "V"), ("_seconds", "s")):
            if name.endswith(suffix):
                return fmt_si(v, unit)
    return fmt_num(v)


def lut_blocks(run: RunInput, luts: LutSet, fig: str | None) -> list[Block]:
    """The population's g and steps at v_start and its pulse energies."""
    c, p = luts.cell, luts.pcm
    cells = np.arange(c.n_cells)
    v0 = np.full(c.n_cells, c.v_start_volts)
    g, up, dn = c.g(cells, v0), c.step_up(cells, v0), c.step_down(cells, v0)
    prov = c.provenance
    pairs = [("cells / PCM devices", f"{c.n_cells} / {p.n_devices}"),
             ("technology, corner, temperature",
              f"{prov.get('technology', '-')}, {prov.get('corner', '-')}, {prov.get('temp_c', '-')} °C"),
             ("g at v_start (mean ± sd)", f"{fmt_si(g.mean(), 'S')} ± {fmt_si(g.std(), 'S')}"),
             ("up step at v_start (mean ± sd)", f"{fmt_si(up.mean(), 'V')} ± {fmt_si(up.std(), 'V')}"),
             ("down step at v_start (mean ± sd)", f"{fmt_si(dn.mean(), 'V')} ± {fmt_si(dn.std(), 'V')}"),
             ("energy per up / down pulse",
              f"{fmt_si(c.e_up_joules.mean(), 'J')} / {fmt_si(c.e_down_joules.mean(), 'J')}"),
             ("PCM SET / RESET energy",
              f"{fmt_si(p.e_set_joules.mean(), 'J')} / {fmt_si(p.e_reset_joules.mean(), 'J')}")]
    blocks = [Block("h2", f"Lookup tables: {run.path.name}"), table_from_pairs(pairs)]
    if fig:
        blocks.append(Block("img", "3T1C read conductance and per-pulse steps vs Vc", src=fig))
    return blocks


_COSIM_KEYS = ("passed", "vc_rms_error_volts", "vc_max_error_volts", "vc_bound_volts", "prediction_agreement",
               "prediction_agreement_bound", "test_accuracy_spice", "test_accuracy_lut", "weight_rms_error",
               "weight_rms", "transfers", "polarity_inversions", "pulses_total", "spice_seconds_per_example",
               "lut_seconds_per_example", "spice_over_lut_time")


def cosim_blocks(run: RunInput) -> list[Block]:
    """The co-simulation's agreement numbers."""
    s = run.summary
    keys = [k for k in _COSIM_KEYS if k in s] or [
        k for k, v in s.items() if isinstance(v, (int, float, str)) and k != "kind"][:40]
    pairs = [(k.replace("_", " "), str(s[k]) if isinstance(s[k], bool) else fmt_by_name(k, s[k])) for k in keys]
    return [Block("h2", f"SPICE in the loop: {run.path.name}"), table_from_pairs(pairs)]


def _mean_sd(xs: list[float], scale: float = 1.0, digits: int = 2) -> str:
    xs = [scale * float(x) for x in xs if x is not None and np.isfinite(x)]
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{np.mean(xs):.{digits}f} ± {np.std(xs, ddof=1):.{digits}f}"


def seeds_blocks(run: RunInput) -> list[Block]:
    """The table of ``benchmarks/verdict.py``: per task and variant, analog and software accuracy and
    their gap over the seeds (mean ± sd), the best epochs' gap, the PCM drift and the energy per example."""
    s = run.summary
    rows = []
    for r in s.get("rows", []):
        rows.append([str(r["task"]), str(r["variant"]), str(len(r["seeds"])), _mean_sd(r["analog"]) + " %",
                     _mean_sd(r["software"]) + " %", _mean_sd(r["gap"]) + " pp", _mean_sd(r["best_gap"]) + " pp",
                     _mean_sd(r["drift_ratio"], digits=3), _mean_sd(r["energy_per_example_joules"], 1e9) + " nJ"])
    variants = s.get("variants", {})
    blocks = [Block("h2", f"Accuracy over seeds: {run.path.name}"),
              Block("p", f"{s.get('epochs', '-')} epochs a run; gap = analog - software at the last epoch; "
                         "best = the best epoch of each against the best of the other; drift = G read / G "
                         "programmed at the end (mean over the PCMs); energy from `pcmspice power --training`."),
              Block("table", columns=["task", "variant", "seeds", "analog", "software", "gap", "best-epoch gap",
                                      "PCM drift", "energy / example"], rows=rows)]
    if variants:
        blocks.append(table_from_pairs([(k, " ".join(v) or "(the defaults)") for k, v in variants.items()],
                                       head=("variant", "pcmspice train arguments")))
    return blocks

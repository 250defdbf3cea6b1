"""What ``pcmspice power`` writes, and the power section every report shows.

* :func:`write_power_run` - estimate, compare with GPUs and the measured CPU,
  and write summary.json (kind "power"), config.toml, breakdown.csv, gpu.csv,
  the two figures and power.md to a run directory.
* :func:`power_blocks` - the document section of one power summary (power.md,
  and the power section of a report).
* :func:`summary_lines` - the lines ``pcmspice power`` prints.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from pcmspice.core.document import Block, render_markdown, table_from_pairs
from pcmspice.core.errors import PcmSpiceError
from pcmspice.core.provenance import atomic_write_text, sha256_file, versions, write_json
from pcmspice.core.tables import csv_text
from pcmspice.core.units import fmt_num, fmt_si
from pcmspice.lut.format import LutSet, load_lut_set
from pcmspice.lut.identity import lut_sha256
from pcmspice.power import gpu as power_gpu
from pcmspice.power import model as pw
from pcmspice.power.figures import figure_gpu_comparison, figure_power_breakdown

KIND = "power"   # the marker of a power folder


def _lut_inputs(lut_dir: Path) -> dict[str, Any]:
    files = {}
    for f in sorted(Path(lut_dir).glob("*.lut.npz")):
        files[f.name] = sha256_file(f)
    out = {"path": str(lut_dir), "sha256": files}
    try:
        out["lut_sha256"] = lut_sha256(load_lut_set(lut_dir))
    except PcmSpiceError:
        pass
    return out


def write_power_run(out_dir: str | Path, luts: LutSet | str | Path, network: str | None = None,
                    training: str | Path | None = None, config: pw.PowerConfig | None = None,
                    measure_cpu: bool = True, force: bool = False) -> dict[str, Any]:
    """Estimate, compare with GPUs and the measured CPU, write everything to ``out_dir``.

    Returns the summary (also written as ``out_dir/summary.json``, kind "power").  ``out_dir`` is checked
    first and written as a whole (:mod:`pcmspice.core.outputs`; another run's folder only with ``force``).
    """
    from pcmspice.core.outputs import atomic_dir, prepare_out_dir, run_key
    cfg = config or pw.PowerConfig()
    key = run_key(cfg.to_dict(), network, str(training) if training is not None else None,
                  luts.name if isinstance(luts, LutSet) else str(luts), measure_cpu)
    # the output may not be, hold or lie inside the training run or the LUT folder it reads
    prepare_out_dir(out_dir, KIND, key, force,
                    inputs=[("--training", training), ("--luts", None if isinstance(luts, LutSet) else luts)])
    lut_dir = None
    if not isinstance(luts, LutSet):
        lut_dir = Path(luts)
        luts = load_lut_set(lut_dir)
    est = pw.estimate(luts, network, training, cfg)
    net = pw.network_name(est.network)
    gpus = power_gpu.gpu_table(net, cfg)
    cpu = power_gpu.measure_cpu(net, cfg) if measure_cpu else None
    inputs: dict[str, Any] = {"luts": _lut_inputs(lut_dir) if lut_dir else {"name": luts.name},
                              "lut_provenance": _short_lut_provenance(luts)}
    if training is not None:
        tdir = Path(training)
        s = pw.load_summary(tdir)
        inputs["training"] = {"path": str(tdir), "summary_sha256": sha256_file(tdir / "summary.json"),
                              "config": s.get("config"), "provenance": s.get("provenance")}
    summary = {
        "kind": "power",
        **est.to_dict(),
        "gpu": gpus,
        "gpu_assumptions": power_gpu.gpu_assumptions(cfg),
        "cpu_measured": cpu,
        "time_per_example_seconds": est.latency.time_per_example_seconds,
        "config": cfg.to_dict(),
        "parameters": cfg.describe(),
        "provenance": {"versions": versions(), "inputs": inputs,
                       "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")},
    }
    with atomic_dir(out_dir, KIND, key, force) as out:
        write_json(out / "summary.json", summary)
        atomic_write_text(out / "config.toml", cfg.to_toml())
        atomic_write_text(out / "breakdown.csv", _breakdown_csv(summary))
        atomic_write_text(out / "gpu.csv", csv_text(gpus, None))
        figure_power_breakdown(summary, out / "power_breakdown.png")
        figure_gpu_comparison(summary, gpus, cpu, out / "power_vs_gpu.png")
        atomic_write_text(out / "power.md", render_markdown(power_blocks(summary, "")))
    return summary


def _short_lut_provenance(luts: LutSet) -> dict[str, Any]:
    p = luts.cell.provenance
    keep = ("technology", "corner", "temp_c", "vdd_volts", "seed", "n_cells", "sweep_key", "netlist_hashes")
    return {k: p[k] for k in keep if k in p}


def _breakdown_csv(summary: dict[str, Any]) -> str:
    table = summary["energy_per_example_joules"]["by_phase_component"]
    rows = [{"phase": ph, **{c: table[ph][c] for c in pw.COMPONENTS},
             "total_joules": sum(table[ph][c] for c in pw.COMPONENTS)} for ph in pw.PHASES]
    comp = summary["energy_per_example_joules"]["by_component"]
    for name, j in _remedy_rows(summary):
        rows.append({"phase": name.replace(" ", "_"), **{c: 0.0 for c in pw.COMPONENTS}, "total_joules": j})
    rows.append({"phase": "total", **comp, "total_joules": summary["headline"]["energy_per_example_joules"]})
    return csv_text(rows, ".6e", columns=["phase", *pw.COMPONENTS, "total_joules"])


def _remedy_rows(summary: dict[str, Any]) -> list[tuple[str, float]]:
    """The drift remedies' energy rows of a summary (J per example): none when the run had none on."""
    r = summary["energy_per_example_joules"].get("drift_remedies")
    if not r:
        return []
    return [(n, r[k]) for n, k in (("drift compensation", "compensation_joules_per_example"),
                                   ("pre-distortion", "predistort_joules_per_example")) if r[k]]


def _remedy_time_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    r = summary["energy_per_example_joules"].get("drift_remedies")
    if not r:
        return []
    return [(n, fmt_si(r[k], "s")) for n, k in (
        ("drift compensation's reference reads", "compensation_seconds_per_example"),
        ("verify settling delay (amortized)", "settle_seconds_per_example")) if r[k]]


def power_blocks(s: dict[str, Any], fig_prefix: str | None) -> list[Block]:
    """The section of power summary ``s``; its two figures are linked as ``fig_prefix``+name (None: no figures)."""
    h = s["headline"]
    paper = s.get("paper", {})
    blocks = [Block("h2", f"Energy, latency and area: {s['network']}")]
    blocks.append(Block("table", columns=["metric", "training", "inference", "paper's projection"], rows=[
        ["GOP/s/W", fmt_num(h["gops_per_watt_training"]), fmt_num(h["gops_per_watt_inference"]),
         fmt_num(paper.get("gops_per_watt"))],
        ["GOP/s/W, forward + backward operations only", fmt_num(h.get("gops_per_watt_training_forward_backward_ops")),
         "-", "-"],
        ["TOP/s/mm²", fmt_num(h["tops_per_mm2_training"]), fmt_num(h["tops_per_mm2_inference"]),
         fmt_num(paper.get("tops_per_mm2"))],
        ["energy per example", fmt_si(h["energy_per_example_joules"], "J"),
         fmt_si(h["inference_energy_per_example_joules"], "J"), "-"],
        ["time per example incl. transfers (inference: forward)", fmt_si(h["training_seconds_per_example"], "s"),
         fmt_si(s["latency"]["inference_seconds_per_example"], "s"), "-"],
        ["throughput", fmt_si(h["throughput_gops_training"] * 1e9, "OP/s"),
         fmt_si(h["throughput_gops_inference"] * 1e9, "OP/s"), "-"],
    ]))
    ops = s["ops_per_example"]
    blocks.append(Block("p", f"Operations per example: {fmt_num(ops['ops_training'])} for training "
                             f"({fmt_num(ops['macs_forward'])} forward and {fmt_num(ops['macs_backward'])} backward "
                             f"multiply-accumulates, {fmt_num(ops['update_products'])} update products, "
                             f"{fmt_num(s['config']['workload']['ops_per_mac'])} operations each), "
                             f"{fmt_num(ops['ops_inference'])} for inference. Convention: "
                             f"{s.get('ops_convention', '-')}. Area {h['area_mm2']:.3g} mm², "
                             f"power while training {fmt_si(h['power_training_watts'], 'W')}. "
                             f"Time per example (step: forward + backward + update, what the array simulator's "
                             f"leakage uses): **{fmt_si(s['latency']['time_per_example_seconds'], 's')}**; time per "
                             f"example incl. transfers (what throughput and TOP/s/mm² use): "
                             f"{fmt_si(s['latency']['training_seconds_per_example'], 's')}."))
    bc = s["energy_per_example_joules"]["by_component"]
    tot = h["energy_per_example_joules"]
    top = sorted(bc.items(), key=lambda kv: -kv[1])[:3]
    area = s["area_m2"]
    ca = s["cell_area_m2"]
    cells_share = (area.get("cells", 0) + area.get("g_shared_cells", 0)) / area["total"]
    cap, tr = ca["capacitor_m2"] * 1e12, ca["transistors_m2"] * 1e12
    if s["config"]["area"]["capacitor_stacked"]:
        cell_text = (f"the {cap:.3g} µm² storage capacitor, stacked above {tr:.3g} µm² of transistors, sets a "
                     "synapse's footprint" if cap >= tr else
                     f"the {tr:.3g} µm² of transistors set a synapse's footprint (capacitor {cap:.3g} µm² above)")
    else:
        cell_text = f"the storage capacitor is {100 * cap / (cap + tr):.0f} % of a synapse's footprint"
    blocks.append(Block("p", "What dominates: " + ", ".join(f"{k.replace('_', ' ')} {100 * v / tot:.0f} %"
                                                             for k, v in top)
                        + f" of the training energy; the cell arrays take {100 * cells_share:.0f} % of the area; "
                        + cell_text + "."))
    if fig_prefix is not None:
        blocks.append(Block("img", "Energy per training example by phase and component; area by component",
                            src=f"{fig_prefix}power_breakdown.png"))
    table = s["energy_per_example_joules"]["by_phase_component"]
    comps = [c for c in pw.COMPONENTS if any(table[ph][c] for ph in pw.PHASES)]
    rows = [[ph, *(fmt_si(table[ph][c], "J") for c in comps), fmt_si(sum(table[ph].values()), "J")]
            for ph in pw.PHASES]
    rows += [[name, *("-" for _ in comps), fmt_si(j, "J")] for name, j in _remedy_rows(s)]
    rows.append(["total", *(fmt_si(bc[c], "J") for c in comps), fmt_si(h["energy_per_example_joules"], "J")])
    blocks += [Block("h3", "Energy per training example, by phase and component"),
               Block("table", columns=["phase", *(c.replace("_", " ") for c in comps), "total"], rows=rows)]
    lat = s["latency"]
    blocks += [Block("h3", "Latency"), table_from_pairs([
        ("forward", fmt_si(lat["forward_seconds"], "s")), ("backward", fmt_si(lat["backward_seconds"], "s")),
        ("update", fmt_si(lat["update_seconds"], "s")),
        ("one transfer of every cell", fmt_si(lat["transfer_event_seconds"], "s")),
        ("transfer, amortized per example", fmt_si(lat["transfer_per_example_seconds"], "s")),
        ("time per example (step: forward + backward + update)", fmt_si(lat["time_per_example_seconds"], "s")),
        *((f"{n}, per example", v) for n, v in _remedy_time_rows(s)),
        ("time per example incl. transfers", fmt_si(lat["training_seconds_per_example"], "s"))],
        head=("phase", "time"))]
    blocks += [Block("h3", "Area"), Block("p", f"One synapse (2 PCM + 3T1C): {ca['total_m2'] * 1e12:.3g} µm² "
                                               f"(transistors {ca['transistors_m2'] * 1e12:.3g} µm², storage capacitor "
                                               f"{ca['capacitor_m2'] * 1e12:.3g} µm²)."),
               table_from_pairs([(k.replace("_", " "), f"{area[k] * 1e6:.4g} mm²")
                                  for k in (*pw.AREA_COMPONENTS, "total") if k in area], head=("component", "area"))]
    gpus, cpu = s.get("gpu") or [], s.get("cpu_measured")
    if gpus:
        blocks.append(Block("h3", "Against GPUs and this machine's CPU (same network, same operations)"))
        if fig_prefix is not None:
            blocks.append(Block("img", "Energy per training example: this design, the measured CPU and GPUs",
                                src=f"{fig_prefix}power_vs_gpu.png"))
        e0 = h["energy_per_example_joules"]
        rows = [["2PCM+3T1C (this model)", "-", "-", fmt_si(e0, "J"), "-", "-", "-", "-"]]
        for g in gpus:
            rows.append([g["name"], f"{g['fp32_tflops']:g} / {g['fp16_tensor_tflops']:g}",
                         f"{g['board_power_watts']:g}",
                         fmt_si(g["energy_per_example_fp16_peak_joules"], "J"),
                         fmt_si(g["energy_per_example_batch1_joules"], "J") + _tdp(g, "batch1"),
                         f"{100 * g['utilization_batch1']:.3g} %",
                         fmt_si(g["energy_per_example_large_batch_joules"], "J") + _tdp(g, "large_batch"),
                         f"{100 * g['utilization_large_batch']:.3g} %"])
        if cpu:
            rows.append(["this CPU, measured (batch 1)", "-", f"{cpu['watts_per_core']:g} per core", "-",
                         fmt_si(cpu["energy_per_example_joules"], "J"), "-", "-", "-"])
        blocks.append(Block("table", columns=["device", "peak TFLOPS FP32 / FP16 tensor", "board W",
                                              "J/example at FP16 peak", "J/example batch 1",
                                              "FP32 utilization batch 1", "J/example large batch",
                                              "FP32 utilization large batch"], rows=rows))
        if cpu:
            blocks.append(Block("p", f"Measured here: {cpu['name']}: {fmt_si(cpu['seconds_per_example'], 's')} per "
                                     f"example, {fmt_si(cpu['energy_per_example_joules'], 'J')} per example, "
                                     f"{cpu['gops_per_watt']:.3g} GOP/s/W. Method: {cpu['method']}."))
        blocks.append(Block("ul", items=[*s.get("gpu_assumptions", []),
                                         *(g["name"] + ": " + g["source"] for g in gpus)]))
    d = s.get("devices", {})
    if d:
        rc = d.get("read_energy_check", {})
        pairs = [("LUT set", str(d.get("lut"))), ("3T1C g at v_start (mean)", fmt_si(d["g_cell_siemens"], "S")),
                 _pcm_conductance_row(s, d),
                 ("cell supply energy per up / down pulse (SPICE)",
                  f"{fmt_si(d['e_up_joules'], 'J')} / {fmt_si(d['e_down_joules'], 'J')}"),
                 ("energy per PCM SET / RESET pulse",
                  f"{fmt_si(d['e_set_joules'], 'J')} / {fmt_si(d['e_reset_joules'], 'J')}"),
                 ("one full read of g: V²·g·t (this model)", fmt_si(rc.get("model_e_read_cell_joules"), "J"))]
        if rc.get("lut_e_read_cell_at_read_time_joules") is not None:
            pairs.append(("one read of g: SPICE (LUT, scaled to the read time)",
                          fmt_si(rc["lut_e_read_cell_at_read_time_joules"], "J")))
        if d.get("c_gate_up_farads") is not None:
            pairs.append(("gate load per cell on an up / down pulse line",
                          f"{fmt_si(d['c_gate_up_farads'], 'F')} / {fmt_si(d['c_gate_down_farads'], 'F')} "
                          f"({d.get('gate_load_source')})"))
        blocks += [Block("h3", "Device costs from the characterization"), table_from_pairs(pairs)]
        if d.get("parameter_sources"):
            blocks += [Block("h3", "Where the periphery values come from"),
                       table_from_pairs(list(d["parameter_sources"].items()), head=("value", "source"))]
    blocks += activity_blocks(s)
    wl = s.get("workload", {})
    blocks += [Block("h3", "Counts and notes"), Block("ul", items=[
        f"update pulses per example: {fmt_num(wl.get('pulses_up_per_example'))} up, "
        f"{fmt_num(wl.get('pulses_down_per_example'))} down; cell transfers per example "
        f"{fmt_num(wl.get('cell_transfers_per_example'))}; PCM SET {fmt_num(wl.get('set_pulses_per_example'))} and "
        f"RESET {fmt_num(wl.get('reset_pulses_per_example'))} per example (source: {wl.get('source')})",
        *s.get("notes", [])])]
    params = s.get("parameters") or []
    if params:
        text = "\n".join(f"{r['parameter']} = {r['value']} [{r['unit']}; {r['range']}]  # {r['source']}"
                         for r in params)
        blocks.append(Block("details", "All power parameters with their sources (change with --set or --config)",
                            src=text))
    return blocks



def _tdp(g: dict[str, Any], label: str) -> str:
    frac = g.get(f"board_power_fraction_{label}")
    return "" if frac is None else f" at {100 * frac:.0f} % of TDP"


_ACTIVITY_ROWS = (("input_mean_duty", "read duty of the forward rows", None),
                  ("backward_mean_duty", "read duty of the backward error lines", None),
                  ("update_row_activity", "update row activity", None),
                  ("pcm_mean_conductance_siemens", "PCM conductance (one device, mean)", "S"),
                  ("cell_mean_conductance_siemens", "3T1C read conductance g (mean)", "S"),
                  ("g_shared_mean_conductance_siemens", "g_shared (mean)", "S"))


def _pcm_conductance_row(s: dict[str, Any], d: dict[str, Any]) -> tuple[str, str]:
    """The device table's PCM conductance: the value the energy used, with its source (the activity block's:
    a training run's measured mean, or the assumption), not the assumption when a run replaced it."""
    used = (s.get("activity") or {}).get("pcm_mean_conductance_siemens")
    if isinstance(used, dict) and used.get("value") is not None:
        return ("PCM conductance during reads (one device, mean; used)",
                f"{fmt_si(used['value'], 'S')} ({used.get('source', '-')})")
    return ("PCM conductance during reads (mean; assumed)", fmt_si(d["g_pcm_siemens"], "S"))


def activity_blocks(s: dict[str, Any]) -> list[Block]:
    """The activity the energy was costed with (measured from the run or assumed) and the periphery circuits:
    where the levels come from, how F is made, and each integrator's size."""
    act, circ = s.get("activity"), s.get("circuits")
    blocks: list[Block] = []
    if act:
        rows = []
        for key, label, unit in _ACTIVITY_ROWS:
            if key not in act:
                continue
            v = act[key]
            vals = [v["value"], *v.get("per_layer", [])]
            txt = [fmt_si(x, unit) if unit else f"{x:.3g}" for x in vals]
            rows.append([label, txt[0], ", ".join(txt[1:]), v["source"]])
        blocks += [Block("h3", "Activity the energy is costed with"),
                   Block("table", columns=["quantity", "value", "per layer", "source"], rows=rows)]
    if circ:
        pairs = [("bias levels", circ["levels"]), ("gain factor F", f"{circ['gain_f']:g}: {circ['gain_f_circuit']}")]
        for i in circ.get("integrators", []):
            pairs.append((f"integrator, layer {i['layer']} {i['direction']} ({i['part']}, {i['lines']} lines)",
                          f"worst-case {fmt_si(i['worst_case_charge_coulombs'], 'C')} per read -> "
                          f"{fmt_si(i['capacitance_farads'], 'F')}, {fmt_si(i['energy_per_read_joules'], 'J')} per "
                          f"read, {i['area_m2'] * 1e12:.4g} µm²" + (" (resized)" if i["resized"] else "")))
        blocks += [Block("h3", "Periphery circuits"), table_from_pairs(pairs, head=("circuit", "what and how big"))]
    return blocks


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What ``pcmspice power`` prints of a summary: energy, efficiency, area, latency, the largest components."""
    h = summary["headline"]
    lat = summary["latency"]
    lines = [f"network {summary['network']}: {fmt_si(h['energy_per_example_joules'], 'J')} per training example, "
             f"{fmt_si(h['inference_energy_per_example_joules'], 'J')} per inference",
             f"  training : {fmt_num(h['gops_per_watt_training'])} GOP/s/W, "
             f"{h['tops_per_mm2_training']:.3g} TOP/s/mm^2 (operations: 2 per multiply-accumulate, forward + backward "
             f"+ one update product per synapse; forward + backward only: "
             f"{fmt_num(h.get('gops_per_watt_training_forward_backward_ops'))} GOP/s/W)",
             f"  inference: {fmt_num(h['gops_per_watt_inference'])} GOP/s/W, "
             f"{h['tops_per_mm2_inference']:.3g} TOP/s/mm^2",
             f"  (paper's projection: {fmt_num(summary['paper']['gops_per_watt'])} GOP/s/W, "
             f"{summary['paper']['tops_per_mm2']:g} TOP/s/mm^2)",
             f"  area {h['area_mm2']:.3g} mm^2; time per example (step) "
             f"{fmt_si(lat['time_per_example_seconds'], 's')} (forward {fmt_si(lat['forward_seconds'], 's')}, "
             f"backward {fmt_si(lat['backward_seconds'], 's')}, update {fmt_si(lat['update_seconds'], 's')}), "
             f"transfers add {fmt_si(lat['transfer_per_example_seconds'], 's')} per example: time per example "
             f"incl. transfers {fmt_si(lat['training_seconds_per_example'], 's')}",
             f"  for the training's leakage (step): time_per_example_seconds = {lat['time_per_example_seconds']:.6g}"]
    rem = summary["energy_per_example_joules"].get("drift_remedies")
    if rem:
        lines.append(f"  drift remedies (in the totals): {fmt_si(rem['joules_per_example'], 'J')} and "
                     f"{fmt_si(rem['seconds_per_example'], 's')} per example ("
                     + ", ".join(f"{n} {v}" for n, v in [*((n, fmt_si(j, "J")) for n, j in _remedy_rows(summary)),
                                                         *_remedy_time_rows(summary)]) + ")")
    by = summary["energy_per_example_joules"]["by_component"]
    top = sorted(by.items(), key=lambda kv: -kv[1])[:4]
    lines.append("  largest components: " + ", ".join(f"{k} {fmt_si(v, 'J')}" for k, v in top))
    act = summary.get("activity")
    if act:
        duty = act["input_mean_duty"]
        lines.append(f"  activity: read duty {duty['value']:.3g} ({duty['source']}), "
                     f"update row activity {act['update_row_activity']['value']:.3g} "
                     f"({act['update_row_activity']['source']}), PCM "
                     f"{fmt_si(act['pcm_mean_conductance_siemens']['value'], 'S')} "
                     f"({act['pcm_mean_conductance_siemens']['source']})")
    cpu = summary.get("cpu_measured")
    if cpu:
        lines.append(f"  this CPU (measured, batch 1): {fmt_si(cpu['seconds_per_example'], 's')} and "
                     f"{fmt_si(cpu['energy_per_example_joules'], 'J')} per example")
    for n in summary.get("notes", []):
        if "ESTIMATED" in n or "training run assumed" in n or n.startswith("periphery of"):
            lines.append(f"  note: {n}")
    return lines

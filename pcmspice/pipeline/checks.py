"""Every check of a design before any work (:func:`check_design`): the data set and the network fitted to it,
every netlist parameter of ``[sweep.params]`` against the templates that declare it (name and range, for the
technology and each supply of the sweep), and a LUT folder that must load.  The array and power fields are
typed and range-checked when the design is read.  An error is one line naming the design file and the key."""
from __future__ import annotations

import difflib
from typing import Any

from pcmspice.core.errors import ConfigError, PcmSpiceError


def check_design(design: Any, source: str = "design") -> None:
    """Refuse ``design`` (a :class:`~pcmspice.pipeline.DesignConfig` read from ``source``) in one line before
    anything is characterized, trained or written."""
    _check_task(design, source)
    if design.luts == "characterize":
        _check_params(design, source)
    elif design.luts != "committed":
        from pcmspice.train.loop import resolve_luts
        try:
            resolve_luts(design.luts)
        except PcmSpiceError as exc:
            raise ConfigError(f"{source}: luts = {design.luts!r}: {exc}") from None


def _check_task(design: Any, source: str) -> None:
    from pcmspice import train as tr
    from pcmspice.train.network import fitted
    task = design.task
    try:
        data = tr.load_dataset(task.dataset)
    except PcmSpiceError as exc:
        raise ConfigError(f"{source}: [task] dataset = {task.dataset!r}: {exc}") from None
    try:
        cfg = fitted(task.train_config(task.seeds[0], ""), data)
        tr.prepare_data(cfg, data)
    except PcmSpiceError as exc:
        raise ConfigError(f"{source}: [task] network = {task.network or '(fitted)'!r}: {exc}") from None


def _check_params(design: Any, source: str) -> None:
    from pcmspice.circuits import pcm
    from pcmspice.spice import netlist as nl
    sweep = design.sweep
    params = dict(sweep.params or {})
    cell_t = "testbenches/3t1c_pulses.cir.j2"
    known = set(nl.declared_params(cell_t)) | set(nl.declared_params(pcm.PULSES_TEMPLATE))
    for k in params:
        if k not in known:
            close = difflib.get_close_matches(k, sorted(known), n=3)
            hint = f"; did you mean {' or '.join(close)}?" if close else f" (known: {', '.join(sorted(known))})"
            raise ConfigError(f"{source}: [sweep.params] {k}: not a parameter of the cell's netlists "
                              f"({cell_t}, {pcm.PULSES_TEMPLATE}){hint}")
    try:
        tech = sweep.tech()
    except PcmSpiceError as exc:
        raise ConfigError(f"{source}: [sweep] technology = {sweep.technology!r}: {exc}") from None
    for vdd in sorted({c[2] for c in sweep.combos()}):
        cell = pcm.cell_only(params)
        if abs(vdd - tech.vdd_volts) > 1e-12 or "vdd_volts" in cell:
            cell.setdefault("vdd_volts", vdd)
        for template, values in ((cell_t, cell), (pcm.PULSES_TEMPLATE, pcm._pcm_only(params))):
            try:
                nl.resolve_params(template, values, tech)
            except PcmSpiceError as exc:   # a value out of its range: name the key it came from
                name = next((k for k in params if k in str(exc)), None)
                where = f"[sweep.params] {name}" if name else f"[sweep.params] (at {vdd:g} V)"
                raise ConfigError(f"{source}: {where}: {exc}") from None

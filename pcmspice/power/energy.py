"""The energy of one training example, phase by phase and component by component, and the area
(see :mod:`pcmspice.power.model` for what is counted and :func:`pcmspice.power.model.estimate`)."""
from __future__ import annotations

import math

from pcmspice.power.activity import Activity
from pcmspice.power.config import CircuitParams, PowerConfig
from pcmspice.power.devices import DeviceCosts, cell_area_m2
from pcmspice.power.workload import Layer, Workload

PHASES = ("forward", "backward", "update", "transfer")
COMPONENTS = ("array_read", "g_shared", "adc", "integrator", "gain_f", "neuron", "pulse_drivers",
              "routing_buffers", "cell_update_3t1c", "pcm_program", "g_reset")
AREA_COMPONENTS = ("cells", "g_shared_cells", "adc", "integrator", "gain_f", "neuron", "drivers", "buffers",
                   "routing_overhead")


def level_cost(v_hi: float, v_lo: float, cfg: PowerConfig, vdd: float) -> float:
    """Energy (J per coulomb) the chip spends to move charge from level ``v_hi`` to level ``v_lo`` (a line
    charged from one level and discharged into the other, or a read current from a read level into the
    integrator's virtual ground at 0 V).

    Ideal rails (``drivers.levels_from_supply`` false): v_hi - v_lo.  From the supply (the default): the
    charge is drawn at v_hi and returned at v_lo, each through what makes the level from the VDD supply:
    0 < v <= VDD a linear regulator (VDD per coulomb), v > VDD an N-stage Dickson pump with N + 1 =
    ceil(v / VDD) (ceil(v / VDD) x VDD / efficiency per coulomb), v < 0 an inverting pump
    (VDD / efficiency per coulomb removed); charge returned at a level >= 0 is dissipated (no cost)."""
    drv = cfg.drivers
    if not drv.levels_from_supply:
        return v_hi - v_lo
    eta = drv.charge_pump_efficiency

    def src(v: float) -> float:
        if v > vdd:
            return math.ceil(v / vdd - 1e-12) * vdd / eta
        return vdd if v > 0 else (vdd / eta if v < 0 else 0.0)

    return src(v_hi) + (vdd / eta if v_lo < 0 else 0.0)


def pulse_line_energies(dev: DeviceCosts, c_wire: float, cfg: PowerConfig) -> tuple[float, float]:
    """Energy (J) per cell on the line and pulse of an up (PMOS gate) and a down (NMOS gate) update line.

    The driver moves the line's capacitance C (the cell's switch gate plus its share of wire) from the
    idle level to the pulse level and back: the charge C dV is drawn at the upper level and returned at
    the lower one, which costs C dV x :func:`level_cost` (= C dV^2 with ideal rails).  generic65's levels
    lie outside the supply (1.15 V idle up, -0.15 V idle down), so they come from charge pumps."""
    c = dev.circuit
    vdd = c.vdd_volts
    up_lo, dn_hi = c.up_idle_volts - c.up_swing_volts, c.down_idle_volts + c.down_swing_volts
    e_up = (c_wire + dev.c_gate_up_farads) * c.up_swing_volts * level_cost(c.up_idle_volts, up_lo, cfg, vdd)
    e_dn = (c_wire + dev.c_gate_down_farads) * c.down_swing_volts * level_cost(dn_hi, c.down_idle_volts, cfg, vdd)
    return e_up, e_dn


def pulse_line_energy_per_cell(dev: DeviceCosts, c_wire: float, wl: Workload,
                               cfg: PowerConfig | None = None) -> float:
    """The up and down line energies per cell and pulse weighted by the workload's up/down pulse counts (what a
    column line, which knows its error's sign, spends on average)."""
    e_up, e_dn = pulse_line_energies(dev, c_wire, cfg or PowerConfig())
    n_up, n_dn = wl.pulses_up_per_example, wl.pulses_down_per_example
    f_up = n_up / (n_up + n_dn) if n_up + n_dn > 0 else 0.5
    return f_up * e_up + (1 - f_up) * e_dn


def gain_f_separate(dev: DeviceCosts, cfg: PowerConfig) -> bool:
    """Whether F needs separate PCM and 3T1C conversions (F differs from the read-voltage ratio)."""
    c = dev.circuit
    return not math.isclose(cfg.array.gain_f, c.pcm_read_voltage_volts / c.read_voltage_volts, rel_tol=1e-9)


def readout(ls: list[Layer], act: Activity, dev: DeviceCosts, cfg: PowerConfig) -> list[dict[str, list[float]]]:
    """Per layer, the worst-case charge of one read on each integrator of a forward column and of a backward
    row line: ``{"forward": [Q...], "backward": [Q...]}`` (one charge per integrator: the summed line, or the
    3T1C and the PCM line when F is made by separate conversions)."""
    c, t = dev.circuit, cfg.array.read_time_seconds
    sep = gain_f_separate(dev, cfg)
    out = []
    for i, _ in enumerate(ls):
        d = {}
        for name, sc, sp in (("forward", act.fwd_cell_sum_max_siemens[i], act.fwd_pcm_sum_max_siemens[i]),
                             ("backward", act.bwd_cell_sum_max_siemens[i], act.bwd_pcm_sum_max_siemens[i])):
            qg, qp = t * c.read_voltage_volts * sc, t * c.pcm_read_voltage_volts * sp
            d[name] = [qg, qp] if sep else [qg + qp]
        out.append(d)
    return out


def integrator_size(q: float, cfg: PowerConfig) -> tuple[float, float, float]:
    """(capacitance F, energy per read J, area m^2) of an integrator that holds charge ``q``: C = max(C_min,
    q / swing); its amplifier's class-A output sinks the line current, so it is biased at the larger of its
    minimum (adc.integrator_power_watts) and the read's mean current q / t_read: E = max(P t, VDD q)."""
    adc, t = cfg.adc, cfg.array.read_time_seconds
    cap = max(adc.integrator_capacitance_farads, q / adc.integrator_swing_volts)
    e = max(adc.integrator_power_watts * t, cfg.circuit.vdd_volts * q)
    extra = (cap - adc.integrator_capacitance_farads) / cfg.area.capacitor_density_farads_per_m2
    return cap, e, adc.integrator_area_m2 + extra


def _zero() -> dict[str, float]:
    return {c: 0.0 for c in COMPONENTS}


def energy(ls: list[Layer], wl: Workload, dev: DeviceCosts, cfg: PowerConfig, act: Activity,
           notes: list[str]) -> dict[str, dict[str, float]]:
    """Energy per training example: phase -> component -> J (see the module docstring of
    :mod:`pcmspice.power.model`); the read duty, update row activity and conductances of each layer
    from ``act`` (a training run's, or the config's assumptions)."""
    c = dev.circuit
    a, adc, neu, drv, rt, pcm, w = cfg.array, cfg.adc, cfg.neuron, cfg.drivers, cfg.routing, cfg.pcm, cfg.workload
    vdd, t_rd = c.vdd_volts, a.read_time_seconds
    cost_r = level_cost(c.read_voltage_volts, 0.0, cfg, vdd)        # J per coulomb of a read current
    cost_p = level_cost(c.pcm_read_voltage_volts, 0.0, cfg, vdd)
    v2t = c.read_voltage_volts * cost_r * t_rd      # J per siemens of a full-duty 3T1C read (V^2 t with ideal rails)
    v2t_pcm = c.pcm_read_voltage_volts * cost_p * t_rd
    e_adc = adc.fom_joules_per_step * 2 ** adc.enob_bits
    cell = cell_area_m2(c, cfg)
    pitch = math.sqrt(cell["total_m2"])
    c_read = pitch * drv.wire_capacitance_farads_per_m + drv.read_load_per_cell_farads   # per cell on a read line
    c_wire = pitch * drv.wire_capacitance_farads_per_m          # per cell on a line
    e_rline, e_pline = c_read * c.read_voltage_volts * cost_r, c_read * c.pcm_read_voltage_volts * cost_p
    e_up_line, e_dn_line = pulse_line_energies(dev, c_wire, cfg)
    n_up, n_dn = wl.pulses_up_per_example, wl.pulses_down_per_example
    f_up = n_up / (n_up + n_dn) if n_up + n_dn > 0 else 0.5
    e_col_line = f_up * e_up_line + (1 - f_up) * e_dn_line
    # PCM programming: the cell's SPICE energy at its level, and the bit line's charge (one bit line of `rows`
    # cells per pulse), both drawn through what makes the level
    k_set = level_cost(c.pcm_set_bitline_volts, 0.0, cfg, vdd) / c.pcm_set_bitline_volts
    k_reset = level_cost(c.pcm_reset_bitline_volts, 0.0, cfg, vdd) / c.pcm_reset_bitline_volts
    bits = rt.bits_per_value
    e_route_bit = rt.route_activity * drv.wire_capacitance_farads_per_m * rt.route_distance_m * vdd ** 2
    e_buf_bit = rt.buffer_energy_joules_per_bit
    n_total = sum(l.synapses for l in ls)
    q = readout(ls, act, dev, cfg)
    sep = gain_f_separate(dev, cfg)

    def int_cost(qs: list[float]) -> tuple[float, float]:
        """(integrator energy of the summed line, extra energy of F's separate conversions) per line and read"""
        e_one = integrator_size(sum(qs), cfg)[1]
        if len(qs) == 1:
            return e_one, 0.0
        return e_one, sum(integrator_size(x, cfg)[1] for x in qs) - e_one + e_adc + neu.gain_f_combine_energy_joules

    # stochastic coincidence: pulses per synapse = slots x p_row x p_col, so each layer's column
    # activity follows from the (measured or estimated) pulse count and its row activity
    pulses_per_synapse = (n_up + n_dn) / n_total

    def n_shared(n: int) -> int:
        return math.ceil(n / a.cells_per_reference)

    E = {ph: _zero() for ph in PHASES}
    for i, l in enumerate(ls):
        duty, duty_b = act.input_mean_duty[i], act.backward_mean_duty[i]
        g_cell, g_sh = act.cell_mean_conductance_siemens[i], act.g_shared_mean_conductance_siemens[i]
        g_pcm = act.pcm_mean_conductance_siemens[i]
        e_syn = v2t * g_cell + v2t_pcm * 2 * g_pcm   # J per full-duty synapse read
        e_int_f, e_f_f = int_cost(q[i]["forward"])
        e_int_b, e_f_b = int_cost(q[i]["backward"])
        # forward: rows driven with duration-encoded activations, columns integrated
        f = E["forward"]
        f["array_read"] += duty * l.synapses * e_syn
        f["g_shared"] += v2t * duty * n_shared(l.synapses) * g_sh
        f["pulse_drivers"] += l.rows * (l.n_out * (e_rline + e_pline) + drv.pwm_logic_energy_joules)
        f["adc"] += l.n_out * e_adc
        f["integrator"] += l.n_out * e_int_f
        f["gain_f"] += l.n_out * e_f_f
        f["neuron"] += l.n_out * neu.activation_energy_joules
        f["routing_buffers"] += l.n_out * bits * (e_route_bit + e_buf_bit) + l.n_in * bits * e_buf_bit
        # backward through the transposed array (not needed for the first layer)
        b = E["backward"]
        if i > 0:
            b["array_read"] += duty_b * l.n_in * l.n_out * e_syn
            b["g_shared"] += v2t * duty_b * n_shared(l.n_in * l.n_out) * g_sh
            b["pulse_drivers"] += l.n_out * (l.rows * (e_rline + e_pline) + drv.pwm_logic_energy_joules)
            b["adc"] += l.n_in * e_adc
            b["integrator"] += l.n_in * e_int_b
            b["gain_f"] += l.n_in * e_f_b
            b["neuron"] += l.n_in * neu.derivative_energy_joules
            b["routing_buffers"] += l.n_in * bits * (e_route_bit + e_buf_bit) + l.n_out * bits * e_buf_bit
        if i == len(ls) - 1:
            b["neuron"] += l.n_out * neu.derivative_energy_joules     # output error
        # update: coincident row/column pulses; the cells' own pulse energy from SPICE
        share = l.synapses / n_total
        row_act = act.update_row_activity[i]
        col_act = pulses_per_synapse / (drv.max_pulses_per_example * row_act) if row_act > 0 else 0.0
        if col_act > 1.0:
            notes.append(f"layer {i + 1}: {pulses_per_synapse:.3g} update pulses per synapse and example exceed what "
                         f"{drv.max_pulses_per_example} slots at row activity {row_act:.3g} can give: column "
                         "activity capped at 1")
            col_act = 1.0
        u = E["update"]
        u["cell_update_3t1c"] += share * (n_up * dev.e_up_joules + n_dn * dev.e_down_joules)
        # every row carries an up (PMOS) and a down (NMOS) gate line of n_out gates; a row cannot know the
        # sign of the column errors, so both fire (the up line in the up sub-phase, the down line in the
        # down one); a column line (`rows` gates) fires only in its error's sub-phase
        slots_cells = drv.max_pulses_per_example * l.rows * l.n_out
        u["pulse_drivers"] += slots_cells * (row_act * (e_up_line + e_dn_line) + col_act * e_col_line)
        u["routing_buffers"] += (l.n_in + l.n_out) * bits * e_buf_bit
        c_bl = l.rows * c_read                                     # one column's bit line
        e_set = k_set * dev.e_set_joules + c_bl * c.pcm_set_bitline_volts * level_cost(
            c.pcm_set_bitline_volts, 0.0, cfg, vdd)
        e_reset = k_reset * dev.e_reset_joules + c_bl * c.pcm_reset_bitline_volts * level_cost(
            c.pcm_reset_bitline_volts, 0.0, cfg, vdd)
        u["pcm_program"] += share * wl.update_set_pulses_per_example * e_set
        # transfer, amortized per example: read g - g_shared, program-and-verify the PCM pair, reset g
        t = E["transfer"]
        xfer = wl.cell_transfers_per_example * share
        sets = wl.set_pulses_per_example * share
        verify = sets * pcm.verify_reads_per_set
        t["array_read"] += v2t * xfer * g_cell + v2t_pcm * verify * g_pcm
        t["g_shared"] += v2t * xfer / a.cells_per_reference * g_sh
        t["adc"] += (xfer + verify) * e_adc
        t["integrator"] += (xfer + verify) * e_int_f
        t["pcm_program"] += sets * e_set + wl.reset_pulses_per_example * share * e_reset
        t["g_reset"] += xfer * c.c_store_farads * vdd * w.g_reset_mean_dv_volts
        t["neuron"] += xfer * neu.transfer_logic_energy_joules
        # the read line of the row being transferred: one row read serves its n_out cells
        t["pulse_drivers"] += xfer * e_rline + verify * e_pline
    if sep:
        notes.append(f"F = {a.gain_f:g} differs from the read-voltage ratio {c.pcm_read_voltage_volts:g} V / "
                     f"{c.read_voltage_volts:g} V: PCM and 3T1C currents are integrated and converted separately and "
                     "combined as F x PCM + 3T1C (component gain_f)")
    return E


def area(ls: list[Layer], c: CircuitParams, cfg: PowerConfig,
         charges: list[dict[str, list[float]]] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Area by component (m^2) and the area of one synapse; integrators sized for ``charges``
    (:func:`readout`; None: the smallest), F's second integrator and ADCs under gain_f."""
    a, adc, neu, drv, rt = cfg.array, cfg.adc, cfg.neuron, cfg.drivers, cfg.routing
    cell = cell_area_m2(c, cfg)
    bits = rt.bits_per_value
    n_total = sum(l.synapses for l in ls)
    n_sh_total = sum(math.ceil(l.synapses / a.cells_per_reference) for l in ls)
    sh_cell = cell_area_m2(c, cfg, with_pcm=False)["total_m2"]
    n_adc = sum(math.ceil(l.n_out / adc.lines_per_adc) + (math.ceil(l.n_in / adc.lines_per_adc) if i > 0 else 0)
                for i, l in enumerate(ls))
    integ, extra = 0.0, 0.0
    sep = False
    for i, l in enumerate(ls):
        for name, n in (("forward", l.n_out), ("backward", l.n_in if i > 0 else 0)):
            qs = charges[i][name] if charges else [0.0]
            integ += n * integrator_size(sum(qs), cfg)[2]
            if len(qs) > 1:
                sep = True
                extra += n * (sum(integrator_size(x, cfg)[2] for x in qs) - integrator_size(sum(qs), cfg)[2])
    periphery = {
        "adc": n_adc * adc.area_m2,
        "integrator": integ,
        "gain_f": extra + (n_adc * adc.area_m2 if sep else 0.0),
        "neuron": sum(l.n_out for l in ls) * neu.area_m2,
        "drivers": sum(2 * (l.rows + l.n_out) for l in ls) * drv.area_m2,   # read + update driver per line
        "buffers": sum(l.n_in + l.n_out for l in ls) * bits * rt.sram_bit_area_m2 * rt.sram_overhead,
    }
    areas = {"cells": n_total * cell["total_m2"], "g_shared_cells": n_sh_total * sh_cell, **periphery,
             "routing_overhead": rt.periphery_routing_overhead * sum(periphery.values())}
    return areas, cell

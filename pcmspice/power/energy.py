"""The energy of one training example, phase by phase and component by component, and the area
(see :mod:`pcmspice.power.model` for what is counted and :func:`pcmspice.power.model.estimate`)."""
from __future__ import annotations

import math

from pcmspice.power.activity import Activity
from pcmspice.power.config import CircuitParams, PowerConfig
from pcmspice.power.devices import DeviceCosts, cell_area_m2
from pcmspice.power.workload import Layer, Workload

PHASES = ("forward", "backward", "update", "transfer")
COMPONENTS = ("array_read", "g_shared", "adc", "integrator", "neuron", "pulse_drivers",
              "routing_buffers", "cell_update_3t1c", "pcm_program", "g_reset")
AREA_COMPONENTS = ("cells", "g_shared_cells", "adc", "integrator", "neuron", "drivers", "buffers",
                   "routing_overhead")


def pulse_line_energy_per_cell(dev: DeviceCosts, c_wire: float, wl: Workload) -> float:
    """Energy (J) a pulse-line driver spends per cell on the line for one pulse: C dV^2.

    The driver charges the line (the cell's switch gate plus its share of wire, C) by the swing dV
    and discharges it again; its rails are the two levels of the pulse (the idle and the pulse gate
    level, from the bias generator), so the charge C dV is drawn from the upper rail at its potential
    and returned to the lower one: C dV (V_hi - V_lo) = C dV^2 per pulse, whatever the levels' offset
    from ground.  (Generating the levels with linear regulators from the supply instead would cost
    C dV V_supply.)  Up and down lines are weighted by the workload's up/down pulse counts."""
    c = dev.circuit
    n_up, n_dn = wl.pulses_up_per_example, wl.pulses_down_per_example
    f_up = n_up / (n_up + n_dn) if n_up + n_dn > 0 else 0.5
    return (f_up * (c_wire + dev.c_gate_up_farads) * c.up_swing_volts ** 2
            + (1 - f_up) * (c_wire + dev.c_gate_down_farads) * c.down_swing_volts ** 2)


def _zero() -> dict[str, float]:
    return {c: 0.0 for c in COMPONENTS}


def energy(ls: list[Layer], wl: Workload, dev: DeviceCosts, cfg: PowerConfig, act: Activity,
           notes: list[str]) -> dict[str, dict[str, float]]:
    """Energy per training example: phase -> component -> J (see the module docstring of
    :mod:`pcmspice.power.model`); the read duty, update row activity and conductances of each layer
    from ``act`` (a training run's, or the config's assumptions)."""
    c = dev.circuit
    a, adc, neu, drv, rt, pcm, w = cfg.array, cfg.adc, cfg.neuron, cfg.drivers, cfg.routing, cfg.pcm, cfg.workload
    v2t = c.read_voltage_volts ** 2 * a.read_time_seconds        # J per siemens of a full-duty 3T1C read
    v2t_pcm = c.pcm_read_voltage_volts ** 2 * a.read_time_seconds
    e_adc = adc.fom_joules_per_step * 2 ** adc.enob_bits
    e_int = adc.integrator_power_watts * a.read_time_seconds
    cell = cell_area_m2(c, cfg)
    pitch = math.sqrt(cell["total_m2"])
    c_read = pitch * drv.wire_capacitance_farads_per_m + drv.read_load_per_cell_farads   # per cell on a read line
    c_wire = pitch * drv.wire_capacitance_farads_per_m          # per cell on a line
    e_line = pulse_line_energy_per_cell(dev, c_wire, wl)
    bits = rt.bits_per_value
    e_route_bit = rt.route_activity * drv.wire_capacitance_farads_per_m * rt.route_distance_m * c.vdd_volts ** 2
    e_buf_bit = rt.buffer_energy_joules_per_bit
    n_total = sum(l.synapses for l in ls)

    # stochastic coincidence: pulses per synapse = slots x p_row x p_col, so each layer's column
    # activity follows from the (measured or estimated) pulse count and its row activity
    pulses_per_synapse = (wl.pulses_up_per_example + wl.pulses_down_per_example) / n_total

    def n_shared(n: int) -> int:
        return math.ceil(n / a.cells_per_reference)

    E = {ph: _zero() for ph in PHASES}
    for i, l in enumerate(ls):
        duty, duty_b = act.input_mean_duty[i], act.backward_mean_duty[i]
        g_cell, g_sh = act.cell_mean_conductance_siemens[i], act.g_shared_mean_conductance_siemens[i]
        e_syn = v2t * g_cell + v2t_pcm * 2 * act.pcm_mean_conductance_siemens[i]   # J per full-duty synapse read
        # forward: rows driven with duration-encoded activations, columns integrated
        f = E["forward"]
        f["array_read"] += duty * l.synapses * e_syn
        f["g_shared"] += v2t * duty * n_shared(l.synapses) * g_sh
        f["pulse_drivers"] += l.rows * (l.n_out * c_read * c.read_voltage_volts ** 2 + drv.pwm_logic_energy_joules)
        f["adc"] += l.n_out * e_adc
        f["integrator"] += l.n_out * e_int
        f["neuron"] += l.n_out * neu.activation_energy_joules
        f["routing_buffers"] += l.n_out * bits * (e_route_bit + e_buf_bit) + l.n_in * bits * e_buf_bit
        # backward through the transposed array (not needed for the first layer)
        b = E["backward"]
        if i > 0:
            b["array_read"] += duty_b * l.n_in * l.n_out * e_syn
            b["g_shared"] += v2t * duty_b * n_shared(l.n_in * l.n_out) * g_sh
            b["pulse_drivers"] += l.n_out * (l.rows * c_read * c.read_voltage_volts ** 2 + drv.pwm_logic_energy_joules)
            b["adc"] += l.n_in * e_adc
            b["integrator"] += l.n_in * e_int
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
        u["cell_update_3t1c"] += share * (wl.pulses_up_per_example * dev.e_up_joules
                                          + wl.pulses_down_per_example * dev.e_down_joules)
        # a row line carries n_out gates, a column line `rows` gates
        u["pulse_drivers"] += drv.max_pulses_per_example * l.rows * l.n_out * e_line * (row_act + col_act)
        u["routing_buffers"] += (l.n_in + l.n_out) * bits * e_buf_bit
        u["pcm_program"] += share * wl.update_set_pulses_per_example * dev.e_set_joules
        # transfer, amortized per example: read g - g_shared, program-and-verify the PCM pair, reset g
        t = E["transfer"]
        xfer = wl.cell_transfers_per_example * share
        sets = wl.set_pulses_per_example * share
        verify = sets * pcm.verify_reads_per_set
        t["array_read"] += v2t * xfer * g_cell + v2t_pcm * verify * act.pcm_mean_conductance_siemens[i]
        t["g_shared"] += v2t * xfer / a.cells_per_reference * g_sh
        t["adc"] += (xfer + verify) * e_adc
        t["integrator"] += (xfer + verify) * e_int
        t["pcm_program"] += sets * dev.e_set_joules + wl.reset_pulses_per_example * share * dev.e_reset_joules
        t["g_reset"] += xfer * c.c_store_farads * c.vdd_volts * w.g_reset_mean_dv_volts
        t["neuron"] += xfer * neu.transfer_logic_energy_joules
        # the read line of the row being transferred: one row read serves its n_out cells
        t["pulse_drivers"] += (xfer * c.read_voltage_volts ** 2 + verify * c.pcm_read_voltage_volts ** 2) * c_read

    return E


def area(ls: list[Layer], c: CircuitParams, cfg: PowerConfig) -> tuple[dict[str, float], dict[str, float]]:
    """Area by component (m^2) and the area of one synapse."""
    a, adc, neu, drv, rt = cfg.array, cfg.adc, cfg.neuron, cfg.drivers, cfg.routing
    cell = cell_area_m2(c, cfg)
    bits = rt.bits_per_value
    n_total = sum(l.synapses for l in ls)
    n_sh_total = sum(math.ceil(l.synapses / a.cells_per_reference) for l in ls)
    sh_cell = cell_area_m2(c, cfg, with_pcm=False)["total_m2"]
    integrated = sum(l.n_out + (l.n_in if i > 0 else 0) for i, l in enumerate(ls))
    n_adc = sum(math.ceil(l.n_out / adc.lines_per_adc) + (math.ceil(l.n_in / adc.lines_per_adc) if i > 0 else 0)
                for i, l in enumerate(ls))
    periphery = {
        "adc": n_adc * adc.area_m2,
        "integrator": integrated * adc.integrator_area_m2,
        "neuron": sum(l.n_out for l in ls) * neu.area_m2,
        "drivers": sum(2 * (l.rows + l.n_out) for l in ls) * drv.area_m2,   # read + update driver per line
        "buffers": sum(l.n_in + l.n_out for l in ls) * bits * rt.sram_bit_area_m2 * rt.sram_overhead,
    }
    area = {"cells": n_total * cell["total_m2"], "g_shared_cells": n_sh_total * sh_cell, **periphery,
            "routing_overhead": rt.periphery_routing_overhead * sum(periphery.values())}
    return area, cell

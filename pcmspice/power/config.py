"""Parameters of the energy / latency / area model (:mod:`pcmspice.power.model`).

One frozen dataclass per section; :class:`PowerConfig` gathers them and
round-trips to TOML (``characterization/power_default.toml`` is its
``to_toml()``).  Every field carries its unit, its allowed range and the
source of its default; "design assumption" marks a choice rather than a
published or measured value.  Bad values raise :class:`ConfigError` naming
the parameter, the value and the allowed range.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcmspice.core.config import Config, param, parse_value
from pcmspice.core.errors import ConfigError
from pcmspice.core.limits import C_STORE_FARADS_RANGE

# --------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------

def _p(default: Any, lo: float, hi: float, unit: str, source: str) -> Any:
    """A parameter with its allowed range, unit and the source of its default."""
    return param(default, ge=lo, le=hi, unit=unit, source=source)


class _Section(Config):
    """A section of the power parameters (``[adc]``, ``[drivers]``, ...): a config of the common idiom whose
    errors name the parameter as ``section.name``."""

    _name = ""

    def _bad(self, name: str, value: Any, want: str) -> ConfigError:
        return ConfigError(f"power parameter {self._name}.{name} = {value!r} is invalid; expected {want}")


_ASSUME = "design assumption: "


@dataclass(frozen=True)
class CircuitParams(_Section):
    """Cell circuit values; taken from the LUT's recorded netlist parameters when
    ``PowerConfig.use_lut_circuit_params`` is true and the LUT records them."""

    _name = "circuit"
    vdd_volts: float = _p(1.0, 0.1, 5.0, "V", "generic65 supply (netlists/tech/generic65/tech.toml vdd_volts)")
    read_voltage_volts: float = _p(
        0.1, 1e-3, 1.0, "V",
        "3T1C read drain bias v_read_volts = 0.1 V of the characterization testbench "
        "(netlists/testbenches/_3t1c_drive.j2); small so the read transistor stays in triode and "
        "PCM reads (typically 0.1-0.3 V, Burr et al., IEEE JETCAS 6, 146 (2016)) do not disturb")
    pcm_read_voltage_volts: float = _p(
        0.2, 1e-3, 1.0, "V",
        "PCM read bit-line voltage v_read_pcm_volts = 0.2 V of netlists/testbenches/_pcm_drive.j2 (below the "
        "threshold of every state)")
    pcm_set_pulse_seconds: float = _p(
        70e-9, 1e-10, 1e-3, "s",
        "partial-SET pulse t_set_seconds = 50 ns + 20 ns gap (t_gap_pcm_seconds) of "
        "netlists/testbenches/_pcm_drive.j2; the paper's SET ramps took 13.6 ns - 4.4 us")
    pcm_reset_pulse_seconds: float = _p(
        50e-9, 1e-10, 1e-3, "s",
        "RESET pulse t_reset_seconds = 30 ns + 20 ns gap of netlists/testbenches/_pcm_drive.j2 (RESET pulses are "
        "tens of ns, Burr et al., IEEE JETCAS 6, 146 (2016))")
    c_store_farads: float = _p(100e-15, *C_STORE_FARADS_RANGE, "F",
                               "storage capacitor c_store_farads of netlists/cells/c3t1c.cir.j2")
    pulse_period_seconds: float = _p(20e-9, 1e-10, 1e-3, "s",
                                     "update pulse period t_period_seconds (5 ns pulse) of "
                                     "netlists/testbenches/_3t1c_drive.j2")
    up_swing_volts: float = _p(0.75, 0.0, 10.0, "V",
                               "up-pulse line swing v_up_off_volts - v_up_on_volts (1.15 - 0.40 V) of "
                               "netlists/testbenches/_3t1c_drive.j2")
    down_swing_volts: float = _p(0.648, 0.0, 10.0, "V",
                                 "down-pulse line swing v_dn_on_volts - v_dn_off_volts (0.498 + 0.15 V) of "
                                 "netlists/testbenches/_3t1c_drive.j2")
    up_idle_volts: float = _p(1.15, -5.0, 10.0, "V",
                              "idle (off) level of the up PMOS gate line v_up_off_volts of "
                              "netlists/testbenches/_3t1c_drive.j2; the pulse level is this - up_swing_volts")
    down_idle_volts: float = _p(-0.15, -5.0, 10.0, "V",
                                "idle (off) level of the down NMOS gate line v_dn_off_volts of "
                                "netlists/testbenches/_3t1c_drive.j2; the pulse level is this + down_swing_volts")
    pcm_set_bitline_volts: float = _p(1.6, 0.0, 10.0, "V",
                                      "bit-line level of a partial-SET pulse v_bl_set_volts of "
                                      "netlists/testbenches/_pcm_drive.j2")
    pcm_reset_bitline_volts: float = _p(1.8, 0.0, 10.0, "V",
                                        "bit-line level of a RESET pulse v_bl_reset_volts of "
                                        "netlists/testbenches/_pcm_drive.j2")
    w_up_m: float = _p(0.12e-6, 1e-8, 1e-4, "m", "pull-up PMOS width w_up_um of netlists/cells/c3t1c.cir.j2")
    l_up_m: float = _p(4.0e-6, 1e-8, 1e-4, "m", "pull-up PMOS length l_up_um of netlists/cells/c3t1c.cir.j2")
    w_dn_m: float = _p(0.12e-6, 1e-8, 1e-4, "m", "pull-down NMOS width w_dn_um of netlists/cells/c3t1c.cir.j2")
    l_dn_m: float = _p(8.0e-6, 1e-8, 1e-4, "m", "pull-down NMOS length l_dn_um of netlists/cells/c3t1c.cir.j2")
    w_rd_m: float = _p(0.2e-6, 1e-8, 1e-4, "m", "read NMOS width w_rd_um of netlists/cells/c3t1c.cir.j2")
    l_rd_m: float = _p(1.0e-6, 1e-8, 1e-4, "m", "read NMOS length l_rd_um of netlists/cells/c3t1c.cir.j2")
    w_access_m: float = _p(0.4e-6, 1e-8, 1e-4, "m",
                           _ASSUME + "PCM access NMOS wide enough for a ~200 uA RESET at ~500 uA/um drive")
    l_access_m: float = _p(0.06e-6, 1e-8, 1e-4, "m", "minimum length of generic65 (tech.toml min_l_um)")


@dataclass(frozen=True)
class ArrayParams(_Section):
    _name = "array"
    read_time_seconds: float = _p(80e-9, 1e-10, 1e-3, "s",
                                  "integration time of one forward/backward read: 80 ns as assumed for the "
                                  "resistive processing unit by Gokmen & Vlasov, Front. Neurosci. 10, 333 (2016)")
    input_mean_duty: float = _p(0.5, 0.0, 1.0, "1",
                                _ASSUME + "mean pulse-duration fraction of activations/errors encoded as "
                                "read-pulse durations (values spread over [0, 1]); used only without a training "
                                "run: a run's own duty is measured (power --training)")
    input_full_scale: float = _p(1.0, 1e-6, 1e6, "1",
                                 _ASSUME + "the value read as a full-duty pulse: a value v is a read pulse of duty "
                                 "min(|v| / full scale, 1); 1 = the data sets' [0, 1] normalization")
    pcm_window_max_siemens: float = _p(20e-6, 1e-7, 1e-3, "S",
                                       "Ambrogio et al. 2018: programming control degrades above ~20 µS, most "
                                       "devices are programmed below it")
    pcm_mean_window_fraction: float = _p(0.25, 0.0, 1.0, "1",
                                         _ASSUME + "mean PCM conductance as a fraction of [G_reset, window max]: "
                                         "weights cluster near zero, so one device of a pair is usually low")
    gain_f: float = _p(3.0, 0.01, 1000.0, "1",
                       "F, the gain of the PCM pair over the 3T1C (Ambrogio et al. 2018 use F = 3); a training run's "
                       "array.gain_f replaces it.  F = pcm_read_voltage / read_voltage is made by the read levels on "
                       "one integrated line; any other F by converting the PCM and 3T1C currents separately (two "
                       "integrators and two ADC conversions per line) and adding F x PCM + 3T1C digitally")
    cells_per_reference: int = _p(8, 1, 1_000_000, "cells",
                                  _ASSUME + "the paper shares g_shared among 'several' cells without a number")


@dataclass(frozen=True)
class AdcParams(_Section):
    _name = "adc"
    fom_joules_per_step: float = _p(31e-15, 1e-18, 1e-9, "J/conv-step",
                                    "Walden figure of merit P/(2^ENOB fs) of published ADCs of this class (ENOB 7-9 "
                                    "at 10-300 MS/s) in B. Murmann, 'ADC Performance Survey 1997-2024' "
                                    "(github.com/bmurmann/ADC-survey): best 16.8 fJ/step, 10th percentile 31 "
                                    "fJ/step; the default is that 10th percentile (a good, not record, design)")
    enob_bits: float = _p(8.0, 1.0, 20.0, "bit", _ASSUME + "8 effective bits per activation/error read-out")
    sample_rate_hz: float = _p(100e6, 1e3, 1e11, "Hz", "100 MS/s, inside the survey's range for 8-bit SAR ADCs")
    lines_per_adc: int = _p(8, 1, 100_000, "lines", _ASSUME + "one ADC time-multiplexed over 8 integrated lines")
    area_m2: float = _p(0.02e-6, 0.0, 1e-5, "m^2",
                        "the same survey class as the figure of merit (Murmann, ADC Performance Survey 1997-2024, "
                        "ENOB 7-9 at 10-300 MS/s): the smallest design 0.0058 mm^2, the five best by figure of merit "
                        "0.006-0.075 mm^2; 0.02 mm^2 inside that range")
    integrator_power_watts: float = _p(10e-6, 0.0, 1e-2, "W",
                                       _ASSUME + "current-integrator OTA biased at 10 uA from the 1.0 V supply, "
                                       "on during the read time only")
    integrator_area_m2: float = _p(100e-12, 0.0, 1e-5, "m^2",
                                   _ASSUME + "dominated by a ~200 fF integration capacitor at 2 fF/um^2 (MIM); a "
                                   "larger capacitor adds its MIM area (area.capacitor_density_farads_per_m2)")
    integrator_capacitance_farads: float = _p(200e-15, 1e-16, 1e-8, "F",
                                              _ASSUME + "the smallest integration capacitor; each line's is sized "
                                              "up to hold the worst-case charge of one read: C = Q_max / swing")
    integrator_swing_volts: float = _p(0.5, 0.01, 5.0, "V",
                                       _ASSUME + "output swing of the integrator: half of the 1 V supply")


@dataclass(frozen=True)
class NeuronParams(_Section):
    _name = "neuron"
    activation_energy_joules: float = _p(1.5e-12, 0.0, 1e-9, "J",
                                         "one 16-bit FP multiply (1.1 pJ) + add (0.4 pJ), 45 nm, M. Horowitz, "
                                         "'Computing's energy problem', ISSCC 2014")
    derivative_energy_joules: float = _p(1.5e-12, 0.0, 1e-9, "J",
                                         "error x activation derivative: one 16-bit FP multiply + add "
                                         "(Horowitz, ISSCC 2014)")
    transfer_logic_energy_joules: float = _p(0.4e-12, 0.0, 1e-9, "J",
                                             "transfer target per cell: one 16-bit FP add (Horowitz, ISSCC 2014)")
    gain_f_combine_energy_joules: float = _p(0.06e-12, 0.0, 1e-9, "J",
                                             "F x PCM + 3T1C of two 8-bit conversions: a shift and two 8-bit adds "
                                             "(0.03 pJ each, Horowitz, ISSCC 2014)")
    time_seconds: float = _p(10e-9, 0.0, 1e-3, "s", _ASSUME + "5 clock cycles at 500 MHz per neuron evaluation")
    area_m2: float = _p(3000e-12, 0.0, 1e-5, "m^2",
                        _ASSUME + "~2,000 NAND2-equivalent gates (16-bit FP multiply-add, pulse logic) at "
                        "~1.4 um^2 each in 65 nm standard cells")


@dataclass(frozen=True)
class DriverParams(_Section):
    _name = "drivers"
    wire_capacitance_farads_per_m: float = _p(0.2e-9, 0.0, 1e-8, "F/m",
                                              "~0.2 fF/um for on-chip wires, nearly constant across nodes "
                                              "(Ho, Mai & Horowitz, 'The future of wires', Proc. IEEE 89, 490 (2001))")
    read_load_per_cell_farads: float = _p(0.5e-15, 0.0, 1e-12, "F",
                                          _ASSUME + "drain junctions of the read and access transistors on a read line")
    gate_load_per_cell_farads: float = _p(0.0, 0.0, 1e-12, "F",
                                          "0: each switch's gate load from the LUT (c_gate_up_farads / "
                                          "c_gate_down_farads, Q/dV of the pulse edge in SPICE, population mean); "
                                          "> 0: this value for both switches (an override)")
    gate_cox_farads_per_m2: float = _p(18.7e-3, 1e-4, 1.0, "F/m^2",
                                       "used only when the LUT has no gate loads and no override is set: Cox W L of "
                                       "the switch sizes, Cox = eps_ox / toxe of generic65 (1.85 nm)")
    pwm_logic_energy_joules: float = _p(0.24e-12, 0.0, 1e-9, "J",
                                        "counter/compare per line and read: 8 x an 8-bit add at 0.03 pJ "
                                        "(Horowitz, ISSCC 2014)")
    max_pulses_per_example: int = _p(16, 1, 100_000, "pulses",
                                     "pulse slots of one update, one up and one down sub-phase; the array "
                                     "simulator's default (ArrayConfig.max_pulses_per_example), so an estimate "
                                     "without a run costs the array `pcmspice train` simulates (Gokmen & Vlasov, "
                                     "Front. Neurosci. 10, 333 (2016) use BL = 10)")
    update_row_activity: float = _p(0.5, 1e-6, 1.0, "1", _ASSUME + "fraction of slots in which a row line fires "
                                    "(activations average ~0.5), used only without a training run (a run's is its "
                                    "layers' mean input duty); the column activity then follows from the pulse "
                                    "count: pulses per synapse = slots x row activity x column activity")
    levels_from_supply: bool = _p(True, 0, 1, "",
                                  "true: every level (read 0.1 / 0.2 V, gate 1.15 / 0.40 / 0.498 / -0.15 V, PCM "
                                  "1.6 / 1.8 V) is made from the 1 V supply: levels in [0, VDD] by linear regulators, "
                                  "which draw their load charge from the supply (VDD x Q; Rincon-Mora & Allen, IEEE "
                                  "JSSC 33, 36 (1998)), levels above VDD by an N-stage Dickson charge pump, which "
                                  "draws N+1 times the charge it delivers, levels below 0 by an inverting pump, "
                                  "which draws the charge it removes (Palumbo & Pappalardo, IEEE Circuits Syst. Mag. "
                                  "10(1), 31 (2010)); false: ideal rails at each level (C dV^2 per pulse)")
    charge_pump_efficiency: float = _p(0.8, 0.05, 1.0, "1",
                                       _ASSUME + "fraction of the ideal charge ratio a pump reaches: bottom-plate "
                                       "parasitics and switch losses take 10-30 % (Palumbo & Pappalardo 2010)")
    area_m2: float = _p(20e-12, 0.0, 1e-6, "m^2", _ASSUME + "an inverter-chain line driver, ~20 um^2 in 65 nm")


@dataclass(frozen=True)
class RoutingParams(_Section):
    _name = "routing"
    bits_per_value: int = _p(8, 1, 64, "bit", _ASSUME + "activations and errors move as 8-bit words (= ADC ENOB)")
    buffer_energy_joules_per_bit: float = _p(10e-12 / 64, 0.0, 1e-9, "J/bit",
                                             "8 kB SRAM: 10 pJ per 64-bit access, 45 nm (Horowitz, ISSCC 2014)")
    route_distance_m: float = _p(1e-3, 0.0, 1.0, "m", _ASSUME + "1 mm average path between arrays")
    route_activity: float = _p(0.5, 0.0, 1.0, "1", "switching activity of random data bits")
    sram_bit_area_m2: float = _p(0.57e-12, 0.0, 1e-9, "m^2",
                                 "65 nm 6T SRAM cell 0.57 um^2 (Bai et al., IEDM 2004, Intel 65 nm)")
    sram_overhead: float = _p(1.5, 1.0, 10.0, "x", _ASSUME + "SRAM decoders/sense amps: 1/0.67 array efficiency")
    periphery_routing_overhead: float = _p(0.3, 0.0, 10.0, "x",
                                           _ASSUME + "global routing and control add 30 % to the periphery area")


@dataclass(frozen=True)
class PcmParams(_Section):
    _name = "pcm"
    verify_reads_per_set: float = _p(1.0, 0.0, 100.0, "reads",
                                     "closed-loop tuning of the paper: one verify read after every SET pulse")
    iterations_per_row: int = _p(10, 1, 100_000, "iterations",
                                 _ASSUME + "a row's tuning loop stops after 10 SET + verify rounds (the slowest "
                                 "cell sets the row time; g corrects the rest)")
    est_set_pulses_per_transfer: float = _p(3.0, 0.0, 1000.0, "pulses",
                                            _ASSUME + "SET pulses per cell transfer, used only without a training run")
    est_reset_pulses_per_transfer: float = _p(0.2, 0.0, 100.0, "pulses",
                                              _ASSUME + "RESET pulses per cell transfer, used only without a "
                                              "training run")


@dataclass(frozen=True)
class WorkloadParams(_Section):
    _name = "workload"
    transfer_every: int = _p(8000, 1, 10**9, "examples", "N = 8,000 for MNIST (Ambrogio et al. 2018)")
    est_pulses_per_synapse_per_example: float = _p(
        0.06, 0.0, 1000.0, "pulses",
        "used only without a training run: 'up to 1,000 pulses over 16,000 images' (Ambrogio et al. 2018) "
        "= 0.0625 per synapse and example")
    est_up_fraction: float = _p(0.5, 0.0, 1.0, "1", _ASSUME + "half of the estimated pulses are up pulses")
    bias: bool = _p(True, 0, 1, "", "one bias row per layer, as in the paper's 2,048+1 inputs")
    ops_per_mac: float = _p(2.0, 1.0, 2.0, "ops", "multiply + add = 2 operations (GOP/s and GPU FLOP/s convention)")
    examples: int = _p(10_000, 1, 10**12, "examples",
                       _ASSUME + "examples for the total-energy line when no training run is given")
    g_reset_mean_dv_volts: float = _p(0.1, 0.0, 5.0, "V",
                                      _ASSUME + "mean |Vc - v_start| restored after a transfer (+/-100 pulses of "
                                      "a few mV each over an interval)")


@dataclass(frozen=True)
class AreaParams(_Section):
    _name = "area"
    diffusion_extension_m: float = _p(0.2e-6, 0.0, 1e-5, "m",
                                      _ASSUME + "source/drain contact + spacing on each side of a gate (65 nm rules: "
                                      "contact 0.09 um, poly spacing ~0.06 um, enclosure)")
    device_spacing_m: float = _p(0.2e-6, 0.0, 1e-5, "m", _ASSUME + "active-to-active spacing across the width")
    capacitor_density_farads_per_m2: float = _p(
        2e-3, 1e-5, 1.0, "F/m^2",
        "single MIM capacitor, 1-2 fF/um^2 in 65 nm-class back ends (a thin-oxide MOS capacitor, ~19 fF/um^2 at "
        "toxe 1.85 nm, would leak through the gate far faster than the cell's retention allows)")
    capacitor_stacked: bool = _p(True, 0, 1, "", "the MIM capacitor sits in the back end above the transistors")
    array_overhead: float = _p(1.2, 1.0, 10.0, "x", _ASSUME + "in-array word/bit lines and wells add 20 %")


@dataclass(frozen=True)
class GpuParams(_Section):
    _name = "gpu"
    kernel_launch_seconds: float = _p(5e-6, 0.0, 1e-2, "s",
                                      _ASSUME + "launch + framework dispatch per kernel, ~3-10 us for small "
                                      "eager-mode kernels")
    kernels_per_layer: int = _p(6, 1, 1000, "kernels",
                                "forward GEMM, bias+activation, input-gradient GEMM, weight-gradient GEMM, "
                                "activation derivative, SGD update")
    gemm_efficiency: float = _p(0.5, 1e-4, 1.0, "1",
                                _ASSUME + "fraction of FP32 peak reached by GEMMs this small when compute-bound")
    bytes_per_value: int = _p(4, 1, 16, "B", "FP32 training: 4 bytes per value (IEEE 754 single precision)")
    large_batch: int = _p(256, 2, 1_000_000, "examples", "a common large mini-batch")
    idle_power_fraction: float = _p(0.15, 0.0, 1.0, "1",
                                    "board power of an idle GPU as a fraction of TDP: a V100 idles at ~40-50 W of "
                                    "its 300 W (nvidia-smi readings; 45 / 300 = 0.15)")
    active_power_floor_fraction: float = _p(0.3, 0.0, 1.0, "1",
                                            _ASSUME + "board power while kernels run at almost no FP32 utilization "
                                            "(clocks up, memory and launch traffic): the lower end of the 30-50 % of "
                                            "TDP that GPUs draw at 5-20 % utilization (issue 23's independent "
                                            "estimate); not a measurement of ours")
    def board_power_fraction(self, utilization: float, busy_fraction: float = 1.0) -> float:
        """Board power over a step as a fraction of TDP (a stated model): while kernels run (``busy_fraction``
        of the step) floor + (1 - floor) x utilization of the busy time, idle power in the launch gaps."""
        u = min(max(utilization, 0.0), 1.0)
        busy = self.active_power_floor_fraction + (1 - self.active_power_floor_fraction) * u
        return busy_fraction * busy + (1 - busy_fraction) * self.idle_power_fraction


@dataclass(frozen=True)
class CpuParams(_Section):
    _name = "cpu"
    watts_per_core: float = _p(10.0, 0.01, 1000.0, "W",
                               "TDP share of one busy core (e.g. Xeon Platinum 8280: 205 W / 28 cores = 7.3 W; "
                               "Core i9-9900K: 95 W / 8 = 11.9 W); energy = CPU-seconds x this")
    examples: int = _p(300, 10, 1_000_000, "examples", "timed batch-1 SGD examples (after 20 warm-up examples)")
    repeats: int = _p(3, 1, 100, "repeats", "the fastest of the repeats is kept (least disturbed by other load)")


# Power parameters that are also parameters of the array simulator, under the same names
# (pcmspice.array.config.ArrayConfig): a training run's array config fixes them
# (pcmspice.power.workload.overrides_from_training_config); without a run their defaults are the array's
# (the power layer never imports pcmspice.array, so tests/test_power.py checks that the defaults agree).
SHARED_WITH_ARRAY_CONFIG = ("workload.transfer_every", "drivers.max_pulses_per_example", "array.cells_per_reference")

_SECTIONS = {
    "circuit": CircuitParams, "array": ArrayParams, "adc": AdcParams, "neuron": NeuronParams,
    "drivers": DriverParams, "routing": RoutingParams, "pcm": PcmParams, "workload": WorkloadParams,
    "area": AreaParams, "gpu": GpuParams, "cpu": CpuParams,
}


@dataclass(frozen=True)
class PowerConfig(Config):
    """Every parameter of the energy/latency/area model; round-trips to TOML.

    ``use_lut_circuit_params``: take vdd, read bias, storage capacitor, pulse
    period and transistor sizes from the LUT's recorded netlist parameters
    when it has them (the values the SPICE energies were measured with).
    """

    circuit: CircuitParams = param(default_factory=CircuitParams)
    array: ArrayParams = param(default_factory=ArrayParams)
    adc: AdcParams = param(default_factory=AdcParams)
    neuron: NeuronParams = param(default_factory=NeuronParams)
    drivers: DriverParams = param(default_factory=DriverParams)
    routing: RoutingParams = param(default_factory=RoutingParams)
    pcm: PcmParams = param(default_factory=PcmParams)
    workload: WorkloadParams = param(default_factory=WorkloadParams)
    area: AreaParams = param(default_factory=AreaParams)
    gpu: GpuParams = param(default_factory=GpuParams)
    cpu: CpuParams = param(default_factory=CpuParams)
    use_lut_circuit_params: bool = param(True, source="take circuit values from the LUT's netlist parameters")

    _where = "power parameter"

    # ---- dict / TOML ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"use_lut_circuit_params": self.use_lut_circuit_params}
        for name in _SECTIONS:
            out[name] = {f.name: getattr(getattr(self, name), f.name) for f in dataclasses.fields(_SECTIONS[name])}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "power config") -> PowerConfig:
        """Build from a (possibly partial) nested dict; unknown names are errors."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a table of sections, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for key, val in data.items():
            if key == "use_lut_circuit_params":
                kwargs[key] = val
                continue
            if key not in _SECTIONS:
                raise ConfigError(f"{source}: unknown section [{key}] (allowed: {', '.join(_SECTIONS)}, "
                                  "use_lut_circuit_params)")
            if not isinstance(val, Mapping):
                raise ConfigError(f"{source}: [{key}] must be a table of parameters")
            sec = _SECTIONS[key]
            names = [f.name for f in dataclasses.fields(sec)]
            for k in val:
                if k not in names:
                    raise ConfigError(f"{source}: unknown power parameter {key}.{k} (allowed in [{key}]: "
                                      f"{', '.join(names)}){_did_you_mean(k, names)}")
            kwargs[key] = sec(**dict(val))
        return cls(**kwargs)

    def to_toml(self) -> str:
        """TOML text with every parameter, its unit, range and source as comments."""
        lines = ["# pcmspice power parameters (pcmspice power --config FILE).",
                 "# Every default names its source; 'design assumption' marks a choice, not a measurement.",
                 "# A file may hold any subset; missing parameters take their defaults.",
                 "",
                 f"use_lut_circuit_params = {_toml_value(self.use_lut_circuit_params)}"]
        for name, sec in _SECTIONS.items():
            lines += ["", f"[{name}]"]
            obj = getattr(self, name)
            for f in dataclasses.fields(sec):
                m = f.metadata
                rng = "" if isinstance(f.default, bool) else f", allowed {m['ge']:g} to {m['le']:g}"
                lines.append(f"# [{m['unit']}{rng}] {m['source']}")
                lines.append(f"{f.name} = {_toml_value(getattr(obj, f.name))}")
        return "\n".join(lines) + "\n"

    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[str]) -> PowerConfig:
        """Apply ``{"adc.fom_joules_per_step": 5e-15}`` or ``["adc.enob_bits=6", ...]``."""
        items = _parse_overrides(overrides)
        data = self.to_dict()
        for dotted, raw in items.items():
            if dotted == "use_lut_circuit_params":
                data[dotted] = _coerce(raw, True, dotted)
                continue
            sec, _, name = dotted.partition(".")
            if sec not in _SECTIONS or not name:
                raise ConfigError(f"unknown power parameter '{dotted}' (write section.name, sections: "
                                  f"{', '.join(_SECTIONS)})")
            fields_ = {f.name: f for f in dataclasses.fields(_SECTIONS[sec])}
            if name not in fields_:
                raise ConfigError(f"unknown power parameter '{dotted}' (allowed in [{sec}]: {', '.join(fields_)})"
                                  f"{_did_you_mean(name, list(fields_))}")
            data[sec][name] = _coerce(raw, fields_[name].default, dotted)
        return PowerConfig.from_dict(data, "power parameter override")

    def describe(self) -> list[dict[str, Any]]:
        """One row per parameter: name, value, unit, allowed range, source."""
        rows = [{"parameter": "use_lut_circuit_params", "value": self.use_lut_circuit_params, "unit": "",
                 "range": "true/false", "source": "take circuit values from the LUT's netlist parameters"}]
        for name, sec in _SECTIONS.items():
            obj = getattr(self, name)
            for f in dataclasses.fields(sec):
                m = f.metadata
                rows.append({"parameter": f"{name}.{f.name}", "value": getattr(obj, f.name), "unit": m["unit"],
                             "range": "true/false" if isinstance(f.default, bool) else f"{m['ge']:g} to {m['le']:g}",
                             "source": m["source"]})
        return rows


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def _parse_overrides(overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    if isinstance(overrides, Mapping):
        return dict(overrides)
    out = {}
    for item in overrides:
        name, eq, value = str(item).partition("=")
        if not eq or not name.strip() or not value.strip():
            raise ConfigError(f"power parameter override '{item}' is missing its value: write section.name=VALUE")
        out[name.strip()] = value.strip()
    return out


def _coerce(raw: Any, default: Any, name: str) -> Any:
    return parse_value(raw, default, f"power parameter {name}") if isinstance(raw, str) else raw


def _did_you_mean(name: str, names: list[str]) -> str:
    import difflib
    close = difflib.get_close_matches(str(name), names, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def load_config(path: str | Path | None = None, overrides: Iterable[str] | Mapping[str, Any] = ()) -> PowerConfig:
    """Defaults, then a TOML file (if given), then ``section.name=value`` overrides."""
    cfg = PowerConfig.from_toml(path) if path else PowerConfig()
    return cfg.with_overrides(overrides) if overrides else cfg

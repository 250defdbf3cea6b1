"""What the drift remedies of the array (issue 20; :mod:`pcmspice.array.drift`, ``ArrayConfig``) cost
per training example, in time and energy, on top of :func:`~pcmspice.power.model.estimate`.

=====================  ===========================================================================
drift compensation     every K = ``drift_compensation_every`` examples each array reads its n_ref
                       reference PCMs: n_ref extra rows (one device per output line, "column", or one
                       per row, "global"), read row by row like a transfer's row read
                       (read time + ADC time each; arrays in parallel), each device read costing
                       V_pcm^2 G_ref t_read + one ADC conversion; the gain S0 / S is one digital multiply
                       per gain; applying it is one 16-bit multiply-add per output line per forward and
                       per backward MAC (``neuron.activation_energy_joules``, Horowitz 2014); at every
                       transfer the references are reprogrammed (``pcm.est_set_pulses_per_transfer``
                       SET pulses of the LUT's SET energy, each with a verify read)
settling delay         d = ``verify_settle_seconds`` after every SET pulse of a transfer:
                       iterations x rows x d more per transfer event (:func:`~pcmspice.power.latency.latency`),
                       amortized over the transfer interval; waiting costs no dynamic energy (static
                       power is not modelled)
pre-distortion         one table look-up and one multiply per programmed device per transfer
                       (``neuron.activation_energy_joules``), no time (it runs while the row is read)
=====================  ===========================================================================
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pcmspice.array.config import ArrayConfig
from pcmspice.core.network import parse_network
from pcmspice.lut.format import LutSet
from pcmspice.power.config import PowerConfig
from pcmspice.power.devices import device_costs
from pcmspice.power.latency import latency
from pcmspice.power.workload import layers


@dataclass(frozen=True)
class RemedyCosts:
    compensation_seconds_per_example: float
    compensation_joules_per_example: float
    settle_seconds_per_example: float
    predistort_joules_per_example: float

    @property
    def seconds_per_example(self) -> float:
        return self.compensation_seconds_per_example + self.settle_seconds_per_example

    @property
    def joules_per_example(self) -> float:
        return self.compensation_joules_per_example + self.predistort_joules_per_example

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "seconds_per_example": self.seconds_per_example,
                "joules_per_example": self.joules_per_example}


#: the array settings the remedies' costs depend on (read from a training run's ``config.array``)
COST_KEYS = ("transfer_every", "drift_compensation", "drift_compensation_every", "drift_reference_devices",
             "drift_reference_siemens", "drift_predistort", "verify_settle_seconds")


def array_of_training(summary: Mapping[str, Any]) -> ArrayConfig | None:
    """The array config of a training summary as far as the remedies' costs need it, or None when the
    run had none of them on (the default: its costs are then exactly those of the paper's scheme)."""
    arr = ((summary.get("config") or {}).get("array") or {})
    if not isinstance(arr, Mapping):
        return None
    given = {k: arr[k] for k in COST_KEYS if k in arr and arr[k] is not None}
    if (given.get("drift_compensation", "none") == "none" and not given.get("drift_predistort", False)
            and not given.get("verify_settle_seconds", 0.0)):
        return None
    return ArrayConfig.from_dict(given, "the training run's config.array")


def remedy_costs(luts: LutSet, network: str | Sequence[int], array: Any, cfg: PowerConfig | None = None
                 ) -> RemedyCosts:
    """The per-example time and energy of the remedies switched on in ``array`` (an
    :class:`~pcmspice.array.config.ArrayConfig`; zeros for the ones that are off)."""
    cfg = cfg or PowerConfig()
    dev = device_costs(luts, cfg)
    c = dev.circuit
    ls = layers(parse_network(network), cfg.workload.bias)
    a, adc, neu, pcm = cfg.array, cfg.adc, cfg.neuron, cfg.pcm
    t_adc = adc.lines_per_adc / adc.sample_rate_hz
    e_adc = adc.fom_joules_per_step * 2 ** adc.enob_bits
    e_op = neu.activation_energy_joules
    te = array.transfer_every
    per_transfer = 1.0 / te if te else 0.0
    comp_s = comp_j = 0.0
    if array.drift_compensation != "none":
        k, n_ref = array.drift_compensation_every, array.drift_reference_devices
        column = array.drift_compensation == "column"
        e_read = c.pcm_read_voltage_volts ** 2 * array.drift_reference_siemens * a.read_time_seconds + e_adc
        comp_s = n_ref * (a.read_time_seconds + t_adc) / k
        for i, l in enumerate(ls):
            refs = n_ref * (l.n_out if column else 1)
            gains = l.n_out if column else 1
            comp_j += (refs * e_read + gains * e_op) / k                          # reference reads, gains
            comp_j += l.n_out * e_op * (2 if i > 0 else 1)                        # applied forward (+ backward)
            comp_j += per_transfer * refs * pcm.est_set_pulses_per_transfer * (dev.e_set_joules + e_read)
    settle_s = 0.0
    if array.verify_settle_seconds > 0 and te:
        base = latency(network, cfg, c).transfer_event_seconds
        settle_s = (latency(network, cfg, c, verify_settle_seconds=array.verify_settle_seconds)
                    .transfer_event_seconds - base) * per_transfer
    pre_j = per_transfer * sum(l.synapses for l in ls) * e_op if array.drift_predistort else 0.0
    return RemedyCosts(comp_s, comp_j, settle_s, pre_j)


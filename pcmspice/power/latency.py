"""How long each phase of one training example takes on the chip, and the time between two
examples that leakage sees (:func:`time_per_example_seconds`)."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pcmspice.core.network import parse_network
from pcmspice.lut.format import LutSet
from pcmspice.power.config import CircuitParams, PowerConfig
from pcmspice.power.devices import device_costs
from pcmspice.power.workload import layers


@dataclass(frozen=True)
class Latency:
    forward_seconds: float
    backward_seconds: float
    update_seconds: float
    transfer_event_seconds: float
    transfer_events_per_example: float    # 1 / transfer interval (or as counted by a training run)
    #: the drift remedies' time per example (:func:`pcmspice.power.remedies.remedy_costs`; 0: none on)
    remedies_seconds_per_example: float = 0.0

    @property
    def time_per_example_seconds(self) -> float:
        """Wall time between two examples (forward + backward + update); what leakage sees."""
        return self.forward_seconds + self.backward_seconds + self.update_seconds

    @property
    def transfer_per_example_seconds(self) -> float:
        return self.transfer_event_seconds * self.transfer_events_per_example

    @property
    def training_seconds_per_example(self) -> float:
        """Including the transfers (and the drift remedies' time), amortized: sets the training throughput."""
        t = self.time_per_example_seconds + self.transfer_per_example_seconds
        return t + self.remedies_seconds_per_example if self.remedies_seconds_per_example else t

    @property
    def inference_seconds_per_example(self) -> float:
        return self.forward_seconds

    def to_dict(self) -> dict[str, float]:
        rem = {"remedies_seconds_per_example": self.remedies_seconds_per_example} \
            if self.remedies_seconds_per_example else {}
        return {"forward_seconds": self.forward_seconds, "backward_seconds": self.backward_seconds,
                "update_seconds": self.update_seconds, "transfer_event_seconds": self.transfer_event_seconds,
                "transfer_events_per_example": self.transfer_events_per_example,
                "transfer_per_example_seconds": self.transfer_per_example_seconds,
                "time_per_example_seconds": self.time_per_example_seconds,
                "training_seconds_per_example": self.training_seconds_per_example,
                "inference_seconds_per_example": self.inference_seconds_per_example, **rem}


def latency(network: str | Sequence[int], cfg: PowerConfig | None = None,
            circuit: CircuitParams | None = None, set_pulses_per_transfer: float | None = None,
            transfer_events_per_example: float | None = None, verify_settle_seconds: float = 0.0) -> Latency:
    """Latency of each phase.  Layers run one after the other for one example
    (no pipelining across examples); all arrays update and transfer in parallel.
    ``verify_settle_seconds`` (``array.verify_settle_seconds``): the wait between each SET pulse and its
    verify read; it adds exactly iterations x rows x that wait to a transfer event."""
    cfg = cfg or PowerConfig()
    circuit = circuit or cfg.circuit
    ls = layers(parse_network(network), cfg.workload.bias)
    a, adc, neu, pcm = cfg.array, cfg.adc, cfg.neuron, cfg.pcm
    t_adc = adc.lines_per_adc / adc.sample_rate_hz
    t_layer = a.read_time_seconds + t_adc + neu.time_seconds
    fwd = len(ls) * t_layer
    bwd = (len(ls) - 1) * t_layer + neu.time_seconds           # + the output error
    upd = 2 * cfg.drivers.max_pulses_per_example * circuit.pulse_period_seconds  # up and down sub-phases
    iters = pcm.iterations_per_row
    if set_pulses_per_transfer is not None:
        iters = max(iters, math.ceil(set_pulses_per_transfer))
    t_row = (a.read_time_seconds + t_adc                                  # read g - g_shared
             + iters * (circuit.pcm_set_pulse_seconds + verify_settle_seconds + a.read_time_seconds + t_adc)  # rounds
             + circuit.pcm_reset_pulse_seconds + circuit.pulse_period_seconds)       # RESET step, g reset
    event = max(l.rows * t_row for l in ls)
    if transfer_events_per_example is None:
        transfer_events_per_example = 1.0 / cfg.workload.transfer_every
    return Latency(fwd, bwd, upd, event, transfer_events_per_example)


def time_per_example_seconds(network: str | Sequence[int], cfg: PowerConfig | None = None,
                             luts: LutSet | None = None) -> float:
    """Seconds between two training examples on the chip (forward + backward + update):
    the idle time the array simulator applies leakage for."""
    cfg = cfg or PowerConfig()
    circuit = device_costs(luts, cfg).circuit if luts is not None else cfg.circuit
    return latency(network, cfg, circuit).time_per_example_seconds


def with_hardware_time(tcfg, luts: LutSet | None, cfg: PowerConfig | None = None, *,
                       time_per_example: bool = True):
    """The training config ``tcfg`` (a :class:`pcmspice.train.TrainConfig`) with the chip's hardware
    time: the latency model's time per example (unless ``time_per_example`` is False: the caller set
    it) and transfer event time, with the training's own array settings (pulse slots, transfer
    interval) and the LUT's circuit values."""
    from pcmspice.power.workload import overrides_from_training_config
    pcfg = (cfg or PowerConfig()).with_overrides(dict(overrides_from_training_config(tcfg.to_dict())))
    circuit = device_costs(luts, pcfg).circuit if luts is not None else pcfg.circuit
    lat = latency(tcfg.network, pcfg, circuit, verify_settle_seconds=tcfg.array.verify_settle_seconds)
    changes = {"transfer_seconds": lat.transfer_event_seconds}
    if time_per_example:
        changes["time_per_example_seconds"] = lat.time_per_example_seconds
    return dataclasses.replace(tcfg, array=tcfg.array.replace(**changes)).validate()

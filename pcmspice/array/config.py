"""Configuration of the array simulator: one frozen dataclass, round-tripped through TOML."""
from __future__ import annotations

from dataclasses import dataclass

from pcmspice.core.config import Config, param

MODES = ("cell", "pcm-only", "ideal")
ROUNDINGS = ("stochastic", "nearest")
OFFSET_SCHEMES = ("signed", "magnitude", "none")
DRIFT_COMPENSATIONS = ("none", "global", "column")
#: the PCM's conductance range (0 to ~25 uS in the paper; the committed LUTs' devices saturate at 30-35 uS): a
#: verify tolerance or a transfer offset above it is a value in the wrong unit (0.5 meant as 0.5e-6)
PCM_RANGE_SIEMENS = 25e-6
#: no PCM device conducts this much: the bound of a programming target
PCM_LIMIT_SIEMENS = 100e-6


@dataclass(frozen=True)
class ArrayConfig(Config):
    """How a crossbar of 2PCM + 3T1C cells is modelled.  Units are in the names.

    Weight mapping.  A network weight w (dimensionless) is the cell's weight
    in siemens divided by ``siemens_per_unit_weight`` (spu):

        w = [F (G+ - G-) + p (g(Vc) - g_shared(Vref))] / spu,   p = +1 or -1

    With ``siemens_per_unit_weight`` unset (None), spu is chosen so that the PCM
    programming span maps onto ``w_max``:
    spu = F (pcm_g_program_max_siemens - median G_RESET) / w_max.  The
    training layer sets w_max per layer (see pcmspice.train.config.default_w_max).

    Pulse quantization.  A requested update dW = -lr * delta x^T becomes
    n = clip(R(dW / dw_nominal), -max_pulses_per_example, +max_pulses_per_example)
    pulses, where dw_nominal is the weight change of one pulse at v_start of
    the median LUT cell (mean of the up and down step), and R is stochastic
    rounding (floor(a + u), u uniform in [0, 1): unbiased, deterministic given
    the seed) or rounding to nearest.  Each pulse then moves the cell by its
    own LUT step at its present Vc.

    Modes: ``cell`` (the full 2PCM + 3T1C cell), ``pcm-only`` (no 3T1C: every
    update is partial SETs on G+ or G-, with an occasional RESET-and-reprogram
    of saturated pairs every ``transfer_every`` examples, as in Burr et al.
    2015), ``ideal`` (float weights, exact SGD: the software reference run
    through the same interface).  Each mode is a weight model type behind the
    interface of :class:`~pcmspice.array.crossbar.AnalogArray`.

    Read noise (``read_noise``): every MAC read, every verify read and every
    transfer read draws a PCM's std G read_noise_rel(G) from the PCM LUT and
    the 3T1C's std g read_noise_rel(cell, Vc) from the cell LUT (or
    ``g_read_noise_rel`` x g, when that is set).  Drift (``pcm_drift``):
    see :mod:`pcmspice.array.pcm_pair`.
    """

    _where = "array config"

    mode: str = param("cell", choices=MODES, doc="cell = 2PCM + 3T1C; pcm-only = no 3T1C; ideal = float weights")
    polarity_inversion: bool = param(True, source="the paper: alternate the sign of g every transfer interval",
                                     doc="flip the sign of g at every transfer (cancels the 3T1C's up/down asymmetry)")
    gain_f: float = param(3.0, unit="1", gt=0, le=1e3, source="F, the PCM pair gain: not published; ~3",
                           doc="F in W = F (G+ - G-) + g - g_shared: the PCM pair's weight relative to the 3T1C's")
    w_max: float = param(1.0, unit="1", gt=0, le=1e3, doc="weight mapped to the PCM programming span")
    siemens_per_unit_weight: float | None = param(None, unit="S", gt=0, le=1e-3, legacy=0.0,
                                                  doc="unset: derived from w_max")
    pcm_g_program_max_siemens: float = param(20e-6, unit="S", gt=0, le=PCM_LIMIT_SIEMENS,
                                             source="the paper: programming control degrades above ~20 µS",
                                             doc="highest conductance a transfer programs a PCM device to")
    rounding: str = param("stochastic", choices=ROUNDINGS, doc="pulse-count quantization")
    max_pulses_per_example: int = param(16, ge=1, le=1000,
                                        doc="pulse slots per example (the largest update of one cell)")
    transfer_every: int = param(8000, ge=0, le=10**9, source="the paper: 8,000 examples between transfers",
                                doc="examples between g -> PCM transfers (0 = never)")
    transfer_offset_siemens: float = param(2e-6, unit="S", ge=0, le=PCM_RANGE_SIEMENS,
                                           source="the paper's 2 µS offset",
                                           doc="offset added to a transfer's target when offset_scheme is not none")
    offset_scheme: str = param("none", choices=OFFSET_SCHEMES,
                               doc="transfer offset: none, or the paper's 2 µS (signed) or toward zero (magnitude)")
    pcm_tolerance_siemens: float | None = param(None, unit="S", gt=0, le=PCM_RANGE_SIEMENS, legacy=0.0,
                                                doc="unset: half the largest SET step (see AnalogArray)")
    pcm_max_pulses: int = param(100, ge=1, le=100_000, doc="SET pulses per device per programming, restarts included")
    time_per_example_seconds: float = param(1e-6, unit="s", gt=0, le=1e3,
                                            doc="hardware time per training example (`pcmspice train` takes the "
                                                "latency model's)")
    transfer_seconds: float = param(0.0, unit="s", ge=0, le=1e3,
                                    doc="hardware time of one transfer event (`pcmspice train` takes the "
                                        "latency model's)")
    leak_scale: float = param(1.0, unit="1", ge=0, le=1e4, doc="multiplies every leakage rate")
    leak_every_examples: int | None = param(None, ge=1, le=10**9, legacy=0,
                                            doc="unset: automatic (see AnalogArray.leak_every)")
    cells_per_reference: int = param(8, ge=1, le=100_000,
                                     source="design assumption: cells sharing one g_shared (not published)",
                                     doc="cells per g_shared reference device (its read current is shared)")
    read_noise: bool = param(True, doc="read noise (PCM and 3T1C, from the LUTs) on every MAC and verify read")
    g_read_noise_rel: float | None = param(None, unit="1", ge=0, le=1, legacy=-1.0,
                                           doc="relative read noise of the 3T1C (std / g): unset = the cell LUT's "
                                               "read_noise_rel(cell, Vc); a number overrides it with this constant")
    pcm_drift: bool = param(True, doc="G(t) = G_prog ((t + t0) / t0)^-nu, t from the end of programming")
    drift_t0_seconds: float | None = param(None, unit="s", gt=0, le=1e6,
                                           doc="drift onset t0 at training time: unset = the PCM LUT's; a number "
                                               "overrides it (nu(G) and its spread stay the LUT's)")
    verify_settle_seconds: float = param(0.0, unit="s", ge=0, le=1e3,
                                         doc="program-and-verify waits this long after each pulse before its "
                                             "verify read (the device drifts meanwhile; 0 = no wait)")
    drift_compensation: str = param("none", choices=DRIFT_COMPENSATIONS,
                                    source="Le Gallo et al. 2018; aihwkit GlobalDriftCompensation, "
                                           "PerColumnDriftCompensation",
                                    doc="digital gain on the PCM part of every output from reference devices: "
                                        "one set per array (global) or per output line (column)")
    drift_compensation_every: int = param(1000, ge=1, le=10**9, source="design assumption",
                                          doc="examples between two reads of the reference devices")
    drift_reference_devices: int = param(4, ge=1, le=1024, source="design assumption",
                                         doc="reference PCMs per output line (column) or per array (global)")
    drift_reference_siemens: float = param(10e-6, unit="S", gt=0, le=PCM_RANGE_SIEMENS, source="design assumption",
                                           doc="the conductance the reference PCMs are programmed to")
    drift_predistort: bool = param(False, doc="program every PCM to target / E[drift factor] at the middle of the "
                                              "coming transfer interval (E over the LUT's devices)")
    drift_predistort_t0_seconds: float | None = param(None, unit="s", gt=0, le=1e6,
                                                      doc="the drift onset pre-distortion assumes (a chip does "
                                                          "not know the true one): unset = the run's t0")
    incremental_transfer: bool = param(False, source="Gokmen 2021 (Tiki-Taka v2 buffered transfer); aihwkit "
                                                      "BufferedTransferCompound",
                                       doc="cell mode: a transfer programs only the change since the last one "
                                           "(partial SET of the device that must grow; RESET and reprogram only a "
                                           "saturated pair)")
    reverify_age_seconds: float | None = param(None, unit="s", gt=0, le=1e9,
                                               doc="every reverify_every examples, re-verify (and SET back up) "
                                                   "every programmed PCM older than this; unset = never")
    reverify_every: int = param(1000, ge=1, le=10**9, source="design assumption",
                                doc="examples between two re-verify passes (with reverify_age_seconds)")
    pcm_drift_refresh_rel: float = param(0.01, unit="1", ge=0, le=0.1,
                                         doc="the cached drifted conductances are recomputed before drift can "
                                             "have moved any by more than this x pcm_g_program_max_siemens "
                                             "(0 = every example)")
    pcm_refresh_fraction: float = param(0.9, unit="1", gt=0, le=1,
                                        doc="pcm-only: reprogram pairs above this x programming max")

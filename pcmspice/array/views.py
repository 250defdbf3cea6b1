"""Read-only views of the parts' state on the array itself (``arr.vc`` for ``arr.capacitors.vc``):
the names scripts, tests and the co-simulation use.  Each is the part's own array (not a copy);
None where the array has no such part."""
from __future__ import annotations

from typing import Any


def _view(part: str, name: str, doc: str) -> property:
    def get(self: Any) -> Any:
        p = getattr(self, part)
        return None if p is None else getattr(p, name)
    return property(get, doc=doc)


class PartViews:
    """The views (mixed into :class:`~pcmspice.array.crossbar.AnalogArray`)."""

    pcm = _view("pcm_pairs", "pcm", "the PCM LUT as a PcmModel")
    gp = _view("pcm_pairs", "gp", "G+ of every cell as programmed (S)")
    gm = _view("pcm_pairs", "gm", "G- of every cell as programmed (S)")
    tp = _view("pcm_pairs", "tp", "hardware time G+'s programming ended (s)")
    tm = _view("pcm_pairs", "tm", "hardware time G-'s programming ended (s)")
    nup = _view("pcm_pairs", "nup", "drift exponent of every G+")
    num = _view("pcm_pairs", "num", "drift exponent of every G-")
    dev_p = _view("pcm_pairs", "dev_p", "PCM LUT row of every G+")
    dev_m = _view("pcm_pairs", "dev_m", "PCM LUT row of every G-")
    tol = _view("pcm_pairs", "tol", "the verify tolerance of PCM programming (S)")
    g_cap = _view("pcm_pairs", "g_cap", "the PCM programming maximum (S)")
    drift_refreshes = _view("pcm_pairs", "refreshes", "drift refreshes of the cached conductances so far")
    cell = _view("capacitors", "cell", "the cell LUT")
    vc = _view("capacitors", "vc", "Vc of every 3T1C (V)")
    vref = _view("capacitors", "vref", "Vref of every g_shared reference (V)")
    cell_idx = _view("capacitors", "cell_idx", "cell LUT row of every 3T1C")
    ref_idx = _view("capacitors", "ref_idx", "cell LUT row of every g_shared")
    gref = _view("capacitors", "gref", "g_shared of every reference (S)")
    g = _view("capacitors", "g", "g(Vc) of every 3T1C (S)")
    v_start = _view("capacitors", "v_start", "the Vc a transfer resets to (V)")
    leak_every = _view("capacitors", "leak_every", "examples per leakage chunk")

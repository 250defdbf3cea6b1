"""Lookup tables: the contract between the SPICE half and the array half.

The characterization (``pcmspice.characterize``, the SPICE half) writes what the
circuit does, per Monte Carlo cell, into ``.lut.npz`` files; the array simulator
and training (``pcmspice.array``, ``pcmspice.train``), the co-simulation and the
power model read them.  Neither half imports the other: they meet only here.

* :mod:`pcmspice.lut.format` - :class:`CellLut` (3T1C), :class:`PcmLut` (PCM),
  :class:`LutSet` (both, one technology/corner/temperature/supply), the
  checked on-disk format and its readers and writers;
* :mod:`pcmspice.lut.integrity` - the seal of a file and the set id that binds the two
  tables of a set, and the consistency rules for files written before seals;
* :mod:`pcmspice.lut.provenance` - :class:`LutProvenance`, the typed view of
  what a table records about how it was made;
* :mod:`pcmspice.lut.stats` - what a set implies (``pcmspice lut stats``): PCM step
  statistics vs G, read noise, drift exponents, the 3T1C steps and retention;
* :mod:`pcmspice.lut.interp` - the row-wise interpolation every table look-up uses.

May import: ``pcmspice.core`` only (plus numpy).
"""
from pcmspice.lut.format import (
    CELL_FILE,
    PCM_FILE,
    SCHEMA,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    CellLut,
    LutSet,
    PcmLut,
    array_sha256,
    load_cell_lut,
    load_lut_set,
    load_pcm_lut,
    lut_set_id,
    save_cell_lut,
    save_lut_set,
    save_pcm_lut,
)
from pcmspice.lut.provenance import LutProvenance

__all__ = [
    "CELL_FILE", "PCM_FILE", "SCHEMA", "SCHEMA_VERSION", "CellLut", "PcmLut", "LutSet", "LutProvenance",
    "array_sha256", "load_cell_lut", "load_pcm_lut", "load_lut_set", "save_cell_lut", "save_pcm_lut",
    "save_lut_set", "SUMMARY_FILE", "lut_set_id",
]

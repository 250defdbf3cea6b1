"""Which LUT set is which: a content checksum, so a run can name the tables it used and a later step
(``pcmspice power --training RUN``) can check that it is costing the same ones."""
from __future__ import annotations

import hashlib
import json

from pcmspice.lut.format import LutSet, array_sha256


def lut_sha256(luts: LutSet) -> str:
    """SHA-256 over every array of both tables (float64 bytes, by name) and both provenance records."""
    h = hashlib.sha256()
    for kind, table in (("cell", luts.cell), ("pcm", luts.pcm)):
        h.update(kind.encode())
        for name, arr in sorted(table.arrays().items()):
            h.update(name.encode() + array_sha256(arr).encode())
        h.update(json.dumps(table.provenance, sort_keys=True, default=str).encode())
    return h.hexdigest()

"""Circuits: the 3T1C, the PCM device and the full unit cell, as netlist builders with measurements.

Layer: imports core and spice.

- :mod:`.c3t1c`: the 3-transistor-1-capacitor cell: mismatch draws, read curve, leakage, pulses,
  the single-pulse step map, replica bias.
- :mod:`.pcm`: the phase-change memory compact model: device variation, partial SET, RESET, drift.
- :mod:`.pcm_tables`: the PCM lookup table built from that model in SPICE.
- :mod:`.unit_cell`: the 2 PCM + 3T1C cell and g_shared read together.
"""

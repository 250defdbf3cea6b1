"""The circuits as SPICE text (package data of pcmspice: pcmspice.data.netlists)."""

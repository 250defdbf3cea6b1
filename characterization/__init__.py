"""Sweep definitions and the committed default LUTs (package data of pcmspice: pcmspice.data.characterization)."""

"""pcmspice: circuit-level SPICE co-simulation of the 2PCM + 3T1C analog training cell."""
__version__ = "0.1.0"

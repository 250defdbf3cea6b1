"""pcmspice.spice.engine"""

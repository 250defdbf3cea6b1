"""pcmspice.circuits"""

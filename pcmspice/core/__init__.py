"""pcmspice.core"""

"""pcmspice.characterize.sweep"""

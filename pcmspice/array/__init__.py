"""pcmspice.array.crossbar"""

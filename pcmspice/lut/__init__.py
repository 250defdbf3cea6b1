"""pcmspice.lut.format"""

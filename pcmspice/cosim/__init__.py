"""pcmspice.cosim.run"""

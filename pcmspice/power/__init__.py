"""pcmspice.power.model"""

"""pcmspice.pipeline"""

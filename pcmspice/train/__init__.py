"""pcmspice.train.loop"""

"""pcmspice.cli.main"""

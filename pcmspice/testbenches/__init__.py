"""pcmspice.testbenches"""

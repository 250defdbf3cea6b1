"""pcmspice.report.build"""

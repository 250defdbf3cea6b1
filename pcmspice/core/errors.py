"""pcmspice's own exceptions.  The CLI prints any of these as one line and exits non-zero."""
from __future__ import annotations


class PcmSpiceError(Exception):
    """Base of every error a user can cause (bad input, missing tool, bad file)."""


class SpiceError(PcmSpiceError):
    """A netlist could not be rendered or simulated.

    Carries the netlist name, the offending value (if any) and ngspice's own
    message, all in the one-line ``str()``.
    """

    def __init__(self, message: str, *, netlist: str = "", value: object = None, ngspice_message: str = ""):
        self.netlist = netlist
        self.value = value
        self.ngspice_message = ngspice_message.strip()
        parts = [f"{netlist}: " if netlist else "", message]
        if self.ngspice_message:
            first = " | ".join(line.strip() for line in self.ngspice_message.splitlines() if line.strip())
            parts.append(f" (ngspice: {first[:400]})")
        super().__init__("".join(parts))


class ConfigError(PcmSpiceError):
    """A configuration value or file is invalid."""


class LutError(PcmSpiceError):
    """A lookup-table file is missing, corrupted, foreign or physically implausible."""


class DataError(PcmSpiceError):
    """A data set is missing or malformed."""


class OutputError(PcmSpiceError):
    """An output folder cannot be written, or belongs to another run."""


class Interrupted(PcmSpiceError):
    """The user interrupted a command (Ctrl-C, or SIGTERM); the message says what is kept and how to go on.
    ``status``: the exit status, 130 for Ctrl-C, 143 for SIGTERM."""

    def __init__(self, message: str, status: int = 130):
        super().__init__(message)
        self.status = status

"""The one line a Ctrl-C prints: each command says what is kept and how to go on (pcmspice.cli.main prints it)."""
from __future__ import annotations

import click

ON_INTERRUPT = "pcmspice.on_interrupt"
INTERRUPTED = "interrupted; nothing was written (an output folder is written whole or not at all)"


def on_interrupt(message: str) -> None:
    """Set the line a Ctrl-C in the running command prints."""
    click.get_current_context().meta[ON_INTERRUPT] = message

"""``python -m pcmspice.cli``: the same as the ``pcmspice`` command."""
from pcmspice.cli.main import main

main()

"""The command line: the commands people type (``pcmspice simulate|pdk|characterize|corners|train|ablate|
power|report|run|cosim``).

Layer: the last one; may import every layer.  One module per command family; each command parses
its options, calls functions a Python user can call too, and prints.  :mod:`.main` gathers them
(imported only when a command is used, so ``pcmspice --help`` stays fast) and turns pcmspice's own
errors into one ``error:`` line and exit status 2.
"""

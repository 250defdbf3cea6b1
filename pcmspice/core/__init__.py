"""Core: what every layer shares — errors, units, provenance, paths, layer sizes and the config base.

Layer: imports nothing from pcmspice but itself (and ``pcmspice.__version__``).

- :mod:`.errors`: the exception types; each becomes one ``error:`` line and exit status 2 in the CLI.
- :mod:`.units`: one SI formatter.
- :mod:`.provenance`: versions, hashes, atomic writes, JSON and PNG writers.
- :mod:`.paths`: package data (netlists, sweeps, default LUTs) and the cache folder.
- :mod:`.network`: the ``784-250-10`` layer-size parser.
- :mod:`.config`: :class:`~pcmspice.core.config.Config`, the base of every configuration.
"""

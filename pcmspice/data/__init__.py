"""Package data: the repository's ``netlists/`` and ``characterization/`` folders, mapped here by pyproject.toml."""

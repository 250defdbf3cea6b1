"""Package data: the ``netlists/`` and ``characterization/`` folders of the repository, mapped here by pyproject.toml."""

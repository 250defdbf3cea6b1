"""Package discovery for setuptools; the project's metadata and dependencies are in pyproject.toml.

The code packages (``pcmspice`` and every sub-package with an ``__init__.py``, ``pcmspice.torch`` included) are
found automatically, and so are the repository's top-level ``netlists/`` and ``characterization/`` folders, shipped
inside the wheel as ``pcmspice.data.netlists`` and ``pcmspice.data.characterization`` with every file in every
sub-folder (cells, testbenches, technologies, sweep definitions, the default LUTs): a new folder or file there
needs no edit here.  pyproject.toml cannot say this (its ``find`` has no way to place a folder under another
package's name), hence this file.
"""
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

ROOT = Path(__file__).resolve().parent
#: package name -> repository folder
DATA = {"pcmspice.data.netlists": "netlists", "pcmspice.data.characterization": "characterization"}
SKIP = ["__pycache__", "*.__pycache__", "*.egg-info"]

packages = find_packages(where=str(ROOT), include=["pcmspice", "pcmspice.*"])
package_data = {}
for name, folder in DATA.items():
    # every sub-folder is a (namespace) package of the data, so that setuptools copies its files and does not
    # warn that an importable folder "would be ignored"
    for sub in ["", *find_namespace_packages(where=str(ROOT / folder), exclude=SKIP)]:
        pkg = f"{name}.{sub}" if sub else name
        packages.append(pkg)
        package_data[pkg] = ["*"]

setup(packages=packages, package_dir=DATA, package_data=package_data, include_package_data=False)

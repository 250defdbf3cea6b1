"""SPICE: render a netlist, run ngspice, return typed arrays; technologies and PDKs.

Layer: imports core only.

- :mod:`.engine`: runs a netlist in PySpice's shared ngspice or an ``ngspice -b`` subprocess and
  returns a :class:`~pcmspice.spice.engine.SimResult` of named numpy vectors.
- :mod:`.netlist`: the Jinja templates under ``netlists/`` and their declared parameters.
- :mod:`.safety`: what may reach ngspice: checked names and quotable paths, and the scan of every
  netlist and model file for command blocks (``.control``, ``shell``, ...).
- :mod:`.technology` / :mod:`.tech`: a technology (model cards, corners, mismatch) and its loader
  with the registry of technology drivers; :mod:`.sky130` is the SkyWater 130 nm driver and
  :mod:`.pdk` installs its models into the cache.
"""

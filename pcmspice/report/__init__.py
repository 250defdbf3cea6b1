"""The report layer: reports a designer takes to a review, built from run directories.

It reads what the other layers wrote (summary.json of characterization,
corners, training, power and co-simulation runs; LUT folders) and writes
index.md, index.html and report.json: the verdict first (accuracy vs software,
energy vs GPUs, the worst corner), then every table and figure, then the
config and provenance of every input.  It runs nothing: the flows that
produce runs live in :mod:`pcmspice.pipeline`.

* :mod:`~pcmspice.report.discover` - what a run directory is (:func:`discover`), its corner table, the worst corner.
* :mod:`~pcmspice.report.blocks` - one document section per kind of run.
* :mod:`~pcmspice.report.figures` - the corner overview and LUT curves.
* :mod:`~pcmspice.report.build` - :func:`build_report`, the verdict, :func:`headline_lines`.
* :mod:`~pcmspice.report.compare` - :func:`compare`, designs side by side (`pcmspice compare`).

May import core, lut, characterize's statistics of a LUT (pure numpy) and power (the power section and figures
are the power layer's); reads, but never runs, the outputs of characterize, train and cosim.
"""
from pcmspice.report.build import ReportResult, build_report, display_path, headline_lines, verdict
from pcmspice.report.compare import ComparisonResult, compare
from pcmspice.report.discover import KINDS, RunInput, discover, discover_all, worst_corner

__all__ = ["KINDS", "ComparisonResult", "ReportResult", "RunInput", "build_report", "compare", "discover",
           "discover_all", "display_path",
           "headline_lines", "verdict", "worst_corner"]

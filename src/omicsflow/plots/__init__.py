"""Figures for the report, one module per kind (matplotlib, Agg backend, atomic PNG writes).

``km`` holds Kaplan–Meier curves with numbers at risk; stage-specific figures live in their own
modules beside it (e.g. ``qc``, ``biomarkers``, ``train``, ``validation``).
"""

from omicsflow.plots.km import km_plot

__all__ = ["km_plot"]

"""Cohort quality: metrics → component scores → one score, a verdict, and the gate.

* :mod:`~omicsflow.quality.options`: defaults of the ``qc`` config section;
* :mod:`~omicsflow.quality.geometry`: sample distances, correlations, principal components;
* :mod:`~omicsflow.quality.metrics`: one function per check (missingness, scale, variance,
  outliers, duplicates, batch, dimensionality, outcome);
* :mod:`~omicsflow.quality.scoring`: :func:`score_cohort` → :class:`QualityReport`;
* :mod:`~omicsflow.quality.gate`: continue / exclude / stop, sample removal, the summary table.
"""

from omicsflow.quality.gate import (
    apply_gate,
    check_gate,
    failing_checks,
    gate_action,
    summarise_quality,
)
from omicsflow.quality.options import COMPONENTS, DEFAULT_QC, resolve_options
from omicsflow.quality.scoring import QualityReport, score_cohort, verdict_for

__all__ = [
    "COMPONENTS",
    "DEFAULT_QC",
    "QualityReport",
    "apply_gate",
    "check_gate",
    "failing_checks",
    "gate_action",
    "resolve_options",
    "score_cohort",
    "summarise_quality",
    "verdict_for",
]

"""Cohort quality: metrics → component scores → one score and a pass / warn / fail verdict.

Each component score lies in [0, 1] (1 = no concern). The cohort score is their weighted mean
(weights from the config, ``qc.weights``); the verdict compares the score with
``qc.pass_score`` and ``qc.warn_score``. Hard failures (too much missing data, too few
samples, no events in a cohort with outcomes) fail the cohort whatever the score.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.errors import QualityGateError

__all__ = ["DEFAULT_QC", "QualityReport", "check_gate", "score_cohort", "summarise_quality"]

logger = logging.getLogger(__name__)

DEFAULT_QC: dict[str, Any] = {
    "weights": {"missingness": 1.0, "sample_size": 1.0, "events": 1.0},
    "pass_score": 0.7,
    "warn_score": 0.5,
    "max_missing": 0.5,
    "min_samples": 20,
    "min_events": 10,
}


@dataclass(frozen=True)
class QualityReport:
    """The quality of one cohort.

    Attributes
    ----------
    cohort, role
        Which cohort and its role.
    n_samples, n_genes
        Matrix size.
    missing_fraction
        Share of missing expression cells.
    events, event_rate
        Observed events and their share (``None`` without outcomes).
    components
        Component score per check, in [0, 1].
    reasons
        Why a component is below 1, with the fix, per check.
    hard_failures
        Checks that fail the cohort whatever the score.
    score
        Weighted mean of the components.
    verdict
        ``"pass"``, ``"warn"`` or ``"fail"``.
    """

    cohort: str
    role: str
    n_samples: int
    n_genes: int
    missing_fraction: float
    events: int | None
    event_rate: float | None
    components: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    hard_failures: tuple[str, ...] = ()
    score: float = 0.0
    verdict: str = "fail"

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for ``quality.json``."""
        record = asdict(self)
        record["hard_failures"] = list(self.hard_failures)
        return record


def score_cohort(adata: ad.AnnData, *, options: dict[str, Any] | None = None) -> QualityReport:
    """Score one cohort.

    Parameters
    ----------
    adata
        A loaded cohort (:func:`omicsflow.cohort.load_cohort`).
    options
        The ``qc`` section of the config; missing keys take :data:`DEFAULT_QC`.

    Returns
    -------
    QualityReport
        Metrics, component scores with reasons, score and verdict.
    """
    opts = {**DEFAULT_QC, **(options or {})}
    cohort_info = adata.uns.get("cohort", {})
    role = str(cohort_info.get("role", "discovery"))
    values = np.asarray(adata.X, dtype=np.float64)
    missing = float(np.isnan(values).mean()) if values.size else 1.0
    n_samples, n_genes = adata.n_obs, adata.n_vars
    has_outcome = "event" in adata.obs
    events = int(adata.obs["event"].sum()) if has_outcome else None
    event_rate = events / n_samples if has_outcome and n_samples else None

    components: dict[str, float] = {}
    reasons: dict[str, str] = {}
    hard: list[str] = []

    components["missingness"] = float(np.clip(1.0 - missing / opts["max_missing"], 0.0, 1.0))
    if missing > 0:
        reasons["missingness"] = (
            f"{missing:.1%} of expression values are missing; fix: impute (preprocess stage) "
            "or remove samples/genes with most missing values"
        )
    if missing > opts["max_missing"]:
        hard.append("missingness")

    components["sample_size"] = float(np.clip(n_samples / (2.0 * opts["min_samples"]), 0.0, 1.0))
    if n_samples < 2 * opts["min_samples"]:
        reasons["sample_size"] = (
            f"{n_samples} samples; fewer than {2 * opts['min_samples']} makes estimates unstable; "
            "fix: add samples or pool cohorts from the same platform"
        )
    if n_samples < opts["min_samples"]:
        hard.append("sample_size")

    if events is not None and role != "source":
        components["events"] = float(np.clip(events / (2.0 * opts["min_events"]), 0.0, 1.0))
        if events < 2 * opts["min_events"]:
            reasons["events"] = (
                f"{events} events; survival estimates need at least {2 * opts['min_events']} "
                "for stability; fix: longer follow-up or a larger cohort"
            )
        if events < opts["min_events"]:
            hard.append("events")

    weights = {name: float(opts["weights"].get(name, 0.0)) for name in components}
    total_weight = sum(weights.values())
    score = (
        sum(components[name] * weights[name] for name in components) / total_weight
        if total_weight > 0
        else 0.0
    )
    if hard or score < opts["warn_score"]:
        verdict = "fail"
    elif score < opts["pass_score"]:
        verdict = "warn"
    else:
        verdict = "pass"
    report = QualityReport(
        cohort=str(cohort_info.get("id", "")),
        role=role,
        n_samples=n_samples,
        n_genes=n_genes,
        missing_fraction=missing,
        events=events,
        event_rate=event_rate,
        components=components,
        reasons=reasons,
        hard_failures=tuple(hard),
        score=float(score),
        verdict=verdict,
    )
    logger.info("cohort %s: quality score %.3f, verdict %s", report.cohort, score, verdict)
    return report


def check_gate(quality: dict[str, Any]) -> None:
    """Stop the run when a cohort failed its quality check.

    Parameters
    ----------
    quality
        The content of ``quality.json`` (:meth:`QualityReport.to_dict`).

    Raises
    ------
    QualityGateError
        Listing every failing check with its reason and fix.
    """
    if quality["verdict"] != "fail":
        return
    failing = list(quality["hard_failures"]) or [
        name for name, value in quality["components"].items() if value < 1.0
    ]
    details = "; ".join(
        f"{name}: {quality['reasons'].get(name, 'below limit')}" for name in failing
    )
    raise QualityGateError(
        f"cohort failed the quality gate (score {quality['score']:.2f})",
        cohort=quality["cohort"],
        seen=details,
        fix="fix the data as described for each check, or adjust the qc limits in the config "
        "if the defaults do not suit this platform",
    )


def summarise_quality(paths: list[str | Path]) -> pd.DataFrame:
    """One row per cohort from ``quality.json`` files.

    Returns
    -------
    pandas.DataFrame
        ``cohort, role, verdict, score, n_samples, n_genes, missing_fraction, events,
        event_rate``, the component scores (``component_*``), and ``reasons``.
    """
    rows = []
    for path in paths:
        quality = json.loads(Path(path).read_text(encoding="utf-8"))
        row = {
            key: quality[key]
            for key in (
                "cohort",
                "role",
                "verdict",
                "score",
                "n_samples",
                "n_genes",
                "missing_fraction",
                "events",
                "event_rate",
            )
        }
        row.update({f"component_{name}": value for name, value in quality["components"].items()})
        row["reasons"] = " | ".join(f"{name}: {text}" for name, text in quality["reasons"].items())
        rows.append(row)
    return pd.DataFrame(rows)

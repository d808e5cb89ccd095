"""Cohort quality: checks → component scores → one score and a pass / warn / fail verdict.

Each component score lies in [0, 1] (1 = no concern); :mod:`omicsflow.quality.metrics` says how
each is computed. The cohort ``score`` is their weighted mean (weights ``qc.weights``; a
component that does not apply, such as ``outcome`` for a source cohort, is left out and the
weights renormalised). The verdict is ``fail`` on any hard failure or when the score is below
``qc.warn_score``, ``warn`` below ``qc.pass_score``, else ``pass``.

Metrics that depend on the scale (outliers, duplicates, batch, variance) are computed on a log
scale: samples that look un-logged (all of them when ``needs_log_transform``, or a minority on
another scale) are taken as ``log2(max(x, 0) + 1)`` first.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, fields
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.quality.geometry import column_medians, sample_geometry
from omicsflow.quality.metrics import (
    PROFILE_QUANTILES,
    Check,
    check_batch,
    check_dimensionality,
    check_duplicates,
    check_missingness,
    check_outcome,
    check_outliers,
    check_scale,
    check_variance,
    outlier_statistics,
    scale_profile,
)
from omicsflow.quality.options import COMPONENTS, resolve_options

__all__ = ["QualityReport", "score_cohort", "verdict_for"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QualityReport:
    """The quality of one cohort (``quality.json`` is :meth:`to_dict`).

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
        Per component below 1 (or with something to report): what was seen and the fix, as
        ``"<what>; fix: <fix>"``.
    hard_failures
        Components with a finding that fails the cohort whatever the score.
    score
        Weighted mean of the components.
    verdict
        ``"pass"``, ``"warn"`` or ``"fail"``.
    needs_log_transform
        The values look un-logged; the preprocess stage should take ``log2(x + 1)``.
    hard_failure_reasons
        Per component in ``hard_failures``: the findings that fail it.
    hard_failure_fixes
        Per component in ``hard_failures``: what to do about those findings.
    fixes
        Per component with a reason: the fix alone.
    metrics
        Every number each check computed, per component.
    flagged_samples
        Sample ids per kind of flag (``heavy_missing``, ``mixed_scale``, ``negative_values``,
        ``outliers_distance``, ``outliers_pca``, ``outliers``, ``duplicates``).
    duplicate_pairs
        ``[sample_a, sample_b, correlation]`` of near-identical pairs.
    flagged_genes
        Gene ids per kind (``missing``, ``constant``, ``near_constant``).
    remove_outliers
        Whether flagged samples are removed by the gate.
    removed_samples
        Samples the gate removes (empty when ``remove_outliers`` is false).
    removal_reasons
        Per removed sample, the flags that remove it.
    weights
        Weight of each scored component.
    options
        The complete ``qc`` options used (defaults filled in).
    sample_table
        One row per sample: missingness, distribution quantiles, outlier statistics, principal
        components and flags (``samples.tsv``; not part of :meth:`to_dict`).
    correlation
        Samples × samples correlation of the gene-centred profiles (for the heatmap; not part
        of :meth:`to_dict`).
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
    needs_log_transform: bool = False
    hard_failure_reasons: dict[str, list[str]] = field(default_factory=dict)
    hard_failure_fixes: dict[str, str] = field(default_factory=dict)
    fixes: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    flagged_samples: dict[str, list[str]] = field(default_factory=dict)
    duplicate_pairs: list[tuple[str, str, float]] = field(default_factory=list)
    flagged_genes: dict[str, list[str]] = field(default_factory=dict)
    remove_outliers: bool = True
    removed_samples: list[str] = field(default_factory=list)
    removal_reasons: dict[str, list[str]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    sample_table: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)
    correlation: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0)), repr=False, compare=False
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for ``quality.json`` (everything but :attr:`sample_table`)."""
        record = {
            item.name: copy.deepcopy(getattr(self, item.name))
            for item in fields(self)
            if item.name not in ("sample_table", "correlation")
        }
        record["hard_failures"] = list(self.hard_failures)
        record["duplicate_pairs"] = [list(pair) for pair in self.duplicate_pairs]
        return record


def verdict_for(score: float, hard_failures: tuple[str, ...] | list[str], opts: dict) -> str:
    """``fail`` on a hard failure or below ``warn_score``; ``warn`` below ``pass_score``."""
    if hard_failures or score < opts["warn_score"]:
        return "fail"
    if score < opts["pass_score"]:
        return "warn"
    return "pass"


def _batch_column(adata: ad.AnnData) -> pd.Series | None:
    return adata.obs["batch"] if "batch" in adata.obs else None


def score_cohort(
    adata: ad.AnnData,
    *,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    candidate_variables: int | None = None,
) -> QualityReport:
    """Score one cohort.

    Parameters
    ----------
    adata
        A loaded cohort (:func:`omicsflow.cohort.load_cohort`): ``X`` samples × genes,
        ``obs`` with ``time``/``event`` (cohorts with outcomes) and ``batch`` (optional),
        ``uns["cohort"]`` with ``id``, ``role``, ``platform`` and optionally ``time_unit``.
    options
        The ``qc`` section of the config; missing keys take
        :data:`omicsflow.quality.options.DEFAULT_QC`.
    seed
        Seed of the robust covariance (MCD) in the outlier check (the config's ``seed``).
    candidate_variables
        Candidate predictors the discovery model weighs, for events per variable (the workflow
        passes ``biomarkers.signature_size``); ``None`` skips that metric.

    Returns
    -------
    QualityReport
        Metrics, component scores with reasons, flags, removals, score and verdict.
    """
    opts = resolve_options(options)
    cohort_info = adata.uns.get("cohort", {})
    cohort = str(cohort_info.get("id", ""))
    role = str(cohort_info.get("role", "discovery"))
    platform = str(cohort_info.get("platform", "other"))
    samples = np.asarray(adata.obs_names.astype(str))
    genes = np.asarray(adata.var_names.astype(str))
    values = np.array(adata.X, dtype=np.float64)  # a copy: samples may be log-transformed below
    observed = ~np.isnan(values)
    n_samples, n_genes = values.shape

    checks: dict[str, Check] = {}
    checks["missingness"] = check_missingness(observed, samples, genes, opts)
    profile = scale_profile(values, observed, opts)
    checks["scale"], needs_log = check_scale(
        values, observed, samples, profile, platform=platform, opts=opts
    )
    # Every sample on a log scale: un-logged ones (all, or a minority) become log2(x + 1).
    raw = profile.unlogged
    values[raw] = np.log2(np.clip(values[raw], 0.0, None) + 1.0)
    ordered = np.sort(values, axis=0)
    counts = observed.sum(axis=0)
    checks["variance"] = check_variance(ordered, counts, genes, opts)
    centre = column_medians(ordered, counts)
    del ordered
    geometry = sample_geometry(values, observed, n_pcs=int(opts["n_pcs"]), centre=centre)
    del values
    outliers = outlier_statistics(geometry, opts=opts, seed=seed)
    checks["outliers"] = check_outliers(outliers, samples, opts=opts)
    sample_missing = 1.0 - observed.mean(axis=1)
    checks["duplicates"], pairs = check_duplicates(
        geometry.correlation, samples, sample_missing, opts=opts
    )
    checks["batch"] = check_batch(geometry, _batch_column(adata), opts=opts)

    removal_reasons: dict[str, list[str]] = {}
    if opts["remove_outliers"]:
        for name, kind in (
            ("missingness", "heavy_missing"),
            ("scale", "mixed_scale"),
            ("outliers", "outliers"),
            ("duplicates", "duplicate_copy"),
        ):
            for sample in checks[name].removable:
                removal_reasons.setdefault(sample, []).append(kind)
    removed = [sample for sample in samples if sample in removal_reasons]

    has_outcome = "time" in adata.obs and "event" in adata.obs
    events = int((adata.obs["event"].to_numpy() == 1).sum()) if has_outcome else None
    checks["dimensionality"] = check_dimensionality(
        n_samples,
        n_genes,
        n_removed=len(removed),
        events=events,
        role=role,
        candidate_variables=candidate_variables,
        opts=opts,
    )
    if has_outcome and role != "source":
        checks["outcome"] = check_outcome(
            adata.obs["time"].to_numpy(),
            adata.obs["event"].to_numpy(),
            time_unit=cohort_info.get("time_unit"),
            opts=opts,
        )

    components = {name: checks[name].score for name in COMPONENTS if name in checks}
    weights = {name: float(opts["weights"][name]) for name in components}
    total_weight = sum(weights.values())
    score = (
        sum(components[name] * weights[name] for name in components) / total_weight
        if total_weight > 0
        else 0.0
    )
    hard = tuple(name for name in components if checks[name].hard)
    verdict = verdict_for(score, hard, opts)
    reasons = {name: check.reason for name, check in checks.items() if check.reason}
    flagged_samples: dict[str, list[str]] = {}
    flagged_genes: dict[str, list[str]] = {}
    for check in checks.values():
        flagged_samples.update(check.flagged_samples)
        flagged_genes.update(check.flagged_genes)

    table = _sample_table(
        samples, adata, sample_missing, profile, geometry, outliers, flagged_samples, removed
    )
    report = QualityReport(
        cohort=cohort,
        role=role,
        n_samples=n_samples,
        n_genes=n_genes,
        missing_fraction=float(checks["missingness"].metrics["missing_fraction"]),
        events=events,
        event_rate=events / n_samples if events is not None and n_samples else None,
        components=components,
        reasons=reasons,
        hard_failures=hard,
        score=float(score),
        verdict=verdict,
        needs_log_transform=needs_log,
        hard_failure_reasons={name: [finding for finding, _ in checks[name].hard] for name in hard},
        hard_failure_fixes={
            name: "; ".join(dict.fromkeys(fix for _, fix in checks[name].hard)) for name in hard
        },
        fixes={name: check.all_fixes for name, check in checks.items() if check.all_fixes},
        metrics={
            **{name: check.metrics for name, check in checks.items()},
            "pca": {
                "n_components": int(geometry.scores.shape[1]),
                "explained": [float(value) for value in geometry.explained],
            },
        },
        flagged_samples=flagged_samples,
        duplicate_pairs=pairs,
        flagged_genes=flagged_genes,
        remove_outliers=bool(opts["remove_outliers"]),
        removed_samples=removed,
        removal_reasons=removal_reasons,
        weights=weights,
        options=opts,
        sample_table=table,
        correlation=geometry.correlation,
    )
    logger.info(
        "cohort %s (%s): quality score %.3f, verdict %s%s; %d samples flagged for removal%s",
        cohort,
        role,
        score,
        verdict,
        f" (hard failures: {', '.join(hard)})" if hard else "",
        len(removal_reasons) if opts["remove_outliers"] else 0,
        "; needs a log transform" if needs_log else "",
    )
    return report


def _sample_table(
    samples: np.ndarray,
    adata: ad.AnnData,
    sample_missing: np.ndarray,
    profile: Any,
    geometry: Any,
    outliers: Any,
    flagged: dict[str, list[str]],
    removed: list[str],
) -> pd.DataFrame:
    """One row per sample with everything the QC plots and a reader need."""
    table = pd.DataFrame(index=pd.Index(samples, name="sample"))
    if "batch" in adata.obs:
        table["batch"] = adata.obs["batch"].astype(str).to_numpy()
    table["missing_fraction"] = sample_missing
    for j, label in enumerate(PROFILE_QUANTILES):
        table[label] = profile.quantiles[:, j]
    table["skewness"] = profile.skewness
    table["integer_share"] = profile.integer_share
    table["distance_to_others"] = outliers.distance
    table["robust_pca_distance"] = outliers.robust_distance
    table["orthogonal_distance"] = outliers.orthogonal
    for j in range(min(2, geometry.scores.shape[1])):
        table[f"pc{j + 1}"] = geometry.scores[:, j]
    for kind in (
        "heavy_missing",
        "mixed_scale",
        "negative_values",
        "outliers_distance",
        "outliers_pca",
        "outliers",
        "duplicates",
    ):
        table[f"flag_{kind}"] = np.isin(samples, flagged.get(kind, []))
    table["removed"] = np.isin(samples, removed)
    return table.reset_index()

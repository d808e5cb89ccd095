"""Random-effects meta-analysis (DerSimonian–Laird) of log hazard ratios across cohorts.

With per-cohort estimates ``y_i`` (log HR of the highest- vs lowest-risk group) and standard
errors ``s_i``: fixed-effect weights ``w_i = 1/s_i²``, pooled ``ȳ_F = Σ w_i y_i / Σ w_i``;
Cochran's ``Q = Σ w_i (y_i − ȳ_F)²`` on ``k − 1`` df; between-cohort variance
``τ² = max(0, (Q − (k − 1)) / (Σ w_i − Σ w_i² / Σ w_i))``; random-effects weights
``w*_i = 1/(s_i² + τ²)``, pooled ``ȳ_R = Σ w*_i y_i / Σ w*_i`` with ``SE = 1/√Σ w*_i``;
``I² = max(0, (Q − (k − 1)) / Q)`` in percent (DerSimonian & Laird 1986; Higgins &
Thompson 2002).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from omicsflow.errors import InputError

__all__ = ["MetaAnalysis", "dersimonian_laird", "meta_analyse"]

logger = logging.getLogger(__name__)

Z_975 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class MetaAnalysis:
    """A DerSimonian–Laird random-effects pooled estimate.

    Attributes
    ----------
    k
        Number of estimates pooled.
    estimate, se, ci_low, ci_high, z, p_value
        Random-effects pooled estimate (log scale), its SE, 95% CI, z and two-sided p.
    tau2
        Between-cohort variance τ².
    q, q_df, q_p
        Cochran's Q, its degrees of freedom and p-value.
    i2
        I² in percent (NaN when k < 2).
    fixed_estimate, fixed_se
        Inverse-variance fixed-effect estimate and SE, for comparison.
    weights
        Relative random-effects weights (sum to 1).
    """

    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    tau2: float
    q: float
    q_df: int
    q_p: float
    i2: float
    fixed_estimate: float
    fixed_se: float
    weights: tuple[float, ...]


def dersimonian_laird(estimates: np.ndarray, standard_errors: np.ndarray) -> MetaAnalysis:
    """Pool estimates with the DerSimonian–Laird random-effects model.

    Parameters
    ----------
    estimates
        Per-cohort estimates on an additive scale (e.g. log hazard ratios).
    standard_errors
        Their standard errors (finite, positive).

    Returns
    -------
    MetaAnalysis
        The pooled estimate, heterogeneity (τ², Q, I²) and the fixed-effect estimate.
    """
    y = np.asarray(estimates, dtype=np.float64).ravel()
    s = np.asarray(standard_errors, dtype=np.float64).ravel()
    if y.size == 0 or y.size != s.size:
        raise InputError(
            "a meta-analysis needs one standard error per estimate, and at least one",
            seen=f"{y.size} estimates, {s.size} standard errors",
            fix="pass the per-cohort log hazard ratios and their standard errors",
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise InputError(
            "meta-analysis inputs must be finite with positive standard errors",
            seen=f"estimates {y.tolist()}, standard errors {s.tolist()}",
            fix="leave out cohorts whose hazard ratio is undefined",
        )
    w = 1.0 / s**2
    fixed = float(np.sum(w * y) / np.sum(w))
    k = y.size
    q = float(np.sum(w * (y - fixed) ** 2))
    df = k - 1
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - df) / c) if df > 0 and c > 0 else 0.0
    w_random = 1.0 / (s**2 + tau2)
    estimate = float(np.sum(w_random * y) / np.sum(w_random))
    se = float(1.0 / np.sqrt(np.sum(w_random)))
    z = estimate / se
    i2 = 100.0 * max(0.0, (q - df) / q) if df > 0 and q > 0 else (0.0 if df > 0 else np.nan)
    return MetaAnalysis(
        k=k,
        estimate=estimate,
        se=se,
        ci_low=estimate - Z_975 * se,
        ci_high=estimate + Z_975 * se,
        z=float(z),
        p_value=float(2 * stats.norm.sf(abs(z))),
        tau2=float(tau2),
        q=q,
        q_df=df,
        q_p=float(stats.chi2.sf(q, df)) if df > 0 else float("nan"),
        i2=float(i2),
        fixed_estimate=fixed,
        fixed_se=float(1.0 / np.sqrt(np.sum(w))),
        weights=tuple(float(v) for v in w_random / np.sum(w_random)),
    )


def meta_analyse(records: list[dict[str, Any]], *, score: str = "signature") -> dict[str, Any]:
    """Meta-analyse the log HR of one score across validation cohorts' ``metrics.json``.

    Parameters
    ----------
    records
        Parsed ``metrics.json`` files.
    score
        ``"signature"`` (top-level metrics) or ``"model"`` (the ``model`` block).

    Returns
    -------
    dict
        ``cohorts`` (per cohort: estimate, SE, HR, CI, weight), ``left_out`` (cohort →
        reason: excluded by QC or HR undefined) and, when any cohort is left, the pooled
        random-effects HR with 95% CI and p, τ², Q, I² and the fixed-effect HR.
    """
    cohorts, left_out = [], {}
    for record in records:
        cohort = str(record.get("cohort"))
        if record.get("excluded"):
            left_out[cohort] = f"excluded: {record.get('exclusion_reason', '')}"
            continue
        block = record if score == "signature" else record.get(score, {})
        log_hr, se = block.get("log_hr"), block.get("log_hr_se")
        if log_hr is None or se is None or not np.isfinite([log_hr, se]).all() or se <= 0:
            left_out[cohort] = "hazard ratio undefined (an empty risk group or no events)"
            continue
        cohorts.append(
            {
                "cohort": cohort,
                "log_hr": float(log_hr),
                "log_hr_se": float(se),
                "hazard_ratio": float(np.exp(log_hr)),
                "hr_ci_low": float(np.exp(log_hr - Z_975 * se)),
                "hr_ci_high": float(np.exp(log_hr + Z_975 * se)),
                "n": block.get("n"),
                "events": block.get("events"),
            }
        )
    for cohort, reason in left_out.items():
        logger.warning("meta-analysis (%s) leaves out cohort %s: %s", score, cohort, reason)
    result: dict[str, Any] = {
        "score": score,
        "method": "DerSimonian-Laird random effects on log hazard ratios",
        "k": len(cohorts),
        "cohorts": cohorts,
        "left_out": left_out,
    }
    if not cohorts:
        return result
    pooled = dersimonian_laird(
        np.array([c["log_hr"] for c in cohorts]), np.array([c["log_hr_se"] for c in cohorts])
    )
    for entry, weight in zip(cohorts, pooled.weights, strict=True):
        entry["weight"] = weight
    result.update(
        log_hr=pooled.estimate,
        log_hr_se=pooled.se,
        hazard_ratio=float(np.exp(pooled.estimate)),
        hr_ci_low=float(np.exp(pooled.ci_low)),
        hr_ci_high=float(np.exp(pooled.ci_high)),
        p_value=pooled.p_value,
        tau2=pooled.tau2,
        q=pooled.q,
        q_df=pooled.q_df,
        q_p=pooled.q_p,
        i2=pooled.i2,
        fixed_hazard_ratio=float(np.exp(pooled.fixed_estimate)),
        fixed_hr_ci_low=float(np.exp(pooled.fixed_estimate - Z_975 * pooled.fixed_se)),
        fixed_hr_ci_high=float(np.exp(pooled.fixed_estimate + Z_975 * pooled.fixed_se)),
    )
    logger.info(
        "meta-analysis (%s) of %d cohorts: HR %.2f (%.2f–%.2f), I² %.0f%%, τ² %.3g",
        score,
        pooled.k,
        result["hazard_ratio"],
        result["hr_ci_low"],
        result["hr_ci_high"],
        pooled.i2,
        pooled.tau2,
    )
    return result

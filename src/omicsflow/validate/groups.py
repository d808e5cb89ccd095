"""Risk groups from a score, and how well they (and the score) separate survival.

Everything here takes risk groups as *labels* (one per sample) with an order from lowest to
highest risk, so two groups (low / high, today's rule) and more (e.g. EpiMed's 0 / 1 / ≥2
risk-activated genes) go through the same code: the k-group log-rank test, a Cox model with
one indicator per non-reference group, and Kaplan–Meier curves per label. The headline
hazard ratio is that of the highest-risk group against the lowest (the reference); with two
groups it is high vs low.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omicsflow.errors import first_items
from omicsflow.survival.metrics import (
    concordance_index,
    concordance_index_uno,
    cox_fit,
    logrank_test_groups,
    time_dependent_auc,
)
from omicsflow.survival.signature import Signature

__all__ = [
    "HIGH_RISK",
    "LOW_RISK",
    "RiskEvaluation",
    "RiskGroups",
    "evaluate_groups",
    "evaluate_risk",
    "horizon_key",
    "multivariable_cox",
    "signature_risk_groups",
    "threshold_groups",
]

logger = logging.getLogger(__name__)

LOW_RISK = "low risk"
HIGH_RISK = "high risk"


@dataclass(frozen=True)
class RiskGroups:
    """Risk-group membership of every sample.

    Attributes
    ----------
    labels
        Group label per sample.
    order
        Labels from lowest to highest risk; ``order[0]`` is the reference of hazard ratios.
    rule
        How the groups were formed (for the record).
    """

    labels: np.ndarray
    order: tuple[str, ...]
    rule: str

    def masks(self) -> dict[str, np.ndarray]:
        """Label → boolean membership, in ``order`` (for :func:`omicsflow.plots.km_plot`)."""
        return {label: self.labels == label for label in self.order}

    @property
    def highest(self) -> np.ndarray:
        """Membership of the highest-risk group."""
        return self.labels == self.order[-1]


def threshold_groups(score: np.ndarray, threshold: float, *, rule: str = "") -> RiskGroups:
    """Two groups: high risk = ``score > threshold``, low risk otherwise."""
    score = np.asarray(score, dtype=np.float64)
    labels = np.where(score > threshold, HIGH_RISK, LOW_RISK)
    return RiskGroups(
        labels=labels,
        order=(LOW_RISK, HIGH_RISK),
        rule=rule or f"high risk = score > {threshold:.6g}",
    )


def signature_risk_groups(signature: Signature, score: np.ndarray) -> RiskGroups:
    """The signature's risk groups of scored samples, as locked on the discovery cohort.

    A signature with count bounds (e.g. EpiMed's 0 / 1 / ≥2 risk-activated genes,
    ``biomarkers.risk_groups``) gives one group per interval (:meth:`Signature.risk_groups`);
    otherwise high risk = ``score > signature.risk_cutpoint``. Everything downstream (KM,
    log-rank, Cox, calibration, meta-analysis) takes any number of groups.

    Parameters
    ----------
    signature
        The locked signature.
    score
        Its score per sample (:func:`omicsflow.survival.signature.score_signature`).

    Returns
    -------
    RiskGroups
        Labels per sample, lowest risk first.
    """
    if signature.group_bounds:
        return RiskGroups(
            labels=np.asarray(signature.risk_groups(score), dtype=str),
            order=tuple(signature.group_labels),
            rule=f"risk groups {list(signature.group_labels)} at signature score bounds "
            f"{list(signature.group_bounds)} (locked on discovery)",
        )
    return threshold_groups(
        score,
        signature.risk_cutpoint,
        rule=f"high risk = signature score > {signature.risk_cutpoint:g} (locked on discovery)",
    )


def horizon_key(horizon: float) -> str:
    """The JSON key of a horizon (``12.0`` → ``"12"``)."""
    return f"{float(horizon):g}"


@dataclass(frozen=True)
class RiskEvaluation:
    """How well a risk score and its risk groups separate survival.

    Attributes
    ----------
    n, events
        Samples and events.
    c_index, c_index_uno
        Harrell's and Uno's C of the continuous score (Uno's truncated at ``c_index_uno_tau``).
    logrank_chi2, logrank_df, logrank_p
        k-group log-rank test of the risk groups.
    hazard_ratio, hr_ci_low, hr_ci_high, log_hr, log_hr_se
        Cox HR (95% CI) of the highest-risk group vs the lowest; its log and standard error.
    n_high
        Samples in the highest-risk group.
    td_auc
        Time-dependent AUC by horizon (key: :func:`horizon_key`).
    groups
        Per group: label, n, events and the HR (95% CI, Wald p) against the reference group.
    """

    n: int
    events: int
    c_index: float
    logrank_chi2: float
    logrank_p: float
    hazard_ratio: float
    hr_ci_low: float
    hr_ci_high: float
    n_high: int
    c_index_uno: float = float("nan")
    c_index_uno_tau: float | None = None
    logrank_df: int = 1
    log_hr: float = float("nan")
    log_hr_se: float = float("nan")
    td_auc: dict[str, float] = field(default_factory=dict)
    groups: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for ``metrics.json``."""
        record = asdict(self)
        record["groups"] = [dict(group) for group in self.groups]
        return record


def evaluate_groups(
    time: np.ndarray,
    event: np.ndarray,
    score: np.ndarray,
    groups: RiskGroups,
    *,
    horizons: np.ndarray | list[float] = (),
    tau: float | None = None,
) -> RiskEvaluation:
    """Evaluate a risk score and its risk groups on one cohort.

    Parameters
    ----------
    time, event
        Survival outcome.
    score
        Continuous (or count) risk score, higher = worse.
    groups
        Risk groups (any number, lowest risk first).
    horizons
        Horizons of the time-dependent AUC.
    tau
        Truncation time of Uno's C (``None``: none).

    Returns
    -------
    RiskEvaluation
        Harrell's and Uno's C, td-AUC, k-group log-rank test and Cox HRs.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(int)
    present = [label for label in groups.order if np.any(groups.labels == label)]
    empty = [label for label in groups.order if label not in present]
    if empty:
        logger.warning("risk group(s) %s are empty; their hazard ratios are undefined", empty)
    test = logrank_test_groups(time, event, groups.labels)
    per_group = {label: _group_row(label, groups.labels, event) for label in groups.order}
    hr = low = high = log_hr = se = float("nan")
    if len(present) >= 2 and event.sum() > 0:
        design = np.column_stack([groups.labels == label for label in present[1:]]).astype(float)
        cox = cox_fit(design, time, event)
        for j, label in enumerate(present[1:]):
            per_group[label].update(
                hazard_ratio=float(cox.hazard_ratio[j]),
                hr_ci_low=float(cox.ci_low[j]),
                hr_ci_high=float(cox.ci_high[j]),
                p_value=float(cox.p_value[j]),
            )
        if present[-1] == groups.order[-1] and present[0] == groups.order[0]:
            hr, low, high = (
                float(cox.hazard_ratio[-1]),
                float(cox.ci_low[-1]),
                float(cox.ci_high[-1]),
            )
            log_hr, se = float(cox.coef[-1]), float(cox.se[-1])
    horizons = np.atleast_1d(np.asarray(horizons, dtype=np.float64))
    auc = time_dependent_auc(time, event, score, horizons) if horizons.size else np.array([])
    return RiskEvaluation(
        n=int(time.size),
        events=int(event.sum()),
        c_index=concordance_index(time, event, score),
        c_index_uno=concordance_index_uno(time, event, score, tau=tau),
        c_index_uno_tau=tau,
        logrank_chi2=test.chi2,
        logrank_df=test.df,
        logrank_p=test.p_value,
        hazard_ratio=hr,
        hr_ci_low=low,
        hr_ci_high=high,
        log_hr=log_hr,
        log_hr_se=se,
        n_high=int(groups.highest.sum()),
        td_auc={horizon_key(h): float(a) for h, a in zip(horizons, auc, strict=True)},
        groups=tuple(per_group[label] for label in groups.order),
    )


def _group_row(label: str, labels: np.ndarray, event: np.ndarray) -> dict[str, Any]:
    mask = labels == label
    return {
        "label": label,
        "n": int(mask.sum()),
        "events": int(event[mask].sum()),
        "hazard_ratio": float("nan"),
        "hr_ci_low": float("nan"),
        "hr_ci_high": float("nan"),
        "p_value": float("nan"),
    }


def evaluate_risk(
    time: np.ndarray,
    event: np.ndarray,
    score: np.ndarray,
    high_risk: np.ndarray,
    *,
    horizons: np.ndarray | list[float] = (),
    tau: float | None = None,
) -> RiskEvaluation:
    """Evaluate a risk score and its dichotomisation (two groups) on one cohort.

    Parameters
    ----------
    time, event
        Survival outcome.
    score
        Continuous (or count) risk score, higher = worse.
    high_risk
        Boolean high-risk group membership.
    horizons, tau
        As in :func:`evaluate_groups`.

    Returns
    -------
    RiskEvaluation
        C-indices, log-rank test and Cox HR of high vs low risk.
    """
    high_risk = np.asarray(high_risk, dtype=bool)
    groups = RiskGroups(
        labels=np.where(high_risk, HIGH_RISK, LOW_RISK),
        order=(LOW_RISK, HIGH_RISK),
        rule="given high-risk membership",
    )
    return evaluate_groups(time, event, score, groups, horizons=horizons, tau=tau)


def multivariable_cox(
    time: np.ndarray,
    event: np.ndarray,
    groups: RiskGroups,
    clinical: pd.DataFrame,
    covariates: list[str],
    *,
    cohort: str = "",
) -> dict[str, Any]:
    """Cox model of the risk groups adjusted for the clinical covariates a cohort has.

    Numeric covariates enter as they are (HR per unit); categorical ones as indicators against
    their most frequent level. Covariates the cohort lacks, or that are constant in it, are
    skipped with a warning; samples with a missing covariate value are left out of this model
    only (complete cases), with a warning giving the count.

    Parameters
    ----------
    time, event
        Survival outcome.
    groups
        Risk groups (indicators for every non-reference group).
    clinical
        Clinical table (``obs``), one row per sample.
    covariates
        Covariate names requested in the config.
    cohort
        Cohort id, for messages.

    Returns
    -------
    dict
        ``covariates_requested, covariates_used, covariates_missing, n, events,
        dropped_incomplete, converged, terms`` (term, hazard_ratio, hr_ci_low, hr_ci_high,
        p_value).
    """
    missing = [name for name in covariates if name not in clinical.columns]
    if missing:
        logger.warning(
            "cohort %s lacks covariate(s) %s; the multivariable model leaves them out",
            cohort,
            first_items(missing),
        )
    present = [label for label in groups.order[1:] if np.any(groups.labels == label)]
    columns: dict[str, np.ndarray] = {
        f"group: {label} vs {groups.order[0]}": (groups.labels == label).astype(float)
        for label in present
    }
    complete = np.ones(time.size, dtype=bool)
    used = []
    for name in (name for name in covariates if name in clinical.columns):
        values = clinical[name].reset_index(drop=True)
        block, observed = _covariate_columns(name, values)
        if not block:
            logger.warning("cohort %s: covariate %s is constant; left out", cohort, name)
            continue
        columns.update(block)
        complete &= observed
        used.append(name)
    dropped = int((~complete).sum())
    if dropped:
        logger.warning(
            "cohort %s: %d of %d samples lack a covariate value and are left out of the "
            "multivariable model",
            cohort,
            dropped,
            time.size,
        )
    result: dict[str, Any] = {
        "covariates_requested": list(covariates),
        "covariates_used": used,
        "covariates_missing": missing,
        "n": int(complete.sum()),
        "events": int(np.asarray(event)[complete].sum()),
        "dropped_incomplete": dropped,
        "converged": False,
        "terms": [],
    }
    if not columns or not result["events"] or not present:
        return result
    names = list(columns)
    design = np.column_stack([columns[name][complete] for name in names])
    cox = cox_fit(design, np.asarray(time)[complete], np.asarray(event)[complete])
    result["converged"] = bool(cox.converged)
    result["terms"] = [
        {
            "term": name,
            "hazard_ratio": float(cox.hazard_ratio[j]),
            "hr_ci_low": float(cox.ci_low[j]),
            "hr_ci_high": float(cox.ci_high[j]),
            "p_value": float(cox.p_value[j]),
        }
        for j, name in enumerate(names)
    ]
    return result


def _covariate_columns(name: str, values: pd.Series) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Design columns of one covariate and which samples have a value."""
    numeric = pd.to_numeric(values, errors="coerce")
    text = values.astype("string")
    blank = values.isna() | text.str.strip().isin(["", "NA", "nan", "NaN"]).fillna(True)
    if numeric[~blank].notna().all():
        observed = numeric.notna().to_numpy()
        column = numeric.to_numpy(dtype=np.float64)
        if np.unique(column[observed]).size < 2:
            return {}, observed
        return {name: np.where(observed, column, 0.0)}, observed
    observed = ~blank.to_numpy()
    levels = text[observed].value_counts()
    if levels.size < 2:
        return {}, observed
    # Most frequent level is the reference (ties: alphabetical), so the choice is stable.
    ranked = sorted(levels.items(), key=lambda item: (-item[1], str(item[0])))
    reference = ranked[0][0]
    block = {
        f"{name}: {level} vs {reference}": (text == level).fillna(False).to_numpy(dtype=float)
        for level, _ in sorted(ranked[1:], key=lambda item: str(item[0]))
    }
    return block, observed

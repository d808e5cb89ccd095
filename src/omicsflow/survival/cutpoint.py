"""Maximally selected cutpoints with p-values corrected for the search over cutpoints.

For every gene, :func:`scan_cutpoints` finds the expression threshold that best separates
survival (the maximally selected log-rank statistic, :mod:`omicsflow.survival.logrank`), and
reports a p-value corrected for having searched (Lausen & Schumacher 1994 by default, 1992
approximation beside it), Benjamini–Hochberg q-values across genes, and, at the chosen
cutpoint, the classical log-rank test and the Cox hazard ratio of high vs low expression.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from omicsflow.errors import InputError
from omicsflow.survival.logrank import logrank_scores, maxstat_scan
from omicsflow.survival.metrics import as_survival, cox_fit, logrank_test

__all__ = ["CUTPOINT_COLUMNS", "benjamini_hochberg", "p_lausen92", "p_lausen94", "scan_cutpoints"]

logger = logging.getLogger(__name__)

CUTPOINT_COLUMNS = (
    "gene",
    "cutpoint",
    "cutpoint_percentile",
    "direction",
    "n_low",
    "n_high",
    "events_low",
    "events_high",
    "statistic",
    "p_value",
    "p_lau92",
    "q_value",
    "logrank_chi2",
    "logrank_p",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
)


def p_lausen94(statistic: np.ndarray, t_sum: np.ndarray, t3_sum: np.ndarray) -> np.ndarray:
    """Lausen & Schumacher (1994) improved Bonferroni bound for a maximally selected statistic.

    ``p = 1 − (Φ(M) − Φ(−M)) + (1/π) e^{−M²/2} Σ_k (t_k − (M²/4 − 1) t_k³ / 6)``, capped to
    [0, 1].

    Parameters
    ----------
    statistic
        M per gene.
    t_sum, t3_sum
        Σ t_k and Σ t_k³ over consecutive candidate cutpoints (see
        :class:`~omicsflow.survival.logrank.MaxstatScan`).

    Returns
    -------
    numpy.ndarray
        Corrected p-values (NaN where the statistic is NaN).
    """
    m = np.asarray(statistic, dtype=np.float64)
    p = 2.0 * stats.norm.sf(m) + np.exp(-(m**2) / 2.0) / np.pi * (
        t_sum - (m**2 / 4.0 - 1.0) * t3_sum / 6.0
    )
    return np.clip(p, 0.0, 1.0)


def p_lausen92(statistic: np.ndarray, min_prop: float, max_prop: float) -> np.ndarray:
    """Lausen & Schumacher (1992) asymptotic p-value of a maximally selected statistic.

    ``p = 4φ(M)/M + φ(M)(M − 1/M) log(ε₂(1 − ε₁) / ((1 − ε₂) ε₁))`` with ε₁ = ``min_prop``,
    ε₂ = ``max_prop``; ``p = 1`` for ``M < 1``; capped at 1.
    """
    m = np.asarray(statistic, dtype=np.float64)
    density = stats.norm.pdf(m)
    log_term = np.log(max_prop * (1.0 - min_prop) / ((1.0 - max_prop) * min_prop))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 4.0 * density / m + density * (m - 1.0 / m) * log_term
    p = np.where(m < 1.0, 1.0, p)
    return np.where(np.isnan(m), np.nan, np.clip(p, 0.0, 1.0))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (R ``p.adjust(method = "BH")``); NaN stays NaN."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    if finite.size == 0:
        return q
    order = finite[np.argsort(p[finite], kind="stable")]
    ranked = p[order] * finite.size / np.arange(1, finite.size + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


def scan_cutpoints(
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
) -> pd.DataFrame:
    """Find every gene's maximally selected cutpoint and its corrected p-value.

    Parameters
    ----------
    expression
        samples × genes, complete (impute first).
    time, event
        Survival outcome, one per sample (same order as ``expression``).
    min_prop, max_prop
        Candidate cutpoints leave at least ``min_prop`` and at most ``max_prop`` of the
        samples in the low group (``x <= cutpoint``).

    Returns
    -------
    pandas.DataFrame
        One row per gene with :data:`CUTPOINT_COLUMNS`, sorted by ``p_value`` (Lausen &
        Schumacher 1994) then ``statistic``. ``cutpoint_percentile`` is the share of
        discovery samples at or below the cutpoint (``n_low / N``).
    """
    if not isinstance(expression, pd.DataFrame):
        raise InputError(
            "expression must be a samples × genes pandas DataFrame",
            seen=type(expression).__name__,
            fix="wrap the matrix in a DataFrame",
        )
    time, event_bool = as_survival(time, event)
    if time.size != expression.shape[0]:
        raise InputError(
            "expression rows and survival outcomes differ in number",
            seen=f"{expression.shape[0]} samples vs {time.size} outcomes",
            fix="pass one outcome per sample, in the same order",
        )
    if not event_bool.any():
        raise InputError(
            "no events: cutpoints cannot be estimated",
            seen="0 events",
            fix="check the event coding",
        )
    n = time.size
    values = expression.to_numpy(dtype=np.float64)
    scan = maxstat_scan(
        values, logrank_scores(time, event_bool), min_prop=min_prop, max_prop=max_prop
    )
    n_low = np.nan_to_num(scan.n_low, nan=0).astype(int)
    table = pd.DataFrame(
        {
            "gene": expression.columns.astype(str),
            "cutpoint": scan.cutpoint,
            "cutpoint_percentile": n_low / n,
            "direction": np.where(scan.deviation > 0, "high_risk_below", "high_risk_above"),
            "n_low": n_low,
            "n_high": n - n_low,
            "statistic": scan.statistic,
            "p_value": p_lausen94(scan.statistic, scan.t_sum, scan.t3_sum),
            "p_lau92": p_lausen92(scan.statistic, min_prop, max_prop),
        }
    )
    table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy())
    at_cut = [
        _at_cutpoint(values[:, j], scan.cutpoint[j], time, event_bool)
        for j in range(values.shape[1])
    ]
    table = pd.concat([table, pd.DataFrame(at_cut, index=table.index)], axis=1)
    no_candidate = table["statistic"].isna()
    if no_candidate.any():
        logger.warning(
            "%d genes have no candidate cutpoint (too few distinct values); their p-values "
            "are missing",
            int(no_candidate.sum()),
        )
    table = table.sort_values(["p_value", "statistic"], ascending=[True, False], kind="stable")
    return table.loc[:, list(CUTPOINT_COLUMNS)].reset_index(drop=True)


def _at_cutpoint(
    values: np.ndarray, cutpoint: float, time: np.ndarray, event: np.ndarray
) -> dict[str, float]:
    if np.isnan(cutpoint):
        return dict.fromkeys(
            (
                "events_low",
                "events_high",
                "logrank_chi2",
                "logrank_p",
                "hazard_ratio",
                "hr_ci_low",
                "hr_ci_high",
            ),
            np.nan,
        )
    high = values > cutpoint
    test = logrank_test(time, event, high)
    cox = cox_fit(high.astype(np.float64), time, event)
    return {
        "events_low": int(event[~high].sum()),
        "events_high": int(event[high].sum()),
        "logrank_chi2": test.chi2,
        "logrank_p": test.p_value,
        "hazard_ratio": float(cox.hazard_ratio[0]),
        "hr_ci_low": float(cox.ci_low[0]),
        "hr_ci_high": float(cox.ci_high[0]),
    }

"""Vectorised maximally selected log-rank statistics over every cutpoint of every gene.

The standardised statistic follows Lausen & Schumacher (1992) as implemented in R's
``maxstat::maxstat.test(smethod = "LogRank")``:

* log-rank (Savage) scores ``a_i = δ_i − Σ_{j: r_j ≤ r_i} δ_j / (N − r_j + 1)`` with
  ``r = rank(time, ties = "max")``;
* for the ``m`` samples with the lowest expression, ``S_m`` = the sum of their scores,
  ``E_m = m/N · Σa`` and ``V_m = m(N − m) / (N²(N − 1)) · (N Σa² − (Σa)²)``;
* the standardised statistic is ``|S_m − E_m| / √V_m``, evaluated only where the expression
  value changes (``x_(m) < x_(m+1)``) and for ``m`` in ``[floor(min_prop·N), floor(max_prop·N)]``.

All genes are handled at once: one sort per gene and one cumulative sum, in blocks of genes so
memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from omicsflow.errors import InputError

__all__ = ["MaxstatScan", "candidate_range", "logrank_scores", "maxstat_scan"]


def logrank_scores(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Log-rank (Savage) scores of a censored outcome, as in ``coin``/``maxstat``.

    Parameters
    ----------
    time
        Follow-up times.
    event
        1 for an event, 0 for censoring.

    Returns
    -------
    numpy.ndarray
        ``a_i = δ_i − Σ_{j: r_j ≤ r_i} δ_j / (N − r_j + 1)`` with ``r = rank(time, "max")``;
        the scores sum to zero.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=np.float64)
    n = time.size
    rank_max = stats.rankdata(time, method="max")
    order = np.argsort(rank_max, kind="stable")
    # Each sample contributes δ_j/(N − r_j + 1) to every sample with rank >= r_j.
    contribution = event[order] / (n - rank_max[order] + 1.0)
    cumulative = np.cumsum(contribution)
    # The sum over j with r_j <= r_i is the cumulative sum up to the last sample of rank r_i.
    last_of_rank = np.searchsorted(rank_max[order], rank_max, side="right") - 1
    return event - cumulative[last_of_rank]


def candidate_range(n: int, min_prop: float, max_prop: float) -> tuple[int, int]:
    """The smallest and largest low-group size ``m`` considered: floor(prop · N)."""
    if not 0.0 < min_prop < max_prop < 1.0:
        raise InputError(
            "cutpoint proportions must satisfy 0 < min_prop < max_prop < 1",
            seen=f"min_prop={min_prop}, max_prop={max_prop}",
            fix="use e.g. min_prop 0.1 and max_prop 0.9",
        )
    low, high = int(np.floor(min_prop * n)), int(np.floor(max_prop * n))
    return max(low, 1), min(high, n - 1)


@dataclass(frozen=True)
class MaxstatScan:
    """The best cutpoint of every gene.

    Attributes
    ----------
    statistic
        M, the maximum standardised statistic per gene (NaN if a gene has no candidate).
    cutpoint
        Expression value x_(m) at the maximum; the low group is ``x <= cutpoint``.
    n_low
        m at the maximum.
    deviation
        S_m − E_m at the maximum (> 0: the low group fails earlier).
    n_candidates
        Number of candidate cutpoints per gene.
    t_sum, t3_sum
        Σ t_k and Σ t_k³ over consecutive candidates (for the Lausen–Schumacher 1994 bound),
        ``t_k = √(1 − m_k(N − m_{k+1}) / ((N − m_k) m_{k+1}))``.
    """

    statistic: np.ndarray
    cutpoint: np.ndarray
    n_low: np.ndarray
    deviation: np.ndarray
    n_candidates: np.ndarray
    t_sum: np.ndarray
    t3_sum: np.ndarray


def maxstat_scan(
    expression: np.ndarray,
    scores: np.ndarray,
    *,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
    block_size: int = 2048,
) -> MaxstatScan:
    """Scan every candidate cutpoint of every gene.

    Parameters
    ----------
    expression
        samples × genes, no missing values.
    scores
        Log-rank scores of the outcome (:func:`logrank_scores`).
    min_prop, max_prop
        Range of the low group's share of samples.
    block_size
        Genes processed at once (memory is about 5 × N × block_size × 8 bytes).

    Returns
    -------
    MaxstatScan
        Per-gene maximum and where it is reached.
    """
    expression = np.asarray(expression, dtype=np.float64)
    if expression.ndim != 2:
        raise InputError(
            "expression must be a samples × genes matrix",
            seen=f"{expression.ndim} dimensions",
            fix="pass a 2-D array",
        )
    if np.isnan(expression).any():
        raise InputError(
            "the cutpoint scan needs complete expression values",
            seen=f"{int(np.isnan(expression).sum())} missing values",
            fix="impute missing values first (preprocess stage)",
        )
    n, n_genes = expression.shape
    scores = np.asarray(scores, dtype=np.float64)
    m_low, m_high = candidate_range(n, min_prop, max_prop)
    m = np.arange(1, n + 1, dtype=np.float64)[:, None]
    total, total_sq = scores.sum(), (scores**2).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(m * (n - m) / (n**2 * (n - 1)) * (n * total_sq - total**2))
    in_range = np.zeros((n, 1), dtype=bool)
    in_range[m_low - 1 : m_high] = True
    out = {
        name: np.full(n_genes, np.nan)
        for name in (
            "statistic",
            "cutpoint",
            "n_low",
            "deviation",
            "n_candidates",
            "t_sum",
            "t3_sum",
        )
    }
    for start in range(0, n_genes, block_size):
        block = expression[:, start : start + block_size]
        order = np.argsort(block, axis=0, kind="stable")
        sorted_x = np.take_along_axis(block, order, axis=0)
        partial = np.cumsum(scores[order], axis=0)
        deviation = partial - m / n * total
        distinct = np.empty_like(sorted_x, dtype=bool)
        distinct[:-1] = sorted_x[:-1] < sorted_x[1:]
        distinct[-1] = False
        valid = distinct & in_range & (sd > 0)
        standardised = np.where(valid, np.abs(deviation) / np.where(sd > 0, sd, 1.0), -np.inf)
        best = np.argmax(standardised, axis=0)
        columns = np.arange(block.shape[1])
        has_candidate = valid.any(axis=0)
        index = slice(start, start + block.shape[1])
        out["statistic"][index] = np.where(has_candidate, standardised[best, columns], np.nan)
        out["cutpoint"][index] = np.where(has_candidate, sorted_x[best, columns], np.nan)
        out["n_low"][index] = np.where(has_candidate, best + 1, np.nan)
        out["deviation"][index] = np.where(has_candidate, deviation[best, columns], np.nan)
        out["n_candidates"][index] = valid.sum(axis=0)
        t_sum, t3_sum = _consecutive_t_sums(valid, n)
        out["t_sum"][index] = t_sum
        out["t3_sum"][index] = t3_sum
    return MaxstatScan(**out)


def _consecutive_t_sums(valid: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ t_k and Σ t_k³ over consecutive valid m per column (Lausen & Schumacher 1994)."""
    rows = valid.shape[0]
    m = np.arange(1, rows + 1, dtype=np.float64)[:, None]
    # next valid m after each row: reverse running minimum of the valid positions.
    positions = np.where(valid, m, np.inf)
    next_valid = np.minimum.accumulate(positions[::-1], axis=0)[::-1]
    following = np.full_like(next_valid, np.inf)
    following[:-1] = next_valid[1:]
    pair = valid & np.isfinite(following)
    m_next = np.where(pair, following, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = m * (n - m_next) / ((n - m) * m_next)
        t = np.sqrt(np.clip(1.0 - ratio, 0.0, None))
    t = np.where(pair, t, 0.0)
    return t.sum(axis=0), (t**3).sum(axis=0)

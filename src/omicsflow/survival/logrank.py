"""Vectorised maximally selected log-rank statistics over every cutpoint of every gene.

The standardised statistic follows Lausen & Schumacher (1992) as implemented in R's
``maxstat::maxstat.test(smethod = "LogRank")``:

* log-rank (Savage) scores ``a_i = δ_i − Σ_{j: r_j ≤ r_i} δ_j / (N − r_j + 1)`` with
  ``r = rank(time, ties = "max")``;
* for the ``m`` samples with the lowest expression, ``S_m`` = the sum of their scores,
  ``E_m = m/N · Σa`` and ``V_m = m(N − m) / (N²(N − 1)) · (N Σa² − (Σa)²)``;
* the standardised statistic is ``|S_m − E_m| / √V_m``, evaluated only where the expression
  value changes (``x_(m) < x_(m+1)``) and for ``m`` in ``[floor(min_prop·N), floor(max_prop·N)]``
  (R: ``m <- which(!duplicated(sort(x))) - 1`` restricted to that range; the cutpoint is
  ``x_(m)``, the low group ``x <= x_(m)``).

All genes are handled at once: one sort per gene and one cumulative sum, in blocks of genes
spread over threads (numpy releases the GIL in sorting and arithmetic), so memory stays
bounded. When every value is exactly representable in float32 (expression read from an
``.h5ad``, whose ``X`` is float32) the sort runs in float32, which orders and ties the values
exactly as float64 would and is several times faster.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from omicsflow.errors import InputError

__all__ = [
    "MaxstatProfile",
    "MaxstatScan",
    "candidate_range",
    "default_threads",
    "genes_by_row",
    "logrank_scores",
    "maxstat_profile",
    "maxstat_scan",
    "maxstat_scan_rows",
    "standardisation",
]


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
        the scores sum to zero when no times are tied (as ``exactRankTests::cscores.Surv``).
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
    """The smallest and largest low-group size ``m`` considered: floor(prop · N).

    ``m`` is kept within ``[1, N − 1]`` so both groups are non-empty.
    """
    if not 0.0 < min_prop < max_prop < 1.0:
        raise InputError(
            "cutpoint proportions must satisfy 0 < min_prop < max_prop < 1",
            seen=f"min_prop={min_prop}, max_prop={max_prop}",
            fix="use e.g. min_prop 0.1 and max_prop 0.9",
        )
    low, high = int(np.floor(min_prop * n)), int(np.floor(max_prop * n))
    return max(low, 1), min(high, n - 1)


def standardisation(
    scores: np.ndarray, m_low: int, m_high: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m``, ``E_m`` and ``√V_m`` for every low-group size in ``[m_low, m_high]``.

    Parameters
    ----------
    scores
        Log-rank scores (:func:`logrank_scores`), one per sample.
    m_low, m_high
        The candidate range (:func:`candidate_range`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(m, expectation, sd)``, each of length ``m_high − m_low + 1``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.size
    m = np.arange(m_low, m_high + 1, dtype=np.float64)
    total, total_sq = scores.sum(), (scores**2).sum()
    expectation = m / n * total
    variance = m * (n - m) / (n**2 * (n - 1)) * (n * total_sq - total**2)
    return m, expectation, np.sqrt(np.clip(variance, 0.0, None))


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
        m at the maximum (0 where there is no candidate).
    deviation
        S_m − E_m at the maximum (> 0: the low group fails earlier).
    n_candidates
        Number of candidate cutpoints per gene.
    t_sum, t3_sum
        Σ t_k and Σ t_k³ over consecutive candidates (for the Lausen–Schumacher 1994 bound),
        ``t_k = √(1 − m_k(N − m_{k+1}) / ((N − m_k) m_{k+1}))``.
    candidates
        Which low-group sizes ``m_low..m_high`` are candidates, per gene, bit-packed along
        the second axis (``numpy.packbits``); all ones for a gene without tied values in the
        range. The permutation null of M depends only on this set.
    m_low, m_high
        The candidate range of low-group sizes.
    """

    statistic: np.ndarray
    cutpoint: np.ndarray
    n_low: np.ndarray
    deviation: np.ndarray
    n_candidates: np.ndarray
    t_sum: np.ndarray
    t3_sum: np.ndarray
    candidates: np.ndarray
    m_low: int
    m_high: int

    @property
    def n_range(self) -> int:
        """Number of low-group sizes in the candidate range."""
        return self.m_high - self.m_low + 1

    @property
    def tie_free(self) -> np.ndarray:
        """Genes whose every size in the range is a candidate (no tied values there)."""
        return self.n_candidates == self.n_range

    def candidate_mask(self, gene: int) -> np.ndarray:
        """Boolean candidate mask over ``m_low..m_high`` of one gene."""
        return np.unpackbits(self.candidates[gene], count=self.n_range).astype(bool)


def _check_matrix(expression: np.ndarray) -> np.ndarray:
    expression = np.asarray(expression)
    if expression.ndim != 2:
        raise InputError(
            "expression must be a samples × genes matrix",
            seen=f"{expression.ndim} dimensions",
            fix="pass a 2-D array",
        )
    if not np.issubdtype(expression.dtype, np.floating):
        expression = expression.astype(np.float64)
    if np.isnan(expression).any():
        raise InputError(
            "the cutpoint scan needs complete expression values",
            seen=f"{int(np.isnan(expression).sum())} missing values",
            fix="impute missing values first (preprocess stage)",
        )
    return expression


def genes_by_row(expression: np.ndarray) -> np.ndarray:
    """Genes × samples, C-contiguous, in float32 when that is exact, else float64.

    Sorting float32 orders and ties float32-representable values exactly as float64 does.
    """
    rows = np.ascontiguousarray(np.asarray(expression).T)
    if rows.dtype == np.float32:
        return rows
    rows = rows.astype(np.float64, copy=False)
    single = rows.astype(np.float32)
    with np.errstate(invalid="ignore"):
        exact = np.array_equal(single, rows)
    return single if exact else rows


def default_threads() -> int:
    """Worker threads for the vectorised survival kernels: the CPUs this process may use.

    Capped at 8 (the kernels are memory-bound beyond that); under SLURM the affinity mask is
    the job's allocation.
    """
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    return max(1, min(8, available))


def maxstat_scan(
    expression: np.ndarray,
    scores: np.ndarray,
    *,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
    block_size: int = 1024,
    threads: int | None = None,
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
        Genes processed at once (memory is about 4 × N × block_size × 8 bytes per thread).
    threads
        Worker threads (default: :func:`default_threads`).

    Returns
    -------
    MaxstatScan
        Per-gene maximum and where it is reached.
    """
    return maxstat_scan_rows(
        genes_by_row(_check_matrix(expression)),
        scores,
        min_prop=min_prop,
        max_prop=max_prop,
        block_size=block_size,
        threads=threads,
    )


def maxstat_scan_rows(
    rows: np.ndarray,
    scores: np.ndarray,
    *,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
    block_size: int = 1024,
    threads: int | None = None,
) -> MaxstatScan:
    """:func:`maxstat_scan` on genes × samples rows (:func:`genes_by_row`), complete values."""
    n_genes, n = rows.shape
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n,):
        raise InputError(
            "one log-rank score per sample is needed",
            seen=f"{scores.size} scores for {n} samples",
            fix="compute the scores on the same samples as the expression",
        )
    m_low, m_high = candidate_range(n, min_prop, max_prop)
    if m_high < m_low:
        raise InputError(
            "too few samples for a cutpoint between min_prop and max_prop",
            seen=f"{n} samples, min_prop={min_prop}, max_prop={max_prop}",
            fix="use more samples or a wider proportion range",
        )
    m, expectation, sd = standardisation(scores, m_low, m_high)
    n_range = m.size
    t_full = _t_values(m, n)
    out = {
        "statistic": np.full(n_genes, np.nan),
        "cutpoint": np.full(n_genes, np.nan),
        "n_low": np.zeros(n_genes, dtype=np.int64),
        "deviation": np.full(n_genes, np.nan),
        "n_candidates": np.zeros(n_genes, dtype=np.int64),
        "t_sum": np.zeros(n_genes),
        "t3_sum": np.zeros(n_genes),
        "candidates": np.zeros((n_genes, (n_range + 7) // 8), dtype=np.uint8),
    }
    usable_sd = sd > 0
    safe_sd = np.where(usable_sd, sd, 1.0)

    def run(start: int) -> None:
        index = slice(start, min(start + block_size, n_genes))
        block = rows[index]
        order = np.argsort(block, axis=1)
        sorted_x = np.take_along_axis(block, order[:, m_low - 1 : m_high + 1], axis=1)
        partial = np.cumsum(scores[order[:, :m_high]], axis=1)[:, m_low - 1 :]
        deviation = partial - expectation
        valid = (sorted_x[:, :-1] < sorted_x[:, 1:]) & usable_sd
        standardised = np.where(valid, np.abs(deviation) / safe_sd, -np.inf)
        best = np.argmax(standardised, axis=1)
        genes = np.arange(block.shape[0])
        has_candidate = valid[genes, best]
        out["statistic"][index] = np.where(has_candidate, standardised[genes, best], np.nan)
        out["cutpoint"][index] = np.where(has_candidate, sorted_x[genes, best], np.nan)
        out["n_low"][index] = np.where(has_candidate, best + m_low, 0)
        out["deviation"][index] = np.where(has_candidate, deviation[genes, best], np.nan)
        count = valid.sum(axis=1)
        out["n_candidates"][index] = count
        out["candidates"][index] = np.packbits(valid, axis=1)
        t_sum = np.full(block.shape[0], t_full.sum())
        t3_sum = np.full(block.shape[0], (t_full**3).sum())
        tied = np.flatnonzero(count < n_range)
        if tied.size:
            t_sum[tied], t3_sum[tied] = _t_sums(valid[tied], m, n)
        out["t_sum"][index] = t_sum
        out["t3_sum"][index] = t3_sum

    starts = range(0, n_genes, block_size)
    workers = threads or default_threads()
    if workers > 1 and n_genes > block_size:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, starts))
    else:
        for start in starts:
            run(start)
    return MaxstatScan(**out, m_low=m_low, m_high=m_high)


def _t_values(m: np.ndarray, n: int) -> np.ndarray:
    """t_k between consecutive low-group sizes ``m`` (Lausen & Schumacher 1994)."""
    m1, m2 = m[:-1], m[1:]
    return np.sqrt(np.clip(1.0 - m1 * (n - m2) / ((n - m1) * m2), 0.0, None))


def _t_sums(valid: np.ndarray, m: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ t_k and Σ t_k³ over consecutive candidates, per row of a candidate mask."""
    row, column = np.nonzero(valid)
    same_row = row[:-1] == row[1:]
    m1, m2 = m[column[:-1]][same_row], m[column[1:]][same_row]
    t = np.sqrt(np.clip(1.0 - m1 * (n - m2) / ((n - m1) * m2), 0.0, None))
    owner = row[:-1][same_row]
    rows = valid.shape[0]
    return (
        np.bincount(owner, weights=t, minlength=rows),
        np.bincount(owner, weights=t**3, minlength=rows),
    )


@dataclass(frozen=True)
class MaxstatProfile:
    """The standardised statistic at every candidate cutpoint of one gene.

    Attributes
    ----------
    cutpoint
        Candidate cutpoints x_(m), ascending.
    n_low
        Low-group size m at each.
    statistic
        ``|S_m − E_m| / √V_m`` at each.
    """

    cutpoint: np.ndarray
    n_low: np.ndarray
    statistic: np.ndarray


def maxstat_profile(
    values: np.ndarray, scores: np.ndarray, *, min_prop: float = 0.1, max_prop: float = 0.9
) -> MaxstatProfile:
    """The standardised log-rank statistic over the candidate cutpoints of one gene.

    Parameters
    ----------
    values
        One gene's expression, one value per sample.
    scores
        Log-rank scores of the outcome.
    min_prop, max_prop
        Candidate range, as in :func:`maxstat_scan`.

    Returns
    -------
    MaxstatProfile
        Cutpoints, low-group sizes and statistics (the maximum is :func:`maxstat_scan`'s M).
    """
    values = np.asarray(values, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    n = values.size
    m_low, m_high = candidate_range(n, min_prop, max_prop)
    m, expectation, sd = standardisation(scores, m_low, m_high)
    order = np.argsort(values, kind="stable")
    sorted_x = values[order]
    partial = np.cumsum(scores[order])[m_low - 1 : m_high]
    valid = (sorted_x[m_low - 1 : m_high] < sorted_x[m_low : m_high + 1]) & (sd > 0)
    statistic = np.abs(partial - expectation)[valid] / sd[valid]
    return MaxstatProfile(
        cutpoint=sorted_x[m_low - 1 : m_high][valid],
        n_low=m[valid].astype(np.int64),
        statistic=statistic,
    )

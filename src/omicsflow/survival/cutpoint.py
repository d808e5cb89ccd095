"""Maximally selected cutpoints with p-values corrected for the search over cutpoints.

For every gene, :func:`scan_cutpoints` finds the expression threshold that best separates
survival (the maximally selected log-rank statistic, :mod:`omicsflow.survival.logrank`), and
reports p-values corrected for having searched: Lausen & Schumacher 1994 (``p_value``, the
default), their 1992 approximation (``p_lau92``) and the conditional Monte Carlo permutation
p-value (``p_perm``, :mod:`omicsflow.survival.permutation`); Benjamini–Hochberg q-values
across genes; and, at the chosen cutpoint, the classical log-rank test and the Cox hazard
ratio of high vs low expression (:mod:`omicsflow.survival.groups`, vectorised over genes).
Bootstrap stability (:mod:`omicsflow.survival.bootstrap`) fills the cutpoint interval and the
selection frequency.

Alternatively (EpiMed's activation threshold) every gene's cutpoint is fixed in advance, e.g.
mean + 2 SD of reference (normal) samples (:func:`reference_cutpoints`): nothing is searched,
so the p-value is the plain two-sided normal one, ``2Φ(−|Z|)`` (Lausen–Schumacher 1994 with
a single candidate), and ``p_perm`` is the permutation p-value at that cutpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from omicsflow.errors import InputError
from omicsflow.survival.groups import two_group_tests
from omicsflow.survival.logrank import (
    _check_matrix,
    genes_by_row,
    logrank_scores,
    maxstat_scan_rows,
    standardisation,
)
from omicsflow.survival.metrics import as_survival
from omicsflow.survival.permutation import permutation_null, permutation_pvalues

if TYPE_CHECKING:
    from omicsflow.survival.bootstrap import Stability

__all__ = [
    "CUTPOINT_COLUMNS",
    "PERMUTATION_STREAM",
    "benjamini_hochberg",
    "fixed_statistics",
    "p_lausen92",
    "p_lausen94",
    "reference_cutpoints",
    "scan_cutpoints",
]

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
    "p_perm",
    "q_value",
    "logrank_chi2",
    "logrank_p",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
    "cut_ci_low",
    "cut_ci_high",
    "selection_frequency",
)

# Independent random stream of config["seed"] for the permutation p-values.
PERMUTATION_STREAM = 1


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


def _direction(deviation: np.ndarray) -> np.ndarray:
    """S_m − E_m > 0: the low group has more early events, so low expression is the risk.

    Genes without a cutpoint (NaN deviation) get an empty direction.
    """
    direction = np.where(deviation > 0, "high_risk_below", "high_risk_above")
    return np.where(np.isnan(deviation), "", direction)


def reference_cutpoints(
    expression: pd.DataFrame, reference: np.ndarray, *, n_sd: float = 2.0
) -> pd.Series:
    """EpiMed activation thresholds: mean + ``n_sd`` SD of the reference samples per gene.

    Parameters
    ----------
    expression
        samples × genes.
    reference
        Boolean mask of the reference (e.g. normal tissue) samples.
    n_sd
        Number of standard deviations (sample SD, ddof = 1) above the reference mean.

    Returns
    -------
    pandas.Series
        Cutpoint per gene; a gene is *activated* above it.
    """
    reference = np.asarray(reference, dtype=bool)
    if reference.shape != (expression.shape[0],):
        raise InputError(
            "one reference flag per sample is needed",
            seen=f"{reference.size} flags for {expression.shape[0]} samples",
            fix="pass a boolean mask over the expression rows",
        )
    if reference.sum() < 2:
        raise InputError(
            "activation thresholds need at least 2 reference samples",
            seen=f"{int(reference.sum())} reference samples",
            fix="check biomarkers.reference (column and value marking normal samples)",
        )
    values = expression.to_numpy(dtype=np.float64)[reference]
    cut = values.mean(axis=0) + n_sd * values.std(axis=0, ddof=1)
    return pd.Series(cut, index=expression.columns.astype(str), name="cutpoint")


def scan_cutpoints(
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
    permutations: int = 10_000,
    seed: int = 0,
    max_tie_patterns: int | None = None,
    stability: Stability | None = None,
    cutpoints: pd.Series | None = None,
) -> pd.DataFrame:
    """Find every gene's maximally selected cutpoint and its corrected p-values.

    Parameters
    ----------
    expression
        samples × genes, complete (impute first).
    time, event
        Survival outcome, one per sample (same order as ``expression``).
    min_prop, max_prop
        Candidate cutpoints leave at least ``min_prop`` and at most ``max_prop`` of the
        samples in the low group (``x <= cutpoint``).
    permutations
        B for the permutation p-values (0: none, ``p_perm`` is NaN).
    seed
        ``config["seed"]``; the permutations use their own stream of it.
    max_tie_patterns
        Cap on the distinct tie patterns given permutation p-values (``None``: all).
    stability
        Bootstrap stability of the same genes (fills ``cut_ci_*`` and
        ``selection_frequency``; NaN without it).
    cutpoints
        Fixed cutpoints per gene (e.g. :func:`reference_cutpoints`) instead of the search.

    Returns
    -------
    pandas.DataFrame
        One row per gene with :data:`CUTPOINT_COLUMNS`, sorted by ``p_value`` (Lausen &
        Schumacher 1994) then by decreasing ``statistic``. ``cutpoint_percentile`` is the
        share of discovery samples at or below the cutpoint (``n_low / N``).
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
    genes = expression.columns.astype(str)
    n = time.size
    rows = genes_by_row(_check_matrix(expression.to_numpy()))
    scores = logrank_scores(time, event_bool)
    if cutpoints is None:
        found = _search(rows, scores, min_prop, max_prop, permutations, seed, max_tie_patterns)
    else:
        found = _fixed(rows, scores, genes, cutpoints, permutations, seed)
    table = pd.DataFrame(
        {
            "gene": genes,
            "cutpoint": found["cutpoint"],
            "cutpoint_percentile": found["n_low"] / n,
            "direction": _direction(found["deviation"]),
            "n_low": found["n_low"],
            "n_high": n - found["n_low"],
            "statistic": found["statistic"],
            "p_value": found["p_value"],
            "p_lau92": found["p_lau92"],
            "p_perm": found["p_perm"],
            "q_value": benjamini_hochberg(found["p_value"]),
        }
    )
    has_cut = np.isfinite(found["statistic"])
    tests = two_group_tests(rows[has_cut] > found["cutpoint"][has_cut, None], time, event_bool)
    for column, values in (
        ("events_low", tests.events_low),
        ("events_high", tests.events_high),
        ("logrank_chi2", tests.chi2),
        ("logrank_p", tests.p_value),
        ("hazard_ratio", tests.hazard_ratio),
        ("hr_ci_low", tests.ci_low),
        ("hr_ci_high", tests.ci_high),
    ):
        full = np.full(genes.size, np.nan)
        full[has_cut] = values
        table[column] = full
    _add_stability(table, stability)
    if (~has_cut).any():
        logger.warning(
            "%d genes have no candidate cutpoint (too few distinct values); their p-values "
            "are missing",
            int((~has_cut).sum()),
        )
    table = table.sort_values(["p_value", "statistic"], ascending=[True, False], kind="stable")
    return table.loc[:, list(CUTPOINT_COLUMNS)].reset_index(drop=True)


def _search(
    rows: np.ndarray,
    scores: np.ndarray,
    min_prop: float,
    max_prop: float,
    permutations: int,
    seed: int,
    max_tie_patterns: int | None,
) -> dict[str, np.ndarray]:
    scan = maxstat_scan_rows(rows, scores, min_prop=min_prop, max_prop=max_prop)
    if permutations > 0:
        null = permutation_null(
            scores,
            m_low=scan.m_low,
            m_high=scan.m_high,
            n_permutations=permutations,
            seed=_stream(seed, PERMUTATION_STREAM),
        )
        p_perm = permutation_pvalues(null, scan, max_tie_patterns=max_tie_patterns)
    else:
        p_perm = np.full(scan.statistic.size, np.nan)
    return {
        "cutpoint": scan.cutpoint,
        "n_low": scan.n_low,
        "deviation": scan.deviation,
        "statistic": scan.statistic,
        "p_value": p_lausen94(scan.statistic, scan.t_sum, scan.t3_sum),
        "p_lau92": p_lausen92(scan.statistic, min_prop, max_prop),
        "p_perm": p_perm,
    }


def _fixed(
    rows: np.ndarray,
    scores: np.ndarray,
    genes: pd.Index,
    cutpoints: pd.Series,
    permutations: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """The standardised statistic at given cutpoints: no search, plain normal p-value."""
    missing = genes.difference(cutpoints.index.astype(str))
    if len(missing):
        raise InputError(
            "fixed cutpoints are missing for some genes",
            column=", ".join(map(str, missing[:5])),
            seen=f"{len(missing)} genes without a cutpoint",
            fix="give one cutpoint per gene",
        )
    cut = cutpoints.reindex(genes).to_numpy(dtype=np.float64)
    statistic, n_low, deviation = fixed_statistics(rows, scores, cut)
    n = rows.shape[1]
    position = np.clip(n_low - 1, 0, n - 2)
    p_perm = np.full(genes.size, np.nan)
    if permutations > 0:
        null = permutation_null(
            scores,
            m_low=1,
            m_high=n - 1,
            n_permutations=permutations,
            seed=_stream(seed, PERMUTATION_STREAM),
        )
        finite = np.flatnonzero(np.isfinite(statistic))
        for m in np.unique(position[finite]):
            genes_at = finite[position[finite] == m]
            null_at = np.sort(null.z[:, m])
            threshold = statistic[genes_at] * (1.0 - 1e-9)
            exceed = permutations - np.searchsorted(null_at, threshold, side="left")
            p_perm[genes_at] = (1.0 + exceed) / (permutations + 1.0)
    usable = np.isfinite(statistic)
    return {
        "cutpoint": np.where(usable, cut, np.nan),
        "n_low": np.where(usable, n_low, 0),
        "deviation": deviation,
        "statistic": statistic,
        "p_value": 2.0 * stats.norm.sf(statistic),
        "p_lau92": np.full(genes.size, np.nan),
        "p_perm": p_perm,
    }


def fixed_statistics(
    rows: np.ndarray, scores: np.ndarray, cutpoint: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The standardised log-rank statistic of every gene at one given cutpoint.

    Parameters
    ----------
    rows
        genes × samples (:func:`~omicsflow.survival.logrank.genes_by_row`).
    scores
        Log-rank scores of the outcome.
    cutpoint
        One cutpoint per gene; the low group is ``x <= cutpoint``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(statistic, n_low, deviation)``: ``|S_m − E_m| / √V_m`` (NaN when a group is
        empty), the low-group size ``m`` and ``S_m − E_m``.
    """
    n = rows.shape[1]
    cast = cutpoint.astype(rows.dtype)
    cast = np.where(cast > cutpoint, np.nextafter(cast, -np.inf), cast)  # x <= cut exactly
    low = rows <= cast[:, None]
    n_low = low.sum(axis=1)
    usable = (n_low >= 1) & (n_low <= n - 1) & np.isfinite(cutpoint)
    _, expectation, sd = standardisation(scores, 1, n - 1)
    position = np.clip(n_low - 1, 0, n - 2)
    deviation = low.astype(np.float64) @ scores - expectation[position]
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(usable & (sd[position] > 0), np.abs(deviation) / sd[position], np.nan)
    return statistic, n_low, np.where(usable, deviation, np.nan)


def _stream(seed: int, stream: int) -> Sequence[int]:
    return [int(seed), stream]


def _add_stability(table: pd.DataFrame, stability: Stability | None) -> None:
    columns = ("cut_ci_low", "cut_ci_high", "selection_frequency")
    if stability is None:
        for column in columns:
            table[column] = np.nan
        return
    per_gene = stability.table().set_index("gene")
    unknown = pd.Index(table["gene"]).difference(per_gene.index)
    if len(unknown):
        raise InputError(
            "the bootstrap stability does not cover every gene",
            column=", ".join(map(str, unknown[:5])),
            seen=f"{len(unknown)} genes missing",
            fix="run the bootstrap on the same expression matrix",
        )
    for column in columns:
        table[column] = per_gene.loc[table["gene"], column].to_numpy()

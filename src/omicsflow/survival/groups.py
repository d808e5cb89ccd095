"""Two-group survival comparisons for many genes at once: log-rank test and binary Cox model.

Every gene splits the same patients into a high and a low group (its own cutpoint). Both the
classical log-rank test (R ``survival::survdiff``, lifelines ``logrank_test``) and the Cox
model with the group as its only covariate (Efron ties, as R ``coxph`` and lifelines
``CoxPHFitter``) depend on the data only through, at each distinct event time, the numbers at
risk and the deaths in each group. Those counts come from cumulative sums over the
time-sorted samples for all genes together; the one-parameter Cox likelihood is then
maximised by a safeguarded Newton–Raphson iteration vectorised over genes.

For the binary covariate, with ``w = e^β`` and, for the ``l``-th of the ``d`` deaths tied at
an event time (Efron fraction ``f = l/d``), ``A = n₀ − f d₀`` and ``B = n₁ − f d₁``:
``U(β) = D₁ − Σ w B / (A + w B)`` and ``I(β) = Σ p (1 − p)`` with ``p = w B / (A + w B)``.
``U`` decreases in β, so a bracket keeps Newton's steps safe. The estimate is infinite
exactly when no event row can be won by the other group (``D₁`` equals the number of event
rows with ``n₁ > 0``: β = +∞; ``D₁`` equals the number with ``n₀ = 0``: β = −∞); those genes get
a hazard ratio of ``inf`` or ``0`` and no interval.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from omicsflow.survival.logrank import default_threads
from omicsflow.survival.metrics import Z_975, as_survival

__all__ = ["TwoGroupTests", "two_group_tests"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TwoGroupTests:
    """Log-rank test and Cox hazard ratio of high vs low, one entry per gene.

    Attributes
    ----------
    n_high, events_high, events_low
        Group size and events.
    chi2, p_value
        Classical log-rank χ² (1 df) and its p-value.
    observed, expected, variance
        Observed and expected events of the high group, and the variance of their difference.
    coef, se
        Cox log hazard ratio (high vs low) and its standard error (NaN when infinite).
    hazard_ratio, ci_low, ci_high
        exp(coef) with its 95% Wald interval.
    converged
        Whether Newton–Raphson met the tolerance (infinite estimates count as converged).
    """

    n_high: np.ndarray
    events_high: np.ndarray
    events_low: np.ndarray
    chi2: np.ndarray
    p_value: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    coef: np.ndarray
    se: np.ndarray
    hazard_ratio: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    converged: np.ndarray


@dataclass(frozen=True)
class _EventTimes:
    order: np.ndarray  # samples sorted by time
    first: np.ndarray  # per distinct event time: sorted position of the first sample at risk
    at_risk: np.ndarray  # n_j
    deaths: np.ndarray  # d_j
    event_positions: np.ndarray  # sorted positions of the events, grouped by event time
    group_start: np.ndarray  # start of each event time's group within event_positions
    tied_time: np.ndarray  # Efron rows l = 1..d_j − 1 of tied deaths: their event time
    tied_fraction: np.ndarray  # and their fraction l / d_j (row l = 0 has fraction 0)


def _event_times(time: np.ndarray, event: np.ndarray) -> _EventTimes:
    order = np.argsort(time, kind="stable")
    sorted_time, sorted_event = time[order], event[order]
    event_positions = np.flatnonzero(sorted_event)
    event_time = sorted_time[event_positions]
    starts = np.flatnonzero(np.r_[True, event_time[1:] != event_time[:-1]])
    distinct = event_time[starts]
    first = np.searchsorted(sorted_time, distinct, side="left")
    deaths = np.diff(np.r_[starts, event_positions.size])
    row_time = np.repeat(np.arange(distinct.size), deaths)
    rank_in_group = np.arange(event_positions.size) - starts[row_time]
    tied = rank_in_group > 0
    return _EventTimes(
        order=order,
        first=first,
        at_risk=(time.size - first).astype(np.float64),
        deaths=deaths.astype(np.float64),
        event_positions=event_positions,
        group_start=starts,
        tied_time=row_time[tied],
        tied_fraction=rank_in_group[tied] / deaths[row_time[tied]],
    )


def two_group_tests(
    high: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    block_size: int = 1024,
    max_iter: int = 100,
    tol: float = 1e-11,
    threads: int | None = None,
) -> TwoGroupTests:
    """Log-rank test and Cox hazard ratio of high vs low for every gene.

    Parameters
    ----------
    high
        genes × samples boolean: whether each sample is in the gene's high group.
    time, event
        Survival outcome, one per sample.
    block_size
        Genes processed at once.
    max_iter, tol
        Newton–Raphson limits (stop when every step is below ``tol`` in β).
    threads
        Worker threads over blocks of genes (default: the CPUs available, at most 8).

    Returns
    -------
    TwoGroupTests
        Per-gene tests; equal to :func:`omicsflow.survival.metrics.logrank_test` and
        :func:`~omicsflow.survival.metrics.cox_fit` on each gene (checked in the tests).
    """
    time, event = as_survival(time, event)
    high = np.atleast_2d(np.asarray(high, dtype=bool))
    times = _event_times(time, event)

    def run(start: int) -> dict[str, np.ndarray]:
        return _block(high[start : start + block_size], event, times, max_iter=max_iter, tol=tol)

    starts = range(0, high.shape[0], block_size)
    workers = threads or default_threads()
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(start) for start in starts]
    fields = TwoGroupTests.__dataclass_fields__
    merged = {
        name: np.concatenate([part[name] for part in parts]) if parts else np.empty(0)
        for name in fields
    }
    result = TwoGroupTests(**merged)
    infinite = ~np.isfinite(result.coef)
    if infinite.any():
        logger.warning(
            "%d genes have an infinite Cox estimate (no events left to one group); their "
            "hazard ratio is reported as 0 or inf without an interval",
            int(infinite.sum()),
        )
    if not result.converged.all():
        logger.warning(
            "Cox Newton–Raphson did not converge for %d genes", int((~result.converged).sum())
        )
    return result


def _block(
    high: np.ndarray, event: np.ndarray, times: _EventTimes, *, max_iter: int, tol: float
) -> dict[str, np.ndarray]:
    n_genes = high.shape[0]
    sorted_high = high[:, times.order]
    before = np.zeros((n_genes, sorted_high.shape[1] + 1), dtype=np.int32)
    np.cumsum(sorted_high, axis=1, out=before[:, 1:])
    n_high = before[:, -1].astype(np.int64)
    # Numbers at risk and deaths of the high group at each distinct event time.
    at_risk_1 = (n_high[:, None] - before[:, times.first]).astype(np.float64)
    del before
    at_event = sorted_high[:, times.event_positions]
    if times.group_start.size == times.event_positions.size:  # no tied event times
        deaths_1 = at_event.astype(np.float64)
    elif times.event_positions.size:
        deaths_1 = np.add.reduceat(at_event, times.group_start, axis=1, dtype=np.float64)
    else:
        deaths_1 = np.zeros((n_genes, 0))
    at_risk, deaths = times.at_risk, times.deaths
    share = at_risk_1 / at_risk
    observed = deaths_1.sum(axis=1)
    expected = share @ deaths
    with np.errstate(divide="ignore", invalid="ignore"):
        correction = np.where(at_risk > 1, (at_risk - deaths) / (at_risk - 1), 0.0)
    variance = (share * (1.0 - share)) @ (deaths * correction)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(variance > 0, (observed - expected) ** 2 / variance, 0.0)
    events_total = float(event.sum())
    cox = _binary_cox(
        at_risk_1,
        deaths_1,
        observed,
        observed - expected,
        variance,
        times,
        max_iter=max_iter,
        tol=tol,
    )
    return {
        "n_high": n_high,
        "events_high": observed.astype(np.int64),
        "events_low": (events_total - observed).astype(np.int64),
        "chi2": chi2,
        "p_value": stats.chi2.sf(chi2, 1),
        "observed": observed,
        "expected": expected,
        "variance": variance,
        **cox,
    }


def _binary_cox(
    at_risk_1: np.ndarray,
    deaths_1: np.ndarray,
    observed: np.ndarray,
    start: np.ndarray,
    variance: np.ndarray,
    times: _EventTimes,
    *,
    max_iter: int,
    tol: float,
) -> dict[str, np.ndarray]:
    """Efron partial-likelihood Cox fit of one binary covariate, vectorised over genes.

    ``start / variance`` (log-rank O − E over its variance) is the first Newton iterate.
    """
    n_genes = at_risk_1.shape[0]
    n1 = at_risk_1
    n0 = times.at_risk - n1
    # β = ±inf exactly when D₁ equals the number of Efron rows the high group can win
    # (rows with n₁ > 0), or the number it wins even at β = −∞ (rows with n₀ = 0). At-risk
    # counts only fall with time, so those rows are a leading (n₁ > 0) or trailing (n₀ = 0)
    # run of event times, and their deaths are a cumulative sum.
    cumulative = np.r_[0.0, np.cumsum(times.deaths)]
    rows_high = cumulative[(n1 > 0).sum(axis=1)]
    rows_only_high = cumulative[-1] - cumulative[n1.shape[1] - (n0 == 0).sum(axis=1)]
    plus_inf = observed == rows_high
    minus_inf = observed == rows_only_high
    finite = ~(plus_inf | minus_inf)
    # p = wB / (A + wB) = 1 / (1 + (A/B) e^{-β}) per Efron row; A/B = inf where B = 0.
    # Row l = 0 of every event time has A = n₀, B = n₁; tied rows l > 0 subtract f·deaths.
    with np.errstate(divide="ignore"):
        ratio = n0 / n1
        if times.tied_time.size:
            f = times.tied_fraction
            d1 = deaths_1[:, times.tied_time]
            d0 = times.deaths[times.tied_time] - d1
            ratio = np.hstack(
                [ratio, (n0[:, times.tied_time] - f * d0) / (n1[:, times.tied_time] - f * d1)]
            )
    del n0
    # Start from the one-step (log-rank) estimate (O − E) / V.
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(finite & (variance > 0), np.clip(start / variance, -5.0, 5.0), 0.0)
    lower = np.full(n_genes, -np.inf)
    upper = np.full(n_genes, np.inf)
    information = np.zeros(n_genes)
    active = finite.copy()
    for _ in range(max_iter + 1):
        index = np.flatnonzero(active)
        if not index.size:
            break
        current = beta[index]
        score, info = _score_information(
            ratio if index.size == n_genes else ratio[index], current, observed[index]
        )
        information[index] = info
        low = np.where(score > 0, np.maximum(lower[index], current), lower[index])
        up = np.where(score < 0, np.minimum(upper[index], current), upper[index])
        lower[index], upper[index] = low, up
        with np.errstate(divide="ignore", invalid="ignore"):
            proposal = current + np.clip(score / info, -5.0, 5.0)
        outside = (proposal <= low) | (proposal >= up) | ~np.isfinite(proposal)
        proposal = np.where(outside, 0.5 * (low + up), proposal)
        moved = np.abs(proposal - current)
        # Converged genes keep the β at which the score and information were evaluated.
        done = moved <= tol
        beta[index] = np.where(done, current, proposal)
        active[index] = ~done
    converged = ~active
    beta = np.where(plus_inf, np.inf, np.where(minus_inf, -np.inf, beta))
    beta = np.where(plus_inf & minus_inf, np.nan, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(finite, 1.0 / np.sqrt(information), np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "coef": beta,
            "se": se,
            "hazard_ratio": np.exp(beta),
            "ci_low": np.exp(beta - Z_975 * se),
            "ci_high": np.exp(beta + Z_975 * se),
            "converged": converged,
        }


def _score_information(
    ratio: np.ndarray, beta: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Score U(β) and information I(β) per gene from the A/B ratios of its event rows."""
    p = ratio * np.exp(-beta)[:, None]
    p += 1.0
    np.reciprocal(p, out=p)
    total = p.sum(axis=1)
    np.square(p, out=p)
    return observed - total, total - p.sum(axis=1)

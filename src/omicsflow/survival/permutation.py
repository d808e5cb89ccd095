"""Conditional Monte Carlo (permutation) p-values of the maximally selected log-rank statistic.

Given the outcome, M of a gene depends only on which samples fall in its low groups, that is on
the ranks of its expression values and on which low-group sizes ``m`` are candidates (sizes
inside a run of tied values are not). Permuting the expression values over the samples is the
same as permuting the log-rank scores, so one set of ``B`` permuted score vectors serves every
gene: for permutation ``b`` and size ``m``, ``Z_bm = |S_bm − E_m| / √V_m`` with ``S_bm`` the sum
of the first ``m`` permuted scores. A gene's null statistic is the maximum of ``Z_b·`` over its
candidate sizes:

* genes without tied values in the range share one null (the maximum over all sizes), so
  B = 10,000 permutations cost one B × N cumulative sum for the whole genome;
* a gene with ties gets the null of its own candidate set from the same permutations (an
  exact conditional Monte Carlo test for that gene). Most permutations reach their overall
  maximum at a size the gene also has, so only the others are re-maximised over the gene's
  candidates; genes sharing a candidate set share the work. ``max_tie_patterns`` caps the
  number of distinct candidate sets evaluated (most significant genes first); genes beyond the
  cap get no permutation p-value (NaN, with a warning).

The p-value is ``(1 + #{b: M_b ≥ M}) / (B + 1)`` (never zero; Phipson & Smyth 2010), with a
relative tolerance of 1e-9 for ``≥`` so that rounding never hides an exact tie of M.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from omicsflow.errors import InputError
from omicsflow.survival.logrank import MaxstatScan, default_threads, standardisation

__all__ = ["PermutationNull", "permutation_null", "permutation_pvalues"]

logger = logging.getLogger(__name__)

_TOLERANCE = 1e-9
_CHUNK = 1000


@dataclass(frozen=True)
class PermutationNull:
    """Standardised statistics of permuted scores at every candidate size.

    Attributes
    ----------
    z
        B × K: ``|S_bm − E_m| / √V_m`` for permutation ``b`` and size ``m = m_low + k``.
    maximum, argmax
        Per permutation, the maximum of ``z`` over all K sizes and where it is reached.
    m_low, m_high
        The range of sizes.
    """

    z: np.ndarray
    maximum: np.ndarray
    argmax: np.ndarray
    m_low: int
    m_high: int

    @property
    def n_permutations(self) -> int:
        """B, the number of permutations."""
        return int(self.maximum.size)


def permutation_null(
    scores: np.ndarray,
    *,
    m_low: int,
    m_high: int,
    n_permutations: int = 10_000,
    seed: int | Sequence[int] = 0,
    threads: int | None = None,
) -> PermutationNull:
    """Draw ``n_permutations`` permutations of the scores and standardise their partial sums.

    Parameters
    ----------
    scores
        Log-rank scores of the outcome.
    m_low, m_high
        Range of low-group sizes (as in the scan).
    n_permutations
        B.
    seed
        Seed of the permutations (from ``config["seed"]``).
    threads
        Worker threads for the cumulative sums (default: the CPUs available, at most 8).

    Returns
    -------
    PermutationNull
        The B × K standardised statistics with their row maxima.
    """
    if n_permutations < 1:
        raise InputError(
            "the number of permutations must be at least 1",
            seen=n_permutations,
            fix="set biomarkers.permutations (0 switches permutation p-values off)",
        )
    scores = np.asarray(scores, dtype=np.float64)
    _, expectation, sd = standardisation(scores, m_low, m_high)
    safe_sd = np.where(sd > 0, sd, np.inf)
    z = np.empty((n_permutations, m_high - m_low + 1))
    rng = np.random.default_rng(seed)
    chunks = []
    for start in range(0, n_permutations, _CHUNK):
        rows = min(_CHUNK, n_permutations - start)
        permuted = np.tile(scores, (rows, 1))
        rng.permuted(permuted, axis=1, out=permuted)
        chunks.append((start, permuted))

    def standardise(chunk: tuple[int, np.ndarray]) -> None:
        start, permuted = chunk
        partial = np.cumsum(permuted[:, :m_high], axis=1)[:, m_low - 1 :]
        partial -= expectation
        np.abs(partial, out=partial)
        partial /= safe_sd
        z[start : start + partial.shape[0]] = partial

    with ThreadPoolExecutor(threads or default_threads()) as pool:
        for done, _ in enumerate(pool.map(standardise, chunks), start=1):
            if done % 5 == 0 or done == len(chunks):
                logger.info(
                    "permutations: %d/%d", min(done * _CHUNK, n_permutations), n_permutations
                )
    return PermutationNull(
        z=z, maximum=z.max(axis=1), argmax=z.argmax(axis=1), m_low=m_low, m_high=m_high
    )


def _count_at_least(null: np.ndarray, statistic: np.ndarray) -> np.ndarray:
    """#{b: null_b ≥ statistic} for each statistic, with a relative tolerance."""
    finite = np.isfinite(statistic)
    safe = np.where(finite, statistic, 0.0)
    threshold = np.where(finite, safe - _TOLERANCE * np.maximum(1.0, np.abs(safe)), np.inf)
    if statistic.size <= 8:
        return (null[None, :] >= threshold.ravel()[:, None]).sum(axis=1).reshape(statistic.shape)
    ordered = np.sort(null)
    return null.size - np.searchsorted(ordered, threshold, side="left")


def permutation_pvalues(
    null: PermutationNull,
    scan: MaxstatScan,
    statistic: np.ndarray | None = None,
    *,
    max_tie_patterns: int | None = None,
) -> np.ndarray:
    """Permutation p-values of every gene's M.

    Parameters
    ----------
    null
        Permuted statistics (:func:`permutation_null`) on the scan's candidate range.
    scan
        The scan, for each gene's candidate set (and its M unless ``statistic`` is given).
    statistic
        Observed statistics to test, genes (or replicates × genes) sharing the scan's
        candidate sets, e.g. the same genes with permuted outcomes; default ``scan.statistic``.
    max_tie_patterns
        Cap on the distinct candidate sets of tied genes evaluated (``None``: all).

    Returns
    -------
    numpy.ndarray
        ``(1 + #{b: M_b ≥ M}) / (B + 1)``, shaped like ``statistic``; NaN where M is NaN or
        the gene's candidate set was beyond the cap.
    """
    if (null.m_low, null.m_high) != (scan.m_low, scan.m_high):
        raise InputError(
            "the permutation null and the scan use different candidate ranges",
            seen=f"{(null.m_low, null.m_high)} vs {(scan.m_low, scan.m_high)}",
            fix="build the null with the scan's m_low and m_high",
        )
    observed = np.asarray(scan.statistic if statistic is None else statistic, dtype=np.float64)
    matrix = np.atleast_2d(observed)
    b = null.n_permutations
    p = np.full(matrix.shape, np.nan)
    tie_free = scan.tie_free
    finite = np.isfinite(matrix)
    columns = np.flatnonzero(tie_free)
    if columns.size:
        counts = _count_at_least(null.maximum, np.where(finite, matrix, np.inf)[:, columns])
        p[:, columns] = (1.0 + counts) / (b + 1.0)
    tied = np.flatnonzero(~tie_free & (scan.n_candidates > 0))
    if tied.size:
        _tied_pvalues(null, scan, matrix, tied, p, max_tie_patterns)
    p[~finite] = np.nan
    return p.reshape(observed.shape)


def _tied_pvalues(
    null: PermutationNull,
    scan: MaxstatScan,
    matrix: np.ndarray,
    tied: np.ndarray,
    p: np.ndarray,
    max_tie_patterns: int | None,
) -> None:
    patterns, inverse = np.unique(scan.candidates[tied], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    # Most significant pattern first: the largest M (over replicates) of its genes.
    strongest = np.full(patterns.shape[0], -np.inf)
    np.maximum.at(strongest, inverse, np.nan_to_num(matrix[:, tied], nan=-np.inf).max(axis=0))
    order = np.argsort(-strongest, kind="stable")
    cap = len(order) if max_tie_patterns is None else min(max_tie_patterns, len(order))
    if cap < len(order):
        skipped = np.isin(inverse, order[cap:]).sum()
        logger.warning(
            "%d genes with tied values (%d distinct candidate sets beyond the cap of %d) get no "
            "permutation p-value; raise biomarkers.max_tie_patterns to include them",
            int(skipped),
            len(order) - cap,
            cap,
        )
    b = null.n_permutations
    members = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[members], np.arange(patterns.shape[0] + 1))
    for done, pattern in enumerate(order[:cap], start=1):
        genes = tied[members[bounds[pattern] : bounds[pattern + 1]]]
        mask = np.unpackbits(patterns[pattern], count=null.z.shape[1]).astype(bool)
        observed = matrix[:, genes]
        lowest = np.nanmin(observed) if np.isfinite(observed).any() else np.inf
        # null_b over the gene's candidates equals the overall maximum when that is reached
        # at one of them; otherwise re-maximise, but only where it could still reach M.
        recheck = np.flatnonzero(
            ~mask[null.argmax]
            & (null.maximum >= lowest - _TOLERANCE * max(1.0, abs(float(lowest))))
        )
        pattern_null = null.maximum.copy()
        if recheck.size:
            positions = np.flatnonzero(mask)
            pattern_null[recheck] = null.z[np.ix_(recheck, positions)].max(axis=1)
        counts = _count_at_least(pattern_null, np.where(np.isfinite(observed), observed, np.inf))
        p[:, genes] = (1.0 + counts) / (b + 1.0)
        if done % 2000 == 0 or done == cap:
            logger.info("permutation p-values of tied genes: %d/%d candidate sets", done, cap)

"""k-nearest-neighbour imputation with the semantics of R's ``impute::impute.knn``.

The definition (Troyanskaya et al. 2001, as coded in the Fortran routines ``misdis``,
``porder`` and ``misave`` of Bioconductor's *impute*, which this module reproduces):

* genes are the rows that get neighbours; the distance of gene *i* to gene *j* is the mean
  squared difference over the samples both observe (``1e10`` when they share none);
* a gene's neighbours are found among all genes that are not "mean-filled" (below): the
  ``k + 1`` smallest distances, ties going to the lower gene index, and the first of them is
  dropped (it is the gene itself, at distance 0 — unless an earlier gene is at distance 0 too,
  in which case, exactly as in R, that earlier gene is dropped and the gene itself stays in the
  list, where it contributes nothing to the cells it misses);
* a missing cell is the average of the neighbours' *observed* values in that sample (the
  ``k`` neighbours are fixed; neighbours missing the sample are skipped, not replaced); if none
  of them observes it, the cell gets the sample's mean over the non-mean-filled genes;
* genes missing more than ``floor(rowmax * n_samples)`` samples are "mean-filled": every
  missing cell gets that per-sample mean; a sample missing more than ``colmax * n_genes`` genes
  is an error.

Deliberate differences from R, none of which changes a result on valid input:

* R splits matrices of more than ``maxp`` (1500) genes into random two-means clusters and
  searches neighbours only inside a cluster (an approximation for speed). Here neighbours are
  always searched among *all* genes, exactly; :func:`neighbour_genes` makes that fast instead
  (float32 matrix products in symmetric blocks give certified lower bounds, and the few
  candidates per gene are re-ranked with exact float64 distances). No random seed is needed.
* A gene with no observed value is an error here (R silently fills it with sample means), and
  with ``k`` or more genes missing the neighbour list is shortened to the genes that exist
  (R reads past its work array).

Fitting stores, for every gene, the indices of its ``k`` neighbour genes and whether it is
mean-filled — no expression values. :meth:`KNNGeneImputer.transform` fills a cohort's missing
cells from those fixed neighbours using that cohort's own values in the same sample, so a
validation cohort is imputed with the discovery cohort's neighbour structure, unchanged.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from omicsflow.errors import InputError, first_items
from omicsflow.preprocess.checks import (
    check_frame,
    check_no_empty_samples,
    check_observed_genes,
    match_genes,
    numeric_values,
)

__all__ = ["SENTINEL_DISTANCE", "KNNGeneImputer", "neighbour_genes"]

logger = logging.getLogger(__name__)

SENTINEL_DISTANCE = 1e10
"""Distance of two genes that share no observed sample (``dismax`` in impute's ``misdis``)."""

_EXACT_BUDGET = 1 << 22  # float64 cells per block of exact distances (32 MB)
_U32 = 2.0**-24  # unit roundoff of float32


def _exact_distances(
    values: np.ndarray, observed: np.ndarray, rows: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Mean squared difference over co-observed samples, ``rows[b]`` vs ``candidates[b, :]``."""
    both = observed[rows][:, None, :] & observed[candidates]
    diff = np.where(both, values[rows][:, None, :] - values[candidates], 0.0)
    total = (diff * diff).sum(axis=2)
    count = both.sum(axis=2)
    return np.where(count > 0, total / np.maximum(count, 1), SENTINEL_DISTANCE)


def _exact_selection(
    values: np.ndarray,
    observed: np.ndarray,
    rows: np.ndarray,
    candidates: np.ndarray | None,
    m: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` nearest genes of each of ``rows`` among ``candidates`` (all genes if None).

    Returns the selected indices (ordered by distance, ties by index) and the ``m``-th exact
    distance of each row.
    """
    p, n = values.shape
    width = p if candidates is None else candidates.shape[1]
    block = max(1, _EXACT_BUDGET // max(1, width * n))
    selected = np.empty((rows.size, m), dtype=np.int64)
    upper = np.empty(rows.size, dtype=np.float64)
    for start in range(0, rows.size, block):
        part = rows[start : start + block]
        if candidates is None:
            cand = np.broadcast_to(np.arange(p), (part.size, p))
        else:
            cand = candidates[start : start + block]
        dist = _exact_distances(values, observed, part, cand)
        order = np.lexsort((cand, dist), axis=-1)[:, :m]
        selected[start : start + part.size] = np.take_along_axis(cand, order, axis=1)
        upper[start : start + part.size] = np.take_along_axis(dist, order[:, -1:], axis=1)[:, 0]
    return selected, upper


def _keep_smallest(
    best: np.ndarray, best_idx: np.ndarray, rows: slice, bounds: np.ndarray, col0: int
) -> None:
    """Merge a tile of lower bounds into the running ``c`` smallest of each row.

    Once every row holds ``c`` values, only tile entries below a row's current largest can
    enter; those few are gathered first, so the partial sort runs on narrow arrays.
    """
    c = best.shape[1]
    current, current_idx = best[rows], best_idx[rows]
    threshold = current.max(axis=1)
    if np.isinf(threshold).any():
        entries = bounds
        entry_idx = np.broadcast_to(np.arange(col0, col0 + bounds.shape[1]), bounds.shape)
    else:
        hit_row, hit_col = np.nonzero(bounds < threshold[:, None])
        if hit_row.size == 0:
            return
        counts = np.bincount(hit_row, minlength=current.shape[0])
        slot = np.arange(hit_row.size) - (np.cumsum(counts) - counts)[hit_row]
        entries = np.full((current.shape[0], counts.max()), np.inf, dtype=best.dtype)
        entry_idx = np.zeros(entries.shape, dtype=np.int64)
        entries[hit_row, slot] = bounds[hit_row, hit_col]
        entry_idx[hit_row, slot] = hit_col + col0
    merged = np.concatenate([current, entries], axis=1)
    part = np.argpartition(merged, c - 1, axis=1)[:, :c]
    best[rows] = np.take_along_axis(merged, part, axis=1)
    best_idx[rows] = np.take_along_axis(
        np.concatenate([current_idx, entry_idx], axis=1), part, axis=1
    )


def _factors(
    values: np.ndarray, observed: np.ndarray, shift: float, dtype: type
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``[x, x², m]``, ``[-2x, m, x²]``, ``m`` and row norms of ``x`` (zero where missing)."""
    centred = np.where(observed, values - shift, 0.0)
    squares = centred * centred
    norms = np.sqrt(squares.sum(axis=1)).astype(dtype)
    mask = observed.astype(dtype)
    left = np.concatenate([centred, squares, mask], axis=1).astype(dtype)
    right = np.concatenate([-2.0 * centred, mask, squares], axis=1).astype(dtype)
    return left, right, mask, norms


def _tile_bounds(
    left: np.ndarray,
    right: np.ndarray,
    mask_rows: np.ndarray,
    mask_cols: np.ndarray,
    norm_rows: np.ndarray,
    norm_cols: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """Certified lower bounds on the distances of a block of genes to another block.

    ``left @ right.T`` is the masked sum of squared differences and ``mask @ mask.T`` the
    co-observed count. In floating point with unit roundoff u, a sum of K products is off by at
    most about ``K u Σ|terms|``, and ``Σ|terms| ≤ (‖x_i‖ + ‖x_j‖)²``; ``gamma`` is twice
    ``K u`` (inputs rounded, the division, a margin), so the bound never exceeds the exact
    distance. Genes sharing no sample get the exact sentinel.
    """
    dtype = left.dtype.type
    total = left @ right.T
    count = mask_rows @ mask_cols.T
    error = dtype(gamma) * np.square(norm_rows[:, None] + norm_cols[None, :])
    bounds = (total - error) / np.maximum(count, dtype(1.0))
    bounds[count == 0] = SENTINEL_DISTANCE
    return bounds


def _gamma(n: int, unit_roundoff: float) -> float:
    return 2.0 * (3 * n + 8) * unit_roundoff


def _candidate_bounds(
    values: np.ndarray, observed: np.ndarray, c: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``c`` genes with the smallest float32 lower bound on their distance, per gene.

    Each pair of genes is computed once (symmetric blocks) in float32 (:func:`_tile_bounds`).
    """
    p, n = values.shape
    shift = float(values[observed].mean())  # distances are shift-invariant; smaller norms
    left, right, mask, norms = _factors(values, observed, shift, np.float32)
    gamma = _gamma(n, 2.0**-24)
    best = np.full((p, c), np.inf, dtype=np.float32)
    best_idx = np.zeros((p, c), dtype=np.int64)
    edges = [*range(0, p, block_size), p]
    for a in range(len(edges) - 1):
        rows = slice(edges[a], edges[a + 1])
        for b in range(a, len(edges) - 1):
            cols = slice(edges[b], edges[b + 1])
            bounds = _tile_bounds(
                left[rows], right[cols], mask[rows], mask[cols], norms[rows], norms[cols], gamma
            )
            _keep_smallest(best, best_idx, rows, bounds, edges[b])
            if b != a:
                _keep_smallest(best, best_idx, cols, bounds.T, edges[a])
    return best, best_idx


def _row_candidates(
    values: np.ndarray, observed: np.ndarray, rows: np.ndarray, c: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_candidate_bounds` for some genes only, in float64 (much tighter bounds)."""
    p, n = values.shape
    shift = float(values[observed].mean())
    left, _, mask_rows, norm_rows = _factors(values[rows], observed[rows], shift, np.float64)
    gamma = _gamma(n, 2.0**-53)
    best = np.full((rows.size, c), np.inf)
    best_idx = np.zeros((rows.size, c), dtype=np.int64)
    for start in range(0, p, block_size):
        cols = slice(start, min(start + block_size, p))
        _, right, mask_cols, norm_cols = _factors(values[cols], observed[cols], shift, np.float64)
        bounds = _tile_bounds(left, right, mask_rows, mask_cols, norm_rows, norm_cols, gamma)
        _keep_smallest(best, best_idx, slice(None), bounds, start)
    return best, best_idx


def neighbour_genes(
    values: np.ndarray,
    k: int,
    *,
    n_candidates: int | None = None,
    block_size: int = 2048,
) -> np.ndarray:
    """Each gene's ``k`` neighbours in ``impute.knn`` order (exact, with fast screening).

    Parameters
    ----------
    values
        Genes × samples, float64, NaN where missing.
    k
        Neighbours per gene; fewer when there are not ``k + 1`` genes.
    n_candidates
        Genes kept per gene by the float32 screen before exact re-ranking (default
        ``k + 1 + max(10, k)``). Any gene whose screen cannot certify the result is
        recomputed exactly against all genes, so this only affects speed.
    block_size
        Genes per block of the screening products (memory ~ ``block_size²``).

    Returns
    -------
    numpy.ndarray
        ``(n_genes, min(k, n_genes - 1))`` int64 row indices into ``values``.
    """
    p = values.shape[0]
    m = min(k + 1, p)
    if m <= 1:
        return np.empty((p, 0), dtype=np.int64)
    observed = ~np.isnan(values)
    rows = np.arange(p)
    c = m + max(10, k) if n_candidates is None else n_candidates
    c = min(max(c, m), p)
    if c == p:
        selected, _ = _exact_selection(values, observed, rows, None, m)
        return selected[:, 1:]
    bounds, candidates = _candidate_bounds(values, observed, c, block_size)
    selected, upper = _exact_selection(values, observed, rows, candidates, m)
    # Every gene left out has a lower bound >= the largest one kept; if that exceeds the m-th
    # exact distance, no gene left out can enter the first m (not even by a tie).
    uncertain = np.flatnonzero(~(bounds.max(axis=1) > upper))
    if uncertain.size:
        wider = min(p, 4 * c)
        bounds, candidates = _row_candidates(values, observed, uncertain, wider, block_size)
        selected[uncertain], upper = _exact_selection(values, observed, uncertain, candidates, m)
        still = uncertain[~(bounds.max(axis=1) > upper)] if wider < p else uncertain[:0]
        logger.info(
            "kNN: %d of %d genes rescreened in float64, %d searched exhaustively",
            uncertain.size,
            p,
            still.size,
        )
        if still.size:
            selected[still], _ = _exact_selection(values, observed, still, None, m)
    return selected[:, 1:]


class KNNGeneImputer(TransformerMixin, BaseEstimator):
    """``impute.knn``: genes get neighbour genes; missing cells are neighbour averages.

    Parameters
    ----------
    k
        Neighbours per gene (R default 10).
    rowmax
        Genes missing more than this share of samples are filled with per-sample means
        (R default 0.5).
    colmax
        A sample missing more than this share of genes is an error (R default 0.8).
    n_candidates
        Screening width of :func:`neighbour_genes` (speed only).

    Attributes
    ----------
    genes_ : list of str
        The fitted genes, in order.
    neighbors_ : numpy.ndarray
        ``(n_genes, k)`` int64 indices of each gene's neighbours; ``-1`` for mean-filled genes.
    mean_filled_ : numpy.ndarray
        Boolean, genes filled with per-sample means (the ``rowmax`` rule on the fitted data).
    """

    def __init__(
        self,
        k: int = 10,
        rowmax: float = 0.5,
        colmax: float = 0.8,
        n_candidates: int | None = None,
    ) -> None:
        self.k = k
        self.rowmax = rowmax
        self.colmax = colmax
        self.n_candidates = n_candidates

    def _check_colmax(self, X: pd.DataFrame, missing: np.ndarray, cohort: str | None) -> None:
        n_genes = missing.shape[1]
        share = missing.sum(axis=1)
        bad = share > self.colmax * n_genes
        if bad.any():
            raise InputError(
                "samples miss more than colmax of the genes (impute.knn's colmax rule)",
                cohort=cohort,
                row=first_items(X.index[bad]),
                seen=f"{int(bad.sum())} samples; worst {share.max() / n_genes:.1%} missing",
                expected=f"at most {self.colmax:.0%} missing genes per sample",
                fix="remove these samples, or raise preprocess.knn.colmax",
            )

    def fit(self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None) -> KNNGeneImputer:
        """Find every gene's neighbours in ``X`` (samples × genes, NaN = missing)."""
        X = check_frame(X, "KNNGeneImputer.fit")
        if self.k < 1:
            raise InputError("k must be at least 1", seen=self.k, fix="set preprocess.knn.k")
        values = numeric_values(X, cohort=cohort)
        missing = np.isnan(values)
        check_observed_genes(X, missing, cohort=cohort)
        check_no_empty_samples(X, missing, cohort=cohort)
        self._check_colmax(X, missing, cohort)
        n_samples, n_genes = values.shape
        mean_filled = missing.sum(axis=0) > math.floor(self.rowmax * n_samples)
        if mean_filled.any():
            logger.warning(
                "kNN: %d genes miss more than %.0f%% of samples; filled with per-sample means "
                "(impute.knn's rowmax rule; first: %s)",
                int(mean_filled.sum()),
                100 * self.rowmax,
                first_items(X.columns[mean_filled]),
            )
        kept = np.flatnonzero(~mean_filled)
        k = min(self.k, max(kept.size - 1, 0))
        if k < self.k:
            logger.warning("kNN: only %d genes can be neighbours; k reduced to %d", kept.size, k)
        found = neighbour_genes(
            np.ascontiguousarray(values[:, kept].T), k, n_candidates=self.n_candidates
        )
        neighbours = np.full((n_genes, k), -1, dtype=np.int64)
        neighbours[kept] = kept[found]
        self.genes_ = [str(gene) for gene in X.columns]
        self.neighbors_ = neighbours
        self.mean_filled_ = mean_filled
        return self

    def transform(self, X: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
        """Fill the missing cells of ``X`` (same genes) from the fitted neighbours."""
        X = check_frame(X, "KNNGeneImputer.transform")
        columns = X.columns
        X = match_genes(X, self.genes_, "KNNGeneImputer")
        values = numeric_values(X, cohort=cohort)
        missing = np.isnan(values)
        check_no_empty_samples(X, missing, cohort=cohort)
        self._check_colmax(X, missing, cohort)
        filled = _fill(values.T, missing.T, self.neighbors_, self.mean_filled_)
        unfilled = np.isnan(filled).any(axis=0)
        if unfilled.any():
            raise InputError(
                "samples with no observed value among the genes kNN may average",
                cohort=cohort,
                row=first_items(X.index[unfilled]),
                seen=f"{int(unfilled.sum())} samples",
                fix="remove these samples; their only measured genes miss most samples",
            )
        out = pd.DataFrame(filled.T, index=X.index, columns=self.genes_)
        return out[columns]

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays for saving (no expression values)."""
        return {"neighbors": self.neighbors_, "mean_filled": self.mean_filled_}

    def set_state(self, genes: list[str], arrays: dict[str, np.ndarray]) -> KNNGeneImputer:
        """Restore what :meth:`state` returned."""
        self.genes_ = list(genes)
        self.neighbors_ = np.asarray(arrays["neighbors"], dtype=np.int64)
        self.mean_filled_ = np.asarray(arrays["mean_filled"], dtype=bool)
        return self


def _fill(
    values: np.ndarray, missing: np.ndarray, neighbours: np.ndarray, mean_filled: np.ndarray
) -> np.ndarray:
    """Genes × samples: neighbour averages, else per-sample means of the kNN genes."""
    kept = ~mean_filled
    observed_kept = ~missing[kept]
    counts = observed_kept.sum(axis=0)
    sums = np.where(observed_kept, values[kept], 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sample_mean = np.where(counts > 0, sums / counts, np.nan)
    out = values.copy()
    genes, samples = np.nonzero(missing & kept[:, None])
    if genes.size and neighbours.shape[1]:
        donors = values[neighbours[genes], samples[:, None]]
        present = ~np.isnan(donors)
        n_present = present.sum(axis=1)
        total = np.where(present, donors, 0.0).sum(axis=1)
        out[genes, samples] = np.where(
            n_present > 0, total / np.maximum(n_present, 1), sample_mean[samples]
        )
    else:
        out[genes, samples] = sample_mean[samples]
    genes, samples = np.nonzero(missing & mean_filled[:, None])
    out[genes, samples] = sample_mean[samples]
    return out

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

Deliberate differences from R:

* R splits matrices of more than ``maxp`` (1500) genes into random two-means clusters and
  searches neighbours only inside a gene's cluster — an approximation for speed, seeded by
  ``rng.seed``. Here neighbours are always searched among *all* genes, exactly (so above 1500
  genes results differ from R's approximation, not from the definition), and no seed is
  needed. :func:`neighbour_genes` makes the exact search fast: float32 matrix products in
  symmetric blocks give certified lower and upper bounds on every distance, most genes'
  neighbour sets follow from the bounds alone, and the rest are ranked by exact float64
  distances among a few candidates.
* A gene with no observed value is an error here (R silently fills it with sample means), and
  with fewer than ``k + 1`` genes to choose from the neighbour list is shortened (R reads past
  its work array).

Fitting stores, for every gene, the indices of its ``k`` neighbour genes and whether it is
mean-filled — no expression values. :meth:`KNNGeneImputer.transform` fills a cohort's missing
cells from those fixed neighbours using that cohort's own values in the same sample, so a
validation cohort is imputed with the discovery cohort's neighbour structure, unchanged
(``rowmax`` is decided on the fitted cohort; ``colmax`` is checked on every cohort). On the
fitted cohort itself, ``fit`` then ``transform`` is exactly ``impute.knn``.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from threadpoolctl import threadpool_limits

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
_FLOAT64_WORK = 5e8  # genes² × samples up to which the screen runs in float64


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
    mth = np.empty(rows.size, dtype=np.float64)
    for start in range(0, rows.size, block):
        part = rows[start : start + block]
        if candidates is None:
            cand = np.broadcast_to(np.arange(p), (part.size, p))
        else:
            cand = candidates[start : start + block]
        dist = _exact_distances(values, observed, part, cand)
        order = np.lexsort((cand, dist), axis=-1)[:, :m]
        selected[start : start + part.size] = np.take_along_axis(cand, order, axis=1)
        mth[start : start + part.size] = np.take_along_axis(dist, order[:, -1:], axis=1)[:, 0]
    return selected, mth


class _Screen:
    """Per gene, the ``c`` genes with the smallest lower bounds on their distance.

    Each kept entry also carries its error allowance ``gamma (‖x_i‖ + ‖x_j‖)² / count``
    (norms taken with the shift its block was computed with): the lower bound plus twice that
    is an upper bound (see :func:`_tile_bounds`).
    """

    def __init__(self, n_rows: int, c: int, dtype: type) -> None:
        self.lower = np.full((n_rows, c), np.inf, dtype=dtype)
        self.allow = np.zeros((n_rows, c), dtype=np.float64)
        self.index = np.zeros((n_rows, c), dtype=np.int64)

    def merge(self, rows: slice, best: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Merge a block's best entries (:func:`_block_best`) for ``rows`` into the screen."""
        lower, allow, index = best
        c = self.lower.shape[1]
        merged = np.concatenate([self.lower[rows], lower], axis=1)
        part = np.argpartition(merged, c - 1, axis=1)[:, :c]
        self.lower[rows] = np.take_along_axis(merged, part, axis=1)
        self.allow[rows] = np.take_along_axis(
            np.concatenate([self.allow[rows], allow], axis=1), part, axis=1
        )
        self.index[rows] = np.take_along_axis(
            np.concatenate([self.index[rows], index], axis=1), part, axis=1
        )

    def sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lower bounds (ascending), upper bounds and gene indices, ``rows × c``."""
        order = np.argsort(self.lower, axis=1, kind="stable")
        lower = np.take_along_axis(self.lower, order, axis=1).astype(np.float64)
        upper = lower + 2.0 * np.take_along_axis(self.allow, order, axis=1)
        upper[lower == SENTINEL_DISTANCE] = SENTINEL_DISTANCE
        return lower, upper, np.take_along_axis(self.index, order, axis=1)

    def reorder(self, order: np.ndarray) -> None:
        """Rows and gene indices were in ``values[order]`` order: map back to ``values``."""
        inverse = np.argsort(order)
        self.lower = self.lower[inverse]
        self.allow = self.allow[inverse]
        self.index = order[self.index[inverse]]


def _block_best(
    lower: np.ndarray,
    count: np.ndarray,
    row_norms: np.ndarray,
    col_norms: np.ndarray,
    col0: int,
    c: int,
    gamma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``c`` smallest lower bounds in a block, their allowances and gene indices."""
    lower = np.ascontiguousarray(lower)
    width = min(c, lower.shape[1])
    if width < lower.shape[1]:
        part = np.argpartition(lower, width - 1, axis=1)[:, :width]
    else:
        part = np.broadcast_to(np.arange(width), lower.shape)
    best = np.take_along_axis(lower, part, axis=1)
    spread = np.square(row_norms[:, None] + col_norms[part])
    allow = gamma * spread / np.take_along_axis(np.ascontiguousarray(count), part, axis=1)
    return best, allow, part + col0


def _left(
    values: np.ndarray, observed: np.ndarray, shift: float, dtype: type, gamma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row factor ``[x, x², m, -g r², -2 g r, -g]``, the mask ``m`` and the norms ``r``.

    ``x`` is the value minus ``shift``, zero where missing; ``r`` its (slightly inflated)
    row norm. With :func:`_right`, the product is ``Σ m m (x - x')² - g (r + r')²``.
    """
    centred = np.where(observed, values - shift, 0.0).astype(dtype)
    squares = centred * centred
    mask = observed.astype(dtype)
    norms = np.sqrt(squares.sum(axis=1, dtype=np.float64)) * (1 + 1e-5)
    allowance = np.stack([-gamma * norms**2, -2 * gamma * norms, -gamma + 0 * norms], axis=1)
    return np.concatenate([centred, squares, mask, allowance], axis=1, dtype=dtype), mask, norms


def _right(
    values: np.ndarray, observed: np.ndarray, shift: float, dtype: type
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column factor ``[-2x, m, x², 1, r, r²]``, the mask and the norms (see :func:`_left`)."""
    centred = np.where(observed, values - shift, 0.0).astype(dtype)
    squares = centred * centred
    mask = observed.astype(dtype)
    norms = np.sqrt(squares.sum(axis=1, dtype=np.float64)) * (1 + 1e-5)
    powers = np.stack([1 + 0 * norms, norms, norms**2], axis=1)
    right = np.concatenate([dtype(-2.0) * centred, mask, squares, powers], axis=1, dtype=dtype)
    return right, mask, norms


def _tile_bounds(
    left: np.ndarray, right: np.ndarray, mask_rows: np.ndarray, mask_cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Certified lower bounds on the distances of a block of genes to another, and counts.

    ``left @ right.T`` (:func:`_left`, :func:`_right`) is the masked sum of squared
    differences minus the error allowance ``g (‖x_i‖ + ‖x_j‖)²`` and ``mask @ mask.T`` the
    co-observed count. In floating point with unit roundoff u, a sum of K products is off by at
    most about ``K u Σ|terms|``, and ``Σ|terms| ≤ (‖x_i‖ + ‖x_j‖)²`` (:func:`_gamma`), so the
    bound always holds; the allowance, hence the looseness, grows with the norms of the
    shifted values. Genes sharing no sample get the exact sentinel.
    """
    lower = left @ right.T
    count = mask_rows @ mask_cols.T
    shared_none = count == 0
    if shared_none.any():
        count[shared_none] = 1.0
        lower /= count
        lower[shared_none] = SENTINEL_DISTANCE
    else:
        lower /= count
    return lower, count


def _gamma(n: int, dtype: type) -> float:
    """Error allowance per unit of ``(‖x_i‖ + ‖x_j‖)²`` for a bound product over ``n`` samples.

    The product sums ``K = 3n + 3`` terms of rounded inputs: at most ``(K + 2) u Σ|terms|``
    off, plus ``u`` for the division — ``(3n + 6) u`` to first order; 25% more for margin.
    """
    return 1.25 * (3 * n + 8) * float(np.finfo(dtype).eps) / 2


def _block_size(p: int) -> int:
    """Genes per screening block: about p / 8, a power of two between 256 and 2048."""
    return int(np.clip(2 ** np.floor(np.log2(max(p, 1) / 8)), 256, 2048))


def _workers() -> int:
    """Threads for the screen: the cores this process may use (at most 16)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 16))


def _screen_all(
    values: np.ndarray, observed: np.ndarray, c: int, block_size: int, dtype: type
) -> _Screen:
    """Bounds for every pair of genes, each pair computed once (symmetric blocks).

    Genes are visited in order of their mean level and each block pair is shifted by the row
    block's mean level (distances do not change under a common shift): the norms, hence the
    error allowance, are smallest exactly where near neighbours are found.

    Blocks run on a pool of threads, each with a single-threaded BLAS, and are reduced there
    to each row's best ``c`` entries; this thread merges them into the screen. Independent
    products keep every core busy and, unlike a multi-threaded BLAS on many small products, do
    not stall when the machine is shared.
    """
    p, n = values.shape
    counts = observed.sum(axis=1)
    level = np.where(observed, values, 0.0).sum(axis=1) / np.maximum(counts, 1)
    order = np.argsort(level, kind="stable")
    values, observed, level = values[order], observed[order], level[order]
    gamma = _gamma(n, dtype)
    screen = _Screen(p, c, dtype)
    edges = [*range(0, p, block_size), p]
    blocks = [slice(edges[a], edges[a + 1]) for a in range(len(edges) - 1)]
    shifts = [float(level[rows].mean()) for rows in blocks]
    workers = _workers()
    lefts: list[Future] = []

    def tile(a: int, b: int) -> tuple[tuple, tuple | None]:
        cols = blocks[b]
        right, mask_cols, col_norms = _right(values[cols], observed[cols], shifts[a], dtype)
        left, mask_rows, row_norms = lefts[a].result()
        lower, count = _tile_bounds(left, right, mask_rows, mask_cols)
        rows_best = _block_best(lower, count, row_norms, col_norms, edges[b], c, gamma)
        if a == b:
            return rows_best, None
        return rows_best, _block_best(lower.T, count.T, col_norms, row_norms, edges[a], c, gamma)

    pairs = [(a, b) for a in range(len(blocks)) for b in range(a, len(blocks))]
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        # row factors first: queued ahead of every block that waits for them
        lefts.extend(
            pool.submit(_left, values[rows], observed[rows], shift, dtype, gamma)
            for rows, shift in zip(blocks, shifts, strict=True)
        )
        pending = deque(pool.submit(tile, a, b) for a, b in pairs[: 2 * workers])
        for number, (a, b) in enumerate(pairs):
            rows_best, cols_best = pending.popleft().result()
            if number + 2 * workers < len(pairs):
                pending.append(pool.submit(tile, *pairs[number + 2 * workers]))
            screen.merge(blocks[a], rows_best)
            if cols_best is not None:
                screen.merge(blocks[b], cols_best)
    screen.reorder(order)
    return screen


def _screen_rows(
    values: np.ndarray, observed: np.ndarray, rows: np.ndarray, c: int, block_size: int
) -> _Screen:
    """Float64 bounds (much tighter) of some genes against every gene."""
    p, n = values.shape
    shift = float(values[observed].mean())
    gamma = _gamma(n, np.float64)
    left, mask_rows, row_norms = _left(values[rows], observed[rows], shift, np.float64, gamma)
    screen = _Screen(rows.size, c, np.float64)
    for start in range(0, p, block_size):
        cols = slice(start, min(start + block_size, p))
        right, mask_cols, col_norms = _right(values[cols], observed[cols], shift, np.float64)
        lower, count = _tile_bounds(left, right, mask_rows, mask_cols)
        screen.merge(slice(None), _block_best(lower, count, row_norms, col_norms, start, c, gamma))
    return screen


def _resolve(
    values: np.ndarray, observed: np.ndarray, rows: np.ndarray, screen: _Screen, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first ``m`` genes from its screen: by the bounds alone, else exactly.

    The bounds settle a row when the ``m`` smallest lower bounds belong to genes whose upper
    bounds are all below every other lower bound (the set of the first ``m`` is then certain)
    and the first of them is strictly below the rest (so is the gene R drops). Otherwise the
    candidates are ranked by exact distances; that settles the row when every gene left out
    of the screen has a lower bound above the ``m``-th exact distance.

    Returns
    -------
    first : numpy.ndarray
        ``(len(rows), m)`` indices; position 0 is the gene R drops, the rest the neighbours.
    unsettled : numpy.ndarray
        Boolean, rows the screen could not settle.
    """
    p, c = values.shape[0], screen.lower.shape[1]
    lower, upper, index = screen.sorted()
    first = index[:, :m].copy()
    if c > m:  # genes outside the screen have lower bounds >= lower[:, c - 1] >= lower[:, m]
        set_known = upper[:, :m].max(axis=1) < lower[:, m]
    else:  # c == m: known only when no gene is outside the screen
        set_known = np.full(len(rows), c == p)
    settled = set_known & (upper[:, 0] < lower[:, 1])
    exact = np.flatnonzero(~settled)
    unsettled = np.zeros(len(rows), dtype=bool)
    if exact.size:
        # only candidates whose lower bound reaches below the largest upper bound of the
        # first m can be among the first m: rank those exactly
        reach = upper[exact, :m].max(axis=1)
        width = max(m, int((lower[exact] <= reach[:, None]).sum(axis=1).max()))
        first[exact], mth = _exact_selection(values, observed, rows[exact], index[exact, :width], m)
        # genes not ranked have lower bounds >= lower[:, width] (or >= lower[:, c - 1] for the
        # genes outside the screen); none of them can enter if that exceeds the m-th distance
        if width < c:
            unsettled[exact] = ~(lower[exact, width] > mth)
        elif c < p:
            unsettled[exact] = ~(lower[exact, c - 1] > mth)
    return first, unsettled


def neighbour_genes(
    values: np.ndarray,
    k: int,
    *,
    n_candidates: int | None = None,
    block_size: int | None = None,
) -> np.ndarray:
    """Each gene's ``k`` neighbours under ``impute.knn``'s rule (exact, with fast screening).

    Matrix products (float32; float64 for small matrices) bound every distance from below and
    above (:func:`_tile_bounds`); most genes' neighbour sets follow from the bounds alone, the
    others are ranked by exact distances among their screened candidates, rescreened in
    float64 if that is not conclusive, and as a last resort searched exhaustively — so the
    result is always the exact one.

    Parameters
    ----------
    values
        Genes × samples, float64, NaN where missing.
    k
        Neighbours per gene; fewer when there are not ``k + 1`` genes.
    n_candidates
        Genes kept per gene by the screen (default ``k + 1 + max(10, k)``); only affects
        speed.
    block_size
        Genes per block of the screening products (memory ~ ``block_size²``); by default
        about ``n_genes / 8``, a power of two between 256 and 2048.

    Returns
    -------
    numpy.ndarray
        ``(n_genes, min(k, n_genes - 1))`` int64 row indices into ``values``, each row in
        ascending order (the neighbours form a set: the imputation averages them).
    """
    p = values.shape[0]
    m = min(k + 1, p)
    if m <= 1:
        return np.empty((p, 0), dtype=np.int64)
    observed = ~np.isnan(values)
    rows = np.arange(p)
    block_size = block_size or _block_size(p)
    c = m + max(10, k) if n_candidates is None else n_candidates
    c = min(max(c, m), p)
    # float64 products where they are cheap (their bounds settle nearly every gene), float32
    # (3-4× faster, looser bounds, more exact re-ranking) for large matrices
    dtype = np.float64 if p * p * values.shape[1] <= _FLOAT64_WORK else np.float32
    screen = _screen_all(values, observed, c, block_size, dtype)
    first, unsettled = _resolve(values, observed, rows, screen, m)
    uncertain = np.flatnonzero(unsettled)
    if uncertain.size:
        wider = min(p, 4 * c)
        screen = _screen_rows(values, observed, uncertain, wider, block_size)
        first[uncertain], still = _resolve(values, observed, uncertain, screen, m)
        still = uncertain[still]
        logger.info(
            "kNN: %d of %d genes rescreened in float64, %d searched exhaustively",
            uncertain.size,
            p,
            still.size,
        )
        if still.size:
            first[still], _ = _exact_selection(values, observed, still, None, m)
    return np.sort(first[:, 1:], axis=1)


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
        filled = _fill(values, missing, self.neighbors_, self.mean_filled_)
        unfilled = np.isnan(filled).any(axis=1)
        if unfilled.any():
            raise InputError(
                "samples with no observed value among the genes kNN may average",
                cohort=cohort,
                row=first_items(X.index[unfilled]),
                seen=f"{int(unfilled.sum())} samples",
                fix="remove these samples; their only measured genes miss most samples",
            )
        out = pd.DataFrame(filled, index=X.index, columns=self.genes_)
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
    """Samples × genes: neighbour averages, else per-sample means of the kNN genes.

    Missing cells are visited sample by sample, so a cell's donors are read from one row.
    """
    kept = ~mean_filled
    observed_kept = ~missing[:, kept]
    counts = observed_kept.sum(axis=1)
    sums = np.where(observed_kept, values[:, kept], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sample_mean = np.where(counts > 0, sums / counts, np.nan)
    out = values.copy()
    samples, genes = np.nonzero(missing & kept)
    if genes.size and neighbours.shape[1]:
        donors = values[samples[:, None], neighbours[genes]]
        present = ~np.isnan(donors)
        n_present = present.sum(axis=1)
        total = np.where(present, donors, 0.0).sum(axis=1)
        out[samples, genes] = np.where(
            n_present > 0, total / np.maximum(n_present, 1), sample_mean[samples]
        )
    else:
        out[samples, genes] = sample_mean[samples]
    samples, genes = np.nonzero(missing & mean_filled)
    out[samples, genes] = sample_mean[samples]
    return out

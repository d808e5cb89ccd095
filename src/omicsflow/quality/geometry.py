"""Sample–sample geometry of an expression matrix: distances, correlations, principal components.

Everything is computed from a handful of matrix products over the gene-centred matrix, so a
1,000 × 20,000 cohort takes seconds:

* ``Z``: each gene centred on its median over the observed samples (robust: one wild sample
  does not move the centre every other sample is measured from), missing cells set to 0;
* ``M``: the observed-cell mask.

With ``G = Z Zᵀ``, ``Q = (Z∘Z) Mᵀ``, ``A = Z Mᵀ`` and ``N = M Mᵀ`` (``N[a, b]`` = genes
observed in both samples), the pairwise-complete squared distance and Pearson correlation of
two samples over the genes they share are closed forms of ``G, Q, A, N``. The principal
components are those of the median-imputed, median-centred matrix (eigenvectors of ``G``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.sparse import linalg as sparse_linalg

__all__ = ["SampleGeometry", "centred_matrix", "column_medians", "sample_geometry"]

_DENSE_EIGEN_LIMIT = 400
# A correlation over fewer shared genes is too noisy to call two samples duplicates
# (its standard error is about 1 / sqrt(genes)); such pairs get NaN.
_MIN_SHARED_GENES = 30


@dataclass(frozen=True)
class SampleGeometry:
    """Where the samples of one cohort lie relative to each other.

    Attributes
    ----------
    distance
        Per sample: mean root-mean-square difference to every other sample over the genes both
        observe (the arrayQualityMetrics "distance to others" statistic, with squared rather than
        absolute differences so that it is a matrix product).
    correlation
        Samples × samples Pearson correlation of the gene-centred profiles over the genes both
        samples observe (diagonal 1). Gene-centring removes the gene means that otherwise make
        every pair of samples look alike. NaN for pairs sharing fewer than 30 genes (or fewer
        than all genes, in a smaller panel).
    scores
        Samples × components principal-component scores of the median-imputed, gene-centred
        matrix (signs fixed so that each component's largest-magnitude score is positive).
    eigenvalues
        Variance (sum of squares) carried by each component, descending.
    total_variance
        Total sum of squares of the centred matrix (the sum of all eigenvalues).
    orthogonal
        Per sample: distance from the sample to the space of the retained components.
    """

    distance: np.ndarray
    correlation: np.ndarray
    scores: np.ndarray
    eigenvalues: np.ndarray
    total_variance: float
    orthogonal: np.ndarray

    @property
    def explained(self) -> np.ndarray:
        """Share of the total variance carried by each retained component."""
        if self.total_variance <= 0:
            return np.zeros_like(self.eigenvalues)
        return self.eigenvalues / self.total_variance


def column_medians(ordered: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each column of a column-sorted matrix (NaNs last); 0 for an empty column.

    Parameters
    ----------
    ordered
        ``np.sort(values, axis=0)``.
    counts
        Observed (non-NaN) values per column.
    """
    columns = np.arange(ordered.shape[1])
    low = ordered[np.maximum(counts - 1, 0) // 2, columns]
    high = ordered[np.maximum(counts, 1) // 2 - (counts == 0), columns]
    return np.where(counts > 0, (low + high) / 2.0, 0.0)


def centred_matrix(values: np.ndarray, observed: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Gene-centred matrix with missing cells (and never-observed genes) set to 0.

    Parameters
    ----------
    values
        Samples × genes, NaN = missing.
    observed
        ``~np.isnan(values)``.
    centre
        Per-gene centre (e.g. :func:`column_medians`).

    Returns
    -------
    numpy.ndarray
        float64 samples × genes.
    """
    return np.where(observed, values - centre, 0.0)


def _top_eigenpairs(gram: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest ``k`` eigenpairs of a symmetric matrix, descending.

    Small matrices use LAPACK; large ones the Lanczos method (ARPACK, started from a fixed
    vector so that the result is reproducible), which needs only matrix-vector products.
    """
    n = gram.shape[0]
    if n <= _DENSE_EIGEN_LIMIT or k >= n - 1:
        values, vectors = linalg.eigh(gram, subset_by_index=[n - k, n - 1])
    else:
        values, vectors = sparse_linalg.eigsh(gram, k=k, which="LA", v0=np.ones(n) / np.sqrt(n))
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def sample_geometry(
    values: np.ndarray, observed: np.ndarray, *, n_pcs: int, centre: np.ndarray | None = None
) -> SampleGeometry:
    """Distances, correlations and principal components of the samples.

    Parameters
    ----------
    values
        Samples × genes on a log scale, NaN = missing.
    observed
        ``~np.isnan(values)``.
    n_pcs
        Principal components to keep (capped at ``n_samples - 1``).
    centre
        Per-gene centre; by default the gene medians.

    Returns
    -------
    SampleGeometry
        The pairwise-complete distance to others, correlation matrix and top components.
    """
    n, p = values.shape
    # Single precision halves the time of the products; every sum is then taken in double.
    if centre is None:
        centre = column_medians(np.sort(values, axis=0), observed.sum(axis=0))
    z = centred_matrix(values, observed, centre).astype(np.float32)
    gram = (z @ z.T).astype(np.float64)
    squares = np.diag(gram).copy()
    if observed.all():
        shared = np.full((n, n), float(p))
        cross_squares = np.repeat(squares[:, None], n, axis=1)
        cross_sums = np.repeat(z.sum(axis=1, dtype=np.float64)[:, None], n, axis=1)
    else:
        mask = observed.astype(np.float32)
        shared = (mask @ mask.T).astype(np.float64)
        cross_squares = ((z * z) @ mask.T).astype(np.float64)
        cross_sums = (z @ mask.T).astype(np.float64)
        del mask
    del z
    with np.errstate(divide="ignore", invalid="ignore"):
        # cross_squares[a, b] = sum of z_a² over genes b also observes; likewise cross_sums.
        squared_distance = (cross_squares + cross_squares.T - 2.0 * gram) / shared
        squared_distance = np.clip(squared_distance, 0.0, None)
        squared_distance[shared == 0] = np.nan
        mean_a = cross_sums / shared
        mean_b = cross_sums.T / shared
        covariance = gram / shared - mean_a * mean_b
        variance_a = cross_squares / shared - mean_a**2
        variance_b = cross_squares.T / shared - mean_b**2
        correlation = covariance / np.sqrt(variance_a * variance_b)
    too_few = shared < min(_MIN_SHARED_GENES, p)
    correlation[too_few | ~(variance_a > 0) | ~(variance_b > 0)] = np.nan
    correlation = np.clip(correlation, -1.0, 1.0)
    np.fill_diagonal(correlation, 1.0)
    distances = np.sqrt(squared_distance)
    np.fill_diagonal(distances, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a sample sharing no gene: NaN
        distance = np.nanmean(distances, axis=1) if n > 1 else np.full(n, np.nan)

    k = int(max(0, min(n_pcs, n - 1)))
    if k > 0:
        eigenvalues, vectors = _top_eigenpairs(gram, k)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(k)])
        vectors = vectors * np.where(signs == 0, 1.0, signs)
        scores = vectors * np.sqrt(eigenvalues)
    else:
        eigenvalues, scores = np.zeros(0), np.zeros((n, 0))
    orthogonal = np.sqrt(np.clip(squares - (scores**2).sum(axis=1), 0.0, None))
    return SampleGeometry(
        distance=distance,
        correlation=correlation,
        scores=scores,
        eigenvalues=eigenvalues,
        total_variance=float(squares.sum()),
        orthogonal=orthogonal,
    )

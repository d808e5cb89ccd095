"""Imputation of samples × genes matrices, with the method chosen by a masked-value benchmark.

:class:`Imputer` is the one entry point (scikit-learn ``fit``/``transform`` on DataFrames,
index and columns kept). Methods:

``mean``, ``median``
    Each gene's mean or median over the fitted samples (:class:`SimpleGeneImputer`).
``knn``
    R's ``impute::impute.knn`` semantics (:mod:`omicsflow.preprocess.knn`).
``iterative``
    Chained equations, each gene modelled from its nearest genes
    (:mod:`omicsflow.preprocess.iterative`).
``auto``
    :func:`benchmark_imputers` hides a share of the observed cells of the fitting cohort
    (seeded), imputes them with each candidate, scores the NRMSE on the hidden cells, and the
    method with the smallest error is then fitted on the whole cohort.

NRMSE here is the root mean squared error on the hidden cells after dividing each cell's error
by its gene's standard deviation (over the cells still observed): 1.0 is roughly what filling
with the gene mean achieves, 0 is perfect recovery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from omicsflow.errors import InputError, OmicsflowError
from omicsflow.preprocess.checks import (
    check_frame,
    check_no_empty_samples,
    check_observed_genes,
    match_genes,
    numeric_values,
)
from omicsflow.preprocess.iterative import IterativeGeneImputer
from omicsflow.preprocess.knn import KNNGeneImputer

__all__ = [
    "CANDIDATES",
    "METHODS",
    "Imputer",
    "SimpleGeneImputer",
    "benchmark_imputers",
    "choose_method",
    "hide_observed",
]

logger = logging.getLogger(__name__)

CANDIDATES: tuple[str, ...] = ("mean", "median", "knn", "iterative")
"""The imputation methods that can be fitted (and benchmarked by ``auto``)."""

METHODS: tuple[str, ...] = (*CANDIDATES, "auto")
"""Every accepted value of ``Imputer(method=...)``."""


class SimpleGeneImputer(TransformerMixin, BaseEstimator):
    """Fill each gene's missing values with its mean or median over the fitted samples.

    Parameters
    ----------
    strategy
        ``"mean"`` or ``"median"``.

    Attributes
    ----------
    genes_ : list of str
        The fitted genes.
    fill_values_ : numpy.ndarray
        One value per gene.
    """

    def __init__(self, strategy: str = "median") -> None:
        self.strategy = strategy

    def fit(
        self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None
    ) -> SimpleGeneImputer:
        """Learn one fill value per gene from ``X``."""
        X = check_frame(X, "SimpleGeneImputer.fit")
        values = numeric_values(X, cohort=cohort)
        missing = np.isnan(values)
        check_observed_genes(X, missing, cohort=cohort)
        check_no_empty_samples(X, missing, cohort=cohort)
        reducer = np.nanmedian if self.strategy == "median" else np.nanmean
        self.genes_ = [str(gene) for gene in X.columns]
        self.fill_values_ = reducer(values, axis=0)
        return self

    def transform(self, X: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
        """Replace missing values with the fitted per-gene values."""
        X = check_frame(X, "SimpleGeneImputer.transform")
        columns = X.columns
        X = match_genes(X, self.genes_, "SimpleGeneImputer")
        values = numeric_values(X, cohort=cohort)
        missing = np.isnan(values)
        check_no_empty_samples(X, missing, cohort=cohort)
        filled = np.where(missing, self.fill_values_, values)
        return pd.DataFrame(filled, index=X.index, columns=self.genes_)[columns]

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays for saving."""
        return {"fill_values": self.fill_values_}

    def set_state(self, genes: list[str], arrays: dict[str, np.ndarray]) -> SimpleGeneImputer:
        """Restore what :meth:`state` returned."""
        self.genes_ = list(genes)
        self.fill_values_ = np.asarray(arrays["fill_values"], dtype=np.float64)
        return self


def hide_observed(observed: np.ndarray, share: float, *, seed: int) -> np.ndarray:
    """Choose a seeded random share of the observed cells to hide.

    Cells are drawn uniformly without replacement; a gene left with fewer than two observed
    values, or a sample left with none, gets its cells back (logged with a count).

    Parameters
    ----------
    observed
        Boolean samples × genes mask of observed cells.
    share
        Share of the observed cells to hide, in (0, 1).
    seed
        Seed of the random draw.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the hidden cells (a subset of ``observed``).
    """
    cells = np.flatnonzero(observed.ravel())
    n_hide = round(share * cells.size)
    if n_hide < 1:
        raise InputError(
            "too few observed values to benchmark imputation",
            seen=f"{cells.size} observed cells, share {share}",
            fix="raise preprocess.auto.mask_share or choose an imputation method directly",
        )
    rng = np.random.default_rng(seed)
    hidden = np.zeros(observed.size, dtype=bool)
    hidden[rng.choice(cells, size=n_hide, replace=False)] = True
    hidden = hidden.reshape(observed.shape)
    left = observed & ~hidden
    restore = np.zeros(observed.shape, dtype=bool)
    restore[:, left.sum(axis=0) < 2] = True
    restore[left.sum(axis=1) < 1, :] = True
    returned = int((hidden & restore).sum())
    if returned:
        logger.info("auto: %d hidden cells given back to keep every gene and sample", returned)
    return hidden & ~restore


def _nrmse(predicted: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square((predicted - truth) / scale))))


def benchmark_imputers(
    X: pd.DataFrame,
    candidates: Sequence[str] = CANDIDATES,
    *,
    mask_share: float = 0.05,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    cohort: str | None = None,
) -> pd.DataFrame:
    """Hide observed cells of ``X``, impute them with each candidate, score the NRMSE.

    Parameters
    ----------
    X
        Samples × genes (NaN = missing), the cohort the imputer will be fitted on.
    candidates
        Methods to compare (any of :data:`CANDIDATES`).
    mask_share
        Share of the observed cells hidden.
    seed
        Seed of the hidden cells.
    options
        Keyword options of :class:`Imputer` (``k``, ``max_iter`` …) for the candidates.
    cohort
        Cohort id for messages.

    Returns
    -------
    pandas.DataFrame
        ``method, nrmse, seconds, n_hidden`` in candidate order; ``nrmse`` is NaN (with a
        logged warning) for a method that failed on the masked data. ``seconds`` is the wall
        time of fitting and imputing, the only column that differs between identical runs.
    """
    X = check_frame(X, "benchmark_imputers")
    unknown = [method for method in candidates if method not in CANDIDATES]
    if unknown or not candidates:
        raise InputError(
            "unknown imputation candidates",
            seen=repr(list(candidates)),
            expected=f"a non-empty list of {list(CANDIDATES)}",
            fix="set preprocess.auto.candidates",
        )
    values = numeric_values(X, cohort=cohort)
    observed = ~np.isnan(values)
    hidden = hide_observed(observed, mask_share, seed=seed)
    masked = X.mask(hidden)
    truth = values[hidden]
    scale = np.nanstd(masked.to_numpy(dtype=np.float64), axis=0, ddof=1)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    cell_scale = np.broadcast_to(scale, values.shape)[hidden]
    rows = []
    for method in candidates:
        started = time.perf_counter()
        try:
            imputer = Imputer(method, **(options or {})).fit(masked, cohort=cohort)
            predicted = imputer.transform(masked, cohort=cohort).to_numpy()[hidden]
        except OmicsflowError as exc:
            logger.warning("auto: %s failed on the masked cohort: %s", method, exc.what)
            nrmse = float("nan")
        else:
            nrmse = _nrmse(predicted, truth, cell_scale)
        seconds = time.perf_counter() - started
        logger.info("auto: %s NRMSE %.4f in %.1f s", method, nrmse, seconds)
        rows.append(
            {"method": method, "nrmse": nrmse, "seconds": seconds, "n_hidden": int(hidden.sum())}
        )
    return pd.DataFrame(rows)


def choose_method(table: pd.DataFrame) -> str:
    """The method with the smallest NRMSE (the first listed on a tie).

    Raises
    ------
    InputError
        If every candidate failed.
    """
    scored = table[np.isfinite(table["nrmse"].to_numpy(dtype=np.float64))]
    if scored.empty:
        raise InputError(
            "no imputation method succeeded on the masked discovery cohort",
            seen=", ".join(table["method"]),
            fix="see the warnings above; choose a method directly in preprocess.impute",
        )
    return str(scored.loc[scored["nrmse"].idxmin(), "method"])


class Imputer(TransformerMixin, BaseEstimator):
    """Fill missing expression values; fitted on one cohort, applied unchanged to others.

    Parameters
    ----------
    method
        One of :data:`METHODS`.
    k, rowmax, colmax
        ``knn`` options (R ``impute.knn``: 10, 0.5, 0.8).
    max_iter, tol, n_nearest_features
        ``iterative`` options.
    candidates, mask_share, random_state
        ``auto`` options: methods compared, share of observed cells hidden, seed.

    Attributes
    ----------
    method_ : str
        The method fitted (the winner when ``method="auto"``).
    imputer_ : estimator
        The fitted method-specific imputer.
    benchmark_ : pandas.DataFrame or None
        The ``auto`` benchmark table (:func:`benchmark_imputers`).
    genes_ : list of str
        The fitted genes.
    """

    def __init__(
        self,
        method: str = "knn",
        *,
        k: int = 10,
        rowmax: float = 0.5,
        colmax: float = 0.8,
        max_iter: int = 10,
        tol: float = 1e-3,
        n_nearest_features: int | None = 10,
        candidates: Sequence[str] = CANDIDATES,
        mask_share: float = 0.05,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.k = k
        self.rowmax = rowmax
        self.colmax = colmax
        self.max_iter = max_iter
        self.tol = tol
        self.n_nearest_features = n_nearest_features
        self.candidates = candidates
        self.mask_share = mask_share
        self.random_state = random_state

    def _method_options(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "rowmax": self.rowmax,
            "colmax": self.colmax,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "n_nearest_features": self.n_nearest_features,
        }

    def _make(self, method: str) -> SimpleGeneImputer | KNNGeneImputer | IterativeGeneImputer:
        if method in ("mean", "median"):
            return SimpleGeneImputer(method)
        if method == "knn":
            return KNNGeneImputer(k=self.k, rowmax=self.rowmax, colmax=self.colmax)
        return IterativeGeneImputer(
            max_iter=self.max_iter, tol=self.tol, n_nearest_features=self.n_nearest_features
        )

    def fit(self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None) -> Imputer:
        """Fit on ``X`` (samples × genes; NaN = missing); ``auto`` benchmarks first."""
        X = check_frame(X, "Imputer.fit")
        if self.method not in METHODS:
            raise InputError(
                "unknown imputation method",
                seen=repr(self.method),
                expected=f"one of {list(METHODS)}",
                fix="set preprocess.impute",
            )
        missing = np.isnan(numeric_values(X, cohort=cohort))
        check_observed_genes(X, missing, cohort=cohort)
        check_no_empty_samples(X, missing, cohort=cohort)
        self.benchmark_ = None
        self.method_ = self.method
        if self.method == "auto":
            self.benchmark_ = benchmark_imputers(
                X,
                self.candidates,
                mask_share=self.mask_share,
                seed=self.random_state,
                options=self._method_options(),
                cohort=cohort,
            )
            self.method_ = choose_method(self.benchmark_)
            logger.info("auto: %s chosen for cohort %s", self.method_, cohort)
        self.imputer_ = self._make(self.method_).fit(X, cohort=cohort)
        self.genes_ = [str(gene) for gene in X.columns]
        return self

    def transform(self, X: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
        """Fill the missing values of ``X`` (the fitted genes) with the fitted method."""
        X = check_frame(X, "Imputer.transform")
        match_genes(X, self.genes_, "Imputer")
        return self.imputer_.transform(X, cohort=cohort)

    def fit_transform(
        self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None
    ) -> pd.DataFrame:
        """``fit(X).transform(X)``, passing ``cohort`` to both."""
        return self.fit(X, cohort=cohort).transform(X, cohort=cohort)

    def state(self) -> dict[str, np.ndarray]:
        """The fitted method's arrays, for saving without pickle."""
        return self.imputer_.state()

    def set_state(self, method: str, genes: list[str], arrays: dict[str, np.ndarray]) -> Imputer:
        """Restore a fitted imputer of ``method`` from :meth:`state` arrays."""
        self.method_ = method
        self.benchmark_ = None
        self.genes_ = list(genes)
        self.imputer_ = self._make(method).set_state(genes, arrays)
        return self

"""Putting cohorts on a common scale: log2(x + 1), z-score, quantile and rank transforms.

``log2(x + 1)`` fits nothing; it is applied to a cohort when its QC says the values are
un-logged (``needs_log_transform`` in ``quality.json``) or when the configuration says so.

:class:`Normalizer` (scikit-learn ``fit``/``transform`` on complete samples × genes frames):

``zscore``
    per gene, subtract the fitted mean and divide by the fitted standard deviation (ddof 1).
``quantile``
    quantile normalisation as in preprocessCore / limma: the fitted target is the mean, over
    the fitted samples, of each sample's sorted values; a sample's value of average rank ``r``
    (ties get the average of their ranks) becomes the target at ``r``, linearly interpolated
    for half ranks. Applied to another cohort, every sample is mapped onto the *fitted*
    target.
``rank``
    per gene, the percentile of each sample within the cohort being transformed,
    ``(average rank - 0.5) / n_samples``. This is a per-cohort transform by definition: it
    uses only the values of the cohort it is applied to and fits nothing across cohorts
    (it removes any monotone platform difference, gene by gene).
``none``
    values unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, TransformerMixin

from omicsflow.errors import InputError, first_items
from omicsflow.preprocess.checks import check_frame, match_genes, numeric_values

__all__ = [
    "LOG_SETTINGS",
    "NORMALIZERS",
    "Normalizer",
    "log2_plus_one",
    "wants_log2",
]

logger = logging.getLogger(__name__)

NORMALIZERS: tuple[str, ...] = ("zscore", "quantile", "rank", "none")
"""Every accepted value of ``Normalizer(method=...)``."""

LOG_SETTINGS: tuple[str, ...] = ("auto", "always", "never")
"""Values of ``preprocess.log_transform``."""


def wants_log2(setting: str, quality: dict[str, Any] | None) -> bool:
    """Whether ``log2(x + 1)`` applies to a cohort.

    Parameters
    ----------
    setting
        ``"always"``, ``"never"``, or ``"auto"``: when the cohort's QC report says
        ``needs_log_transform`` (a missing key counts as false).
    quality
        The cohort's ``quality.json`` content.
    """
    if setting not in LOG_SETTINGS:
        raise InputError(
            "unknown log_transform setting",
            seen=repr(setting),
            expected=f"one of {list(LOG_SETTINGS)}",
            fix="set preprocess.log_transform",
        )
    if setting == "auto":
        return bool((quality or {}).get("needs_log_transform", False))
    return setting == "always"


def log2_plus_one(X: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
    """``log2(x + 1)`` of un-logged, non-negative values (NaN stays NaN).

    Raises
    ------
    InputError
        If a value is negative: such data are already on a log (or ratio) scale.
    """
    X = check_frame(X, "log2_plus_one")
    values = numeric_values(X, cohort=cohort)
    negative = values < 0
    if negative.any():
        columns = X.columns[negative.any(axis=0)]
        raise InputError(
            "log2(x + 1) needs non-negative values",
            cohort=cohort,
            column=first_items(columns),
            seen=f"{int(negative.sum())} negative values (minimum {np.nanmin(values):.4g})",
            expected="counts or intensities on the linear scale",
            fix="these data look already logged: set preprocess.log_transform to never "
            "(or auto, trusting the QC verdict)",
        )
    return pd.DataFrame(np.log2(values + 1.0), index=X.index, columns=X.columns)


def _complete(X: pd.DataFrame, what: str) -> np.ndarray:
    values = numeric_values(X)
    if np.isnan(values).any():
        raise InputError(
            f"{what} needs complete data",
            column=first_items(X.columns[np.isnan(values).any(axis=0)]),
            seen=f"{int(np.isnan(values).sum())} missing values",
            fix="impute before normalising (omicsflow.preprocess.Imputer)",
        )
    return values


def _average_ranks(values: np.ndarray, axis: int) -> np.ndarray:
    return rankdata(values, method="average", axis=axis)


class Normalizer(TransformerMixin, BaseEstimator):
    """Per-gene or per-sample scaling learned on the fitted samples.

    Parameters
    ----------
    method
        One of :data:`NORMALIZERS` (see the module docstring).

    Attributes
    ----------
    genes_ : list of str
        The fitted genes.
    center_, scale_ : pandas.Series
        ``zscore``: per-gene mean and standard deviation (scale 1 for constant genes).
    target_ : numpy.ndarray
        ``quantile``: the reference distribution (one value per rank).
    """

    def __init__(self, method: str = "zscore") -> None:
        self.method = method

    def fit(self, X: pd.DataFrame, y: Any = None) -> Normalizer:
        """Learn the transform's parameters from ``X`` (samples × genes, complete)."""
        X = check_frame(X, "Normalizer.fit")
        if self.method not in NORMALIZERS:
            raise InputError(
                "unknown normalisation method",
                seen=repr(self.method),
                expected=f"one of {list(NORMALIZERS)}",
                fix="set preprocess.normalize",
            )
        values = _complete(X, "Normalizer.fit")
        self.genes_ = [str(gene) for gene in X.columns]
        if self.method == "zscore":
            self.center_ = pd.Series(values.mean(axis=0), index=self.genes_)
            scale = pd.Series(values.std(axis=0, ddof=1), index=self.genes_)
            constant = scale.index[~(scale > 0)]
            if len(constant):
                logger.warning(
                    "%d constant genes keep scale 1 (first: %s)",
                    len(constant),
                    first_items(constant),
                )
            self.scale_ = scale.where(scale > 0, 1.0)
        elif self.method == "quantile":
            self.target_ = np.sort(values, axis=1).mean(axis=0)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Apply the fitted transform to ``X`` (the fitted genes, complete)."""
        X = check_frame(X, "Normalizer.transform")
        columns = X.columns
        X = match_genes(X, self.genes_, "Normalizer")
        values = _complete(X, "Normalizer.transform")
        if self.method == "zscore":
            out = (values - self.center_.to_numpy()) / self.scale_.to_numpy()
        elif self.method == "quantile":
            ranks = _average_ranks(values, axis=1)
            positions = np.arange(1, self.target_.size + 1, dtype=np.float64)
            out = np.interp(ranks, positions, self.target_)
        elif self.method == "rank":
            out = (_average_ranks(values, axis=0) - 0.5) / values.shape[0]
        else:
            out = values
        return pd.DataFrame(out, index=X.index, columns=self.genes_)[columns]

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays for saving."""
        if self.method == "zscore":
            return {"center": self.center_.to_numpy(), "scale": self.scale_.to_numpy()}
        if self.method == "quantile":
            return {"target": self.target_}
        return {}

    def set_state(self, genes: list[str], arrays: dict[str, np.ndarray]) -> Normalizer:
        """Restore what :meth:`state` returned."""
        self.genes_ = list(genes)
        if self.method == "zscore":
            self.center_ = pd.Series(np.asarray(arrays["center"], dtype=np.float64), index=genes)
            self.scale_ = pd.Series(np.asarray(arrays["scale"], dtype=np.float64), index=genes)
        elif self.method == "quantile":
            self.target_ = np.asarray(arrays["target"], dtype=np.float64)
        return self

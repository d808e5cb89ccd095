"""Input checks shared by the imputers and normalisers (samples × genes DataFrames)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from omicsflow.errors import InputError, first_items

__all__ = [
    "check_frame",
    "check_no_empty_samples",
    "check_observed_genes",
    "match_genes",
    "numeric_values",
]


def check_frame(X: Any, what: str) -> pd.DataFrame:
    """Return ``X`` if it is a DataFrame, else raise :class:`InputError`.

    Parameters
    ----------
    X
        The object passed to ``fit`` or ``transform``.
    what
        The method name, for the message (e.g. ``"Imputer.fit"``).
    """
    if not isinstance(X, pd.DataFrame):
        raise InputError(
            f"{what} expects a samples × genes pandas DataFrame",
            seen=type(X).__name__,
            fix="wrap the matrix in a DataFrame (index = samples, columns = genes)",
        )
    return X


def numeric_values(X: pd.DataFrame, *, cohort: str | None = None) -> np.ndarray:
    """The values of ``X`` as float64 (possibly a view: do not modify), refusing infinities.

    Raises
    ------
    InputError
        If a value is infinite (missing values must be NaN).
    """
    values = X.to_numpy(dtype=np.float64)
    infinite = np.isinf(values)
    if infinite.any():
        rows, cols = np.nonzero(infinite)
        raise InputError(
            "infinite expression values",
            cohort=cohort,
            row=X.index[rows[0]],
            column=X.columns[cols[0]],
            seen=f"{int(infinite.sum())} infinite cells",
            expected="finite numbers, or NaN for missing values",
            fix="replace infinities (often log of zero) by NaN or add a pseudocount before logging",
        )
    return values


def check_observed_genes(
    X: pd.DataFrame, missing: np.ndarray, *, cohort: str | None = None
) -> None:
    """Raise if a gene (column) has no observed value.

    Parameters
    ----------
    X
        Samples × genes frame (for the gene names).
    missing
        Boolean missing-value mask of ``X``.
    cohort
        Cohort id for the message.
    """
    empty = X.columns[missing.all(axis=0)]
    if len(empty):
        raise InputError(
            "genes with no observed value cannot be imputed",
            cohort=cohort,
            column=first_items(empty),
            seen=f"{len(empty)} of {X.shape[1]} genes entirely missing",
            expected="at least one measured value per gene in the cohort the imputer is fitted on",
            fix="remove these genes from the matrix (or from the cohort's gene list)",
        )


def check_no_empty_samples(
    X: pd.DataFrame, missing: np.ndarray, *, cohort: str | None = None
) -> None:
    """Raise if a sample (row) has no observed value.

    Parameters
    ----------
    X
        Samples × genes frame (for the sample ids).
    missing
        Boolean missing-value mask of ``X``.
    cohort
        Cohort id for the message.
    """
    if X.shape[1] == 0:
        return
    empty = X.index[missing.all(axis=1)]
    if len(empty):
        raise InputError(
            "samples with no observed value cannot be imputed",
            cohort=cohort,
            row=first_items(empty),
            seen=f"{len(empty)} of {X.shape[0]} samples have every gene missing",
            expected="measured values in every sample",
            fix="remove these samples (a failed array or library) from the expression matrix",
        )


def match_genes(X: pd.DataFrame, genes: list[str], what: str) -> pd.DataFrame:
    """``X`` with its columns in the fitted order; raise if the gene sets differ.

    Parameters
    ----------
    X
        Samples × genes frame given to ``transform``.
    genes
        The genes the estimator was fitted on.
    what
        The estimator, for the message.
    """
    if len(X.columns) != len(genes) or set(X.columns) != set(genes):
        unknown = [gene for gene in X.columns if gene not in set(genes)]
        absent = [gene for gene in genes if gene not in set(X.columns)]
        raise InputError(
            f"{what} got other genes than it was fitted on",
            seen=f"{len(absent)} fitted genes absent ({first_items(absent)}), "
            f"{len(unknown)} unknown ({first_items(unknown)})",
            expected=f"the {len(genes)} fitted genes",
            fix="align the cohort to the model's genes first (omicsflow.preprocess.Preprocessor)",
        )
    return X[genes]

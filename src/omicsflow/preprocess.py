"""Imputation and normalisation fitted on the discovery cohort and applied unchanged elsewhere.

Both transformers follow the scikit-learn contract on samples × genes DataFrames: ``fit``
learns per-gene parameters (attributes ending in ``_``) and returns ``self``; ``transform``
keeps the index and columns. :class:`Preprocessor` chains them, restricts every cohort to the
shared gene list, and saves its fitted state to ``.npz`` (arrays only, no pickle) so that
validation applies exactly what discovery fitted.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from omicsflow.cohort import expression_frame
from omicsflow.errors import InputError, first_items
from omicsflow.io import atomic_path

__all__ = [
    "Imputer",
    "Normalizer",
    "Preprocessor",
    "gene_table",
    "preprocess_cohort",
    "shared_genes",
]

logger = logging.getLogger(__name__)


def _check_frame(X: Any, what: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise InputError(
            f"{what} expects a samples × genes pandas DataFrame",
            seen=type(X).__name__,
            fix="wrap the matrix in a DataFrame",
        )
    return X


class Imputer(TransformerMixin, BaseEstimator):
    """Fill missing expression values gene by gene.

    Parameters
    ----------
    method
        ``"median"`` or ``"mean"`` of each gene over the fitted samples.
    """

    def __init__(self, method: str = "median") -> None:
        self.method = method

    def fit(self, X: pd.DataFrame, y: Any = None) -> Imputer:
        """Learn one fill value per gene from ``X`` (samples × genes)."""
        X = _check_frame(X, "Imputer.fit")
        if self.method not in ("median", "mean"):
            raise InputError(
                "unknown imputation method",
                seen=repr(self.method),
                expected="'median' or 'mean'",
                fix="set preprocess.impute",
            )
        all_missing = X.columns[X.isna().all(axis=0)]
        if len(all_missing):
            raise InputError(
                "genes with no observed value cannot be imputed",
                column=first_items(all_missing),
                seen=f"{len(all_missing)} genes entirely missing",
                fix="remove these genes from the matrix (or from the cohort's gene list)",
            )
        self.fill_values_ = X.median(axis=0) if self.method == "median" else X.mean(axis=0)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Replace missing values of ``X`` with the fitted per-gene values."""
        X = _check_frame(X, "Imputer.transform")
        return X.fillna(self.fill_values_.reindex(X.columns))


class Normalizer(TransformerMixin, BaseEstimator):
    """Per-gene standardisation with parameters learned on the fitted samples.

    Parameters
    ----------
    method
        ``"zscore"``: subtract the gene mean, divide by its standard deviation (ddof 1);
        ``"none"``: leave values unchanged.
    """

    def __init__(self, method: str = "zscore") -> None:
        self.method = method

    def fit(self, X: pd.DataFrame, y: Any = None) -> Normalizer:
        """Learn per-gene centre and scale from ``X`` (samples × genes, complete)."""
        X = _check_frame(X, "Normalizer.fit")
        if self.method not in ("zscore", "none"):
            raise InputError(
                "unknown normalisation method",
                seen=repr(self.method),
                expected="'zscore' or 'none'",
                fix="set preprocess.normalize",
            )
        if self.method == "none":
            self.center_ = pd.Series(0.0, index=X.columns)
            self.scale_ = pd.Series(1.0, index=X.columns)
            return self
        self.center_ = X.mean(axis=0)
        scale = X.std(axis=0, ddof=1)
        constant = scale.index[~(scale > 0)]
        if len(constant):
            logger.warning(
                "%d constant genes keep scale 1 (first: %s)", len(constant), first_items(constant)
            )
        self.scale_ = scale.where(scale > 0, 1.0)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Apply the fitted centre and scale."""
        X = _check_frame(X, "Normalizer.transform")
        return (X - self.center_.reindex(X.columns)) / self.scale_.reindex(X.columns)


def shared_genes(gene_lists: dict[str, list[str]]) -> list[str]:
    """Genes present in every cohort, in the first cohort's order.

    Parameters
    ----------
    gene_lists
        Cohort id → its genes; the first entry (the discovery cohort) sets the order.

    Returns
    -------
    list of str
        The shared genes.
    """
    cohorts = list(gene_lists)
    if not cohorts:
        return []
    common = set(gene_lists[cohorts[0]])
    for cohort in cohorts[1:]:
        common &= set(gene_lists[cohort])
    genes = [gene for gene in gene_lists[cohorts[0]] if gene in common]
    if not genes:
        raise InputError(
            "the cohorts share no gene ids",
            seen=", ".join(f"{c}: {first_items(gene_lists[c], 3)}" for c in cohorts),
            fix="use the same gene identifiers (e.g. HGNC symbols) in every expression matrix",
        )
    return genes


class Preprocessor(TransformerMixin, BaseEstimator):
    """Restrict to a gene list, impute, then normalise; fitted once, saved to ``.npz``.

    Parameters
    ----------
    genes
        The genes every transformed cohort will have, in order.
    impute
        Imputation method (:class:`Imputer`).
    normalize
        Normalisation method (:class:`Normalizer`).
    """

    def __init__(self, genes: list[str], impute: str = "median", normalize: str = "zscore") -> None:
        self.genes = genes
        self.impute = impute
        self.normalize = normalize

    def _aligned(self, X: pd.DataFrame, cohort: str | None) -> pd.DataFrame:
        X = _check_frame(X, "Preprocessor")
        missing = [gene for gene in self.genes if gene not in X.columns]
        if missing:
            logger.warning(
                "cohort %s lacks %d of %d model genes (%s); they are filled with the fitted values",
                cohort,
                len(missing),
                len(self.genes),
                first_items(missing),
            )
        return X.reindex(columns=self.genes)

    def fit(self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None) -> Preprocessor:
        """Fit imputer and normaliser on ``X`` (the discovery cohort)."""
        aligned = self._aligned(X, cohort)
        self.imputer_ = Imputer(self.impute).fit(aligned)
        self.normalizer_ = Normalizer(self.normalize).fit(self.imputer_.transform(aligned))
        return self

    def transform(self, X: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
        """Align genes, impute and normalise with the fitted parameters."""
        aligned = self._aligned(X, cohort)
        return self.normalizer_.transform(self.imputer_.transform(aligned))

    def save(self, path: str | Path) -> None:
        """Write the fitted state to ``.npz`` (arrays and a JSON header; no pickle)."""
        header = {
            "genes": list(self.genes),
            "impute": self.impute,
            "normalize": self.normalize,
            "format": "omicsflow.preprocessor/1",
        }
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(
                handle,
                header=np.array(json.dumps(header)),
                fill_values=self.imputer_.fill_values_.to_numpy(dtype=np.float64),
                center=self.normalizer_.center_.to_numpy(dtype=np.float64),
                scale=self.normalizer_.scale_.to_numpy(dtype=np.float64),
            )

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        """Read a state written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            genes = header["genes"]
            self = cls(genes=genes, impute=header["impute"], normalize=header["normalize"])
            self.imputer_ = Imputer(self.impute)
            self.imputer_.fill_values_ = pd.Series(data["fill_values"], index=genes)
            self.normalizer_ = Normalizer(self.normalize)
            self.normalizer_.center_ = pd.Series(data["center"], index=genes)
            self.normalizer_.scale_ = pd.Series(data["scale"], index=genes)
        return self


def gene_table(gene_lists: dict[str, list[str]], genes: list[str]) -> pd.DataFrame:
    """How many genes each cohort has, shares and loses against the kept gene list.

    Returns
    -------
    pandas.DataFrame
        ``cohort, n_genes, n_kept, n_dropped, share_kept``, one row per cohort.
    """
    kept = set(genes)
    rows = []
    for cohort, cohort_genes in gene_lists.items():
        n_kept = len(kept & set(cohort_genes))
        rows.append(
            {
                "cohort": cohort,
                "n_genes": len(cohort_genes),
                "n_kept": n_kept,
                "n_dropped": len(cohort_genes) - n_kept,
                "share_kept": n_kept / len(cohort_genes) if cohort_genes else 0.0,
            }
        )
    return pd.DataFrame(rows)


def preprocess_cohort(adata: ad.AnnData, fitted: Preprocessor, *, role: str) -> ad.AnnData:
    """Transform one cohort with the discovery-fitted preprocessor.

    A ``source`` cohort (used only for pretraining) is restricted to the same genes but
    imputed and normalised with transforms fitted on itself, so no source statistics reach
    the discovery model's preprocessing and vice versa.

    Parameters
    ----------
    adata
        The cohort after the quality gate.
    fitted
        The preprocessor fitted on the discovery cohort.
    role
        The cohort's role.

    Returns
    -------
    anndata.AnnData
        Complete, normalised ``X`` (float32) over ``fitted.genes``; ``obs`` and ``uns`` kept;
        ``uns["preprocess"]`` records what was applied.
    """
    frame = expression_frame(adata)
    cohort = str(adata.uns.get("cohort", {}).get("id", ""))
    if role == "source":
        transform = Preprocessor(
            fitted.genes, impute=fitted.impute, normalize=fitted.normalize
        ).fit(frame, cohort=cohort)
        fitted_on = cohort
    else:
        transform, fitted_on = fitted, "discovery"
    values = transform.transform(frame, cohort=cohort)
    out = ad.AnnData(
        X=values.to_numpy(dtype=np.float32),
        obs=adata.obs.copy(),
        var=pd.DataFrame(index=pd.Index(fitted.genes, name="gene")),
        uns=dict(adata.uns),
    )
    out.uns["preprocess"] = {
        "impute": fitted.impute,
        "normalize": fitted.normalize,
        "fitted_on": fitted_on,
        "n_genes": len(fitted.genes),
    }
    logger.info(
        "cohort %s: %d samples × %d genes after preprocessing (fitted on %s)",
        cohort,
        out.n_obs,
        out.n_vars,
        fitted_on,
    )
    return out

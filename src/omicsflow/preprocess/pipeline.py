"""Align → impute → normalise, fitted once on the discovery cohort and saved without pickle.

:class:`Preprocessor` chains :class:`~omicsflow.preprocess.impute.Imputer` and
:class:`~omicsflow.preprocess.normalize.Normalizer` over the model's gene list and writes its
fitted state to ``transform.npz``: a JSON header (genes, methods, options, the cohort it was
fitted on, the ``auto`` benchmark) and plain arrays, read back with
``np.load(allow_pickle=False)``. What the arrays hold, per method:

=============  ==========================================================================
``impute.*``   ``mean``/``median``: one fill value per gene. ``knn``: each gene's neighbour
               gene indices and its rowmax flag — no expression values. ``iterative``: gene
               means, the visiting order, each gene's predictor genes and per-round
               coefficients and intercepts.
``normalize.*`` ``zscore``: per-gene mean and SD. ``quantile``: the reference distribution.
               ``rank``/``none``: nothing.
=============  ==========================================================================

Every array is computed from the discovery cohort alone (the fit never sees another cohort's
values), and applying it to a validation cohort reads the arrays without changing them — the
validation cohort's own values only enter its own imputed cells (kNN neighbours and iterative
predictors are read in the same sample) and, for ``rank``, its own percentiles.
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
from omicsflow.preprocess.align import absent_genes, check_absent_genes, shared_genes
from omicsflow.preprocess.checks import check_frame
from omicsflow.preprocess.impute import Imputer, benchmark_imputers, choose_method
from omicsflow.preprocess.normalize import Normalizer, log2_plus_one, wants_log2

__all__ = [
    "FORMAT",
    "Preprocessor",
    "fit_preprocessor",
    "imputer_options",
    "preprocess_cohort",
    "read_transform_header",
    "run_imputation_benchmark",
]

logger = logging.getLogger(__name__)

FORMAT = "omicsflow.preprocess/2"
"""Format tag written in the header of ``transform.npz``."""


class Preprocessor(TransformerMixin, BaseEstimator):
    """Restrict to the model's genes, impute, then normalise; fitted once, saved to ``.npz``.

    Parameters
    ----------
    genes
        The genes every transformed cohort will have, in order.
    impute
        Imputation method (:data:`~omicsflow.preprocess.impute.METHODS`).
    normalize
        Normalisation method (:data:`~omicsflow.preprocess.normalize.NORMALIZERS`).
    impute_options
        Keyword options of :class:`~omicsflow.preprocess.impute.Imputer`.

    Attributes
    ----------
    imputer_ : Imputer
        Fitted imputer (``imputer_.method_`` is the method actually fitted).
    normalizer_ : Normalizer
        Fitted normaliser.
    fitted_on_ : str or None
        Cohort id the transform was fitted on.
    n_samples_ : int
        Samples it was fitted on.
    """

    def __init__(
        self,
        genes: list[str],
        impute: str = "knn",
        normalize: str = "zscore",
        impute_options: dict[str, Any] | None = None,
    ) -> None:
        self.genes = genes
        self.impute = impute
        self.normalize = normalize
        self.impute_options = impute_options

    def fit(self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None) -> Preprocessor:
        """Fit imputer and normaliser on ``X`` (the discovery cohort, samples × genes)."""
        X = check_frame(X, "Preprocessor.fit")
        lacking = [gene for gene in self.genes if gene not in set(X.columns)]
        if lacking:
            raise InputError(
                "the cohort a transform is fitted on must have every model gene",
                cohort=cohort,
                column=first_items(lacking),
                seen=f"{len(lacking)} of {len(self.genes)} model genes absent",
                fix="derive the model genes from this cohort (omicsflow.preprocess.shared_genes)",
            )
        aligned = X[self.genes]
        self.imputer_ = Imputer(self.impute, **(self.impute_options or {}))
        imputed = self.imputer_.fit(aligned, cohort=cohort).transform(aligned, cohort=cohort)
        self.normalizer_ = Normalizer(self.normalize).fit(imputed)
        self.fitted_on_ = cohort
        self.n_samples_ = int(X.shape[0])
        logger.info(
            "fitted %s imputation and %s normalisation on cohort %s (%d samples × %d genes)",
            self.imputer_.method_,
            self.normalize,
            cohort,
            X.shape[0],
            len(self.genes),
        )
        return self

    def transform(
        self,
        X: pd.DataFrame,
        *,
        cohort: str | None = None,
        max_absent_share: float = 0.2,
        absent_action: str = "warn",
    ) -> pd.DataFrame:
        """Align to the model's genes, impute and normalise with the fitted parameters.

        Model genes the cohort lacks are imputed (see
        :func:`~omicsflow.preprocess.align.check_absent_genes` for the warning or error).
        """
        X = check_frame(X, "Preprocessor.transform")
        check_absent_genes(
            absent_genes(X, self.genes),
            len(self.genes),
            cohort=str(cohort),
            max_share=max_absent_share,
            action=absent_action,
        )
        aligned = X.reindex(columns=self.genes)
        imputed = self.imputer_.transform(aligned, cohort=cohort)
        return self.normalizer_.transform(imputed)

    def fit_transform(
        self, X: pd.DataFrame, y: Any = None, *, cohort: str | None = None
    ) -> pd.DataFrame:
        """``fit(X).transform(X)``, passing ``cohort`` to both."""
        return self.fit(X, cohort=cohort).transform(X, cohort=cohort)

    def header(self) -> dict[str, Any]:
        """The JSON header: what was fitted, how, and on what."""
        benchmark = self.imputer_.benchmark_
        return {
            "format": FORMAT,
            "genes": list(self.genes),
            "impute": self.impute,
            "impute_method": self.imputer_.method_,
            "impute_options": dict(self.impute_options or {}),
            "normalize": self.normalize,
            "fitted_on": self.fitted_on_,
            "n_samples": self.n_samples_,
            "benchmark": None if benchmark is None else benchmark.to_dict(orient="records"),
        }

    def save(self, path: str | Path, *, extra: dict[str, Any] | None = None) -> None:
        """Write the fitted state to ``.npz`` (arrays and a JSON header; no pickle).

        Parameters
        ----------
        path
            Destination, written atomically.
        extra
            More JSON-serialisable header fields (e.g. whether the fitted cohort was logged).
        """
        header = {**self.header(), **(extra or {})}
        arrays = {f"impute.{name}": array for name, array in self.imputer_.state().items()}
        arrays.update(
            {f"normalize.{name}": array for name, array in self.normalizer_.state().items()}
        )
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, header=np.array(json.dumps(header, sort_keys=True)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        """Read a state written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            header = _parse_header(data, path)
            arrays = {name: data[name] for name in data.files if name != "header"}
        genes = header["genes"]
        self = cls(
            genes=genes,
            impute=header["impute"],
            normalize=header["normalize"],
            impute_options=header["impute_options"],
        )
        self.imputer_ = Imputer(header["impute"], **header["impute_options"]).set_state(
            header["impute_method"], genes, _section(arrays, "impute")
        )
        if header["benchmark"] is not None:
            self.imputer_.benchmark_ = pd.DataFrame(header["benchmark"])
        self.normalizer_ = Normalizer(header["normalize"]).set_state(
            genes, _section(arrays, "normalize")
        )
        self.fitted_on_ = header["fitted_on"]
        self.n_samples_ = header["n_samples"]
        self.header_ = header
        return self


def _section(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {
        name[len(prefix) + 1 :]: array
        for name, array in arrays.items()
        if name.startswith(prefix + ".")
    }


def _parse_header(data: Any, path: str | Path) -> dict[str, Any]:
    header = json.loads(str(data["header"])) if "header" in data.files else {}
    if header.get("format") != FORMAT:
        raise InputError(
            "not a preprocessing state written by this version of omicsflow",
            file=str(path),
            seen=repr(header.get("format")),
            expected=repr(FORMAT),
            fix="rerun preprocess_fit",
        )
    return header


def read_transform_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a ``transform.npz`` (genes, methods, fitted-on cohort, benchmark)."""
    with np.load(path, allow_pickle=False) as data:
        return _parse_header(data, path)


def preprocess_cohort(
    adata: ad.AnnData,
    fitted: Preprocessor,
    *,
    role: str,
    log2: bool = False,
    max_absent_share: float = 0.2,
    absent_action: str = "warn",
) -> ad.AnnData:
    """Transform one cohort: with the discovery fit, or (a source cohort) with its own.

    A ``source`` cohort (pretraining only) is restricted to the same genes but imputed and
    normalised with transforms fitted on itself — the method the discovery fit used (the
    ``auto`` winner), its own parameters — so no source statistics reach the discovery
    model's preprocessing and vice versa.

    Parameters
    ----------
    adata
        The cohort after the quality gate.
    fitted
        The preprocessor fitted on the discovery cohort.
    role
        The cohort's role (``source``, ``discovery``, ``validation``).
    log2
        Apply ``log2(x + 1)`` first (:func:`~omicsflow.preprocess.normalize.wants_log2`).
    max_absent_share, absent_action
        How many of the model's genes a cohort may lack before a warning (or an error).

    Returns
    -------
    anndata.AnnData
        Complete ``X`` (float32) over ``fitted.genes``; ``obs`` and ``uns`` kept;
        ``uns["preprocess"]`` records what was applied and what it was fitted on.
    """
    frame = expression_frame(adata)
    cohort = str(adata.uns.get("cohort", {}).get("id", ""))
    if log2:
        frame = log2_plus_one(frame, cohort=cohort)
    lacking = absent_genes(frame, fitted.genes)
    n_missing = int(frame.reindex(columns=fitted.genes).isna().to_numpy().sum())
    if role == "source":
        transform = Preprocessor(
            fitted.genes,
            impute=fitted.imputer_.method_,
            normalize=fitted.normalize,
            impute_options=fitted.impute_options,
        ).fit(frame, cohort=cohort)
    else:
        transform = fitted
    values = transform.transform(
        frame, cohort=cohort, max_absent_share=max_absent_share, absent_action=absent_action
    )
    out = ad.AnnData(
        X=values.to_numpy(dtype=np.float32),
        obs=adata.obs.copy(),
        var=pd.DataFrame(index=pd.Index(fitted.genes, name="gene")),
        uns=dict(adata.uns),
    )
    out.uns["preprocess"] = {
        "log2": bool(log2),
        "impute": fitted.impute,
        "impute_method": transform.imputer_.method_,
        "normalize": fitted.normalize,
        "fitted_on": transform.fitted_on_,
        "fitted_on_own_values": role == "source",
        "n_genes": len(fitted.genes),
        "n_genes_absent": len(lacking),
        "genes_absent": list(lacking),
        "n_values_imputed": n_missing,
    }
    logger.info(
        "cohort %s: %d samples × %d genes, %d values imputed (%s), normalised (%s), fitted on %s",
        cohort,
        out.n_obs,
        out.n_vars,
        n_missing,
        transform.imputer_.method_,
        fitted.normalize,
        transform.fitted_on_,
    )
    return out


def imputer_options(options: dict[str, Any], seed: int) -> dict[str, Any]:
    """:class:`~omicsflow.preprocess.impute.Imputer` keyword options from ``config["preprocess"]``.

    Parameters
    ----------
    options
        The ``preprocess`` configuration section (``knn``, ``iterative``, ``auto`` blocks).
    seed
        ``config["seed"]``: seeds the cells ``auto`` hides.
    """
    knn = options.get("knn", {})
    iterative = options.get("iterative", {})
    auto = options.get("auto", {})
    defaults = Imputer().get_params()
    return {
        "k": int(knn.get("k", defaults["k"])),
        "rowmax": float(knn.get("rowmax", defaults["rowmax"])),
        "colmax": float(knn.get("colmax", defaults["colmax"])),
        "max_iter": int(iterative.get("max_iter", defaults["max_iter"])),
        "tol": float(iterative.get("tol", defaults["tol"])),
        "n_nearest_features": iterative.get("n_nearest_features", defaults["n_nearest_features"]),
        "candidates": list(auto.get("candidates", defaults["candidates"])),
        "mask_share": float(auto.get("mask_share", defaults["mask_share"])),
        "random_state": int(seed),
    }


def _cohort_frame(
    adata: ad.AnnData, options: dict[str, Any], quality: dict[str, Any] | None
) -> tuple[pd.DataFrame, bool, str]:
    cohort = str(adata.uns.get("cohort", {}).get("id", ""))
    log2 = wants_log2(options.get("log_transform", "auto"), quality)
    frame = expression_frame(adata)
    return (log2_plus_one(frame, cohort=cohort) if log2 else frame), log2, cohort


def run_imputation_benchmark(
    discovery: ad.AnnData,
    *,
    options: dict[str, Any],
    seed: int,
    quality: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The ``auto`` benchmark on the discovery cohort (after ``log2(x + 1)`` if it applies).

    Returns
    -------
    pandas.DataFrame
        :func:`~omicsflow.preprocess.impute.benchmark_imputers` output.
    """
    frame, _, cohort = _cohort_frame(discovery, options, quality)
    settings = imputer_options(options, seed)
    method_options = {
        key: settings[key]
        for key in ("k", "rowmax", "colmax", "max_iter", "tol", "n_nearest_features")
    }
    return benchmark_imputers(
        frame,
        settings["candidates"],
        mask_share=settings["mask_share"],
        seed=settings["random_state"],
        options=method_options,
        cohort=cohort,
    )


def fit_preprocessor(
    discovery: ad.AnnData,
    *,
    gene_lists: dict[str, list[str]],
    options: dict[str, Any],
    seed: int,
    quality: dict[str, Any] | None = None,
    benchmark: pd.DataFrame | None = None,
) -> tuple[Preprocessor, dict[str, Any]]:
    """Fit the preprocessing on the discovery cohort alone.

    Parameters
    ----------
    discovery
        The discovery cohort after the quality gate.
    gene_lists
        Gene ids of the cohorts that define the model's genes: discovery first (it sets the
        order), then the source cohorts. Validation cohorts do not belong here.
    options
        ``config["preprocess"]``.
    seed
        ``config["seed"]``.
    quality
        The discovery cohort's ``quality.json`` (for ``log_transform: auto``).
    benchmark
        With ``impute: auto``, the table written by the benchmark step; the winner is fitted
        (without it, ``auto`` runs the benchmark itself).

    Returns
    -------
    preprocessor : Preprocessor
        Fitted.
    extra : dict
        Header fields to save with it (log2 applied, the requested method, the benchmark).
    """
    frame, log2, cohort = _cohort_frame(discovery, options, quality)
    requested = options.get("impute", "knn")
    method = choose_method(benchmark) if requested == "auto" and benchmark is not None else None
    preprocessor = Preprocessor(
        shared_genes(gene_lists),
        impute=method or requested,
        normalize=options.get("normalize", "zscore"),
        impute_options=imputer_options(options, seed),
    ).fit(frame, cohort=cohort)
    extra: dict[str, Any] = {"log2": log2, "seed": int(seed)}
    if method is not None:
        extra["impute"] = requested
        extra["benchmark"] = benchmark.to_dict(orient="records")
    return preprocessor, extra

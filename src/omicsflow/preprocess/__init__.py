"""Imputation and normalisation fitted on the discovery cohort and applied unchanged elsewhere.

Modules, one job each:

- :mod:`~omicsflow.preprocess.impute`: :class:`Imputer` (``mean``, ``median``, ``knn``,
  ``iterative``, ``auto``) and the masked-value benchmark behind ``auto``;
- :mod:`~omicsflow.preprocess.knn`: R ``impute::impute.knn`` semantics, fast and exact;
- :mod:`~omicsflow.preprocess.iterative`: chained equations on each gene's nearest genes;
- :mod:`~omicsflow.preprocess.normalize`: :class:`Normalizer` (``zscore``, ``quantile``,
  ``rank``, ``none``) and ``log2(x + 1)``;
- :mod:`~omicsflow.preprocess.align`: the model's genes, per-cohort gene accounting;
- :mod:`~omicsflow.preprocess.pipeline`: :class:`Preprocessor` (saved to ``transform.npz``)
  and :func:`preprocess_cohort`.
"""

from omicsflow.preprocess.align import absent_genes, check_absent_genes, gene_table, shared_genes
from omicsflow.preprocess.impute import (
    CANDIDATES,
    METHODS,
    Imputer,
    benchmark_imputers,
    choose_method,
)
from omicsflow.preprocess.normalize import NORMALIZERS, Normalizer, log2_plus_one, wants_log2
from omicsflow.preprocess.pipeline import Preprocessor, preprocess_cohort, read_transform_header

__all__ = [
    "CANDIDATES",
    "METHODS",
    "NORMALIZERS",
    "Imputer",
    "Normalizer",
    "Preprocessor",
    "absent_genes",
    "benchmark_imputers",
    "check_absent_genes",
    "choose_method",
    "gene_table",
    "log2_plus_one",
    "preprocess_cohort",
    "read_transform_header",
    "shared_genes",
    "wants_log2",
]

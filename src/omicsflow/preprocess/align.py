"""Gene alignment: the model's genes, what each cohort keeps and lacks, and when that is too much.

The model's genes are the genes shared by the cohorts whose values shape the model: the
discovery cohort and the source (pretraining) cohorts, in the discovery cohort's order.
Validation cohorts never choose genes; each is aligned to the model's genes, and a gene it
lacks (absent id, or no measured value) is imputed from the discovery fit. A validation
cohort lacking more than a configured share of the model's genes is warned about, or
stopped, by configuration.

Two tables report the alignment: :func:`alignment_table` (``genes.tsv``) counts per cohort the
genes kept, dropped and absent; :func:`model_gene_table` (``model_genes.tsv``) lists the
model's genes, one row each, with the cohorts that measure or lack it.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.errors import InputError, first_items

__all__ = [
    "ABSENT_ACTIONS",
    "absent_genes",
    "alignment_table",
    "check_absent_genes",
    "gene_presence",
    "gene_table",
    "model_gene_table",
    "shared_genes",
]

logger = logging.getLogger(__name__)

ABSENT_ACTIONS: tuple[str, ...] = ("warn", "error")
"""What happens when a cohort lacks more than the allowed share of the model's genes."""


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


def absent_genes(expression: pd.DataFrame, genes: list[str]) -> list[str]:
    """Model genes a cohort lacks: id not in its matrix, or no measured value.

    Parameters
    ----------
    expression
        The cohort, samples × genes.
    genes
        The model's genes.
    """
    present = expression.columns[expression.notna().any(axis=0).to_numpy()]
    have = set(present)
    return [gene for gene in genes if gene not in have]


def check_absent_genes(
    absent: list[str],
    n_genes: int,
    *,
    cohort: str,
    max_share: float,
    action: str,
) -> None:
    """Warn, or stop, when a cohort lacks more than ``max_share`` of the model's genes.

    Parameters
    ----------
    absent
        The model genes the cohort lacks (:func:`absent_genes`).
    n_genes
        Number of model genes.
    cohort
        Cohort id.
    max_share
        Largest share of absent genes accepted silently (logged at info level).
    action
        ``"warn"`` or ``"error"`` above ``max_share``.

    Raises
    ------
    InputError
        If ``action == "error"`` and the share is exceeded.
    """
    if not absent:
        return
    share = len(absent) / n_genes
    message = (
        f"cohort {cohort} lacks {len(absent)} of {n_genes} model genes ({share:.1%}); they are "
        f"imputed from the discovery fit (first: {first_items(absent)})"
    )
    if share <= max_share:
        logger.info(message)
        return
    if action == "error":
        raise InputError(
            "the cohort lacks too many of the model's genes",
            cohort=cohort,
            column=first_items(absent),
            seen=f"{len(absent)} of {n_genes} model genes absent ({share:.1%})",
            expected=f"at most {max_share:.0%} absent (preprocess.absent_genes.max_share)",
            fix="map gene ids to the discovery cohort's identifiers, use a platform covering "
            "the model's genes, or raise preprocess.absent_genes.max_share",
        )
    logger.warning("%s — more than the %.0f%% allowed", message, 100 * max_share)


def gene_table(
    gene_lists: dict[str, list[str]],
    genes: list[str],
    *,
    absent: dict[str, list[str]] | None = None,
    roles: dict[str, str] | None = None,
) -> pd.DataFrame:
    """How many genes each cohort has, keeps, drops and lacks against the model's genes.

    Parameters
    ----------
    gene_lists
        Cohort id → its gene ids.
    genes
        The model's genes.
    absent
        Cohort id → model genes it lacks (:func:`absent_genes`); by default the model genes
        whose id is not in the cohort.
    roles
        Cohort id → role, added as a column when given.

    Returns
    -------
    pandas.DataFrame
        ``cohort, [role,] n_genes, n_kept, n_dropped, share_kept, n_absent, share_absent``:
        gene ids in the cohort, model genes it measures, its other genes (not used), the
        share of its genes kept, and the model genes it lacks (imputed) with their share of
        the model's genes; ``n_kept + n_absent`` is the number of model genes.
    """
    kept = set(genes)
    rows = []
    for cohort, cohort_genes in gene_lists.items():
        have = set(cohort_genes)
        lacking = absent[cohort] if absent else [gene for gene in genes if gene not in have]
        row: dict[str, object] = {"cohort": cohort}
        if roles is not None:
            row["role"] = roles[cohort]
        row.update(
            {
                "n_genes": len(cohort_genes),
                "n_kept": len(genes) - len(lacking),
                "n_dropped": len(have - kept),
                "share_kept": (len(genes) - len(lacking)) / len(have) if have else 0.0,
                "n_absent": len(lacking),
                "share_absent": len(lacking) / len(genes) if genes else 0.0,
            }
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("n_genes", "n_kept", "n_dropped", "n_absent"):
        table[column] = table[column].astype(np.int64)
    return table


def gene_presence(genes: list[str], absent: dict[str, list[str]]) -> pd.DataFrame:
    """One row per model gene: which cohorts measure it and which lack it.

    Parameters
    ----------
    genes
        The model's genes, in order.
    absent
        Cohort id → model genes it lacks (:func:`absent_genes`), in the column order wanted.

    Returns
    -------
    pandas.DataFrame
        ``gene``, ``n_cohorts_absent`` (cohorts lacking the gene, which impute it from the
        discovery fit), then one boolean column ``in_<cohort>`` per cohort: ``True`` where
        the cohort measures the gene, ``False`` where it lacks it.
    """
    gene_index = pd.Index(genes, dtype=object)
    present = pd.DataFrame(
        {f"in_{cohort}": ~gene_index.isin(lacking) for cohort, lacking in absent.items()},
        index=pd.RangeIndex(len(genes)),
    )
    table = pd.DataFrame(
        {"gene": gene_index, "n_cohorts_absent": (~present).sum(axis=1).astype(np.int64)},
        index=present.index,
    )
    return pd.concat([table, present], axis=1)


def _cohort_genes(
    cohorts: list[ad.AnnData], genes: list[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """Per cohort (ids from ``uns["cohort"]``): its gene ids, the model genes it lacks, its role."""
    gene_lists, absent, roles = {}, {}, {}
    for adata in cohorts:
        cohort = str(adata.uns["cohort"]["id"])
        frame = pd.DataFrame(
            np.asarray(adata.X, dtype=np.float64), columns=adata.var_names.astype(str)
        )
        gene_lists[cohort] = list(frame.columns)
        absent[cohort] = absent_genes(frame, genes)
        roles[cohort] = str(adata.uns["cohort"].get("role", ""))
    return gene_lists, absent, roles


def alignment_table(cohorts: list[ad.AnnData], genes: list[str]) -> pd.DataFrame:
    """:func:`gene_table` for preprocessed-stage cohorts (ids and roles from ``uns["cohort"]``).

    A model gene counts as absent from a cohort when its id is missing or it has no measured
    value there.
    """
    gene_lists, absent, roles = _cohort_genes(cohorts, genes)
    return gene_table(gene_lists, genes, absent=absent, roles=roles)


def model_gene_table(cohorts: list[ad.AnnData], genes: list[str]) -> pd.DataFrame:
    """:func:`gene_presence` for preprocessed-stage cohorts (``model_genes.tsv``).

    Parameters
    ----------
    cohorts
        The cohorts, in the column order wanted (ids from ``uns["cohort"]``).
    genes
        The model's genes.

    Returns
    -------
    pandas.DataFrame
        One row per model gene; a gene counts as absent from a cohort when its id is missing
        or it has no measured value there (as in :func:`alignment_table`).
    """
    _, absent, _ = _cohort_genes(cohorts, genes)
    return gene_presence(genes, absent)

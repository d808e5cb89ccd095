"""Random-signature control: does the signature beat random genes scored the same way.

Published signatures often are not (Venet et al. 2011). The control draws ``n_signatures``
random gene sets of the signature's size from the genes the discovery scan evaluated (the
signature's own genes left out), gives every gene the cutpoint and direction the discovery scan
found for it (``cutpoints.tsv``), scores each random set in the validation cohort exactly as
the signature is scored (same cutpoint transfer, same scoring rule), and compares C-indices.
The empirical p-value is ``(1 + #{C_random >= C_signature}) / (1 + n_signatures)``.

For the ``count`` rule every gene's risk state is computed once (n × genes) and the random
scores are sums over index sets, so 1,000 signatures take well under a second on the toy
cohorts; any other rule falls back to :func:`score_signature` per random set.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omicsflow.errors import InputError
from omicsflow.survival.metrics import concordance_index_many
from omicsflow.survival.signature import (
    DIRECTIONS,
    Signature,
    SignatureGene,
    risk_states,
    score_signature,
)

__all__ = ["RandomSignatureControl", "candidate_genes", "random_signature_control"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RandomSignatureControl:
    """C-indices of size-matched random signatures in one cohort.

    Attributes
    ----------
    c_index
        One C-index per random signature.
    genes
        The random signatures, n_signatures × size gene ids.
    observed
        The real signature's C-index in the cohort.
    empirical_p
        ``(1 + #{c_index >= observed}) / (1 + n_signatures)``.
    pool
        Number of candidate genes drawn from.
    seed
        Seed of the draw.
    """

    c_index: np.ndarray
    genes: np.ndarray
    observed: float
    empirical_p: float
    pool: int
    seed: int

    def summary(self) -> dict[str, float | int]:
        """The ``metrics.json`` record."""
        finite = self.c_index[np.isfinite(self.c_index)]
        return {
            "n_signatures": int(self.c_index.size),
            "size": int(self.genes.shape[1]) if self.genes.ndim == 2 else 0,
            "pool": self.pool,
            "seed": self.seed,
            "c_index_mean": float(finite.mean()) if finite.size else float("nan"),
            "c_index_sd": float(finite.std(ddof=1)) if finite.size > 1 else float("nan"),
            "c_index_q95": float(np.quantile(finite, 0.95)) if finite.size else float("nan"),
            "observed_c_index": self.observed,
            "empirical_p": self.empirical_p,
        }

    def table(self) -> pd.DataFrame:
        """One row per random signature: ``signature, c_index, genes`` (comma-separated)."""
        return pd.DataFrame(
            {
                "signature": np.arange(1, self.c_index.size + 1),
                "c_index": self.c_index,
                "genes": [",".join(row) for row in self.genes],
            }
        )


def candidate_genes(
    cutpoints: pd.DataFrame, expression: pd.DataFrame, *, exclude: list[str]
) -> list[SignatureGene]:
    """Genes eligible for random signatures, with their discovery cutpoints and directions.

    Parameters
    ----------
    cutpoints
        The discovery scan (``cutpoints.tsv``: gene, cutpoint, cutpoint_percentile,
        direction, hazard_ratio, p_value, q_value).
    expression
        The cohort to score (only genes it measures are eligible).
    exclude
        Genes to leave out (the signature's own).

    Returns
    -------
    list of SignatureGene
        Sorted by gene id, so the draw does not depend on the scan's ranking.
    """
    needed = ["gene", "cutpoint", "cutpoint_percentile", "direction"]
    absent = [name for name in needed if name not in cutpoints.columns]
    if absent:
        raise InputError(
            "the cutpoint table lacks columns the random-signature control needs",
            column=absent[0],
            seen=f"columns: {list(cutpoints.columns)}",
            fix="pass results/biomarkers/cutpoints.tsv",
        )
    table = cutpoints.dropna(subset=["cutpoint", "cutpoint_percentile"])
    table = table[
        table["direction"].isin(DIRECTIONS)
        & table["gene"].astype(str).isin(set(expression.columns))
        & ~table["gene"].astype(str).isin(set(exclude))
    ].sort_values("gene", kind="stable")
    return [
        SignatureGene(
            gene=str(row.gene),
            cutpoint=float(row.cutpoint),
            percentile=float(row.cutpoint_percentile),
            direction=str(row.direction),
            hazard_ratio=float(getattr(row, "hazard_ratio", np.nan)),
            p_value=float(getattr(row, "p_value", np.nan)),
            q_value=float(getattr(row, "q_value", np.nan)),
        )
        for row in table.itertuples(index=False)
    ]


def random_signature_control(
    signature: Signature,
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    observed: float,
    transfer: str,
    n_signatures: int = 1000,
    seed: int = 0,
) -> RandomSignatureControl:
    """Score size-matched random signatures and compare their C-index with the signature's.

    Parameters
    ----------
    signature
        The signature as scored in this cohort (its size sets the random sets' size).
    cutpoints
        The discovery scan of every candidate gene.
    expression
        The cohort's expression, samples × genes.
    time, event
        Its outcome.
    observed
        The signature's C-index in this cohort.
    transfer
        Cutpoint transfer used for the signature in this cohort.
    n_signatures
        How many random signatures.
    seed
        Seed of the draw (``config["seed"]``); the same seed draws the same gene sets.

    Returns
    -------
    RandomSignatureControl
        C-indices, gene sets and the empirical p-value.
    """
    size = len(signature.genes)
    pool = candidate_genes(cutpoints, expression, exclude=list(signature.gene_ids))
    if len(pool) < size:
        raise InputError(
            "too few candidate genes for size-matched random signatures",
            seen=f"{len(pool)} candidates for signatures of {size} genes",
            fix="check results/biomarkers/cutpoints.tsv and the cohort's genes",
        )
    rng = np.random.default_rng(seed)
    index = np.stack([rng.choice(len(pool), size, replace=False) for _ in range(n_signatures)])
    pool_signature = dataclasses.replace(signature, genes=tuple(pool))
    if signature.scoring == "count":
        states = risk_states(pool_signature, expression[[g.gene for g in pool]], transfer=transfer)
        matrix = states.to_numpy(dtype=np.int16)
        scores = matrix[:, index].sum(axis=2).astype(np.float64)
    else:
        scores = np.column_stack(
            [
                score_signature(
                    dataclasses.replace(signature, genes=tuple(pool[i] for i in row)),
                    expression,
                    transfer=transfer,
                )
                for row in index
            ]
        )
    c_index = concordance_index_many(time, event, scores)
    finite = np.isfinite(c_index)
    empirical_p = float((1 + np.sum(c_index[finite] >= observed)) / (1 + finite.sum()))
    genes = np.array([g.gene for g in pool])[index]
    logger.info(
        "random-signature control: %d signatures of %d genes from %d candidates; mean C %.3f, "
        "signature C %.3f, empirical p %.3g",
        n_signatures,
        size,
        len(pool),
        float(np.nanmean(c_index)),
        observed,
        empirical_p,
    )
    return RandomSignatureControl(
        c_index=c_index,
        genes=genes,
        observed=float(observed),
        empirical_p=empirical_p,
        pool=len(pool),
        seed=int(seed),
    )

"""A locked prognostic signature: genes, cutpoints, directions and the scoring rule.

The signature is chosen on the discovery cohort and then frozen in ``signature.json``. Each
gene's cutpoint is stored in expression units and as a percentile of the discovery
distribution (the share of discovery samples at or below it). A new cohort is scored by
moving every cutpoint to the same percentile of that cohort's own distribution
(``transfer="percentile"``, fair across platforms and scales) or, when the platforms match,
by using the absolute value (``transfer="absolute"``).

Scoring rule ``count``: a gene is *risk-activated* in a sample when its expression is on the
risk side of the cutpoint; the score is the number of risk-activated genes, and the high-risk
group is ``score > risk_cutpoint`` (the discovery median, locked).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from omicsflow.errors import InputError, first_items

__all__ = [
    "DIRECTIONS",
    "TRANSFERS",
    "Signature",
    "SignatureGene",
    "lock_signature",
    "risk_states",
    "score_signature",
    "transferred_cutpoints",
]

logger = logging.getLogger(__name__)

DIRECTIONS = ("high_risk_above", "high_risk_below")
TRANSFERS = ("percentile", "absolute")
FORMAT = "omicsflow.signature/1"


@dataclass(frozen=True)
class SignatureGene:
    """One gene of a signature.

    Attributes
    ----------
    gene
        Gene id.
    cutpoint
        Threshold in discovery expression units; low = ``x <= cutpoint``.
    percentile
        Share of discovery samples at or below ``cutpoint``.
    direction
        ``high_risk_above`` or ``high_risk_below``.
    hazard_ratio, p_value, q_value
        Discovery evidence (HR of high vs low expression, corrected p, BH q).
    """

    gene: str
    cutpoint: float
    percentile: float
    direction: str
    hazard_ratio: float
    p_value: float
    q_value: float


@dataclass(frozen=True)
class Signature:
    """A locked signature.

    Attributes
    ----------
    genes
        The signature genes, best first.
    scoring
        The scoring rule (``"count"``).
    risk_cutpoint
        High risk = score greater than this (set on discovery).
    selection
        How the genes were chosen (rule and parameters), for the record.
    """

    genes: tuple[SignatureGene, ...]
    scoring: str
    risk_cutpoint: float
    selection: dict[str, Any]

    @property
    def gene_ids(self) -> list[str]:
        """The signature's gene ids."""
        return [entry.gene for entry in self.genes]

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for ``signature.json``."""
        return {
            "format": FORMAT,
            "scoring": self.scoring,
            "score_description": (
                "score = number of risk-activated genes (expression above the cutpoint for "
                "high_risk_above genes, at or below it for high_risk_below genes); high risk = "
                "score > risk_cutpoint. In a new cohort each cutpoint moves to the same "
                "percentile of that cohort's own distribution (or stays absolute when the "
                "platforms match)."
            ),
            "risk_cutpoint": self.risk_cutpoint,
            "selection": self.selection,
            "genes": [asdict(entry) for entry in self.genes],
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Signature:
        """Rebuild a signature from :meth:`to_dict` output."""
        if record.get("format") != FORMAT:
            raise InputError(
                "not an omicsflow signature",
                seen=repr(record.get("format")),
                expected=FORMAT,
                fix="pass results/biomarkers/signature.json",
            )
        genes = tuple(SignatureGene(**entry) for entry in record["genes"])
        return cls(
            genes=genes,
            scoring=record["scoring"],
            risk_cutpoint=float(record["risk_cutpoint"]),
            selection=record["selection"],
        )


def lock_signature(
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    *,
    size: int = 10,
    max_q: float = 1.0,
) -> Signature:
    """Choose the signature genes on the discovery cohort and lock the scoring rule.

    Parameters
    ----------
    cutpoints
        The scan result (:func:`omicsflow.survival.cutpoint.scan_cutpoints`), best first.
    expression
        Discovery expression, samples × genes (to set the risk-group cutpoint).
    size
        Number of genes: the ``size`` best by corrected p-value with ``q_value <= max_q``.
    max_q
        Largest Benjamini–Hochberg q-value admitted.

    Returns
    -------
    Signature
        The locked signature.
    """
    if size < 1:
        raise InputError(
            "signature size must be at least 1", seen=size, fix="set biomarkers.signature_size"
        )
    ranked = cutpoints.dropna(subset=["p_value"]).sort_values("p_value", kind="stable")
    chosen = ranked[ranked["q_value"] <= max_q].head(size)
    if chosen.empty:
        logger.warning("no gene has q <= %.3g; the signature takes the best gene by p-value", max_q)
        chosen = ranked.head(1)
    if chosen.empty:
        raise InputError(
            "no gene has a cutpoint; a signature cannot be formed",
            fix="check the discovery cohort's expression values",
        )
    genes = tuple(
        SignatureGene(
            gene=str(row.gene),
            cutpoint=float(row.cutpoint),
            percentile=float(row.cutpoint_percentile),
            direction=str(row.direction),
            hazard_ratio=float(row.hazard_ratio),
            p_value=float(row.p_value),
            q_value=float(row.q_value),
        )
        for row in chosen.itertuples(index=False)
    )
    provisional = Signature(genes=genes, scoring="count", risk_cutpoint=0.0, selection={})
    score = score_signature(provisional, expression, transfer="absolute")
    risk_cutpoint = float(np.quantile(score, 0.5, method="inverted_cdf"))
    if not (score > risk_cutpoint).any():
        risk_cutpoint -= 0.5
    signature = Signature(
        genes=genes,
        scoring="count",
        risk_cutpoint=risk_cutpoint,
        selection={
            "rule": "best corrected p-value",
            "size": size,
            "max_q": max_q,
            "candidates": len(ranked),
        },
    )
    logger.info("locked signature of %d genes: %s", len(genes), ", ".join(signature.gene_ids))
    return signature


def transferred_cutpoints(
    signature: Signature, expression: pd.DataFrame, *, transfer: str = "percentile"
) -> pd.Series:
    """Each signature gene's cutpoint in the units of ``expression``.

    Parameters
    ----------
    signature
        A locked signature.
    expression
        samples × genes of the cohort to score.
    transfer
        ``"percentile"``: the discovery percentile of this cohort's distribution (the
        smallest value whose empirical CDF reaches it); ``"absolute"``: the discovery value.

    Returns
    -------
    pandas.Series
        Cutpoint per signature gene.
    """
    if transfer not in TRANSFERS:
        raise InputError(
            "unknown cutpoint transfer",
            seen=repr(transfer),
            expected=" | ".join(TRANSFERS),
            fix="set validation.transfer",
        )
    missing = [gene for gene in signature.gene_ids if gene not in expression.columns]
    if missing:
        raise InputError(
            "the cohort lacks signature genes",
            column=first_items(missing),
            seen=f"{len(missing)} of {len(signature.genes)} signature genes missing",
            fix="use a cohort that measures the signature genes",
        )
    if transfer == "absolute":
        return pd.Series({entry.gene: entry.cutpoint for entry in signature.genes})
    return pd.Series(
        {
            entry.gene: float(
                np.quantile(
                    expression[entry.gene].to_numpy(dtype=np.float64),
                    entry.percentile,
                    method="inverted_cdf",
                )
            )
            for entry in signature.genes
        }
    )


def risk_states(
    signature: Signature, expression: pd.DataFrame, *, transfer: str = "percentile"
) -> pd.DataFrame:
    """Whether each signature gene is risk-activated in each sample (samples × genes, bool)."""
    cutpoints = transferred_cutpoints(signature, expression, transfer=transfer)
    states = {}
    for entry in signature.genes:
        values = expression[entry.gene].to_numpy(dtype=np.float64)
        above = values > cutpoints[entry.gene]
        states[entry.gene] = above if entry.direction == "high_risk_above" else ~above
    return pd.DataFrame(states, index=expression.index)


def score_signature(
    signature: Signature, expression: pd.DataFrame, *, transfer: str = "percentile"
) -> np.ndarray:
    """The signature score (number of risk-activated genes) of every sample."""
    return (
        risk_states(signature, expression, transfer=transfer).sum(axis=1).to_numpy(dtype=np.float64)
    )

"""Gene attributions of the fine-tuned network: integrated gradients, averaged over patients.

Integrated gradients (Sundararajan et al. 2017) attribute the difference between a patient's
log-risk and the log-risk of a baseline input to the genes. The baseline is the all-zero
input, i.e. the discovery cohort's average patient after z-scoring. Attributions of one patient
sum to ``risk(patient) - risk(baseline)`` (completeness; the Riemann approximation error is
reported). A gene's importance is the mean absolute attribution over patients; its ``slope``
(least-squares slope of the attributions on the gene's deviation from the baseline, through the
origin; exactly the coefficient for a linear score) says whether higher expression raises
(positive) or lowers (negative) the risk.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from omicsflow.transfer.model import SurvivalNet

__all__ = ["ATTRIBUTION_COLUMNS", "attribution_table", "integrated_gradients"]

logger = logging.getLogger(__name__)

ATTRIBUTION_COLUMNS = [
    "gene",
    "attribution",
    "slope",
    "rank",
    "in_signature",
    "cutpoint_rank",
    "cutpoint_q",
]


def integrated_gradients(
    model: SurvivalNet,
    expression: np.ndarray,
    *,
    baseline: np.ndarray | None = None,
    steps: int = 64,
) -> np.ndarray:
    """Integrated gradients of the log-risk for each patient and gene.

    Parameters
    ----------
    model
        The network (evaluated in eval mode, on the CPU).
    expression
        patients × genes.
    baseline
        Reference input (one row of genes); zeros by default.
    steps
        Points of the midpoint Riemann sum along the straight path.

    Returns
    -------
    numpy.ndarray
        patients × genes attributions (float64).
    """
    model.eval()
    x = torch.as_tensor(np.asarray(expression, dtype=np.float32))
    reference = (
        torch.zeros(x.shape[1])
        if baseline is None
        else torch.as_tensor(np.asarray(baseline, dtype=np.float32))
    )
    total = torch.zeros_like(x, dtype=torch.float64)
    for alpha in (np.arange(steps) + 0.5) / steps:
        point = (reference + float(alpha) * (x - reference)).requires_grad_(True)
        risk = model(point).sum()
        (gradient,) = torch.autograd.grad(risk, point)
        total += gradient.double()
    return ((x - reference).double() * total / steps).numpy()


def attribution_table(
    model: SurvivalNet,
    expression: pd.DataFrame,
    *,
    signature_genes: list[str] | None = None,
    cutpoints: pd.DataFrame | None = None,
    steps: int = 64,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rank genes by mean absolute integrated gradient and mark the threshold biomarkers.

    Parameters
    ----------
    model
        The fine-tuned network.
    expression
        Discovery patients × genes (preprocessed), columns in the model's gene order.
    signature_genes
        Genes of the locked threshold signature (``signature.json``).
    cutpoints
        The biomarker scan (``cutpoints.tsv``: ``gene``, ``q_value``, sorted by p-value).
    steps
        Integrated-gradient steps.

    Returns
    -------
    tuple
        ``(table with ATTRIBUTION_COLUMNS sorted by rank, summary dict)``. The summary has the
        overlap of the top-k attributed genes with the k signature genes and the completeness
        error.
    """
    values = expression.to_numpy(dtype=np.float32)
    attributions = integrated_gradients(model, values, steps=steps)
    with torch.no_grad():
        risk = model(torch.as_tensor(values)).double().numpy()
        base = float(model(torch.zeros(1, values.shape[1])).double().numpy()[0])
    completeness = float(np.max(np.abs(attributions.sum(axis=1) - (risk - base))))
    deviation = values.astype(np.float64)  # the baseline is zero
    spread = (deviation**2).sum(axis=0)
    slope = np.divide(
        (attributions * deviation).sum(axis=0),
        spread,
        out=np.zeros(values.shape[1]),
        where=spread > 0,
    )
    table = pd.DataFrame(
        {
            "gene": expression.columns.astype(str),
            "attribution": np.abs(attributions).mean(axis=0),
            "slope": slope,
        }
    )
    table = table.sort_values(["attribution", "gene"], ascending=[False, True], kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    signature = set(signature_genes or [])
    table["in_signature"] = table["gene"].isin(signature)
    if cutpoints is not None:
        order = cutpoints.reset_index(drop=True)
        position = pd.Series(np.arange(1, len(order) + 1), index=order["gene"].astype(str))
        table["cutpoint_rank"] = table["gene"].map(position).astype("Int64")
        table["cutpoint_q"] = table["gene"].map(order.set_index("gene")["q_value"])
    else:
        table["cutpoint_rank"] = pd.array([pd.NA] * len(table), dtype="Int64")
        table["cutpoint_q"] = np.nan
    k = len(signature)
    top = set(table["gene"].head(k)) if k else set()
    summary = {
        "method": "integrated gradients, zero (average-patient) baseline",
        "steps": steps,
        "patients": int(values.shape[0]),
        "completeness_max_error": completeness,
        "signature_size": k,
        "top_k_overlap": sorted(top & signature),
        "signature_ranks": {
            gene: int(rank)
            for gene, rank in zip(table["gene"], table["rank"], strict=True)
            if gene in signature
        },
        "genes_with_attribution": int((table["attribution"] > 0).sum()),
    }
    logger.info(
        "attributions: %d of the %d signature genes are among the top %d attributed genes",
        len(summary["top_k_overlap"]),
        k,
        k,
    )
    return table.loc[:, ATTRIBUTION_COLUMNS].reset_index(drop=True), summary

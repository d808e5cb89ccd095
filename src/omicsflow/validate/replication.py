"""Per signature gene: does it, on its own, replicate in a validation cohort.

Each gene is dichotomised at its transferred cutpoint (the same transfer as the signature
score); its hazard ratio (high vs low expression, Cox, 95% CI) and log-rank p in the cohort are
compared with discovery. A gene *replicates* when the hazard ratio points the same way as in
discovery and p < alpha.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from omicsflow.survival.metrics import cox_fit, logrank_test
from omicsflow.survival.signature import Signature, transferred_cutpoints

__all__ = ["REPLICATION_COLUMNS", "replicate_genes"]

logger = logging.getLogger(__name__)

REPLICATION_COLUMNS = (
    "gene",
    "status",
    "direction",
    "discovery_hr",
    "discovery_p",
    "cutpoint",
    "n_high",
    "events_high",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
    "logrank_p",
    "q_value",
    "same_direction",
    "replicates",
)


def replicate_genes(
    signature: Signature,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    transfer: str,
    missing: list[str] = (),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per signature gene: its HR and p in this cohort and whether it replicates.

    Parameters
    ----------
    signature
        The signature actually scored (genes present in the cohort).
    expression
        The cohort's expression, samples × genes.
    time, event
        Its outcome.
    transfer
        Cutpoint transfer (``percentile`` or ``absolute``).
    missing
        Signature genes the cohort lacks: listed with ``status="missing"`` and no numbers.
    alpha
        Significance level of the replication rule.

    Returns
    -------
    pandas.DataFrame
        :data:`REPLICATION_COLUMNS`, one row per gene (scored genes first). ``q_value`` is
        the Benjamini–Hochberg adjustment of ``logrank_p`` across the scored genes.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(int)
    cutpoints = transferred_cutpoints(signature, expression, transfer=transfer)
    rows = []
    for entry in signature.genes:
        high = expression[entry.gene].to_numpy(dtype=np.float64) > cutpoints[entry.gene]
        row = {
            "gene": entry.gene,
            "status": "scored",
            "direction": entry.direction,
            "discovery_hr": entry.hazard_ratio,
            "discovery_p": entry.p_value,
            "cutpoint": float(cutpoints[entry.gene]),
            "n_high": int(high.sum()),
            "events_high": int(event[high].sum()),
            "hazard_ratio": float("nan"),
            "hr_ci_low": float("nan"),
            "hr_ci_high": float("nan"),
            "logrank_p": float("nan"),
        }
        if 0 < high.sum() < high.size and event.sum() > 0:
            cox = cox_fit(high.astype(np.float64), time, event)
            row.update(
                hazard_ratio=float(cox.hazard_ratio[0]),
                hr_ci_low=float(cox.ci_low[0]),
                hr_ci_high=float(cox.ci_high[0]),
                logrank_p=logrank_test(time, event, high).p_value,
            )
        else:
            logger.warning(
                "gene %s: every sample falls on one side of its transferred cutpoint %.4g; "
                "its hazard ratio is undefined",
                entry.gene,
                cutpoints[entry.gene],
            )
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(REPLICATION_COLUMNS[:12]))
    finite = table["logrank_p"].notna().to_numpy()
    q = np.full(len(table), np.nan)
    if finite.any():
        q[finite] = stats.false_discovery_control(table.loc[finite, "logrank_p"].to_numpy())
    table["q_value"] = q
    same = (table["hazard_ratio"] > 1) == (table["discovery_hr"] > 1)
    table["same_direction"] = same.where(table["hazard_ratio"].notna(), None)
    table["replicates"] = same & (table["logrank_p"] < alpha)
    if missing:
        absent = pd.DataFrame({"gene": list(missing), "status": "missing", "replicates": False})
        table = pd.concat([table, absent], ignore_index=True)
    table = table.reindex(columns=list(REPLICATION_COLUMNS))
    logger.info(
        "%d of %d signature genes replicate (same direction, p < %g)",
        int(table["replicates"].sum()),
        len(table),
        alpha,
    )
    return table

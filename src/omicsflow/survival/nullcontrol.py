"""Null controls: the pipeline should find nothing when there is nothing to find.

(a) **Type-I self-test.** The patients' outcomes are permuted (time and event together), which
    breaks every gene–survival link while keeping the expression (its ties and correlations)
    and the outcome distribution. The scan is rerun; the share of genes with p < α should stay
    near α for an honest p-value. It is reported for the Lausen–Schumacher 1994 p (the
    default), the 1992 approximation, the permutation p-value, and, for contrast, the naive
    log-rank p at the selected cutpoint (which ignores the search and is far too small).
(b) **Random signatures.** Signatures of the same size made of random genes, each cut at its
    own maximally selected cutpoint and scored by the same rule, give the null distribution of
    the apparent discovery C-index; the locked signature's C-index is compared with it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from omicsflow.errors import InputError
from omicsflow.survival.cutpoint import PERMUTATION_STREAM, p_lausen92, p_lausen94
from omicsflow.survival.groups import two_group_tests
from omicsflow.survival.logrank import (
    _check_matrix,
    genes_by_row,
    logrank_scores,
    maxstat_scan_rows,
)
from omicsflow.survival.metrics import as_survival, concordance_index
from omicsflow.survival.performance import fit_weights
from omicsflow.survival.permutation import permutation_null, permutation_pvalues
from omicsflow.survival.signature import Signature, score_signature

__all__ = ["random_signature_null", "type_one_self_test"]

logger = logging.getLogger(__name__)

OUTCOME_STREAM = 3
RANDOM_SIGNATURE_STREAM = 4


def type_one_self_test(
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    n_replicates: int = 20,
    seed: int = 0,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
    alpha: float = 0.05,
    permutations: int = 1000,
    max_tie_patterns: int | None = None,
) -> dict[str, Any]:
    """Share of genes with p < ``alpha`` when the outcomes are permuted.

    Parameters
    ----------
    expression
        samples × genes, complete.
    time, event
        Survival outcome.
    n_replicates
        Outcome permutations (each reruns the scan of every gene).
    seed
        ``config["seed"]``; the outcome permutations and the permutation p-values use their
        own streams of it.
    min_prop, max_prop
        Candidate range, as in the scan.
    alpha
        Nominal level.
    permutations
        B for the permutation p-values (0: not reported).
    max_tie_patterns
        Cap on tie patterns given permutation p-values.

    Returns
    -------
    dict
        Per p-value kind, the share below ``alpha`` in each replicate and their mean.
    """
    if n_replicates < 1:
        raise InputError(
            "the type-I self-test needs at least one outcome permutation",
            seen=n_replicates,
            fix="set biomarkers.null_control.outcome_permutations",
        )
    time, event = as_survival(time, event)
    rows = genes_by_row(_check_matrix(expression.to_numpy()))
    rng = np.random.default_rng([int(seed), OUTCOME_STREAM])
    kinds = ("p_value", "p_lau92", "p_perm", "logrank_p")
    shares: dict[str, list[float]] = {kind: [] for kind in kinds}
    statistics = []
    scan = None
    for replicate in range(n_replicates):
        order = rng.permutation(time.size)
        permuted_time, permuted_event = time[order], event[order]
        scores = logrank_scores(permuted_time, permuted_event)
        scan = maxstat_scan_rows(rows, scores, min_prop=min_prop, max_prop=max_prop)
        statistics.append(scan.statistic)
        has_cut = np.isfinite(scan.statistic)
        naive = np.full(scan.statistic.size, np.nan)
        naive[has_cut] = two_group_tests(
            rows[has_cut] > scan.cutpoint[has_cut, None], permuted_time, permuted_event
        ).p_value
        for kind, p in (
            ("p_value", p_lausen94(scan.statistic, scan.t_sum, scan.t3_sum)),
            ("p_lau92", p_lausen92(scan.statistic, min_prop, max_prop)),
            ("logrank_p", naive),
        ):
            shares[kind].append(_share_below(p, alpha))
        logger.info("type-I self-test: %d/%d outcome permutations", replicate + 1, n_replicates)
    if permutations > 0 and scan is not None:
        # Permuted outcomes permute the scores: the permutation null is the same.
        null = permutation_null(
            logrank_scores(time, event),
            m_low=scan.m_low,
            m_high=scan.m_high,
            n_permutations=permutations,
            seed=[int(seed), PERMUTATION_STREAM],
        )
        p_perm = permutation_pvalues(
            null, scan, np.vstack(statistics), max_tie_patterns=max_tie_patterns
        )
        shares["p_perm"] = [_share_below(row, alpha) for row in p_perm]
    else:
        del shares["p_perm"]
    return {
        "alpha": alpha,
        "outcome_permutations": n_replicates,
        "genes": int(rows.shape[0]),
        "permutations": permutations,
        "share_below_alpha": {kind: values for kind, values in shares.items()},
        "mean_share_below_alpha": {kind: float(np.mean(v)) for kind, v in shares.items()},
        "description": (
            "outcomes (time, event) permuted over patients; share of genes with p < alpha. "
            "p_value = Lausen-Schumacher 1994, p_lau92 = 1992 approximation, p_perm = "
            "permutation p, logrank_p = naive log-rank p at the selected cutpoint (ignores "
            "the search; shown for contrast)"
        ),
    }


def _share_below(p: np.ndarray, alpha: float) -> float:
    finite = np.isfinite(p)
    return float(np.mean(p[finite] < alpha)) if finite.any() else float("nan")


def random_signature_null(
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    signature: Signature,
    *,
    n_signatures: int = 1000,
    seed: int = 0,
    penalizer: float = 0.1,
) -> dict[str, Any]:
    """Null distribution of the discovery C-index of size-matched random signatures.

    Parameters
    ----------
    cutpoints
        The scan (each gene's maximally selected cutpoint and direction).
    expression
        Discovery expression, samples × genes.
    time, event
        Discovery outcome.
    signature
        The locked signature (its size, scoring rule and apparent C-index are matched).
    n_signatures
        Number of random signatures.
    seed
        ``config["seed"]``; this control uses its own stream of it.
    penalizer
        Ridge penalty of the ``cox`` rule.

    Returns
    -------
    dict
        The signature's C-index, the null quantiles and the empirical p-value
        ``(1 + #{null ≥ observed}) / (n + 1)``.
    """
    time, event = as_survival(time, event)
    usable = cutpoints.dropna(subset=["cutpoint"])
    usable = usable[usable["gene"].astype(str).isin(expression.columns.astype(str))]
    size = len(signature.genes)
    if len(usable) < size:
        raise InputError(
            "too few genes with a cutpoint for size-matched random signatures",
            seen=f"{len(usable)} genes, signature of {size}",
            fix="lower biomarkers.signature_size",
        )
    values = expression.loc[:, usable["gene"].astype(str)].to_numpy(dtype=np.float64)
    above = values > usable["cutpoint"].to_numpy(dtype=np.float64)
    states = np.where((usable["direction"] == "high_risk_above").to_numpy(), above, ~above)
    observed_score = score_signature(signature, expression, transfer="absolute")
    observed = concordance_index(time, event, observed_score)
    rng = np.random.default_rng([int(seed), RANDOM_SIGNATURE_STREAM])
    null = np.empty(n_signatures)
    for draw in range(n_signatures):
        chosen = states[:, rng.choice(states.shape[1], size=size, replace=False)]
        chosen = chosen.astype(np.float64)
        if signature.scoring == "cox":
            score = chosen @ fit_weights(chosen, time, event, penalizer=penalizer)
        else:
            score = chosen.sum(axis=1)
        null[draw] = concordance_index(time, event, score)
        if (draw + 1) % max(1, n_signatures // 5) == 0:
            logger.info("random signatures: %d/%d", draw + 1, n_signatures)
    exceed = int(np.sum(null >= observed - 1e-12))
    return {
        "signature_size": size,
        "scoring": signature.scoring,
        "random_signatures": n_signatures,
        "c_index_signature": float(observed),
        "c_index_null_mean": float(np.mean(null)),
        "c_index_null_quantiles": {
            q: float(np.quantile(null, float(q))) for q in ("0.025", "0.5", "0.95", "0.975")
        },
        "p_value": (1.0 + exceed) / (n_signatures + 1.0),
        "c_index_null": null.tolist(),
        "description": (
            "apparent discovery C-index of size-matched signatures of random genes, each cut "
            "at its own maximally selected cutpoint and scored by the same rule"
        ),
    }

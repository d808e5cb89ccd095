"""The signature's C-index on the discovery cohort: apparent and optimism-corrected.

The apparent C-index is optimistic: the genes, their cutpoints and the weights were all chosen
on the same patients. Harrell's bootstrap estimates that optimism by repeating the *whole*
pipeline in each bootstrap resample (scan every gene, select by the same rule, cut at the
resample's own cutpoints, fit the scoring rule), then comparing the resample signature's
C-index on its resample (apparent) with its C-index on the original cohort (test):
``optimism = mean(C_boot − C_orig)`` and ``corrected = apparent − optimism``.

The per-resample scans are done once, in the stability bootstrap
(:func:`omicsflow.survival.bootstrap.bootstrap_stability`), which keeps each resample's picks;
the resamples themselves are regenerated from the same seed (:func:`resample_indices`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from omicsflow.errors import InputError
from omicsflow.survival.bootstrap import resample_indices
from omicsflow.survival.metrics import as_survival, concordance_index, cox_fit
from omicsflow.survival.signature import Signature, SignatureGene, risk_states, score_signature

__all__ = ["fit_weights", "signature_performance"]

logger = logging.getLogger(__name__)


def fit_weights(
    states: np.ndarray, time: np.ndarray, event: np.ndarray, *, penalizer: float
) -> np.ndarray:
    """Ridge-penalised Cox coefficients of binary risk activations (the ``cox`` rule).

    Parameters
    ----------
    states
        samples × genes, 0/1 risk activations.
    time, event
        Survival outcome.
    penalizer
        Ridge penalty (lifelines convention).

    Returns
    -------
    numpy.ndarray
        One weight per gene.
    """
    if states.shape[1] == 0:
        return np.zeros(0)
    return cox_fit(np.asarray(states, dtype=np.float64), time, event, penalizer=penalizer).coef


def _resample_signature(picks: pd.DataFrame, scoring: str) -> Signature:
    genes = tuple(
        SignatureGene(
            gene=str(row.gene),
            cutpoint=float(row.cutpoint),
            percentile=float("nan"),
            direction=str(row.direction),
            hazard_ratio=float("nan"),
            p_value=float(row.p_value),
            q_value=float("nan"),
        )
        for row in picks.itertuples(index=False)
    )
    return Signature(genes=genes, scoring=scoring, risk_cutpoint=0.0, selection={})


def _score(
    signature: Signature,
    train: pd.DataFrame,
    train_time: np.ndarray,
    train_event: np.ndarray,
    penalizer: float,
) -> Signature:
    """The signature with its ``cox`` weights fitted on ``train`` (``count``: unchanged)."""
    if signature.scoring != "cox" or not signature.genes:
        return signature
    states = risk_states(signature, train, transfer="absolute").to_numpy(dtype=np.float64)
    weights = fit_weights(states, train_time, train_event, penalizer=penalizer)
    genes = tuple(
        replace(entry, weight=float(weight))
        for entry, weight in zip(signature.genes, weights, strict=True)
    )
    return Signature(genes=genes, scoring="cox", risk_cutpoint=0.0, selection={})


def _c_index(signature: Signature, expression: pd.DataFrame, time, event) -> float:
    if not signature.genes:
        return 0.5
    score = score_signature(signature, expression, transfer="absolute")
    return concordance_index(time, event, score)


def signature_performance(
    signature: Signature,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    picks: pd.DataFrame,
    n_resamples: int,
    seed: int,
    penalizer: float = 0.1,
) -> dict[str, Any]:
    """Apparent and bootstrap optimism-corrected C-index of a signature on discovery.

    Parameters
    ----------
    signature
        The locked signature.
    expression
        Discovery expression, samples × genes (the rows the bootstrap resampled).
    time, event
        Discovery outcome.
    picks
        Each resample's selected genes (:attr:`~omicsflow.survival.bootstrap.Stability.picks`).
    n_resamples, seed
        The bootstrap's size and seed, to regenerate the same resamples.
    penalizer
        Ridge penalty of the ``cox`` rule.

    Returns
    -------
    dict
        ``c_index_apparent``, ``c_index_optimism``, ``c_index_corrected``,
        ``n_resamples`` and the method, for ``signature.json``.
    """
    time, event = as_survival(time, event)
    n = time.size
    if expression.shape[0] != n:
        raise InputError(
            "expression rows and survival outcomes differ in number",
            seen=f"{expression.shape[0]} samples vs {n} outcomes",
            fix="pass the discovery cohort's expression and outcome",
        )
    if len(picks) and int(picks["resample"].max()) >= n_resamples:
        raise InputError(
            "the bootstrap picks come from more resamples than requested",
            seen=f"resample {int(picks['resample'].max())} with n_resamples={n_resamples}",
            fix="use the same biomarkers.bootstrap setting for the scan and the signature",
        )
    apparent = _c_index(signature, expression, time, event)
    needed = sorted(set(picks["gene"].astype(str)) | set(signature.gene_ids))
    subset = expression.loc[:, needed]
    indices = resample_indices(n, n_resamples, seed)
    by_resample = dict(tuple(picks.groupby("resample", sort=True)))
    optimism = []
    for resample, index in enumerate(indices):
        if not event[index].any():
            continue  # skipped by the bootstrap as well
        chosen = by_resample.get(resample, picks.iloc[0:0]).sort_values("rank")
        train = subset.iloc[index]
        boot = _score(
            _resample_signature(chosen, signature.scoring),
            train,
            time[index],
            event[index],
            penalizer,
        )
        c_boot = _c_index(boot, train, time[index], event[index])
        c_orig = _c_index(boot, subset, time, event)
        optimism.append(c_boot - c_orig)
        if (resample + 1) % max(1, n_resamples // 10) == 0:
            logger.info("optimism bootstrap: %d/%d resamples", resample + 1, n_resamples)
    mean_optimism = float(np.mean(optimism)) if optimism else float("nan")
    return {
        "c_index_apparent": float(apparent),
        "c_index_optimism": mean_optimism,
        "c_index_corrected": float(apparent - mean_optimism),
        "n_resamples": len(optimism),
        "method": (
            "Harrell's bootstrap: the whole pipeline (scan, selection, cutpoints, scoring) "
            "refitted in each resample; optimism = mean(C on resample − C on discovery)"
        ),
    }

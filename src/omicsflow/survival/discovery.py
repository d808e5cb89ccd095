"""The biomarker-discovery steps of the workflow, from the discovery AnnData and the config.

Each function is one rule's computation (the scripts only read and write files):

* :func:`discover_cutpoints` (``biomarkers_scan``): bootstrap stability, then the scan of every
  gene with all its p-values → the ``cutpoints.tsv`` table and each resample's picks;
* :func:`lock_discovery_signature` (``biomarkers_signature``): the locked signature with its
  apparent and optimism-corrected C-index;
* :func:`null_controls` (``biomarkers_null``): the type-I self-test and the random-signature
  null of the C-index.

``options`` is the ``biomarkers`` section of the config; ``seed`` is ``config["seed"]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.cohort import expression_frame, outcome
from omicsflow.errors import InputError
from omicsflow.survival.bootstrap import PICK_COLUMNS, SelectionRule, bootstrap_stability
from omicsflow.survival.cutpoint import reference_cutpoints, scan_cutpoints
from omicsflow.survival.metrics import concordance_index
from omicsflow.survival.nullcontrol import random_signature_null, type_one_self_test
from omicsflow.survival.performance import signature_performance
from omicsflow.survival.signature import Signature, lock_signature, score_signature

__all__ = [
    "Discovery",
    "DiscoveryData",
    "discover_cutpoints",
    "discovery_data",
    "lock_discovery_signature",
    "null_controls",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiscoveryData:
    """The patients the scan uses and, in reference mode, the reference samples."""

    expression: pd.DataFrame
    time: np.ndarray
    event: np.ndarray
    reference: pd.DataFrame | None


@dataclass(frozen=True)
class Discovery:
    """Output of :func:`discover_cutpoints`.

    Attributes
    ----------
    table
        ``cutpoints.tsv``: every gene, sorted by corrected p-value.
    picks
        Genes selected in each bootstrap resample (for the optimism correction).
    stability
        ``stability.tsv``: per gene, the selection frequency and the cutpoint interval in
        expression units and in percentiles of the discovery distribution (same gene order
        as ``table``; empty without bootstrap).
    """

    table: pd.DataFrame
    picks: pd.DataFrame
    stability: pd.DataFrame


def discovery_data(adata: ad.AnnData, options: dict[str, Any]) -> DiscoveryData:
    """Split the discovery cohort into patients and (optional) reference samples.

    Parameters
    ----------
    adata
        The preprocessed discovery cohort.
    options
        The ``biomarkers`` config section; ``reference.column`` (non-empty) marks reference
        samples whose ``reference.value`` rows set the activation thresholds.

    Returns
    -------
    DiscoveryData
        Patients' expression and outcome; reference expression or ``None``.
    """
    expression = expression_frame(adata)
    time, event = outcome(adata)
    reference_options = options.get("reference") or {}
    column = reference_options.get("column") or ""
    if not column:
        return DiscoveryData(expression, time, event, None)
    if column not in adata.obs:
        raise InputError(
            "the reference column is not in the discovery clinical table",
            cohort=str(adata.uns.get("cohort", {}).get("id", "")),
            column=column,
            seen=f"columns {list(adata.obs.columns)[:8]}",
            fix="set biomarkers.reference.column to a clinical column, or leave it empty",
        )
    is_reference = (adata.obs[column].astype(str) == str(reference_options["value"])).to_numpy()
    logger.warning(
        "%d reference samples (%s == %r) set the activation thresholds and are left out of the "
        "survival analysis; %d patients remain",
        int(is_reference.sum()),
        column,
        reference_options["value"],
        int((~is_reference).sum()),
    )
    return DiscoveryData(
        expression.loc[~is_reference],
        time[~is_reference],
        event[~is_reference],
        expression.loc[is_reference],
    )


def _rule(options: dict[str, Any]) -> SelectionRule:
    return SelectionRule(size=int(options["signature_size"]), max_q=float(options["max_q"]))


def discover_cutpoints(adata: ad.AnnData, options: dict[str, Any], *, seed: int) -> Discovery:
    """Bootstrap stability and the scan of every gene (rule ``biomarkers_scan``).

    Parameters
    ----------
    adata
        The preprocessed discovery cohort.
    options
        The ``biomarkers`` config section.
    seed
        ``config["seed"]``.

    Returns
    -------
    Discovery
        The cutpoint table and the bootstrap picks.
    """
    data = discovery_data(adata, options)
    reference = options.get("reference") or {}
    n_sd = float(reference.get("n_sd", 2.0))
    cutpoints = (
        reference_cutpoints(
            pd.concat([data.expression, data.reference]),
            np.r_[np.zeros(len(data.expression), bool), np.ones(len(data.reference), bool)],
            n_sd=n_sd,
        )
        if data.reference is not None
        else None
    )
    stability = None
    if int(options["bootstrap"]) > 0:
        stability = bootstrap_stability(
            data.expression,
            data.time,
            data.event,
            n_resamples=int(options["bootstrap"]),
            seed=seed,
            rule=_rule(options),
            min_prop=float(options["min_prop"]),
            max_prop=float(options["max_prop"]),
            reference=data.reference,
            n_sd=n_sd,
        )
    table = scan_cutpoints(
        data.expression,
        data.time,
        data.event,
        min_prop=float(options["min_prop"]),
        max_prop=float(options["max_prop"]),
        permutations=int(options["permutations"]),
        seed=seed,
        max_tie_patterns=int(options["max_tie_patterns"]),
        stability=stability,
        cutpoints=cutpoints,
    )
    if stability is None:
        return Discovery(table=table, picks=_empty_picks(), stability=pd.DataFrame())
    per_gene = stability.table().set_index("gene").loc[table["gene"]].reset_index()
    return Discovery(table=table, picks=stability.picks, stability=per_gene)


def _empty_picks() -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in PICK_COLUMNS})


def lock_discovery_signature(
    adata: ad.AnnData,
    cutpoints: pd.DataFrame,
    picks: pd.DataFrame,
    options: dict[str, Any],
    *,
    seed: int,
) -> Signature:
    """Lock the signature and measure its discovery C-index (rule ``biomarkers_signature``).

    Parameters
    ----------
    adata
        The preprocessed discovery cohort.
    cutpoints
        ``cutpoints.tsv``.
    picks
        ``bootstrap_picks.tsv``.
    options
        The ``biomarkers`` config section.
    seed
        ``config["seed"]`` (regenerates the bootstrap resamples).

    Returns
    -------
    Signature
        The locked signature, ``performance`` filled.
    """
    data = discovery_data(adata, options)
    penalizer = float(options["penalizer"])
    signature = lock_signature(
        cutpoints,
        data.expression,
        size=int(options["signature_size"]),
        max_q=float(options["max_q"]),
        min_selection_frequency=float(options["min_selection_frequency"]),
        scoring=str(options["scoring"]),
        risk_groups=tuple(options["risk_groups"]),
        penalizer=penalizer,
        time=data.time,
        event=data.event,
    )
    n_resamples = int(options["bootstrap"])
    if n_resamples > 0 and data.reference is None:
        performance = signature_performance(
            signature,
            data.expression,
            data.time,
            data.event,
            picks=picks,
            n_resamples=n_resamples,
            seed=seed,
            penalizer=penalizer,
        )
    else:
        score = score_signature(signature, data.expression, transfer="absolute")
        performance = {
            "c_index_apparent": concordance_index(data.time, data.event, score),
            "c_index_optimism": None,
            "c_index_corrected": None,
            "n_resamples": 0,
            "method": "no bootstrap (biomarkers.bootstrap = 0 or reference thresholds)",
        }
    logger.info(
        "discovery C-index: apparent %.3f, optimism-corrected %s",
        performance["c_index_apparent"],
        "n/a"
        if performance["c_index_corrected"] is None
        else f"{performance['c_index_corrected']:.3f}",
    )
    return replace(signature, performance=performance)


def null_controls(
    adata: ad.AnnData,
    cutpoints: pd.DataFrame,
    signature: Signature,
    options: dict[str, Any],
    *,
    seed: int,
) -> dict[str, Any]:
    """Type-I self-test and random-signature null (rule ``biomarkers_null``).

    Parameters
    ----------
    adata
        The preprocessed discovery cohort.
    cutpoints
        ``cutpoints.tsv``.
    signature
        The locked signature.
    options
        The ``biomarkers`` config section.
    seed
        ``config["seed"]``.

    Returns
    -------
    dict
        ``type_one_error`` and ``random_signatures`` sections of ``null_control.json``.
    """
    data = discovery_data(adata, options)
    control = options["null_control"]
    type_one = type_one_self_test(
        data.expression,
        data.time,
        data.event,
        n_replicates=int(control["outcome_permutations"]),
        seed=seed,
        min_prop=float(options["min_prop"]),
        max_prop=float(options["max_prop"]),
        permutations=int(options["permutations"]),
        max_tie_patterns=int(options["max_tie_patterns"]),
    )
    logger.info(
        "type-I self-test, mean share of genes with p < 0.05 under permuted outcomes: %s",
        ", ".join(f"{k} {v:.3f}" for k, v in type_one["mean_share_below_alpha"].items()),
    )
    random = random_signature_null(
        cutpoints,
        data.expression,
        data.time,
        data.event,
        signature,
        n_signatures=int(control["random_signatures"]),
        seed=seed,
        penalizer=float(options["penalizer"]),
    )
    logger.info(
        "signature C-index %.3f vs random signatures: median %.3f, p = %.4f",
        random["c_index_signature"],
        random["c_index_null_quantiles"]["0.5"],
        random["p_value"],
    )
    return {"type_one_error": type_one, "random_signatures": random}

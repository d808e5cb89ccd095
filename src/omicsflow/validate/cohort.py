"""The locked signature and the trained model on one independent validation cohort.

Nothing is refitted on the validation cohort: its expression arrives already transformed by
the discovery-fitted preprocessing (``results/preprocess/{cohort}.h5ad``); the signature's
cutpoints move to it by percentile or, on the discovery platform only, by absolute value; the
network's risk threshold is the discovery median risk, moved the same way (the same percentile
of this cohort's risk, or the same value). Discovery data are read only to fix what discovery
predicts (thresholds, per-group survival for calibration).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.cohort import expression_frame, outcome
from omicsflow.errors import InputError, first_items
from omicsflow.survival.signature import Signature, score_signature
from omicsflow.transfer.checkpoint import load_model
from omicsflow.transfer.train import predict_risk
from omicsflow.validate.calibration import CALIBRATION_COLUMNS, group_calibration
from omicsflow.validate.groups import (
    RiskEvaluation,
    RiskGroups,
    evaluate_groups,
    multivariable_cox,
    signature_risk_groups,
    threshold_groups,
)
from omicsflow.validate.random_signatures import random_signature_control
from omicsflow.validate.replication import REPLICATION_COLUMNS, replicate_genes
from omicsflow.validate.transfer import cohort_transfer, validation_options

__all__ = [
    "CohortValidation",
    "ValidationResult",
    "exclusion",
    "signature_for_cohort",
    "validate_cohort",
    "validate_signature",
]

logger = logging.getLogger(__name__)


def exclusion(adata: ad.AnnData) -> str | None:
    """The QC exclusion reason of a cohort, or ``None`` if it is not excluded.

    The quality gate marks a validation cohort that failed QC under
    ``qc.on_fail_validation: exclude`` with ``uns["qc"]["excluded"] = True`` and
    ``uns["qc"]["exclusion_reason"]``.
    """
    qc = adata.uns.get("qc", {}) or {}
    if not bool(np.asarray(qc.get("excluded", False)).item()):
        return None
    return str(qc.get("exclusion_reason", "") or "failed quality control")


def _unmeasured(expression: pd.DataFrame, genes: list[str]) -> list[str]:
    """Genes absent from ``expression`` or constant in it (filled entirely by imputation)."""
    out = []
    for gene in genes:
        if gene not in expression.columns:
            out.append(gene)
            continue
        values = expression[gene].to_numpy(dtype=np.float64)
        if values.size and np.nanmax(values) == np.nanmin(values):
            out.append(gene)
    return out


def signature_for_cohort(
    signature: Signature,
    expression: pd.DataFrame,
    *,
    cohort: str,
    discovery_expression: pd.DataFrame | None = None,
    allow_missing: bool = False,
    min_present: float = 0.5,
) -> tuple[Signature, list[str]]:
    """The signature to score a cohort with, given the signature genes it measures.

    A gene counts as missing when the cohort lacks it or it is constant there (after the
    discovery-fitted preprocessing a gene the cohort never measured is filled with one value).

    Parameters
    ----------
    signature
        The locked signature.
    expression
        The cohort's expression, samples × genes.
    cohort
        Cohort id, for messages.
    discovery_expression
        The discovery cohort's expression: with missing genes, the risk cutpoint of the
        reduced signature is re-set on discovery by the locking rule (median discovery score).
    allow_missing
        Score on the genes present (``validation.allow_missing_genes``); otherwise stop.
    min_present
        Smallest share of signature genes that must be present.

    Returns
    -------
    tuple
        ``(signature to score, missing gene ids)``.

    Raises
    ------
    InputError
        Genes missing and not allowed, or fewer present than ``min_present`` requires.
    """
    genes = signature.gene_ids
    missing = _unmeasured(expression, genes)
    if not missing:
        return signature, []
    present = [entry for entry in signature.genes if entry.gene not in missing]
    if not allow_missing:
        raise InputError(
            "the cohort lacks signature genes",
            cohort=cohort,
            column=first_items(missing),
            seen=f"{len(missing)} of {len(genes)} signature genes absent or constant",
            fix="set validation.allow_missing_genes: true to score on the genes present, or "
            "use a cohort that measures every signature gene",
        )
    needed = max(1, math.ceil(min_present * len(genes)))
    if len(present) < needed:
        raise InputError(
            "too few signature genes to score the cohort",
            cohort=cohort,
            column=first_items(missing),
            seen=f"{len(present)} of {len(genes)} signature genes present",
            expected=f"at least {needed} (validation.min_genes_present = {min_present})",
            fix="use a cohort that measures more signature genes, or lower "
            "validation.min_genes_present",
        )
    if discovery_expression is None:
        raise InputError(
            "scoring on a subset of signature genes needs the discovery expression",
            cohort=cohort,
            fix="pass discovery_expression (results/preprocess/<discovery>.h5ad)",
        )
    reduced = dataclasses.replace(signature, genes=tuple(present))
    discovery_score = score_signature(reduced, discovery_expression, transfer="absolute")
    cutpoint = float(np.quantile(discovery_score, 0.5, method="inverted_cdf"))
    if not (discovery_score > cutpoint).any():
        cutpoint -= 0.5
    reduced = dataclasses.replace(reduced, risk_cutpoint=cutpoint)
    logger.warning(
        "cohort %s lacks %d of %d signature genes (%s); scoring on the %d present, with the "
        "risk cutpoint re-set on discovery to %g",
        cohort,
        len(missing),
        len(genes),
        ", ".join(missing),
        len(present),
        cutpoint,
    )
    return reduced, missing


@dataclass(frozen=True)
class ValidationResult:
    """A signature's performance on one validation cohort.

    Attributes
    ----------
    cohort
        Cohort id.
    transfer
        How cutpoints moved to this cohort (``percentile`` or ``absolute``).
    signature
        Evaluation of the signature score and risk groups.
    score
        Per-sample signature score and risk group (``sample, score, risk_group, high_risk``).
    groups
        The risk groups.
    """

    cohort: str
    transfer: str
    signature: RiskEvaluation
    score: pd.DataFrame
    groups: RiskGroups | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` record (signature metrics at the top level)."""
        return {"cohort": self.cohort, "transfer": self.transfer, **self.signature.to_dict()}


def validate_signature(
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    signature: Signature,
    *,
    cohort: str,
    transfer: str = "percentile",
    horizons: np.ndarray | list[float] = (),
    tau: float | None = None,
) -> ValidationResult:
    """Score a cohort with a locked signature and evaluate it.

    Parameters
    ----------
    expression
        The cohort's preprocessed expression, samples × genes.
    time, event
        Its survival outcome.
    signature
        The locked signature.
    cohort
        Cohort id.
    transfer
        ``"percentile"`` or ``"absolute"`` cutpoint transfer.
    horizons, tau
        Horizons of the time-dependent AUC; truncation time of Uno's C.

    Returns
    -------
    ValidationResult
        Metrics and per-sample scores.
    """
    score = score_signature(signature, expression, transfer=transfer)
    groups = signature_risk_groups(signature, score)
    evaluation = evaluate_groups(time, event, score, groups, horizons=horizons, tau=tau)
    logger.info(
        "cohort %s (%s transfer): signature C-index %.3f, Uno's C %.3f, HR %.2f (%.2f–%.2f), "
        "log-rank p %.3g",
        cohort,
        transfer,
        evaluation.c_index,
        evaluation.c_index_uno,
        evaluation.hazard_ratio,
        evaluation.hr_ci_low,
        evaluation.hr_ci_high,
        evaluation.logrank_p,
    )
    table = pd.DataFrame(
        {
            "sample": expression.index,
            "score": score,
            "risk_group": groups.labels,
            "high_risk": groups.highest,
        }
    )
    return ValidationResult(
        cohort=cohort, transfer=transfer, signature=evaluation, score=table, groups=groups
    )


@dataclass(frozen=True)
class CohortValidation:
    """Everything the validation of one cohort produced (or why it was skipped).

    Attributes
    ----------
    cohort
        Cohort id.
    metrics
        The ``metrics.json`` record.
    scores, replication, calibration, random_signatures
        Tables for ``scores.tsv``, ``replication.tsv``, ``calibration.tsv`` and
        ``random_signatures.tsv``.
    time, event
        The cohort's outcome (empty when excluded).
    signature_groups, model_groups
        Risk groups of the signature and of the network (``None`` when excluded).
    time_unit
        Unit of ``time`` (cohort sheet), for plots.
    """

    cohort: str
    metrics: dict[str, Any]
    scores: pd.DataFrame
    replication: pd.DataFrame
    calibration: pd.DataFrame
    random_signatures: pd.DataFrame
    time: np.ndarray
    event: np.ndarray
    signature_groups: RiskGroups | None
    model_groups: RiskGroups | None
    time_unit: str = ""

    @property
    def excluded(self) -> bool:
        """Whether the cohort was excluded by QC (no metrics)."""
        return bool(self.metrics.get("excluded"))


SCORE_COLUMNS = ("sample", "score", "risk_group", "high_risk", "model_risk", "model_risk_group")
RANDOM_COLUMNS = ("signature", "c_index", "genes")


def _excluded_result(cohort: str, reason: str, metadata: dict[str, Any]) -> CohortValidation:
    logger.warning(
        "cohort %s is EXCLUDED from validation (failed QC: %s); no metrics are computed and "
        "it is left out of the meta-analysis",
        cohort,
        reason,
    )
    metrics = {
        "cohort": cohort,
        "excluded": True,
        "exclusion_reason": reason,
        "platform": str(metadata.get("platform", "")),
    }
    empty = np.array([], dtype=np.float64)
    return CohortValidation(
        cohort=cohort,
        metrics=metrics,
        scores=pd.DataFrame(columns=list(SCORE_COLUMNS)),
        replication=pd.DataFrame(columns=list(REPLICATION_COLUMNS)),
        calibration=pd.DataFrame(columns=["score", *CALIBRATION_COLUMNS]),
        random_signatures=pd.DataFrame(columns=list(RANDOM_COLUMNS)),
        time=empty,
        event=empty,
        signature_groups=None,
        model_groups=None,
        time_unit=str(metadata.get("time_unit", "")),
    )


def _model_groups(
    model_path: str | Path,
    expression: pd.DataFrame,
    discovery_expression: pd.DataFrame,
    *,
    transfer: str,
) -> tuple[np.ndarray, RiskGroups, RiskGroups, dict[str, Any]]:
    """Network risk of the cohort and of discovery, and both cohorts' risk groups.

    The threshold is the discovery median risk; it moves to the cohort like the signature's
    cutpoints: the same percentile of the cohort's risk (``percentile``) or the same value
    (``absolute``, discovery platform only).
    """
    model, genes = load_model(model_path, genes=list(expression.columns))
    risk = predict_risk(model, expression[genes].to_numpy())
    discovery_risk = predict_risk(model, discovery_expression[genes].to_numpy())
    threshold = float(np.quantile(discovery_risk, 0.5, method="inverted_cdf"))
    percentile = float(np.mean(discovery_risk <= threshold))
    cutoff = (
        threshold
        if transfer == "absolute"
        else float(np.quantile(risk, percentile, method="inverted_cdf"))
    )
    rule = (
        f"high risk = network risk > {cutoff:.4g} "
        f"({'discovery median' if transfer == 'absolute' else 'discovery median percentile'} "
        f"{percentile:.3f}, {transfer} transfer)"
    )
    groups = threshold_groups(risk, cutoff, rule=rule)
    discovery_groups = threshold_groups(discovery_risk, threshold)
    info = {
        "rule": rule,
        "discovery_threshold": threshold,
        "discovery_percentile": percentile,
        "threshold": cutoff,
        "transfer": transfer,
    }
    return risk, groups, discovery_groups, info


def validate_cohort(
    adata: ad.AnnData,
    signature: Signature,
    *,
    model_path: str | Path,
    discovery: ad.AnnData,
    cutpoints: pd.DataFrame | None = None,
    options: dict[str, Any] | None = None,
    seed: int = 0,
) -> CohortValidation:
    """Validate the locked signature and the trained network on one preprocessed cohort.

    Parameters
    ----------
    adata
        The validation cohort after discovery-fitted preprocessing.
    signature
        The locked signature.
    model_path
        The trained network (``model.pt``).
    discovery
        The discovery cohort after preprocessing (thresholds and calibration targets).
    cutpoints
        The discovery scan of every gene (``cutpoints.tsv``), for the random-signature
        control; ``None`` skips it.
    options
        The ``validation`` config section (defaults: :data:`DEFAULT_VALIDATION`).
    seed
        ``config["seed"]``, seeds the random-signature draw.

    Returns
    -------
    CohortValidation
        Metrics, tables and risk groups; for a cohort excluded by QC only the exclusion.
    """
    options = validation_options(options)
    metadata = dict(adata.uns.get("cohort", {}))
    cohort = str(metadata.get("id", ""))
    reason = exclusion(adata)
    if reason is not None:
        return _excluded_result(cohort, reason, metadata)
    discovery_meta = dict(discovery.uns.get("cohort", {}))
    platform = str(metadata.get("platform", ""))
    discovery_platform = str(discovery_meta.get("platform", ""))
    transfer = cohort_transfer(
        cohort, platform=platform, discovery_platform=discovery_platform, options=options
    )
    expression = expression_frame(adata)
    discovery_expression = expression_frame(discovery)
    time, event = outcome(adata)
    discovery_time, discovery_event = outcome(discovery)
    horizons = [float(h) for h in options["horizons"]]
    tau = options["uno_tau"]
    tau = float(tau) if tau is not None else (max(horizons) if horizons else None)

    scored, missing = signature_for_cohort(
        signature,
        expression,
        cohort=cohort,
        discovery_expression=discovery_expression,
        allow_missing=bool(options["allow_missing_genes"]),
        min_present=float(options["min_genes_present"]),
    )
    result = validate_signature(
        expression,
        time,
        event,
        scored,
        cohort=cohort,
        transfer=transfer,
        horizons=horizons,
        tau=tau,
    )
    groups = result.groups
    discovery_score = score_signature(scored, discovery_expression, transfer="absolute")
    discovery_groups = signature_risk_groups(scored, discovery_score)
    calibration = group_calibration(
        time,
        event,
        groups,
        reference_time=discovery_time,
        reference_event=discovery_event,
        reference_groups=discovery_groups,
        horizons=horizons,
    )
    clinical = adata.obs
    covariates = list(options["covariates"])
    replication = replicate_genes(
        scored,
        expression,
        time,
        event,
        transfer=transfer,
        missing=missing,
        alpha=float(options["alpha"]),
    )

    model_risk, model_groups, discovery_model_groups, threshold = _model_groups(
        model_path, expression, discovery_expression, transfer=transfer
    )
    model_eval = evaluate_groups(time, event, model_risk, model_groups, horizons=horizons, tau=tau)
    model_calibration = group_calibration(
        time,
        event,
        model_groups,
        reference_time=discovery_time,
        reference_event=discovery_event,
        reference_groups=discovery_model_groups,
        horizons=horizons,
    )
    logger.info(
        "cohort %s: network C-index %.3f, Uno's C %.3f, HR %.2f (%.2f–%.2f)",
        cohort,
        model_eval.c_index,
        model_eval.c_index_uno,
        model_eval.hazard_ratio,
        model_eval.hr_ci_low,
        model_eval.hr_ci_high,
    )

    metrics: dict[str, Any] = {
        "cohort": cohort,
        "excluded": False,
        "platform": platform,
        "discovery_platform": discovery_platform,
        "transfer": transfer,
        **result.signature.to_dict(),
        "risk_rule": groups.rule,
        "signature_genes": {
            "used": scored.gene_ids,
            "missing": missing,
            "risk_cutpoint": scored.risk_cutpoint,
            "risk_cutpoint_reset_on_discovery": bool(missing),
        },
        "calibration": calibration.to_dict("records"),
        "multivariable": multivariable_cox(
            time, event, groups, clinical, covariates, cohort=cohort
        ),
        "replication": {
            "genes": int((replication["status"] == "scored").sum()),
            "replicated": int(replication["replicates"].sum()),
            "alpha": float(options["alpha"]),
        },
        "model": {
            **model_eval.to_dict(),
            "risk_rule": model_groups.rule,
            "threshold": threshold,
            "calibration": model_calibration.to_dict("records"),
            "multivariable": multivariable_cox(
                time, event, model_groups, clinical, covariates, cohort=cohort
            ),
        },
    }
    random_table = pd.DataFrame(columns=list(RANDOM_COLUMNS))
    if cutpoints is not None and int(options["random_signatures"]) > 0:
        control = random_signature_control(
            scored,
            cutpoints,
            expression,
            time,
            event,
            observed=result.signature.c_index,
            transfer=transfer,
            n_signatures=int(options["random_signatures"]),
            seed=seed,
        )
        metrics["random_signatures"] = control.summary()
        random_table = control.table()
    scores = result.score.assign(model_risk=model_risk, model_risk_group=model_groups.labels)
    calibration_table = pd.concat(
        [
            calibration.assign(score="signature"),
            model_calibration.assign(score="model"),
        ],
        ignore_index=True,
    )[["score", *CALIBRATION_COLUMNS]]
    return CohortValidation(
        cohort=cohort,
        metrics=metrics,
        scores=scores[list(SCORE_COLUMNS)],
        replication=replication,
        calibration=calibration_table,
        random_signatures=random_table,
        time=time,
        event=event,
        signature_groups=groups,
        model_groups=model_groups,
        time_unit=str(metadata.get("time_unit", "")),
    )

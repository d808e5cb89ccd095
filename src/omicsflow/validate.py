"""A locked signature (and the trained model) on an independent cohort."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.cohort import expression_frame, outcome
from omicsflow.plots import km_plot
from omicsflow.survival.metrics import concordance_index, cox_fit, logrank_test
from omicsflow.survival.signature import Signature, score_signature
from omicsflow.transfer.checkpoint import load_model
from omicsflow.transfer.train import predict_risk

__all__ = [
    "RiskEvaluation",
    "ValidationResult",
    "evaluate_risk",
    "summarise_validation",
    "validate_cohort",
    "validate_signature",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RiskEvaluation:
    """How well a risk score and its two risk groups separate survival.

    Attributes
    ----------
    n, events
        Samples and events.
    c_index
        Harrell's C of the continuous score.
    logrank_chi2, logrank_p
        Log-rank test of high vs low risk group.
    hazard_ratio, hr_ci_low, hr_ci_high
        Cox HR (high vs low group) with 95% CI.
    n_high
        Samples in the high-risk group.
    """

    n: int
    events: int
    c_index: float
    logrank_chi2: float
    logrank_p: float
    hazard_ratio: float
    hr_ci_low: float
    hr_ci_high: float
    n_high: int


def evaluate_risk(
    time: np.ndarray, event: np.ndarray, score: np.ndarray, high_risk: np.ndarray
) -> RiskEvaluation:
    """Evaluate a risk score and its dichotomisation on one cohort.

    Parameters
    ----------
    time, event
        Survival outcome.
    score
        Continuous (or count) risk score, higher = worse.
    high_risk
        Boolean high-risk group membership.

    Returns
    -------
    RiskEvaluation
        C-index, log-rank test and Cox HR of the groups.
    """
    high_risk = np.asarray(high_risk, dtype=bool)
    test = logrank_test(time, event, high_risk)
    if 0 < high_risk.sum() < high_risk.size:
        cox = cox_fit(high_risk.astype(np.float64), time, event)
        hr, low, high = (float(cox.hazard_ratio[0]), float(cox.ci_low[0]), float(cox.ci_high[0]))
    else:
        logger.warning("one risk group is empty; the hazard ratio is undefined")
        hr = low = high = float("nan")
    return RiskEvaluation(
        n=int(np.size(time)),
        events=int(np.sum(event)),
        c_index=concordance_index(time, event, score),
        logrank_chi2=test.chi2,
        logrank_p=test.p_value,
        hazard_ratio=hr,
        hr_ci_low=low,
        hr_ci_high=high,
        n_high=int(high_risk.sum()),
    )


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
        Per-sample signature score and risk group (``sample, score, high_risk``).
    """

    cohort: str
    transfer: str
    signature: RiskEvaluation
    score: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` record (signature metrics at the top level)."""
        return {"cohort": self.cohort, "transfer": self.transfer, **asdict(self.signature)}


def validate_signature(
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    signature: Signature,
    *,
    cohort: str,
    transfer: str = "percentile",
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

    Returns
    -------
    ValidationResult
        Metrics and per-sample scores.
    """
    score = score_signature(signature, expression, transfer=transfer)
    high = score > signature.risk_cutpoint
    evaluation = evaluate_risk(time, event, score, high)
    logger.info(
        "cohort %s: signature C-index %.3f, HR %.2f (%.2f–%.2f), log-rank p %.3g",
        cohort,
        evaluation.c_index,
        evaluation.hazard_ratio,
        evaluation.hr_ci_low,
        evaluation.hr_ci_high,
        evaluation.logrank_p,
    )
    table = pd.DataFrame({"sample": expression.index, "score": score, "high_risk": high})
    return ValidationResult(cohort=cohort, transfer=transfer, signature=evaluation, score=table)


def validate_cohort(
    adata: ad.AnnData,
    signature: Signature,
    *,
    model_path: str | Path,
    km_path: str | Path,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Validate the signature and the trained model on one preprocessed cohort.

    Parameters
    ----------
    adata
        The validation cohort after discovery-fitted preprocessing.
    signature
        The locked signature.
    model_path
        The trained network (``model.pt``).
    km_path
        Where to draw the Kaplan–Meier plot of the signature's risk groups.
    options
        The ``validation`` config section (``transfer``).

    Returns
    -------
    dict
        ``metrics`` (for ``metrics.json``: signature metrics at the top level, the network's
        under ``model``) and ``scores`` (per-sample table).
    """
    cohort = str(adata.uns.get("cohort", {}).get("id", ""))
    expression = expression_frame(adata)
    time, event = outcome(adata)
    result = validate_signature(
        expression, time, event, signature, cohort=cohort, transfer=options["transfer"]
    )
    model, genes = load_model(model_path, genes=list(expression.columns))
    model_risk = predict_risk(model, expression[genes].to_numpy())
    model_c = concordance_index(time, event, model_risk)
    logger.info("cohort %s: network risk C-index %.3f", cohort, model_c)
    metrics = result.to_dict()
    metrics["model"] = {"c_index": model_c}
    evaluation = result.signature
    high = result.score["high_risk"].to_numpy()
    km_plot(
        km_path,
        time,
        event,
        {"low risk": ~high, "high risk": high},
        title=f"{cohort}: signature risk groups ({len(signature.genes)} genes)",
        annotation=(
            f"log-rank p = {evaluation.logrank_p:.2g}\n"
            f"HR = {evaluation.hazard_ratio:.2f} "
            f"({evaluation.hr_ci_low:.2f}–{evaluation.hr_ci_high:.2f})\n"
            f"C-index = {evaluation.c_index:.3f}"
        ),
        time_unit=str(adata.uns.get("cohort", {}).get("time_unit", "")),
    )
    scores = result.score.assign(model_risk=model_risk)
    return {"metrics": metrics, "scores": scores}


def summarise_validation(paths: list[str | Path]) -> pd.DataFrame:
    """One row per validation cohort from ``metrics.json`` files."""
    rows = []
    for path in paths:
        metrics = json.loads(Path(path).read_text(encoding="utf-8"))
        row = {key: value for key, value in metrics.items() if not isinstance(value, dict)}
        row["model_c_index"] = metrics.get("model", {}).get("c_index")
        rows.append(row)
    return pd.DataFrame(rows)

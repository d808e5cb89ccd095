"""Write one cohort's validation: tables, ``metrics.json`` and figures (all atomic)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from omicsflow.io import write_json, write_tsv
from omicsflow.plots.km import km_figure
from omicsflow.plots.save import save_png
from omicsflow.plots.validation import calibration_plot, notice_plot
from omicsflow.validate.cohort import CohortValidation
from omicsflow.validate.groups import RiskGroups

__all__ = ["km_figures", "write_cohort_validation"]

logger = logging.getLogger(__name__)


def _annotation(block: dict, groups: RiskGroups) -> str:
    lines = [f"log-rank p = {block['logrank_p']:.2g} ({block['logrank_df']} df)"]
    for group in block["groups"][1:]:
        lines.append(
            f"HR {group['label']} vs {groups.order[0]} = {group['hazard_ratio']:.2f} "
            f"({group['hr_ci_low']:.2f}–{group['hr_ci_high']:.2f})"
        )
    lines.append(f"Harrell's C = {block['c_index']:.3f}, Uno's C = {block['c_index_uno']:.3f}")
    return "\n".join(lines)


def km_figures(result: CohortValidation) -> dict[str, Figure]:
    """Kaplan–Meier figures of the signature's and the network's risk groups (not yet saved).

    Parameters
    ----------
    result
        One cohort's validation (not excluded).

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``"signature"`` and ``"model"``: curves with numbers at risk, annotated with the
        log-rank p and each group's HR (95% CI) against the lowest-risk group, Harrell's and
        Uno's C, all from ``result.metrics``.
    """
    block = result.metrics
    cohort = result.cohort
    signature_groups = result.signature_groups
    model_groups = result.model_groups
    return {
        "signature": km_figure(
            result.time,
            result.event,
            signature_groups.masks(),
            title=f"{cohort}: signature risk groups "
            f"({len(block['signature_genes']['used'])} genes, {block['transfer']} transfer)",
            annotation=_annotation(block, signature_groups),
            time_unit=result.time_unit,
        ),
        "model": km_figure(
            result.time,
            result.event,
            model_groups.masks(),
            title=f"{cohort}: network risk groups (discovery-median threshold)",
            annotation=_annotation(block["model"], model_groups),
            time_unit=result.time_unit,
        ),
    }


def write_cohort_validation(
    result: CohortValidation,
    *,
    metrics: str | Path,
    scores: str | Path,
    replication: str | Path,
    calibration: str | Path,
    random_signatures: str | Path,
    km: str | Path,
    km_model: str | Path,
    calibration_png: str | Path,
) -> None:
    """Write every output of :func:`~omicsflow.validate.cohort.validate_cohort`.

    A cohort excluded by QC gets its ``metrics.json`` (``"excluded": true`` and the reason),
    empty tables with headers, and figures that state the exclusion.

    Parameters
    ----------
    result
        One cohort's validation.
    metrics, scores, replication, calibration, random_signatures
        ``metrics.json`` and the TSV tables.
    km, km_model, calibration_png
        Kaplan–Meier plots of the signature's and the network's risk groups, and the
        calibration plot.
    """
    write_json(metrics, result.metrics)
    write_tsv(scores, result.scores)
    write_tsv(replication, result.replication)
    write_tsv(calibration, result.calibration)
    write_tsv(random_signatures, result.random_signatures)
    cohort = result.cohort
    if result.excluded:
        message = (
            f"Cohort {cohort} is EXCLUDED from validation:\n"
            f"{result.metrics['exclusion_reason']}\n"
            "(quality control failed; qc.on_fail_validation: exclude).\n"
            "No metrics were computed; it is left out of the meta-analysis."
        )
        for path, what in (
            (km, "signature risk groups"),
            (km_model, "network risk groups"),
            (calibration_png, "calibration"),
        ):
            notice_plot(path, title=f"{cohort}: {what}", message=message)
        return
    figures = km_figures(result)
    save_png(figures["signature"], km)
    save_png(figures["model"], km_model)
    calibration_plot(
        calibration_png,
        result.calibration,
        title=f"{cohort}: calibration by risk group",
        time_unit=result.time_unit,
    )
    logger.info(
        "cohort %s: wrote metrics, %d scores, figures (events %d)",
        cohort,
        len(result.scores),
        int(np.sum(result.event)),
    )

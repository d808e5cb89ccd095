"""The pre-qualification gate: continue, exclude, or stop the run, and remove flagged samples.

What a ``fail`` verdict does depends on the cohort's role:

* ``discovery``: the run stops (:class:`~omicsflow.errors.QualityGateError` listing each failing
  check with its fix);
* ``validation``: ``qc.on_fail_validation: exclude`` keeps the run going without this cohort
  (``uns["qc"]["excluded"] = True`` with the reason, and a warning in the log and in
  ``results/qc/summary.tsv``); ``stop`` stops the run as for discovery;
* ``source``: the run stops. A failing source cohort would silently poison pretraining, and
  there is no downstream consumer that could skip it; fix it or take it out of the sheet
  (pretraining then uses the other source cohorts, or the discovery cohort).

``pass`` and ``warn`` continue (a ``warn`` is logged as a warning). Samples listed in
``removed_samples`` (decided by :func:`~omicsflow.quality.score_cohort` when
``qc.remove_outliers`` is true) are removed here, with a warning giving the count and ids.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.errors import InputError, QualityGateError, first_items

__all__ = ["apply_gate", "check_gate", "failing_checks", "gate_action", "summarise_quality"]

logger = logging.getLogger(__name__)


def failing_checks(quality: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The checks behind a ``fail``: ``(name, what was seen, fix)`` each.

    Hard failures come first; when the score alone fails the cohort, every component below 1
    is listed, worst first.
    """
    reasons = quality.get("reasons", {})
    fixes = quality.get("fixes", {})
    hard_reasons = quality.get("hard_failure_reasons", {})
    hard_fixes = quality.get("hard_failure_fixes", {})
    listed: list[tuple[str, str, str]] = []
    for name in quality.get("hard_failures", []):
        seen = "; ".join(hard_reasons.get(name, [])) or reasons.get(name, "below its limit")
        fix = hard_fixes.get(name) or fixes.get(name, "see the reasons in quality.json")
        listed.append((name, seen, fix))
    if quality["score"] < quality.get("options", {}).get("warn_score", 0.0) or not listed:
        for name, value in sorted(quality["components"].items(), key=lambda item: item[1]):
            if value < 1.0 and name not in quality.get("hard_failures", []):
                what = reasons.get(name, "below 1").split("; fix: ")[0]
                listed.append(
                    (name, f"score {value:.2f}: {what}", fixes.get(name, "see quality.json"))
                )
    return listed


def gate_action(quality: dict[str, Any], *, on_fail_validation: str = "exclude") -> str:
    """What the gate does with a cohort: ``"continue"``, ``"exclude"`` or ``"stop"``."""
    if quality["verdict"] != "fail":
        return "continue"
    if quality["role"] == "validation" and on_fail_validation == "exclude":
        return "exclude"
    return "stop"


def _failure_summary(quality: dict[str, Any]) -> str:
    return "; ".join(f"{name}: {seen}" for name, seen, _ in failing_checks(quality))


def check_gate(quality: dict[str, Any], *, on_fail_validation: str = "exclude") -> str:
    """Decide the fate of a cohort from its ``quality.json``; stop the run when it must.

    Parameters
    ----------
    quality
        The content of ``quality.json`` (:meth:`QualityReport.to_dict`).
    on_fail_validation
        ``"exclude"`` or ``"stop"``: what a failing validation cohort does.

    Returns
    -------
    str
        ``"continue"`` or ``"exclude"`` (see :func:`gate_action`).

    Raises
    ------
    QualityGateError
        For a failing discovery or source cohort, or a failing validation cohort with
        ``on_fail_validation="stop"``: lists every failing check with what was seen and its fix.
    """
    action = gate_action(quality, on_fail_validation=on_fail_validation)
    role = quality["role"]
    if action == "stop":
        checks = failing_checks(quality)
        listing = "".join(f"\n    - {name}: {seen}\n      fix: {fix}" for name, seen, fix in checks)
        consequence = {
            "discovery": "the discovery cohort must pass before anything is trained",
            "source": "a failing source cohort would poison pretraining",
            "validation": "qc.on_fail_validation is 'stop'",
        }.get(role, "")
        raise QualityGateError(
            f"cohort failed the quality gate ({role}; score {quality['score']:.2f}, "
            f"verdict fail; {consequence})",
            cohort=quality["cohort"],
            seen=f"{len(checks)} failing checks:{listing}",
            fix="fix each check as described; if a limit does not suit this platform, change "
            "it in the qc section of the config"
            + (
                "; or remove the source cohort from the sheet"
                if role == "source"
                else "; or set qc.on_fail_validation: exclude"
                if role == "validation"
                else ""
            ),
        )
    if action == "exclude":
        logger.warning(
            "validation cohort %s failed the quality gate (score %.2f) and is EXCLUDED from "
            "validation (qc.on_fail_validation: exclude): %s",
            quality["cohort"],
            quality["score"],
            _failure_summary(quality),
        )
    elif quality["verdict"] == "warn":
        logger.warning(
            "cohort %s passes the quality gate with a warning (score %.2f): %s",
            quality["cohort"],
            quality["score"],
            "; ".join(f"{name}: {text}" for name, text in quality["reasons"].items()),
        )
    return action


def apply_gate(
    adata: ad.AnnData, quality: dict[str, Any], *, on_fail_validation: str = "exclude"
) -> ad.AnnData:
    """The cohort that goes on: flagged samples removed, the gate's decision in ``uns["qc"]``.

    Parameters
    ----------
    adata
        The loaded cohort the quality report was computed on.
    quality
        Its ``quality.json``.
    on_fail_validation
        ``"exclude"`` or ``"stop"``.

    Returns
    -------
    anndata.AnnData
        A copy without ``quality["removed_samples"]`` (an excluded cohort is kept whole);
        ``uns["qc"]`` holds ``score``,
        ``verdict``, ``excluded``, ``exclusion_reason``, ``removed_samples`` and
        ``needs_log_transform``.

    Raises
    ------
    QualityGateError
        As :func:`check_gate`.
    InputError
        If ``quality.json`` names samples the cohort does not hold (it belongs to other data).
    """
    action = check_gate(quality, on_fail_validation=on_fail_validation)
    # An excluded cohort is passed on whole: nothing downstream uses it, and removing its
    # flagged samples could leave an empty matrix for the preprocess stage to choke on.
    removed = [] if action == "exclude" else list(quality.get("removed_samples", []))
    present = pd.Index(adata.obs_names.astype(str))
    unknown = pd.Index(removed).difference(present)
    if len(unknown):
        raise InputError(
            "quality.json names samples that are not in the cohort",
            cohort=quality["cohort"],
            seen=first_items(unknown),
            fix="re-run qc_score on this cohort (the quality report is out of date)",
        )
    keep = ~present.isin(removed)
    passed = adata[keep].copy()
    if removed:
        logger.warning(
            "cohort %s: removed %d of %d samples flagged by QC (qc.remove_outliers: true): %s",
            quality["cohort"],
            len(removed),
            adata.n_obs,
            first_items(
                [
                    f"{sample} ({'+'.join(quality['removal_reasons'].get(sample, []))})"
                    for sample in removed
                ],
                limit=20,
            ),
        )
    passed.uns["qc"] = {
        "score": float(quality["score"]),
        "verdict": str(quality["verdict"]),
        "excluded": action == "exclude",
        "exclusion_reason": _failure_summary(quality) if action == "exclude" else "",
        "removed_samples": np.asarray(removed, dtype=str),
        "needs_log_transform": bool(quality.get("needs_log_transform", False)),
    }
    return passed


_SUMMARY_FIELDS = (
    "cohort",
    "role",
    "verdict",
    "score",
    "n_samples",
    "n_genes",
    "missing_fraction",
    "events",
    "event_rate",
    "needs_log_transform",
)


def summarise_quality(
    paths: list[str | Path], *, on_fail_validation: str = "exclude"
) -> pd.DataFrame:
    """One row per cohort from ``quality.json`` files.

    Returns
    -------
    pandas.DataFrame
        ``cohort, role, verdict, action`` (``continue`` / ``exclude`` / ``stop``), ``score``,
        size, missing share, events, ``median_follow_up``, ``needs_log_transform``,
        ``n_removed``, ``removed_samples``, ``hard_failures``, the component scores
        (``component_*``) and ``reasons``.
    """
    rows = []
    for path in paths:
        quality = json.loads(Path(path).read_text(encoding="utf-8"))
        row = {key: quality.get(key) for key in _SUMMARY_FIELDS}
        row["action"] = gate_action(quality, on_fail_validation=on_fail_validation)
        row["median_follow_up"] = (
            quality.get("metrics", {}).get("outcome", {}).get("median_follow_up")
        )
        row["n_removed"] = len(quality.get("removed_samples", []))
        row["removed_samples"] = ",".join(quality.get("removed_samples", []))
        row["hard_failures"] = ",".join(quality.get("hard_failures", []))
        row.update({f"component_{name}": value for name, value in quality["components"].items()})
        row["reasons"] = " | ".join(f"{name}: {text}" for name, text in quality["reasons"].items())
        rows.append(row)
    table = pd.DataFrame(rows)
    leading = ["cohort", "role", "verdict", "action", "score"]
    return table[leading + [column for column in table.columns if column not in leading]]

"""Across validation cohorts: one summary row each, the meta-analysis and its figures."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsflow.io import write_json, write_tsv
from omicsflow.plots.validation import forest_plot, random_signature_plot
from omicsflow.validate.meta import meta_analyse

__all__ = ["read_metrics", "summarise_validation", "write_validation_summary"]

logger = logging.getLogger(__name__)

_HEADLINE = (
    "n",
    "events",
    "c_index",
    "c_index_uno",
    "logrank_chi2",
    "logrank_p",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
    "n_high",
)
_MODEL = ("c_index", "c_index_uno", "logrank_p", "hazard_ratio", "hr_ci_low", "hr_ci_high")


def read_metrics(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Parse ``metrics.json`` files, in the given order."""
    return [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]


def _row(metrics: dict[str, Any], horizons: list[str]) -> dict[str, Any]:
    excluded = bool(metrics.get("excluded"))
    row: dict[str, Any] = {
        "cohort": metrics.get("cohort"),
        "excluded": excluded,
        "exclusion_reason": metrics.get("exclusion_reason", "") if excluded else "",
        "platform": metrics.get("platform", ""),
        "transfer": metrics.get("transfer", ""),
    }
    for key in _HEADLINE:
        row[key] = metrics.get(key)
    for horizon in horizons:
        row[f"td_auc_{horizon}"] = metrics.get("td_auc", {}).get(horizon)
    genes = metrics.get("signature_genes", {})
    row["genes_used"] = len(genes.get("used", [])) if genes else None
    row["genes_missing"] = ",".join(genes.get("missing", [])) if genes else ""
    row["genes_replicated"] = metrics.get("replication", {}).get("replicated")
    control = metrics.get("random_signatures", {})
    row["random_c_index_mean"] = control.get("c_index_mean")
    row["random_empirical_p"] = control.get("empirical_p")
    model = metrics.get("model", {})
    for key in _MODEL:
        row[f"model_{key}"] = model.get(key)
    for horizon in horizons:
        row[f"model_td_auc_{horizon}"] = model.get("td_auc", {}).get(horizon)
    return row


def summarise_validation(paths: list[str | Path]) -> pd.DataFrame:
    """One row per validation cohort from its ``metrics.json`` (excluded cohorts marked).

    Parameters
    ----------
    paths
        ``results/validation/{cohort}/metrics.json`` files.

    Returns
    -------
    pandas.DataFrame
        ``cohort, excluded, exclusion_reason, platform, transfer``, the signature's headline
        metrics, ``td_auc_<horizon>``, gene use and replication, the random-signature
        control, and the network's metrics (``model_*``); empty cells for excluded cohorts.
    """
    records = read_metrics(paths)
    horizons = list(dict.fromkeys(h for record in records for h in record.get("td_auc", {}) or {}))
    return pd.DataFrame([_row(record, horizons) for record in records])


def write_validation_summary(
    metrics_paths: list[str | Path],
    random_paths: list[str | Path],
    *,
    summary: str | Path,
    meta: str | Path,
    forest: str | Path,
    random_png: str | Path,
) -> dict[str, Any]:
    """Write ``summary.tsv``, ``meta.json``, ``forest.png`` and the random-signature figure.

    Parameters
    ----------
    metrics_paths, random_paths
        Per cohort ``metrics.json`` and ``random_signatures.tsv``, in the same order.
    summary, meta, forest, random_png
        Output paths.

    Returns
    -------
    dict
        The ``meta.json`` record (``signature`` and ``model`` meta-analyses).
    """
    records = read_metrics(metrics_paths)
    table = summarise_validation(metrics_paths)
    excluded = table.loc[table["excluded"], "cohort"].tolist()
    if excluded:
        logger.warning("validation cohorts excluded by QC: %s", ", ".join(excluded))
    write_tsv(summary, table)
    record = {
        "signature": meta_analyse(records, score="signature"),
        "model": meta_analyse(records, score="model"),
        "excluded": {
            r["cohort"]: r.get("exclusion_reason", "") for r in records if r.get("excluded")
        },
    }
    write_json(meta, record)
    forest_plot(
        forest,
        [record["signature"], record["model"]],
        title="Validation cohorts: hazard ratio of the risk groups",
    )
    controls = {}
    for metrics, path in zip(records, random_paths, strict=True):
        control = metrics.get("random_signatures")
        if metrics.get("excluded") or not control:
            continue
        values = pd.read_csv(path, sep="\t")["c_index"].to_numpy(dtype=np.float64)
        controls[metrics["cohort"]] = (
            values,
            float(control["observed_c_index"]),
            float(control["empirical_p"]),
        )
    random_signature_plot(
        random_png, controls, title="Signature vs size-matched random gene signatures"
    )
    return record

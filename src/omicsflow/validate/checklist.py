"""The REMARK / TRIPOD+AI reporting checklist, filled from what the run actually did.

Only items a run can answer are filled (cohorts, events, missing data, how candidate genes and
cutpoints were chosen, corrected p-values, transfer to validation cohorts, external validation
results, meta-analysis). Items that need study information (eligibility, treatment, specimens,
dates, blinding, sample-size rationale) are listed for the authors to complete. REMARK items
are numbered as in McShane et al. (2005); TRIPOD+AI items (Collins et al. 2024) are named by
topic.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["reporting_checklist"]


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def _hr(block: dict[str, Any]) -> str:
    return (
        f"{_fmt(block.get('hazard_ratio'))} ({_fmt(block.get('hr_ci_low'))}–"
        f"{_fmt(block.get('hr_ci_high'))})"
    )


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return lines


def reporting_checklist(
    *,
    config: dict[str, Any],
    signature: dict[str, Any],
    cutpoints: pd.DataFrame,
    quality: dict[str, dict[str, Any]],
    genes: pd.DataFrame,
    metrics: list[dict[str, Any]],
    meta: dict[str, Any],
    platforms: dict[str, str] | None = None,
) -> str:
    """Fill the reporting checklist from one run's outputs.

    Parameters
    ----------
    config
        The resolved workflow config.
    signature
        ``signature.json``.
    cutpoints
        ``cutpoints.tsv`` (the discovery scan of every candidate gene).
    quality
        Cohort → its ``quality.json``, every cohort of the sheet.
    genes
        ``results/preprocess/genes.tsv`` (genes per cohort kept for analysis).
    metrics
        Every validation cohort's ``metrics.json``.
    meta
        ``meta.json``.
    platforms
        Cohort → platform (cohort sheet), when known.

    Returns
    -------
    str
        The checklist as Markdown.
    """
    platforms = platforms or {}
    by_cohort = {record["cohort"]: record for record in metrics}
    biomarkers = config.get("biomarkers", {})
    preprocess = config.get("preprocess", {})
    validation = config.get("validation", {})
    excluded = {c: r.get("exclusion_reason", "") for c, r in by_cohort.items() if r.get("excluded")}
    out = [
        "# Reporting checklist (REMARK / TRIPOD+AI): what this run can answer",
        "",
        "Filled automatically from this run's outputs (`results/`), with config seed "
        f"{config.get('seed')}. Items that need study information are listed at the end for "
        "the authors to complete.",
        "",
    ]
    if excluded:
        out += [
            "> **Warning: validation cohort(s) excluded by quality control** — "
            + "; ".join(f"`{c}`: {reason}" for c, reason in excluded.items())
            + ". They have no metrics and are left out of the meta-analysis.",
            "",
        ]

    out += [
        "## 1. Cohorts, patients and events",
        "*REMARK 12 (flow of patients, numbers of patients and events); TRIPOD+AI: "
        "participants, flow of participants, development vs evaluation data.*",
        "",
    ]
    rows = []
    for cohort, record in quality.items():
        status = "used"
        if cohort in excluded:
            status = f"EXCLUDED: {excluded[cohort]}"
        rows.append(
            [
                cohort,
                record.get("role"),
                platforms.get(cohort, by_cohort.get(cohort, {}).get("platform")),
                record.get("n_samples"),
                record.get("events"),
                f"{100 * float(record.get('missing_fraction', float('nan'))):.1f}%",
                f"{record.get('verdict')} ({_fmt(record.get('score'))})",
                status,
            ]
        )
    out += _table(
        ["cohort", "role", "platform", "samples", "events", "missing expression", "QC", "status"],
        rows,
    )
    out += [""]

    candidates = int(cutpoints["gene"].nunique()) if "gene" in cutpoints else 0
    q = pd.to_numeric(cutpoints.get("q_value"), errors="coerce")
    selection = signature.get("selection", {})
    out += [
        "## 2. Candidate genes, cutpoints and the locked signature",
        "*REMARK 10–11 (statistical methods, variable selection, marker handling, cutpoint "
        "determination); TRIPOD+AI: predictors, handling of predictors, model specification.*",
        "",
        f"- Candidate genes searched on the discovery cohort: **{candidates}** (the genes "
        "shared by all cohorts; per cohort below).",
        "- Cutpoint per gene: maximally selected log-rank statistic over candidate thresholds "
        f"keeping between {biomarkers.get('min_prop')} and {biomarkers.get('max_prop')} of "
        "the samples in the low group (discovery cohort only).",
        "- p-values corrected for the search over cutpoints (Lausen & Schumacher 1994), then "
        f"Benjamini–Hochberg q-values across genes: q < 0.05 for {int((q < 0.05).sum())} "
        f"genes, q < 0.1 for {int((q < 0.1).sum())}.",
        f"- Signature: {selection.get('rule', '?')}; size {selection.get('size')}, "
        f"max q {selection.get('max_q')}, from {selection.get('candidates')} candidates. "
        f"Scoring rule `{signature.get('scoring')}`; high risk = score > "
        f"{signature.get('risk_cutpoint')} (locked on discovery).",
        f"- Rule as locked: {signature.get('score_description', '')}",
        "",
    ]
    out += _table(
        ["gene", "direction", "cutpoint", "percentile", "discovery HR", "corrected p", "q"],
        [
            [
                g["gene"],
                g["direction"],
                g["cutpoint"],
                g["percentile"],
                g["hazard_ratio"],
                g["p_value"],
                g["q_value"],
            ]
            for g in signature.get("genes", [])
        ],
    )
    out += [""]

    out += [
        "## 3. Missing data",
        "*REMARK 10 (how missing data were handled); TRIPOD+AI: missing data.*",
        "",
        f"- Missing expression values: imputed by the per-gene {preprocess.get('impute')} of "
        f"the discovery cohort, then `{preprocess.get('normalize')}` normalisation with "
        "discovery parameters; fitted on discovery only and applied unchanged to every other "
        "cohort (no refitting on validation data).",
        "- Genes kept per cohort (the analysis uses the genes all cohorts share):",
        "",
    ]
    out += _table(
        list(genes.columns), genes.astype(object).where(genes.notna(), None).values.tolist()
    )
    out += [""]
    allow = validation.get("allow_missing_genes")
    for cohort, record in by_cohort.items():
        if record.get("excluded"):
            continue
        missing = record.get("signature_genes", {}).get("missing", [])
        multi = record.get("multivariable", {})
        out.append(
            f"- `{cohort}`: signature genes missing: "
            f"{', '.join(missing) if missing else 'none'}"
            + (
                f" (scored on the {len(record['signature_genes']['used'])} present)"
                if missing
                else ""
            )
            + f"; covariates used {multi.get('covariates_used', [])}, absent "
            f"{multi.get('covariates_missing', [])}, {multi.get('dropped_incomplete', 0)} "
            "samples without a covariate value left out of the multivariable model only "
            "(complete cases)."
        )
    out += [
        f"- Policy: `validation.allow_missing_genes: {str(bool(allow)).lower()}`, "
        f"`min_genes_present: {validation.get('min_genes_present')}`.",
        "",
    ]

    out += [
        "## 4. How the signature and the network were applied to validation cohorts",
        "*TRIPOD+AI: how predictions were calculated for evaluation; differences between "
        "development and evaluation data; risk groups (REMARK 11).*",
        "",
    ]
    for cohort, record in by_cohort.items():
        if record.get("excluded"):
            out.append(f"- `{cohort}`: excluded by QC ({record.get('exclusion_reason')}).")
            continue
        out.append(
            f"- `{cohort}` ({record.get('platform')}; "
            f"discovery {record.get('discovery_platform')}): cutpoints moved by "
            f"**{record.get('transfer')}** transfer; "
            f"{record.get('risk_rule')}. Network: {record.get('model', {}).get('risk_rule')}."
        )
    out += [""]

    horizons = validation.get("horizons", [])
    out += [
        "## 5. External validation results",
        "*REMARK 15–17 (univariable and multivariable effects with CIs, KM plots); TRIPOD+AI: "
        "model performance (discrimination, calibration), results of evaluation.*",
        "",
        "Signature (C-indices of the continuous score; HR of the highest vs lowest risk group; "
        f"empirical p against {validation.get('random_signatures')} size-matched random "
        "signatures):",
        "",
    ]
    header = [
        "cohort",
        "n",
        "events",
        "Harrell's C",
        "Uno's C",
        *[f"AUC({h})" for h in horizons],
        "HR (95% CI)",
        "log-rank p",
        "random-signature p",
        "genes replicated",
    ]
    sig_rows, model_rows = [], []
    for cohort, record in by_cohort.items():
        if record.get("excluded"):
            sig_rows.append([cohort, "excluded", *[None] * (len(header) - 2)])
            model_rows.append([cohort, "excluded", *[None] * (len(header) - 4)])
            continue
        auc = [record.get("td_auc", {}).get(f"{float(h):g}") for h in horizons]
        replication = record.get("replication", {})
        sig_rows.append(
            [
                cohort,
                record.get("n"),
                record.get("events"),
                record.get("c_index"),
                record.get("c_index_uno"),
                *auc,
                _hr(record),
                record.get("logrank_p"),
                record.get("random_signatures", {}).get("empirical_p"),
                f"{replication.get('replicated')}/{replication.get('genes')}",
            ]
        )
        model = record.get("model", {})
        model_rows.append(
            [
                cohort,
                model.get("n"),
                model.get("events"),
                model.get("c_index"),
                model.get("c_index_uno"),
                *[model.get("td_auc", {}).get(f"{float(h):g}") for h in horizons],
                _hr(model),
                model.get("logrank_p"),
            ]
        )
    out += _table(header, sig_rows)
    out += ["", "Trained network (risk groups at the discovery median risk):", ""]
    out += _table(header[: len(header) - 2], model_rows)
    out += ["", "Multivariable Cox models (risk group adjusted for clinical covariates):", ""]
    multi_rows = []
    for cohort, record in by_cohort.items():
        if record.get("excluded"):
            continue
        for score, block in (("signature", record), ("network", record.get("model", {}))):
            multi = block.get("multivariable", {})
            for term in multi.get("terms", []):
                multi_rows.append(
                    [cohort, score, term["term"], _hr(term), term["p_value"], multi.get("n")]
                )
    out += _table(["cohort", "score", "term", "HR (95% CI)", "p", "n"], multi_rows)
    out += [
        "",
        "Calibration by risk group (observed KM survival in the cohort vs the discovery KM "
        "survival of the same group, at each horizon; see calibration.tsv / calibration.png):",
        "",
    ]
    calibration_rows = []
    for cohort, record in by_cohort.items():
        if record.get("excluded"):
            continue
        for score, block in (("signature", record), ("network", record.get("model", {}))):
            cells = [c for c in block.get("calibration", []) if c.get("within_ci") is not None]
            inside = sum(bool(c["within_ci"]) for c in cells)
            worst = max((abs(c["difference"]) for c in cells), default=None)
            calibration_rows.append([cohort, score, f"{inside}/{len(cells)}", worst])
    out += _table(
        ["cohort", "score", "predictions inside the observed 95% CI", "max abs(obs − pred)"],
        calibration_rows,
    )
    out += ["", "Random-effects meta-analysis (DerSimonian–Laird) of the log hazard ratio:", ""]
    meta_rows = []
    for score in ("signature", "model"):
        block = meta.get(score, {})
        left = "; ".join(f"{c}: {r}" for c, r in block.get("left_out", {}).items()) or "none"
        meta_rows.append(
            [
                "network" if score == "model" else score,
                block.get("k"),
                _hr(block) if "hazard_ratio" in block else "—",
                block.get("p_value"),
                None if block.get("i2") is None else f"{_fmt(block.get('i2'))}%",
                block.get("tau2"),
                left,
            ]
        )
    out += _table(
        ["score", "cohorts", "pooled HR (95% CI)", "p", "I²", "τ²", "left out"], meta_rows
    )
    out += [
        "",
        "## 6. Not answerable from the run (authors to complete)",
        "",
        "- REMARK 1–9: marker and hypotheses, patient characteristics and eligibility, "
        "treatment, specimen characteristics, assay methods, study design and dates, "
        "endpoint definitions, rationale for the sample size.",
        "- REMARK 13–14, 18–20: distribution of demographic and standard prognostic "
        "variables, relation of the marker to them, further sensitivity analyses, "
        "interpretation and clinical implications.",
        "- TRIPOD+AI: title and abstract, healthcare context and intended use, data sources "
        "and dates, setting, eligibility, treatments, outcome and predictor assessment "
        "(blinding), sample-size justification, fairness across groups, model updating, "
        "open science (registration, protocol, data and code availability), patient and "
        "public involvement, limitations and interpretation.",
        "",
    ]
    return "\n".join(out)

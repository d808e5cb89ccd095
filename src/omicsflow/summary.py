"""The first page of the report: verdicts and headline numbers, as reStructuredText.

:func:`run_summary` reads the run's result files (never recomputes anything) and writes the
page that ``workflow/report/workflow.rst`` includes: the quality verdict of every cohort, the
locked signature with its discovery performance, the validation hazard ratio and C-index per
cohort with the meta-analysis, the transfer-learning gain measured in cross-validation, and the
arrays dropped from the demo cohorts (when the run uses them).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["run_summary"]


def _read_json(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _number(value: Any, digits: int = 2) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(number) else f"{number:.{digits}f}"


def _p_value(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(number):
        return "–"
    return f"{number:.2g}" if number >= 1e-4 else f"{number:.1e}"


def _hr(row: dict[str, Any], prefix: str = "") -> str:
    hr = row.get(f"{prefix}hazard_ratio")
    low, high = row.get(f"{prefix}hr_ci_low"), row.get(f"{prefix}hr_ci_high")
    if _number(hr) == "–":
        return "–"
    return f"{_number(hr)} ({_number(low)}–{_number(high)})"


def _list_table(header: list[str], rows: list[list[str]], widths: str = "auto") -> str:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        cells = [str(cell).replace("\n", " ") or " " for cell in row]
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {cell}" for cell in cells[1:])
    return "\n".join(lines) + "\n"


def _section(title: str) -> str:
    return f"{title}\n{'-' * len(title)}\n\n"


def _dropped(dropped: pd.DataFrame) -> str:
    """The arrays removed from the demo cohorts before anything else, with their ids."""
    text = _section("Arrays dropped from the demo cohorts")
    if dropped.empty:
        return text + "No array was dropped from the demo cohorts.\n\n"
    counts = dropped.groupby("cohort", sort=False)["sample"].count()
    per_cohort = ", ".join(f"{count} from ``{cohort}``" for cohort, count in counts.items())
    text += (
        f"{len(dropped)} array(s) were removed before anything else ({per_cohort}): they are "
        "not primary tumours (metastases, post-chemotherapy samples, a recurrence) or repeat a "
        "patient (a paired sample), as their sample names say. The same list is "
        "``resources/demo/dropped_samples.tsv`` (under *0. Data*).\n\n"
    )
    rows = [[row["cohort"], row["sample"], row["reason"]] for row in dropped.to_dict("records")]
    return text + _list_table(["cohort", "sample", "marked by"], rows) + "\n"


def _quality(qc_summary: pd.DataFrame) -> str:
    rows = []
    for row in qc_summary.to_dict("records"):
        removed = int(row.get("n_removed", 0) or 0)
        rows.append(
            [
                row["cohort"],
                row["role"],
                str(row["n_samples"]),
                "–" if pd.isna(row.get("events")) else str(int(row["events"])),
                _number(row["score"]),
                f"**{row['verdict']}**",
                str(row.get("action", "")),
                str(removed),
            ]
        )
    failing = [r for r in qc_summary.to_dict("records") if r["verdict"] != "pass"]
    note = "".join(
        f"* ``{r['cohort']}`` ({r['verdict']}): {r.get('reasons', '')}\n" for r in failing
    )
    return (
        _section("Quality gate")
        + _list_table(
            [
                "cohort",
                "role",
                "samples",
                "events",
                "score",
                "verdict",
                "action",
                "samples removed",
            ],
            rows,
        )
        + ("\n" + note if note else "\nEvery cohort passed its quality checks.\n")
        + "\n"
    )


def _signature(
    signature: dict[str, Any], cutpoints: pd.DataFrame, null_control: dict[str, Any] | None
) -> str:
    genes = signature["genes"]
    rows = [
        [
            g["gene"],
            g["direction"].replace("_", " "),
            _number(g["cutpoint"]),
            _number(g["percentile"]),
            _number(g["hazard_ratio"]),
            _p_value(g["p_value"]),
            _p_value(g["q_value"]),
        ]
        for g in genes
    ]
    performance = signature.get("performance", {})
    n_significant = int((cutpoints["q_value"] < 0.05).sum())
    text = (
        _section("Locked signature")
        + f"{len(genes)} genes, scoring rule ``{signature['scoring']}``, chosen among "
        f"{len(cutpoints)} genes scanned on the discovery cohort ({n_significant} with "
        "q < 0.05 after correcting for the cutpoint search and for the number of genes).\n\n"
        + _list_table(
            ["gene", "high risk", "cutpoint", "percentile", "HR", "p (corrected)", "q"], rows
        )
    )
    if performance:
        text += (
            f"\nDiscovery C-index: apparent {_number(performance.get('c_index_apparent'), 3)}, "
            "bootstrap optimism-corrected "
            f"{_number(performance.get('c_index_corrected'), 3)}.\n"
        )
    if null_control:
        random = null_control.get("random_signatures", {})
        type_one = null_control.get("type_one_error", {}).get("mean_share_below_alpha", {})
        if random:
            text += (
                f"\nAgainst {random.get('random_signatures')} random signatures of the same size "
                f"the discovery C-index has empirical p = {_p_value(random.get('p_value'))}. "
            )
        if type_one:
            text += (
                "With permuted outcomes the share of genes called significant at 0.05 is "
                f"{_number(type_one.get('p_value'), 3)} (corrected p) against "
                f"{_number(type_one.get('logrank_p'), 3)} for the naive log-rank p.\n"
            )
    return text + "\n"


def _validation(summary: pd.DataFrame, meta: dict[str, Any] | None) -> str:
    rows = []
    for row in summary.to_dict("records"):
        if bool(row.get("excluded")):
            rows.append(
                [
                    row["cohort"],
                    row.get("platform", ""),
                    "EXCLUDED by QC",
                    "",
                    "",
                    "",
                    "",
                    str(row.get("exclusion_reason", "")),
                ]
            )
            continue
        rows.append(
            [
                row["cohort"],
                str(row.get("platform", "")),
                f"{row['n']} / {row['events']}",
                _number(row.get("c_index"), 3),
                _hr(row),
                _p_value(row.get("logrank_p")),
                _number(row.get("model_c_index"), 3),
                _p_value(row.get("random_empirical_p")),
            ]
        )
    text = _section("Independent validation") + _list_table(
        [
            "cohort",
            "platform",
            "patients / events",
            "signature C-index",
            "HR high vs low (95% CI)",
            "log-rank p",
            "network C-index",
            "p vs random signatures",
        ],
        rows,
    )
    pooled = (meta or {}).get("signature", {})
    if pooled.get("k"):
        text += (
            f"\nRandom-effects meta-analysis over {pooled['k']} cohort(s): pooled HR "
            f"{_hr(pooled)}, I² = {_number(pooled.get('i2'), 0)} %.\n"
        )
    return text + "\n"


def _transfer(comparison: dict[str, Any], metrics: dict[str, Any]) -> str:
    models = comparison.get("models", {})
    names = {
        "pretrained": "(a) pretrained + fine-tuned",
        "random_init": "(b) same network, random initialisation",
        "coxnet": "(c) elastic-net Cox",
    }
    rows = [
        [names.get(name, name), _number(values.get("mean"), 3), _number(values.get("sd"), 3)]
        for name, values in models.items()
    ]
    text = (
        _section("Transfer learning")
        + f"{comparison.get('repeats')} × {comparison.get('folds')}-fold cross-validation on the "
        "discovery cohort, identical splits for every model "
        f"({comparison.get('metric', 'C-index')}):\n\n"
        + _list_table(["model", "mean C-index", "SD"], rows)
    )
    for key, label in (
        ("pretrained_vs_random_init", "transfer gain, a − b"),
        ("pretrained_vs_coxnet", "a − c"),
    ):
        difference = comparison.get("differences", {}).get(key)
        if difference:
            text += (
                f"\n* {label}: {_number(difference.get('mean'), 3)} (95% CI "
                f"{_number(difference.get('ci_low'), 3)} to "
                f"{_number(difference.get('ci_high'), 3)})"
            )
    pretraining = comparison.get("pretraining", {})
    text += (
        f"\n\nPretraining: {pretraining.get('short', '')}. Final network trained on "
        f"{metrics.get('device', '?')}.\n"
    )
    return text + "\n"


def run_summary(
    *,
    qc_summary: str | Path,
    cutpoints: str | Path,
    signature: str | Path,
    null_control: str | Path | None,
    validation_summary: str | Path,
    meta: str | Path | None,
    comparison: str | Path,
    train_metrics: str | Path,
    dropped: str | Path | None = None,
) -> str:
    """The report's first page (reStructuredText) from the run's result files.

    Parameters
    ----------
    qc_summary
        ``results/qc/summary.tsv``.
    cutpoints, signature, null_control
        ``results/biomarkers/cutpoints.tsv``, ``signature.json``, ``null_control.json``.
    validation_summary, meta
        ``results/validation/summary.tsv`` and ``meta.json``.
    comparison, train_metrics
        ``results/train/comparison.json`` and ``metrics.json``.
    dropped
        ``resources/demo/dropped_samples.tsv`` (columns ``cohort``, ``sample``, ``reason``)
        when the run uses the demo cohorts; ``None`` otherwise.

    Returns
    -------
    str
        The page, sections: quality gate, locked signature, independent validation,
        transfer learning, and (only with ``dropped``) the arrays dropped from the demo cohorts.
    """
    return (
        _quality(pd.read_csv(qc_summary, sep="\t"))
        + _signature(
            _read_json(signature),
            pd.read_csv(cutpoints, sep="\t"),
            _read_json(null_control) if null_control else None,
        )
        + _validation(pd.read_csv(validation_summary, sep="\t"), _read_json(meta) if meta else None)
        + _transfer(_read_json(comparison), _read_json(train_metrics))
        + (_dropped(pd.read_csv(dropped, sep="\t", dtype=str)) if dropped else "")
    )

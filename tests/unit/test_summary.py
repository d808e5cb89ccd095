"""The report's first page: the demo's dropped arrays are on it, by count and by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docutils.core
import docutils.utils
import pandas as pd
import pytest

from omicsflow.summary import run_summary

# The eight GSE1992 arrays the demo drops (as survset names them), written here by hand.
DROPPED = pd.DataFrame(
    [
        ("GSE1992", "020573-BC-Primary(paired-020577)", "paired"),
        ("GSE1992", "030064-BC-Brain-Met", "Met"),
        ("GSE1992", "BC00057-post-chemo", "post-chemo"),
        ("GSE1992", "PB120-LN-Met", "Met"),
        ("GSE1992", "A4-LLL-Lung-Met", "Met"),
        ("GSE1992", "A5-Skin#1-Right-Met", "Met"),
        ("GSE1992", "BC00064-RECUR", "RECUR"),
        ("GSE1992", "BC00052-post-chemo", "post-chemo"),
    ],
    columns=["cohort", "sample", "reason"],
)


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def results(tmp_path: Path) -> dict[str, Path | None]:
    """The smallest result files :func:`run_summary` reads."""
    qc = tmp_path / "qc.tsv"
    pd.DataFrame(
        {
            "cohort": ["GSE3143", "GSE4335", "GSE1992"],
            "role": ["discovery", "validation", "source"],
            "n_samples": [158, 115, 116],
            "events": [50, 38, None],
            "score": [0.9, 0.85, 0.95],
            "verdict": ["pass", "pass", "pass"],
            "action": ["continue", "continue", "continue"],
            "n_removed": [0, 0, 0],
        }
    ).to_csv(qc, sep="\t", index=False)
    cutpoints = tmp_path / "cutpoints.tsv"
    pd.DataFrame({"gene": ["MKI67", "AURKA"], "q_value": [0.01, 0.2]}).to_csv(
        cutpoints, sep="\t", index=False
    )
    gene = {
        "gene": "MKI67",
        "direction": "high_risk_above",
        "cutpoint": 1.0,
        "percentile": 50.0,
        "hazard_ratio": 2.0,
        "p_value": 0.01,
        "q_value": 0.01,
    }
    validation = tmp_path / "validation.tsv"
    pd.DataFrame(
        {
            "cohort": ["GSE4335"],
            "platform": ["microarray"],
            "n": [115],
            "events": [38],
            "c_index": [0.6],
            "hazard_ratio": [1.8],
            "hr_ci_low": [1.1],
            "hr_ci_high": [2.9],
            "logrank_p": [0.02],
            "excluded": [False],
        }
    ).to_csv(validation, sep="\t", index=False)
    return {
        "qc_summary": qc,
        "cutpoints": cutpoints,
        "signature": _write_json(
            tmp_path / "signature.json", {"genes": [gene], "scoring": "count"}
        ),
        "null_control": None,
        "validation_summary": validation,
        "meta": None,
        "comparison": _write_json(
            tmp_path / "comparison.json", {"models": {"pretrained": {"mean": 0.6, "sd": 0.05}}}
        ),
        "train_metrics": _write_json(tmp_path / "metrics.json", {"device": "cpu"}),
    }


def _rst_problems(text: str) -> list[str]:
    """Warnings and errors docutils reports while parsing ``text``."""
    doctree = docutils.core.publish_doctree(
        text, settings_overrides={"report_level": 5, "halt_level": 5}
    )
    return [
        node.astext()
        for node in doctree.findall(docutils.nodes.system_message)
        if node["level"] >= docutils.utils.Reporter.WARNING_LEVEL
    ]


def test_dropped_arrays_close_the_page_with_count_and_ids(results, tmp_path):
    dropped = tmp_path / "dropped_samples.tsv"
    DROPPED.to_csv(dropped, sep="\t", index=False)
    page = run_summary(**results, dropped=dropped)
    # The headline sections come first; the dropped arrays close the page.
    assert page.startswith("Quality gate\n")
    assert page.index("Transfer learning") < page.index("Arrays dropped from the demo cohorts\n")
    assert "8 array(s) were removed before anything else (8 from ``GSE1992``)" in page
    for row in DROPPED.itertuples():
        assert f"   * - {row.cohort}\n     - {row.sample}\n     - {row.reason}\n" in page
    assert _rst_problems(page) == []


def test_counts_per_cohort_when_several_cohorts_drop_arrays(results, tmp_path):
    dropped = tmp_path / "dropped_samples.tsv"
    extra = pd.DataFrame([("GSE4335", "S1-Met", "Met")], columns=DROPPED.columns)
    pd.concat([DROPPED.iloc[:3], extra]).to_csv(dropped, sep="\t", index=False)
    page = run_summary(**results, dropped=dropped)
    assert (
        "4 array(s) were removed before anything else (3 from ``GSE1992``, 1 from ``GSE4335``)"
        in page
    )


def test_empty_dropped_list_is_said(results, tmp_path):
    dropped = tmp_path / "dropped_samples.tsv"
    DROPPED.iloc[:0].to_csv(dropped, sep="\t", index=False)
    page = run_summary(**results, dropped=dropped)
    assert "No array was dropped from the demo cohorts." in page
    assert "were removed" not in page


def test_without_the_demo_there_is_no_dropped_section(results):
    page = run_summary(**results)
    assert page.startswith("Quality gate\n")
    assert "dropped" not in page
    assert _rst_problems(page) == []

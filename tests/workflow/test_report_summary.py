"""The report's first page: its numbers are the result files' numbers."""

from __future__ import annotations

import json

import pandas as pd


def test_summary_page_quotes_the_results(toy_run):
    results = toy_run / "results"
    page = (results / "report" / "summary.rst").read_text()
    qc = pd.read_csv(results / "qc" / "summary.tsv", sep="\t")
    for row in qc.itertuples():
        assert f"   * - {row.cohort}\n     - {row.role}\n     - {row.n_samples}\n" in page
    signature = json.loads((results / "biomarkers" / "signature.json").read_text())
    for gene in signature["genes"]:
        assert f"   * - {gene['gene']}\n" in page
    validation = pd.read_csv(results / "validation" / "summary.tsv", sep="\t")
    for row in validation.itertuples():
        assert (
            f"     - {row.c_index:.3f}\n     - {row.hazard_ratio:.2f} "
            f"({row.hr_ci_low:.2f}–{row.hr_ci_high:.2f})" in page
        )
    comparison = json.loads((results / "train" / "comparison.json").read_text())
    gain = comparison["differences"]["pretrained_vs_random_init"]
    assert f"transfer gain, a − b: {gain['mean']:.3f}" in page
    assert "Final network trained on cpu." in page

"""Dry runs: the DAG builds from a deployed working folder; bad config stops at parse time."""

from __future__ import annotations

import pandas as pd

from tests.workflow.helpers import make_workdir, snakemake


def test_dry_run_builds_every_stage(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv")
    result = snakemake(workdir, "-n")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for rule, count in [
        ("cohort_load", 4),
        ("qc_score", 4),
        ("qc_gate", 4),
        ("preprocess_fit", 1),
        ("preprocess_apply", 4),
        ("preprocess_genes", 1),
        ("train_pretrain", 1),
        ("train_finetune", 1),
        ("biomarkers_scan", 1),
        ("biomarkers_signature", 1),
        ("validate_cohort", 2),
        ("validate_summary", 1),
    ]:
        assert any(line.split() == [rule, str(count)] for line in output.splitlines()), rule


def test_cohorts_key_selects_another_sheet(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, tmp_path / "nowhere.tsv")
    result = snakemake(workdir, "-n", "--config", f"cohorts={toy_dir / 'cohorts.tsv'}")
    assert result.returncode == 0, result.stderr


def test_unknown_config_key_is_rejected(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv", {"qc": {"max_mising": 0.3}})
    result = snakemake(workdir, "-n")
    assert result.returncode != 0
    assert (
        "Additional properties are not allowed ('max_mising' was unexpected)"
        in result.stdout + result.stderr
    )


def test_bad_cohort_sheet_stops_at_parse_time(toy_dir, tmp_path):
    sheet = pd.read_csv(toy_dir / "cohorts.tsv", sep="\t", dtype=str, keep_default_na=False)
    for column in ("expression", "clinical"):
        sheet[column] = [str(toy_dir / name) if name else "" for name in sheet[column]]
    sheet.loc[sheet["cohort"] == "validation_a", "role"] = "discovery"
    bad = tmp_path / "cohorts.tsv"
    sheet.to_csv(bad, sep="\t", index=False)
    result = snakemake(make_workdir(tmp_path / "run", bad), "-n")
    assert result.returncode != 0
    assert "CohortSheetError" in result.stdout + result.stderr
    assert "exactly one discovery cohort" in result.stdout + result.stderr

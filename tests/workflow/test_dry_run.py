"""Dry runs: the DAG builds from a deployed working folder; bad config stops at parse time."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict

import pandas as pd

from tests.workflow.helpers import REPO, make_workdir, snakemake


def planned_jobs(output: str) -> dict[str, list[dict[str, str]]]:
    """Jobs of a dry run: rule → one dict per job with its ``input``/``wildcards`` lines."""
    jobs: dict[str, list[dict[str, str]]] = defaultdict(list)
    current: dict[str, str] | None = None
    for line in output.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line):
            current = {}
            jobs[match.group(1)].append(current)
        elif current is not None and (
            match := re.match(r"^    (input|output|wildcards): (.*)$", line)
        ):
            current[match.group(1)] = match.group(2)
    return jobs


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


def test_default_config_plans_the_demo(tmp_path):
    """The shipped config and sheet: demo_data writes the cohorts, then every stage runs."""
    (tmp_path / "config").mkdir()
    for name in ("config.yaml", "cohorts.tsv"):
        shutil.copy(REPO / "config" / name, tmp_path / "config" / name)
    result = snakemake(tmp_path, "-n")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = planned_jobs(result.stdout + result.stderr)
    assert len(jobs["demo_data"]) == 1
    assert "resources/demo/dropped_samples.tsv" in jobs["demo_data"][0]["output"]
    cohorts = {"GSE3143", "GSE4335", "GSE1992"}
    for rule in ("cohort_load", "qc_score", "qc_gate", "preprocess_apply"):
        planned = {job["wildcards"] for job in jobs[rule]}
        assert planned == {f"cohort={cohort}" for cohort in cohorts}, rule
    for job in jobs["cohort_load"]:
        cohort = job["wildcards"].removeprefix("cohort=")
        assert f"resources/demo/{cohort}_expression.tsv.gz" in job["input"]
    assert [job["wildcards"] for job in jobs["validate_cohort"]] == ["validation=GSE4335"]
    for rule in ("preprocess_fit", "train_pretrain", "train_finetune", "biomarkers_scan"):
        assert len(jobs[rule]) == 1, rule
    # The dropped arrays reach the report's first page.
    assert "resources/demo/dropped_samples.tsv" in jobs["report_summary"][0]["input"]


def test_toy_report_summary_has_no_demo_input(toy_dir, tmp_path):
    result = snakemake(make_workdir(tmp_path, toy_dir / "cohorts.tsv"), "-n")
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout + result.stderr)
    assert "demo_data" not in jobs
    assert "dropped_samples" not in jobs["report_summary"][0]["input"]


def test_unknown_config_key_is_rejected(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv", {"qc": {"max_mising": 0.3}})
    result = snakemake(workdir, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "ConfigError in file" in output
    assert "unknown config key 'qc.max_mising'" in output
    assert "file: config/config.yaml" in output
    assert "expected: a key allowed under 'qc': duplicate_correlation, " in output
    assert "fix: rename it to 'qc.max_missing' (closest allowed key), or remove it" in output


def test_bad_enum_on_the_command_line_is_rejected(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv")
    result = snakemake(workdir, "-n", "--config", "preprocess={'impute': 'knnn'}")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "ConfigError in file" in output
    assert "config key 'preprocess.impute' has a value that is not allowed" in output
    assert "file: --config on the command line" in output
    assert "(did you mean 'knn'?)" in output


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

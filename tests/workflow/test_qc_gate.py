"""The quality gate in a real Snakemake run: a failing discovery cohort stops the run with the
failing checks and their fixes in the log; a failing validation cohort is excluded (or stops the
run); flagged samples are removed and recorded."""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest

from omicsflow import toy_defects as td
from tests.workflow.helpers import make_workdir, snakemake

pytestmark = pytest.mark.slow

TARGETS = [
    "results/qc/discovery/passed.h5ad",
    "results/qc/validation_a/passed.h5ad",
    "results/qc/validation_b/passed.h5ad",
    "results/qc/summary.tsv",
]


@pytest.fixture(scope="module")
def defective(toy_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Discovery and validation_a 60% missing (hard failures); 3 outliers in validation_b."""
    folder = tmp_path_factory.mktemp("defective")
    sheet, _ = td.write_defective_sheet(
        toy_dir / "cohorts.tsv", folder, "discovery", td.plant_missingness,
        samples=200, rate=0.6, seed=1,
    )  # fmt: skip
    sheet, _ = td.write_defective_sheet(
        sheet, folder, "validation_a", td.plant_missingness, samples=120, rate=0.6, seed=2
    )
    sheet, outliers = td.write_defective_sheet(
        sheet, folder, "validation_b", td.plant_outliers, samples=3, severity=1.5, seed=3
    )
    return sheet, outliers


@pytest.fixture(scope="module")
def gated_run(defective, tmp_path_factory: pytest.TempPathFactory):
    sheet, _ = defective
    workdir = make_workdir(tmp_path_factory.mktemp("gate"), sheet)
    result = snakemake(workdir, "--keep-going", *TARGETS)
    return workdir, result


def test_failing_discovery_stops_the_run_with_the_checks_and_fixes_in_the_log(gated_run):
    workdir, result = gated_run
    assert result.returncode != 0
    assert not (workdir / "results/qc/discovery/passed.h5ad").exists()
    log = (workdir / "logs/qc_gate/discovery.log").read_text()
    assert "QualityGateError: cohort failed the quality gate (discovery" in log
    assert "the discovery cohort must pass before anything is trained" in log
    assert "- missingness: 62." in log and "missing values (limit 50.0%)" in log
    assert "fix: too much is missing to impute honestly" in log
    assert "Error in rule qc_gate" in result.stdout + result.stderr
    assert "failed the quality gate" in result.stdout + result.stderr
    quality = json.loads((workdir / "results/qc/discovery/quality.json").read_text())
    assert quality["verdict"] == "fail" and "missingness" in quality["hard_failures"]
    # The evidence is drawn even though the gate failed.
    assert (workdir / "results/qc/discovery/missingness.png").stat().st_size > 10_000


def test_failing_validation_cohort_is_excluded_visibly(gated_run):
    workdir, _ = gated_run
    passed = ad.read_h5ad(workdir / "results/qc/validation_a/passed.h5ad")
    assert bool(passed.uns["qc"]["excluded"]) is True
    assert passed.uns["qc"]["exclusion_reason"].startswith("missingness: ")
    assert passed.n_obs == 120  # kept whole: nothing downstream uses it
    log = (workdir / "logs/qc_gate/validation_a.log").read_text()
    assert "WARNING" in log and "EXCLUDED from validation" in log
    summary = pd.read_csv(workdir / "results/qc/summary.tsv", sep="\t").set_index("cohort")
    assert summary.loc["validation_a", "action"] == "exclude"
    assert summary.loc["discovery", "action"] == "stop"
    assert summary.loc["validation_b", "action"] == "continue"


def test_flagged_samples_are_removed_and_recorded(gated_run, defective):
    workdir, _ = gated_run
    _, outliers = defective
    quality = json.loads((workdir / "results/qc/validation_b/quality.json").read_text())
    assert quality["removed_samples"] == list(outliers.samples)
    assert quality["flagged_samples"]["outliers"] == list(outliers.samples)
    passed = ad.read_h5ad(workdir / "results/qc/validation_b/passed.h5ad")
    assert passed.n_obs == 120 - 3
    assert not set(outliers.samples) & set(passed.obs_names)
    assert list(passed.uns["qc"]["removed_samples"]) == list(outliers.samples)
    assert bool(passed.uns["qc"]["excluded"]) is False
    log = (workdir / "logs/qc_gate/validation_b.log").read_text()
    assert "removed 3 of 120 samples flagged by QC" in log
    summary = pd.read_csv(workdir / "results/qc/summary.tsv", sep="\t").set_index("cohort")
    assert summary.loc["validation_b", "n_removed"] == 3


def test_on_fail_validation_stop_stops_the_run(defective, tmp_path):
    sheet, _ = defective
    workdir = make_workdir(tmp_path, sheet, {"qc": {"on_fail_validation": "stop"}})
    result = snakemake(workdir, "results/qc/validation_a/passed.h5ad")
    assert result.returncode != 0
    log = (workdir / "logs/qc_gate/validation_a.log").read_text()
    assert "QualityGateError" in log and "qc.on_fail_validation is 'stop'" in log
    assert not (workdir / "results/qc/validation_a/passed.h5ad").exists()

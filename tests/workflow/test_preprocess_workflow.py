"""The preprocessing rules on the toy cohorts with `impute: auto`, and the fit's inputs."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsflow.preprocess import read_transform_header
from tests.workflow.helpers import make_workdir, snakemake

pytestmark = pytest.mark.slow

AUTO = {
    "preprocess": {
        "impute": "auto",
        "iterative": {"max_iter": 2},
        "auto": {"candidates": ["mean", "median", "knn", "iterative"], "mask_share": 0.05},
    }
}
COHORTS = ("source", "discovery", "validation_a", "validation_b")


@pytest.fixture(scope="module")
def auto_run(toy_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = make_workdir(tmp_path_factory.mktemp("auto"), toy_dir / "cohorts.tsv", AUTO)
    targets = [f"results/preprocess/{cohort}.h5ad" for cohort in COHORTS]
    result = snakemake(workdir, *targets, "results/preprocess/genes.tsv")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return workdir


def test_auto_benchmark_table_plot_and_choice(auto_run):
    results = auto_run / "results" / "preprocess"
    table = pd.read_csv(results / "imputation_benchmark.tsv", sep="\t")
    assert list(table.columns) == ["method", "nrmse", "seconds", "n_hidden"]
    assert list(table["method"]) == ["mean", "median", "knn", "iterative"]
    assert table["nrmse"].notna().all() and (table["seconds"] >= 0).all()
    n_observed = 200 * 1000 * 0.95
    assert table["n_hidden"].iloc[0] == pytest.approx(0.05 * n_observed, rel=0.02)
    winner = table.loc[table["nrmse"].idxmin(), "method"]
    assert table.loc[table["method"] == "mean", "nrmse"].item() == pytest.approx(1.0, abs=0.05)
    header = read_transform_header(results / "transform.npz")
    assert header["impute"] == "auto" and header["impute_method"] == winner
    assert header["fitted_on"] == "discovery" and header["seed"] == 20261125
    assert [row["method"] for row in header["benchmark"]] == list(table["method"])
    assert (results / "imputation_benchmark.png").stat().st_size > 10_000


def test_every_cohort_is_complete_and_records_its_fit(auto_run):
    results = auto_run / "results" / "preprocess"
    winner = read_transform_header(results / "transform.npz")["impute_method"]
    for cohort in COHORTS:
        adata = ad.read_h5ad(results / f"{cohort}.h5ad")
        assert adata.X.dtype == np.float32 and not np.isnan(adata.X).any()
        info = adata.uns["preprocess"]
        assert info["impute"] == "auto" and info["impute_method"] == winner
        assert info["fitted_on"] == ("source" if cohort == "source" else "discovery")
        assert info["n_values_imputed"] > 0 and info["log2"] is False
        assert adata.uns["cohort"]["id"] == cohort
        assert ("time" in adata.obs) == (cohort != "source")
    discovery = ad.read_h5ad(results / "discovery.h5ad")
    np.testing.assert_allclose(discovery.X.mean(axis=0), 0.0, atol=1e-4)


def test_gene_table_and_plot(auto_run):
    results = auto_run / "results" / "preprocess"
    genes = pd.read_csv(results / "genes.tsv", sep="\t")
    assert list(genes["cohort"]) == list(COHORTS)
    assert list(genes["role"]) == ["source", "discovery", "validation", "validation"]
    assert (genes["n_kept"] == 1000).all() and (genes["n_absent"] == 0).all()
    assert (results / "genes.png").stat().st_size > 10_000


def test_the_fit_never_reads_a_validation_cohort(toy_dir, tmp_path):
    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv", AUTO)
    result = snakemake(workdir, "-n", "results/preprocess/transform.npz")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "validation_a" not in output and "validation_b" not in output
    for rule, count in [("cohort_load", 2), ("preprocess_benchmark", 1), ("preprocess_fit", 1)]:
        assert any(line.split() == [rule, str(count)] for line in output.splitlines()), rule


def test_report_shows_the_benchmark_and_the_gene_table(auto_run):
    targets = [f"results/preprocess/{cohort}.h5ad" for cohort in COHORTS]
    targets.append("results/preprocess/genes.tsv")
    result = snakemake(auto_run, "--report", "results/report.html", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (auto_run / "results" / "report.html").read_text(errors="replace")
    for text in ("imputation_benchmark.png", "imputation_benchmark.tsv", "genes.png", "genes.tsv"):
        assert text in html, text
    assert "2. Preprocessing" in html

"""The whole DAG on the toy cohorts: planted genes recovered, signature validates, report built."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.workflow.helpers import FAST_TRAIN, snakemake

pytestmark = pytest.mark.slow


def test_every_stage_wrote_its_outputs(toy_run):
    results = toy_run / "results"
    for cohort in ("source", "discovery", "validation_a", "validation_b"):
        quality = json.loads((results / "qc" / cohort / "quality.json").read_text())
        assert {"missing_fraction", "n_samples", "n_genes", "events", "score", "verdict"} <= set(
            quality
        )
        assert 0.0 <= quality["score"] <= 1.0 and quality["verdict"] == "pass"
        assert (results / "preprocess" / f"{cohort}.h5ad").exists()
    for path in (
        "train/model.pt",
        "train/metrics.json",
        "biomarkers/signature.json",
        "validation/summary.tsv",
        "provenance.json",
        "qc/summary.tsv",
    ):
        assert (results / path).exists(), path


def test_planted_genes_lead_the_cutpoint_table(toy_run, toy_dir):
    cutpoints = pd.read_csv(toy_run / "results" / "biomarkers" / "cutpoints.tsv", sep="\t")
    for column in (
        "gene",
        "cutpoint",
        "direction",
        "n_low",
        "n_high",
        "statistic",
        "p_value",
        "hazard_ratio",
    ):
        assert column in cutpoints.columns
    assert list(cutpoints["p_value"]) == sorted(cutpoints["p_value"])
    planted = pd.read_csv(toy_dir / "planted_genes.tsv", sep="\t").set_index("gene")
    top = cutpoints.head(10).set_index("gene")
    found = planted.index.intersection(top.index)
    assert len(found) >= 4, f"planted genes in the top 10: {list(found)}"
    for gene in found:
        assert top.loc[gene, "direction"] == planted.loc[gene, "direction"]


def test_signature_validates_on_both_platforms(toy_run):
    summary = pd.read_csv(toy_run / "results" / "validation" / "summary.tsv", sep="\t")
    assert set(summary["cohort"]) == {"validation_a", "validation_b"}
    for row in summary.itertuples():
        metrics = json.loads(
            (toy_run / "results" / "validation" / row.cohort / "metrics.json").read_text()
        )
        for key in (
            "n",
            "events",
            "c_index",
            "logrank_p",
            "hazard_ratio",
            "hr_ci_low",
            "hr_ci_high",
        ):
            assert key in metrics
        assert metrics["c_index"] > 0.57, (row.cohort, metrics["c_index"])
        assert metrics["hazard_ratio"] > 1.0 and metrics["logrank_p"] < 0.05
        assert (toy_run / "results" / "validation" / row.cohort / "km.png").stat().st_size > 10_000
        for key in ("c_index_uno", "td_auc", "model", "multivariable", "calibration"):
            assert key in metrics, key
        assert set(metrics["td_auc"]) == {"12", "36", "60"}
        assert metrics["random_signatures"]["n_signatures"] == 1000
        assert metrics["random_signatures"]["empirical_p"] < 0.05  # beats random gene sets
        assert row.transfer == "percentile" and not row.excluded
    signature = json.loads((toy_run / "results" / "biomarkers" / "signature.json").read_text())
    for gene in signature["genes"]:
        assert 0.0 < gene["percentile"] < 1.0 and gene["direction"] in (
            "high_risk_above",
            "high_risk_below",
        )


def test_discovery_only_fits_the_transform(toy_run):
    import anndata as ad

    discovery = ad.read_h5ad(toy_run / "results" / "preprocess" / "discovery.h5ad")
    validation = ad.read_h5ad(toy_run / "results" / "preprocess" / "validation_b.h5ad")
    assert abs(float(discovery.X.mean())) < 1e-3
    assert float(validation.X.mean()) > 1.0  # another scale: not re-centred on itself
    assert validation.uns["preprocess"]["fitted_on"] == "discovery"


def test_report_is_built(toy_report):
    html = toy_report.read_text(errors="replace")
    assert len(html) > 100_000
    # The first page: verdicts and headline numbers from results/report/summary.rst.
    for heading in (
        "Quality gate",
        "Locked signature",
        "Independent validation",
        "Transfer learning",
        "Random-effects meta-analysis",
    ):
        assert heading in html, heading
    for text in (
        "km.png",
        "cutpoints.tsv",
        "summary.tsv",
        "forest.png",
        "reporting_checklist.md",
        "training_curve.png",
        "cv_comparison.png",
        "attributions.png",
    ):
        assert text in html, text


def test_validation_across_cohorts(toy_run):
    validation = toy_run / "results" / "validation"
    meta = json.loads((validation / "meta.json").read_text())
    records = [
        json.loads((validation / c / "metrics.json").read_text())
        for c in ("validation_a", "validation_b")
    ]
    signature = meta["signature"]
    assert signature["k"] == 2 and signature["left_out"] == {}
    low, high = sorted(r["hazard_ratio"] for r in records)
    assert low <= signature["hazard_ratio"] <= high and 0.0 <= signature["i2"] <= 100.0
    for name in ("forest.png", "random_signatures.png"):
        assert (validation / name).stat().st_size > 10_000, name
    for cohort in ("validation_a", "validation_b"):
        replication = pd.read_csv(validation / cohort / "replication.tsv", sep="\t")
        assert len(replication) == 6 and {"hazard_ratio", "logrank_p", "replicates"} <= set(
            replication.columns
        )
        random = pd.read_csv(validation / cohort / "random_signatures.tsv", sep="\t")
        assert len(random) == 1000
    checklist = (validation / "reporting_checklist.md").read_text()
    for record in records:
        assert f"| {record['cohort']} | {record['n']} | {record['events']} |" in checklist
    assert "Candidate genes searched on the discovery cohort: **1000**" in checklist


def test_absolute_transfer_across_platforms_stops_before_running(toy_run):
    result = snakemake(
        toy_run, "-n", "--config", "validation={'transfer_by_cohort': {'validation_b': 'absolute'}}"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "absolute cutpoint transfer is allowed only on the discovery" in output
    assert "cohort: validation_b" in output and "transfer_by_cohort.validation_b" in output


def test_excluded_cohort_reaches_summary_meta_and_report(toy_run, tmp_path):
    import base64
    import re
    import shutil

    from omicsflow.io import read_h5ad, write_h5ad

    workdir = tmp_path / "run"
    shutil.copytree(toy_run, workdir, symlinks=True)
    path = workdir / "results" / "preprocess" / "validation_b.h5ad"
    adata = read_h5ad(path)
    # What qc_gate writes for a validation cohort failing QC under on_fail_validation: exclude.
    adata.uns["qc"] = {
        **dict(adata.uns["qc"]),
        "excluded": True,
        "exclusion_reason": "too few events (4 < 10)",
    }
    write_h5ad(path, adata)
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    validation = workdir / "results" / "validation"
    metrics = json.loads((validation / "validation_b" / "metrics.json").read_text())
    assert metrics["excluded"] is True and "c_index" not in metrics
    summary = pd.read_csv(validation / "summary.tsv", sep="\t").set_index("cohort")
    assert bool(summary.loc["validation_b", "excluded"])
    meta = json.loads((validation / "meta.json").read_text())
    assert meta["signature"]["k"] == 1 and "validation_b" in meta["signature"]["left_out"]
    assert (
        "EXCLUDED: too few events (4 < 10)" in (validation / "reporting_checklist.md").read_text()
    )
    result = snakemake(workdir, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workdir / "results" / "report.html").read_text(errors="replace")
    embedded = [base64.b64decode(data) for data in re.findall(r";base64,([A-Za-z0-9+/=]+)", html)]
    assert any(b"too few events (4 < 10)" in item for item in embedded)


def test_biomarker_stage_outputs(toy_run):
    from omicsflow.survival.cutpoint import CUTPOINT_COLUMNS

    biomarkers = toy_run / "results" / "biomarkers"
    cutpoints = pd.read_csv(biomarkers / "cutpoints.tsv", sep="\t")
    assert tuple(cutpoints.columns) == CUTPOINT_COLUMNS
    assert cutpoints["p_perm"].between(0, 1).all()
    assert cutpoints["selection_frequency"].between(0, 1).all()
    top = cutpoints.iloc[0]
    assert top["cut_ci_low"] <= top["cutpoint"] <= top["cut_ci_high"]
    assert top["selection_frequency"] > 0.5
    signature = json.loads((biomarkers / "signature.json").read_text())
    performance = signature["performance"]
    assert 0.6 < performance["c_index_corrected"] < performance["c_index_apparent"]
    assert signature["risk_groups"]["labels"] == ["low", "high"]  # default: median split
    control = json.loads((biomarkers / "null_control.json").read_text())
    shares = control["type_one_error"]["mean_share_below_alpha"]
    assert shares["p_value"] < 0.1 and shares["p_perm"] < 0.1 and shares["logrank_p"] > 0.3
    assert control["random_signatures"]["p_value"] < 0.05
    for name in ("statistic_profiles.png", "volcano.png", "stability.png", "null_control.png"):
        assert (biomarkers / name).stat().st_size > 10_000, name
    assert len(list((biomarkers / "km").glob("km_*.png"))) == 4


def test_quality_stage_on_clean_toy_cohorts(toy_run):
    qc = toy_run / "results" / "qc"
    summary = pd.read_csv(qc / "summary.tsv", sep="\t").set_index("cohort")
    assert set(summary["action"]) == {"continue"} and set(summary["verdict"]) == {"pass"}
    for cohort in ("source", "discovery", "validation_a", "validation_b"):
        quality = json.loads((qc / cohort / "quality.json").read_text())
        assert quality["needs_log_transform"] is False
        assert quality["removed_samples"] == [] and quality["duplicate_pairs"] == []
        assert quality["flagged_samples"]["outliers"] == []
        samples = pd.read_csv(qc / cohort / "samples.tsv", sep="\t")
        assert len(samples) == quality["n_samples"]
        for plot in ("missingness", "distances", "pca", "distributions"):
            assert (qc / cohort / f"{plot}.png").stat().st_size > 10_000, (cohort, plot)
    discovery = json.loads((qc / "discovery" / "quality.json").read_text())
    assert discovery["metrics"]["outcome"]["median_follow_up"] > 24  # censoring U(24, 120)
    assert discovery["metrics"]["dimensionality"]["events_per_variable"] > 10
    report = toy_run / "results" / "report.html"
    if not report.exists():
        assert snakemake(toy_run, "--report", str(report)).returncode == 0
    html = report.read_text(errors="replace")
    for plot in ("missingness.png", "distances.png", "pca.png", "distributions.png"):
        assert plot in html, plot


def test_training_stage_outputs(toy_run, toy_dir):
    import torch

    from omicsflow.transfer.checkpoint import load_model

    train = toy_run / "results" / "train"
    cv = pd.read_csv(train / "cv_metrics.tsv", sep="\t")
    assert list(cv.columns[:4]) == ["model", "repeat", "fold", "c_index"]
    folds, repeats = FAST_TRAIN["cv"]["folds"], FAST_TRAIN["cv"]["repeats"]
    assert len(cv) == 3 * folds * repeats
    assert set(cv["model"]) == {"pretrained", "random_init", "coxnet"}
    # Identical splits: every model is tested on the same samples of each fold.
    assert (cv.groupby(["repeat", "fold"])["n_test"].nunique() == 1).all()
    assert (cv.groupby(["repeat", "fold"])["events_test"].nunique() == 1).all()
    assert cv["c_index"].between(0.3, 1.0).all()
    splits = pd.read_csv(train / "cv_splits.tsv", sep="\t")
    assert len(splits) == 200 * repeats
    comparison = json.loads((train / "comparison.json").read_text())
    assert comparison["pretraining"]["cohorts"] == ["source"]
    assert comparison["pretraining"]["per_fold"] is False
    for name, diff in comparison["differences"].items():
        assert diff["ci_low"] <= diff["mean"] <= diff["ci_high"], name
    assert comparison["models"]["coxnet"]["mean"] == pytest.approx(
        cv.loc[cv["model"] == "coxnet", "c_index"].mean()
    )
    metrics = json.loads((train / "metrics.json").read_text())
    assert metrics["pretrained_on"] == ["source"] and metrics["n"] == 200
    history = pd.read_csv(train / "history.tsv", sep="\t")
    assert len(history) == metrics["epochs_run"] and history["epoch"].tolist()[0] == 1
    assert metrics["best_epoch"] in set(history["epoch"])
    payload = torch.load(train / "model.pt", weights_only=True)
    assert payload["info"]["pretrained_on"] == ["source"]
    _, genes = load_model(train / "model.pt")
    assert len(genes) == 1000
    for figure in ("training_curve.png", "cv_comparison.png", "attributions.png"):
        assert (train / figure).stat().st_size > 10_000, figure
    attributions = pd.read_csv(train / "attributions.tsv", sep="\t")
    assert len(attributions) == 1000 and attributions["rank"].tolist() == list(range(1, 1001))
    signature = json.loads((toy_run / "results" / "biomarkers" / "signature.json").read_text())
    assert attributions["in_signature"].sum() == len(signature["genes"])
    # The network's strongest genes include planted ones.
    planted = set(pd.read_csv(toy_dir / "planted_genes.tsv", sep="\t")["gene"])
    assert planted & set(attributions["gene"].head(20))
    # Progress per epoch in the log; checkpoints removed once the outputs were written.
    log = (toy_run / "logs" / "train_finetune" / "all.log").read_text()
    assert "finetune epoch 1/" in log and "finetune epoch 2/" in log
    assert not list((toy_run / "results" / ".checkpoints").rglob("*.pt"))
    summary = pd.read_csv(toy_run / "results" / "validation" / "summary.tsv", sep="\t")
    assert (summary["model_c_index"] > 0.55).all(), summary["model_c_index"].tolist()


def test_every_result_carries_version_and_config_hash(toy_run):
    results = toy_run / "results"
    provenance = json.loads((results / "provenance.json").read_text())
    stamp = {
        "omicsflow_version": provenance["packages"]["omicsflow"],
        "config_hash": provenance["config_hash"],
    }
    assert provenance["training_device"] == "cpu" and provenance["seeds"]["seed"] is not None
    assert len(provenance["inputs"]) == 1 + 4 + 3  # the sheet, 4 matrices, 3 clinical tables
    assert all(len(digest) == 64 for digest in provenance["inputs"].values())
    tables = [path for path in results.rglob("*.tsv") if "report_screenshots" not in str(path)]
    assert len(tables) > 20
    for table in tables:
        sidecar = json.loads(table.with_name(f"{table.name}.meta.json").read_text())
        assert sidecar["provenance"] == stamp, table
    for record in results.rglob("*.json"):
        if not record.name.endswith(".meta.json"):
            assert json.loads(record.read_text())["provenance"] == stamp, record

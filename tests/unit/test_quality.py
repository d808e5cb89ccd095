"""Quality score, verdict, options, the gate and the summary table."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from omicsflow.errors import ConfigError, InputError, QualityGateError
from omicsflow.io import write_json
from omicsflow.quality import (
    DEFAULT_QC,
    apply_gate,
    check_gate,
    resolve_options,
    score_cohort,
    summarise_quality,
    verdict_for,
)
from tests.conftest import REPO


def cohort(n: int = 100, missing: float = 0.0, events: int = 50, role: str = "discovery"):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, 20)) + np.linspace(4, 10, 20)).astype(np.float32)
    x[rng.uniform(size=x.shape) < missing] = np.nan
    obs = pd.DataFrame(
        {"time": np.arange(1.0, n + 1), "event": [1] * events + [0] * (n - events)},
        index=[f"s{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=x, obs=obs)
    adata.uns["cohort"] = {"id": "c", "role": role, "platform": "microarray"}
    return adata


def test_clean_cohort_passes():
    report = score_cohort(cohort())
    assert report.verdict == "pass" and report.score == pytest.approx(1.0)
    assert report.events == 50 and report.n_samples == 100
    assert set(report.components) == set(DEFAULT_QC["weights"]) - set()
    assert report.reasons == {}


def test_score_is_the_weighted_mean_of_the_components():
    report = score_cohort(cohort(missing=0.1), options={"weights": {"missingness": 3.0}})
    weights = {name: 1.0 for name in report.components} | {"missingness": 3.0}
    expected = sum(report.components[k] * weights[k] for k in weights) / sum(weights.values())
    assert report.score == pytest.approx(expected)
    assert report.weights == weights


def test_score_falls_with_missingness():
    scores = [score_cohort(cohort(missing=m)).score for m in (0.0, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]


def test_verdict_thresholds():
    opts = resolve_options(None)
    assert verdict_for(0.85, (), opts) == "pass"
    assert verdict_for(0.7, (), opts) == "warn"
    assert verdict_for(0.5, (), opts) == "fail"
    assert verdict_for(0.99, ("outcome",), opts) == "fail"


def test_hard_failure_whatever_the_score():
    report = score_cohort(cohort(missing=0.6))
    assert report.verdict == "fail" and "missingness" in report.hard_failures
    with pytest.raises(QualityGateError, match="failed the quality gate") as info:
        check_gate(report.to_dict())
    message = str(info.value)
    assert "missingness: " in message and "missing values (limit 50.0%)" in message
    assert "fix: too much is missing to impute honestly" in message
    assert "duplicates" not in message  # too few shared genes to call duplicates


def test_too_few_events_fails():
    report = score_cohort(cohort(events=3))
    assert report.verdict == "fail" and "outcome" in report.hard_failures
    assert "3 events" in report.reasons["outcome"]


def test_quality_json_keeps_the_agreed_keys(tmp_path):
    record = score_cohort(cohort()).to_dict()
    for key in (
        "cohort",
        "role",
        "n_samples",
        "n_genes",
        "missing_fraction",
        "events",
        "event_rate",
        "components",
        "reasons",
        "hard_failures",
        "score",
        "verdict",
        "needs_log_transform",
        "removed_samples",
        "flagged_samples",
        "duplicate_pairs",
        "metrics",
    ):
        assert key in record, key
    write_json(tmp_path / "q.json", record)
    assert json.loads((tmp_path / "q.json").read_text())["needs_log_transform"] is False


def test_options_are_checked():
    with pytest.raises(ConfigError, match="unknown qc options"):
        resolve_options({"max_mising": 0.3})
    with pytest.raises(ConfigError, match="unknown qc weights"):
        resolve_options({"weights": {"size": 1.0}})
    with pytest.raises(ConfigError, match="warn_score is above"):
        resolve_options({"warn_score": 0.9, "pass_score": 0.8})
    with pytest.raises(ConfigError, match=r"unknown qc\.on_fail_validation"):
        resolve_options({"on_fail_validation": "ignore"})


def test_config_and_schema_defaults_agree_with_the_package():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["qc"]
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    properties = schema["properties"]["qc"]["properties"]
    assert set(properties) == set(DEFAULT_QC) == set(config)
    for key, value in DEFAULT_QC.items():
        if key == "weights":
            assert config[key] == value
            assert {k: v["default"] for k, v in properties[key]["properties"].items()} == value
        else:
            assert config[key] == value, key
            assert properties[key]["default"] == value, key


def failing(role: str) -> dict:
    record = score_cohort(cohort(missing=0.6, role=role)).to_dict()
    record["cohort"] = f"{role}_cohort"
    return record


def test_failing_discovery_and_source_stop_the_run():
    with pytest.raises(QualityGateError, match="the discovery cohort must pass") as info:
        check_gate(failing("discovery"))
    assert "cohort: discovery_cohort" in str(info.value)
    with pytest.raises(QualityGateError, match="would poison pretraining") as info:
        check_gate(failing("source"), on_fail_validation="exclude")
    assert "remove the source cohort from the sheet" in str(info.value)


def test_failing_validation_is_excluded_or_stops(caplog):
    quality = failing("validation")
    with caplog.at_level("WARNING"):
        assert check_gate(quality, on_fail_validation="exclude") == "exclude"
    assert "EXCLUDED from validation" in caplog.text and "missingness" in caplog.text
    with pytest.raises(QualityGateError, match="on_fail_validation is 'stop'"):
        check_gate(quality, on_fail_validation="stop")


def test_apply_gate_removes_flagged_samples_and_records_the_decision(caplog):
    adata = cohort()
    quality = score_cohort(adata).to_dict()
    quality["removed_samples"] = ["s3", "s7"]
    quality["removal_reasons"] = {"s3": ["outliers"], "s7": ["duplicate_copy"]}
    with caplog.at_level("WARNING"):
        passed = apply_gate(adata, quality)
    assert passed.n_obs == 98 and "s3" not in passed.obs_names and "s7" not in passed.obs_names
    assert "removed 2 of 100 samples" in caplog.text and "'s3 (outliers)'" in caplog.text
    assert passed.uns["qc"]["excluded"] is False
    assert list(passed.uns["qc"]["removed_samples"]) == ["s3", "s7"]
    quality["removed_samples"] = ["ghost"]
    with pytest.raises(InputError, match="names samples that are not in the cohort"):
        apply_gate(adata, quality)


def test_excluded_validation_cohort_round_trips_through_h5ad(tmp_path):
    adata = cohort(missing=0.6, role="validation")
    quality = score_cohort(adata).to_dict()
    passed = apply_gate(adata, quality, on_fail_validation="exclude")
    passed.write_h5ad(tmp_path / "passed.h5ad")
    back = ad.read_h5ad(tmp_path / "passed.h5ad")
    assert bool(back.uns["qc"]["excluded"]) is True
    assert "missingness" in back.uns["qc"]["exclusion_reason"]
    assert back.uns["qc"]["verdict"] == "fail"
    assert quality["removed_samples"] and back.n_obs == adata.n_obs  # excluded: kept whole
    assert len(back.uns["qc"]["removed_samples"]) == 0
    clean = apply_gate(cohort(), score_cohort(cohort()).to_dict())
    clean.write_h5ad(tmp_path / "clean.h5ad")
    assert bool(ad.read_h5ad(tmp_path / "clean.h5ad").uns["qc"]["excluded"]) is False


def test_summary_has_one_row_per_cohort_with_the_gate_action(tmp_path):
    paths = []
    for name, quality in (
        ("good", score_cohort(cohort()).to_dict()),
        ("bad_validation", failing("validation")),
        ("bad_discovery", failing("discovery")),
    ):
        quality["cohort"] = name
        paths.append(tmp_path / f"{name}.json")
        write_json(paths[-1], quality)
    table = summarise_quality(paths)
    assert list(table["cohort"]) == ["good", "bad_validation", "bad_discovery"]
    assert list(table["action"]) == ["continue", "exclude", "stop"]
    assert list(table.columns[:5]) == ["cohort", "role", "verdict", "action", "score"]
    assert "component_missingness" in table.columns
    assert list(summarise_quality(paths, on_fail_validation="stop")["action"]) == [
        "continue",
        "stop",
        "stop",
    ]


def test_same_input_same_numbers(toy_dir):
    from omicsflow.cohort import load_cohort, read_cohort_sheet

    adata = load_cohort(read_cohort_sheet(toy_dir / "cohorts.tsv")["validation_a"])
    first = score_cohort(adata, seed=5)
    second = score_cohort(adata.copy(), seed=5)
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(
        second.to_dict(), sort_keys=True
    )
    assert first.sample_table.to_csv() == second.sample_table.to_csv()


def test_score_alone_fails_and_the_gate_lists_each_failing_check_with_its_fix():
    """No hard failure: several soft concerns under strict thresholds fail on the score."""
    options = {"pass_score": 0.95, "warn_score": 0.9}
    quality = score_cohort(cohort(n=30, missing=0.1, events=12), options=options).to_dict()
    assert quality["hard_failures"] == [] and quality["verdict"] == "fail"
    below = {name: value for name, value in quality["components"].items() if value < 1.0}
    assert set(below) == {"missingness", "dimensionality", "outcome"}
    with pytest.raises(QualityGateError, match="the discovery cohort must pass") as info:
        check_gate(quality)
    message = str(info.value)
    assert f"score {quality['score']:.2f}, verdict fail" in message
    assert f"seen: {len(below)} failing checks:" in message
    # every component below 1 is listed, worst first, with its score, what was seen and its fix
    ordered = sorted(below, key=below.get)
    positions = [message.index(f"\n    - {name}: score {below[name]:.2f}: ") for name in ordered]
    assert positions == sorted(positions)
    for name in ordered:
        what = quality["reasons"][name].split("; fix: ")[0]
        fix = quality["fixes"][name]
        assert f"- {name}: score {below[name]:.2f}: {what}\n      fix: {fix}" in message
    for name in set(quality["components"]) - set(below):
        assert f"- {name}:" not in message
    assert "fix: longer follow-up or a larger cohort" in message


def test_warn_verdict_continues_with_a_logged_warning(caplog):
    adata = cohort(missing=0.1)
    quality = score_cohort(adata, options={"pass_score": 0.97}).to_dict()
    assert quality["verdict"] == "warn" and quality["score"] == pytest.approx(0.96)
    with caplog.at_level("WARNING", logger="omicsflow.quality.gate"):
        assert check_gate(quality) == "continue"
        passed = apply_gate(adata, quality)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    expected = (
        "cohort c passes the quality gate with a warning (score 0.96): "
        f"missingness: {quality['reasons']['missingness']}"
    )
    assert warnings[0] == expected and warnings.count(expected) == 2
    assert passed.uns["qc"]["verdict"] == "warn" and passed.uns["qc"]["excluded"] is False
    caplog.clear()
    with caplog.at_level("WARNING", logger="omicsflow.quality.gate"):
        assert check_gate(score_cohort(cohort()).to_dict()) == "continue"
    assert caplog.records == []  # a pass logs nothing at warning level

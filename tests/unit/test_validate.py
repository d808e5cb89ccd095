"""Validation of the locked signature and a network on the toy cohorts, against references.

The toy cohorts have planted prognostic genes; ``validation_b`` is on another scale
(``0.5 x + 6``), so after the discovery-fitted z-scoring its values are shifted: percentile
transfer of the cutpoints must validate it, absolute transfer must visibly fail.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.statistics import multivariate_logrank_test
from matplotlib.figure import Figure
from sksurv.metrics import (
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
)
from sksurv.util import Surv

from omicsflow.cohort import expression_frame, load_cohort, outcome, read_cohort_sheet
from omicsflow.errors import ConfigError, InputError
from omicsflow.io import read_h5ad, write_h5ad
from omicsflow.plots import km_plot
from omicsflow.plots.km import km_figure
from omicsflow.preprocess import Preprocessor, preprocess_cohort
from omicsflow.survival.cutpoint import scan_cutpoints
from omicsflow.survival.metrics import concordance_index
from omicsflow.survival.signature import (
    Signature,
    lock_signature,
    score_signature,
    transferred_cutpoints,
)
from omicsflow.transfer.checkpoint import load_model, save_model
from omicsflow.transfer.model import SurvivalNet
from omicsflow.transfer.train import predict_risk
from omicsflow.validate import (
    RiskGroups,
    check_transfer_config,
    cohort_transfer,
    evaluate_groups,
    evaluate_risk,
    meta_analyse,
    random_signature_control,
    reporting_checklist,
    summarise_validation,
    validate_cohort,
    write_cohort_validation,
    write_validation_summary,
)
from omicsflow.validate.groups import multivariable_cox
from omicsflow.validate.output import km_figures

TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "step_size": 0.5}
ARCHITECTURE = {"widths": [8], "dropout": 0.0, "norm": "none"}
OPTIONS = {"horizons": [12, 36, 60], "covariates": ["age"], "random_signatures": 200}


@pytest.fixture(scope="module")
def prepared(toy_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Preprocessed toy cohorts, a signature locked on discovery and a (seeded) network."""
    sheet = read_cohort_sheet(toy_dir / "cohorts.tsv")
    raw = {name: load_cohort(sheet[name]) for name in ("discovery", "validation_a", "validation_b")}
    genes = list(raw["discovery"].var_names)
    fitted = Preprocessor(genes).fit(expression_frame(raw["discovery"]), cohort="discovery")
    cohorts = {
        name: preprocess_cohort(adata, fitted, role=sheet[name].role) for name, adata in raw.items()
    }
    discovery = cohorts["discovery"]
    time, event = outcome(discovery)
    cutpoints = scan_cutpoints(expression_frame(discovery), time, event)
    signature = lock_signature(cutpoints, expression_frame(discovery), size=6)
    torch.manual_seed(0)
    model_path = tmp_path_factory.mktemp("model") / "model.pt"
    save_model(
        model_path, SurvivalNet(len(genes), ARCHITECTURE), architecture=ARCHITECTURE, genes=genes
    )
    return {**cohorts, "signature": signature, "cutpoints": cutpoints, "model": model_path}


def _validate(prepared: dict, adata: ad.AnnData, **options) -> object:
    return validate_cohort(
        adata,
        prepared["signature"],
        model_path=prepared["model"],
        discovery=prepared["discovery"],
        cutpoints=prepared["cutpoints"],
        options={**OPTIONS, **options},
        seed=11,
    )


def _same_platform(adata: ad.AnnData) -> ad.AnnData:
    """The shifted cohort labelled with the discovery platform (so absolute is allowed)."""
    copy = adata.copy()
    copy.uns["cohort"] = {**dict(adata.uns["cohort"]), "platform": "microarray"}
    return copy


# ---------------------------------------------------------------- cutpoint transfer
def test_shifted_cohort_validates_with_percentile_and_degrades_with_absolute(prepared):
    shifted = _same_platform(prepared["validation_b"])
    assert float(expression_frame(shifted).mean().mean()) > 1.0  # really on another scale
    percentile = _validate(prepared, shifted).metrics
    absolute = _validate(prepared, shifted, transfer_by_cohort={"validation_b": "absolute"}).metrics
    assert percentile["transfer"] == "percentile" and absolute["transfer"] == "absolute"
    assert percentile["c_index"] > 0.58
    assert percentile["hazard_ratio"] > 1.3 and percentile["logrank_p"] < 0.05
    # Absolute cutpoints on a shifted scale put every sample on one side of most cutpoints:
    # the score hardly varies, discrimination collapses to chance and the groups break down.
    assert absolute["c_index"] < percentile["c_index"] - 0.05
    assert abs(absolute["c_index"] - 0.5) < 0.05
    degenerate_groups = min(g["n"] for g in absolute["groups"]) < 0.1 * absolute["n"]
    assert degenerate_groups or absolute["logrank_p"] > 0.05
    # On the discovery scale (validation_a) absolute transfer works as well as percentile.
    same_scale = _validate(
        prepared, prepared["validation_a"], transfer_by_cohort={"validation_a": "absolute"}
    ).metrics
    assert same_scale["c_index"] > 0.57 and same_scale["hazard_ratio"] > 1.3


def test_absolute_transfer_on_another_platform_is_refused(prepared):
    with pytest.raises(ConfigError, match=r"allowed only on the discovery cohort's platform"):
        _validate(prepared, prepared["validation_b"], transfer="absolute")
    with pytest.raises(ConfigError, match=r"cohort: validation_b") as error:
        cohort_transfer(
            "validation_b",
            platform="rnaseq",
            discovery_platform="microarray",
            options={"transfer_by_cohort": {"validation_b": "absolute"}},
        )
    assert "transfer_by_cohort.validation_b: percentile" in str(error.value)


def test_transfer_config_is_checked_against_the_sheet():
    platforms = {"disc": "microarray", "va": "microarray", "vb": "rnaseq"}
    roles = {"disc": "discovery", "va": "validation", "vb": "validation"}
    check_transfer_config({"transfer_by_cohort": {"va": "absolute"}}, platforms, roles)
    with pytest.raises(ConfigError, match="absolute cutpoint transfer"):
        check_transfer_config({"transfer": "absolute"}, platforms, roles)
    with pytest.raises(ConfigError, match="not validation cohorts"):
        check_transfer_config({"transfer_by_cohort": {"disc": "percentile"}}, platforms, roles)
    with pytest.raises(ConfigError, match="unknown cutpoint transfer"):
        check_transfer_config({"transfer": "nearest"}, platforms, roles)


# ---------------------------------------------------------------- metrics against references
def test_cohort_metrics_match_references(prepared):
    adata = prepared["validation_a"]
    result = _validate(prepared, adata)
    metrics = result.metrics
    for key in (
        "n",
        "events",
        "c_index",
        "c_index_uno",
        "logrank_p",
        "hazard_ratio",
        "hr_ci_low",
        "hr_ci_high",
        "td_auc",
        "model",
        "cohort",
        "transfer",
        "n_high",
        "logrank_chi2",
    ):
        assert key in metrics, key
    assert set(metrics["td_auc"]) == {"12", "36", "60"}
    time, event = outcome(adata)
    score = score_signature(prepared["signature"], expression_frame(adata))
    np.testing.assert_array_equal(result.scores["score"].to_numpy(), score)
    high = score > prepared["signature"].risk_cutpoint
    np.testing.assert_array_equal(result.scores["high_risk"].to_numpy(), high)
    assert metrics["n"] == 120 and metrics["events"] == int(event.sum())
    assert metrics["n_high"] == int(high.sum())
    # Harrell's C, Uno's C, td-AUC against scikit-survival.
    y = Surv.from_arrays(event.astype(bool), time)
    assert metrics["c_index"] == pytest.approx(concordance_index(time, event, score), abs=1e-12)
    assert metrics["c_index_uno"] == pytest.approx(
        concordance_index_ipcw(y, y, score, tau=60.0)[0], abs=1e-9
    )
    auc, _ = cumulative_dynamic_auc(y, y, score, [12.0, 36.0, 60.0])
    np.testing.assert_allclose([metrics["td_auc"][k] for k in ("12", "36", "60")], auc, atol=1e-9)
    # Log-rank and Cox HR of high vs low against lifelines.
    reference = lifelines_logrank(time[high], time[~high], event[high], event[~high])
    assert metrics["logrank_p"] == pytest.approx(reference.p_value, rel=1e-8)
    frame = pd.DataFrame({"high": high.astype(float), "time": time, "event": event})
    cox = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
    assert metrics["hazard_ratio"] == pytest.approx(float(np.exp(cox.params_["high"])), rel=1e-6)
    assert metrics["log_hr_se"] == pytest.approx(float(cox.standard_errors_["high"]), rel=1e-6)
    ci_low, ci_high = np.exp(cox.confidence_intervals_.loc["high"].to_numpy())
    assert metrics["hr_ci_low"] == pytest.approx(ci_low, rel=1e-6)
    assert metrics["hr_ci_high"] == pytest.approx(ci_high, rel=1e-6)
    # The planted signal validates.
    assert metrics["c_index"] > 0.57 and metrics["hazard_ratio"] > 1.5


def test_model_block_uses_the_network_and_a_discovery_threshold(prepared):
    adata = prepared["validation_a"]
    time, event = outcome(adata)
    model, genes = load_model(prepared["model"], genes=list(adata.var_names))
    risk = predict_risk(model, expression_frame(adata)[genes].to_numpy())
    discovery_risk = predict_risk(model, expression_frame(prepared["discovery"])[genes].to_numpy())
    median = float(np.quantile(discovery_risk, 0.5, method="inverted_cdf"))

    percentile = _validate(prepared, adata)
    block = percentile.metrics["model"]
    assert block["c_index"] == pytest.approx(concordance_index(time, event, risk), abs=1e-9)
    assert block["threshold"]["discovery_threshold"] == pytest.approx(median, rel=1e-6)
    # Percentile transfer: the discovery median's percentile of this cohort's own risk.
    assert block["n_high"] == int((risk > np.quantile(risk, 0.5, method="inverted_cdf")).sum())
    absolute = _validate(prepared, adata, transfer="absolute")
    assert absolute.metrics["model"]["n_high"] == int((risk > median).sum())
    for key in ("c_index_uno", "td_auc", "hazard_ratio", "calibration", "multivariable"):
        assert key in block
    # The network's HR and 95% CI (high vs low) against lifelines.
    high = risk > np.quantile(risk, 0.5, method="inverted_cdf")
    frame = pd.DataFrame({"high": high.astype(float), "time": time, "event": event})
    cox = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
    ci_low, ci_high = np.exp(cox.confidence_intervals_.loc["high"].to_numpy())
    assert block["hazard_ratio"] == pytest.approx(float(np.exp(cox.params_["high"])), rel=1e-6)
    assert block["hr_ci_low"] == pytest.approx(ci_low, rel=1e-6)
    assert block["hr_ci_high"] == pytest.approx(ci_high, rel=1e-6)


def test_three_risk_groups_against_lifelines(prepared, tmp_path):
    adata = prepared["validation_a"]
    time, event = outcome(adata)
    score = score_signature(prepared["signature"], expression_frame(adata))
    labels = np.where(score <= 2, np.where(score <= 1, "0-1", "2"), ">=3")
    groups = RiskGroups(labels=labels, order=("0-1", "2", ">=3"), rule="test")
    evaluation = evaluate_groups(time, event, score, groups)
    reference = multivariate_logrank_test(time, labels, event)
    assert evaluation.logrank_df == 2
    assert evaluation.logrank_chi2 == pytest.approx(reference.test_statistic, rel=1e-9)
    frame = pd.DataFrame(
        {"g2": labels == "2", "g3": labels == ">=3", "time": time, "event": event}
    ).astype(float)
    cox = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
    by_label = {g["label"]: g for g in evaluation.groups}
    assert by_label["2"]["hazard_ratio"] == pytest.approx(np.exp(cox.params_["g2"]), rel=1e-6)
    assert by_label[">=3"]["hazard_ratio"] == pytest.approx(np.exp(cox.params_["g3"]), rel=1e-6)
    intervals = np.exp(cox.confidence_intervals_)
    for label, term in (("2", "g2"), (">=3", "g3")):
        assert by_label[label]["hr_ci_low"] == pytest.approx(intervals.iloc[:, 0][term], rel=1e-6)
        assert by_label[label]["hr_ci_high"] == pytest.approx(intervals.iloc[:, 1][term], rel=1e-6)
    assert evaluation.hazard_ratio == by_label[">=3"]["hazard_ratio"]  # highest vs reference
    assert evaluation.n_high == int((labels == ">=3").sum())
    masks = {label: labels == label for label in groups.order}
    figure = km_figure(time, event, groups.masks(), title="three groups")
    _check_km_figure(figure, time, event, masks)
    km_plot(tmp_path / "km3.png", time, event, groups.masks(), title="three groups")
    assert (tmp_path / "km3.png").stat().st_size > 10_000


def _check_km_figure(
    figure: Figure, time: np.ndarray, event: np.ndarray, masks: dict[str, np.ndarray]
) -> str:
    """Assert the curves equal lifelines' KM and the at-risk table counts ``time >= tick``.

    Returns the annotation text of the curves' axes.
    """
    curves, table = figure.axes
    # One step curve per group, equal to lifelines' Kaplan–Meier estimate at every step.
    steps = {
        line.get_label().split(" (n=")[0]: line
        for line in curves.lines
        if "(n=" in line.get_label()
    }
    assert list(steps) == list(masks)
    for label, mask in masks.items():
        line = steps[label]
        assert line.get_label() == f"{label} (n={mask.sum()}, events={int(event[mask].sum())})"
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        reference = KaplanMeierFitter().fit(time[mask], event[mask])
        np.testing.assert_array_equal(x[1:], np.unique(time[mask]))
        np.testing.assert_allclose(
            y, reference.survival_function_at_times(x).to_numpy(), rtol=0, atol=1e-12
        )
    # The numbers-at-risk table: one cell per group and tick, counted here from the data.
    ticks = np.asarray(table.get_xticks())
    assert ticks[0] == 0.0 and ticks[-1] <= time.max() and ticks.size >= 3
    rows = dict(
        zip(table.get_yticks(), [t.get_text() for t in table.get_yticklabels()], strict=True)
    )
    cells = {}
    for text in table.texts:
        x, y = text.get_position()
        cells[(rows[y], float(x))] = int(text.get_text())
    expected = {
        (label, float(tick)): int(np.sum(time[mask] >= tick))
        for label, mask in masks.items()
        for tick in ticks
    }
    assert cells == expected
    assert all(cells[(label, 0.0)] == mask.sum() for label, mask in masks.items())
    return "\n".join(text.get_text() for text in curves.texts)


def test_km_figures_show_at_risk_counts_and_lifelines_statistics(prepared):
    adata = prepared["validation_a"]
    result = _validate(prepared, adata)
    time, event = outcome(adata)
    signature = prepared["signature"]
    score = score_signature(signature, expression_frame(adata))
    model, genes = load_model(prepared["model"], genes=list(adata.var_names))
    risk = predict_risk(model, expression_frame(adata)[genes].to_numpy())
    y = Surv.from_arrays(event.astype(bool), time)
    figures = km_figures(result)
    assert set(figures) == {"signature", "model"}
    for name, values, high in (
        ("signature", score, score > signature.risk_cutpoint),
        ("model", risk, risk > np.quantile(risk, 0.5, method="inverted_cdf")),
    ):
        masks = {"low risk": ~high, "high risk": high}
        annotation = _check_km_figure(figures[name], time, event, masks)
        p_value = lifelines_logrank(time[high], time[~high], event[high], event[~high]).p_value
        frame = pd.DataFrame({"high": high.astype(float), "time": time, "event": event})
        cox = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
        hr = float(np.exp(cox.params_["high"]))
        ci_low, ci_high = np.exp(cox.confidence_intervals_.loc["high"].to_numpy())
        harrell = concordance_index_censored(event.astype(bool), time, values)[0]
        uno = concordance_index_ipcw(y, y, values, tau=60.0)[0]
        assert annotation.splitlines() == [
            f"log-rank p = {p_value:.2g} (1 df)",
            f"HR high risk vs low risk = {hr:.2f} ({ci_low:.2f}–{ci_high:.2f})",
            f"Harrell's C = {harrell:.3f}, Uno's C = {uno:.3f}",
        ], name


def test_evaluate_risk_keeps_the_two_group_contract(survival_data):
    time, event, x = survival_data
    high = x[:, 0] > 0.3
    evaluation = evaluate_risk(time, event, x[:, 0], high)
    reference = lifelines_logrank(time[high], time[~high], event[high], event[~high])
    assert evaluation.logrank_chi2 == pytest.approx(reference.test_statistic, rel=1e-10)
    assert evaluation.n_high == int(high.sum())
    assert np.isnan(evaluate_risk(time, event, x[:, 0], np.zeros_like(high)).hazard_ratio)


def test_multivariable_cox_against_lifelines(prepared, caplog):
    adata = prepared["validation_a"]
    time, event = outcome(adata)
    score = score_signature(prepared["signature"], expression_frame(adata))
    high = score > prepared["signature"].risk_cutpoint
    groups = RiskGroups(
        labels=np.where(high, "high risk", "low risk"), order=("low risk", "high risk"), rule=""
    )
    clinical = adata.obs.copy()
    clinical.iloc[:7, clinical.columns.get_loc("age")] = np.nan
    with caplog.at_level(logging.WARNING):
        result = multivariable_cox(
            time, event, groups, clinical, ["age", "batch", "stage"], cohort="validation_a"
        )
    assert "lacks covariate(s) 'stage'" in caplog.text
    assert "7 of 120 samples lack a covariate value" in caplog.text
    assert result["covariates_used"] == ["age", "batch"]
    assert result["covariates_missing"] == ["stage"] and result["n"] == 113
    keep = clinical["age"].notna().to_numpy()
    batches = clinical["batch"].astype(str).to_numpy()
    reference_level = pd.Series(batches).value_counts().sort_index().idxmax()
    other = sorted(set(batches) - {reference_level})[0]
    frame = pd.DataFrame(
        {
            "high": high.astype(float),
            "age": clinical["age"].to_numpy(dtype=float),
            "batch": (batches == other).astype(float),
            "time": time,
            "event": event,
        }
    )[keep]
    cox = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
    terms = {term["term"]: term for term in result["terms"]}
    assert terms["group: high risk vs low risk"]["hazard_ratio"] == pytest.approx(
        np.exp(cox.params_["high"]), rel=1e-6
    )
    assert terms["age"]["hazard_ratio"] == pytest.approx(np.exp(cox.params_["age"]), rel=1e-6)
    assert terms[f"batch: {other} vs {reference_level}"]["p_value"] == pytest.approx(
        cox.summary.loc["batch", "p"], rel=1e-5
    )


def test_replication_table_against_lifelines(prepared):
    adata = prepared["validation_b"]
    result = _validate(prepared, adata)
    table = result.replication
    signature = prepared["signature"]
    assert list(table["gene"]) == signature.gene_ids
    time, event = outcome(adata)
    expression = expression_frame(adata)
    cutpoints = transferred_cutpoints(signature, expression, transfer="percentile")
    for row in table.itertuples():
        high = expression[row.gene].to_numpy() > cutpoints[row.gene]
        frame = pd.DataFrame({"high": high.astype(float), "time": time, "event": event})
        cox = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
        assert row.hazard_ratio == pytest.approx(np.exp(cox.params_["high"]), rel=1e-6)
        p = lifelines_logrank(time[high], time[~high], event[high], event[~high]).p_value
        assert row.logrank_p == pytest.approx(p, rel=1e-8)
        same = (row.hazard_ratio > 1) == (row.discovery_hr > 1)
        assert row.replicates == (same and p < 0.05)
    assert result.metrics["replication"]["replicated"] == int(table["replicates"].sum())
    assert table["replicates"].sum() >= 2  # planted genes carry over


def test_calibration_against_lifelines(prepared):
    adata = prepared["validation_a"]
    result = _validate(prepared, adata)
    table = result.calibration[result.calibration["score"] == "signature"]
    signature = prepared["signature"]
    time, event = outcome(adata)
    high = score_signature(signature, expression_frame(adata)) > signature.risk_cutpoint
    d_time, d_event = outcome(prepared["discovery"])
    d_high = (
        score_signature(signature, expression_frame(prepared["discovery"]), transfer="absolute")
        > signature.risk_cutpoint
    )
    for group, mask, d_mask in (("high risk", high, d_high), ("low risk", ~high, ~d_high)):
        observed = KaplanMeierFitter().fit(time[mask], event[mask])
        predicted = KaplanMeierFitter().fit(d_time[d_mask], d_event[d_mask])
        rows = table[table["group"] == group].set_index("horizon")
        for horizon in (12.0, 36.0, 60.0):
            assert rows.loc[horizon, "observed"] == pytest.approx(
                observed.survival_function_at_times(horizon).iloc[0], abs=1e-12
            )
            assert rows.loc[horizon, "predicted"] == pytest.approx(
                predicted.survival_function_at_times(horizon).iloc[0], abs=1e-12
            )


# ---------------------------------------------------------------- random-signature control
def test_random_signatures_are_scored_like_the_signature(prepared):
    adata = prepared["validation_a"]
    signature = prepared["signature"]
    time, event = outcome(adata)
    expression = expression_frame(adata)
    observed = concordance_index(time, event, score_signature(signature, expression))
    kwargs = {"observed": observed, "transfer": "percentile", "n_signatures": 300}
    control = random_signature_control(
        signature, prepared["cutpoints"], expression, time, event, seed=5, **kwargs
    )
    again = random_signature_control(
        signature, prepared["cutpoints"], expression, time, event, seed=5, **kwargs
    )
    other = random_signature_control(
        signature, prepared["cutpoints"], expression, time, event, seed=6, **kwargs
    )
    np.testing.assert_array_equal(control.c_index, again.c_index)
    assert not np.array_equal(control.genes, other.genes)
    assert control.genes.shape == (300, len(signature.genes))
    assert not set(control.genes.ravel()) & set(signature.gene_ids)
    # Direct slow reference: each random set as a real Signature through score_signature.
    scan = prepared["cutpoints"].set_index("gene")
    for k in range(5):
        genes = [
            {
                "gene": gene,
                "cutpoint": float(scan.loc[gene, "cutpoint"]),
                "percentile": float(scan.loc[gene, "cutpoint_percentile"]),
                "direction": str(scan.loc[gene, "direction"]),
                "hazard_ratio": 1.0,
                "p_value": 1.0,
                "q_value": 1.0,
            }
            for gene in control.genes[k]
        ]
        random_signature = Signature.from_dict(
            {**signature.to_dict(), "genes": genes, "risk_cutpoint": 0.0}
        )
        score = score_signature(random_signature, expression)
        assert control.c_index[k] == pytest.approx(concordance_index(time, event, score), abs=1e-12)
    expected_p = (1 + np.sum(control.c_index >= observed)) / 301
    assert control.empirical_p == pytest.approx(expected_p)
    assert control.empirical_p < 0.05  # the planted signature beats random gene sets
    assert abs(float(np.mean(control.c_index)) - 0.5) < 0.03


# ---------------------------------------------------------------- bad input
def _without(adata: ad.AnnData, genes: list[str]) -> ad.AnnData:
    keep = [gene for gene in adata.var_names if gene not in set(genes)]
    return adata[:, keep].copy()


def _imputed(adata: ad.AnnData, genes: list[str]) -> ad.AnnData:
    """As preprocessing leaves a gene the cohort never measured: one fitted value throughout."""
    copy = adata.copy()
    for gene in genes:
        copy.X[:, list(copy.var_names).index(gene)] = 0.25
    return copy


def test_missing_signature_genes_stop_by_default(prepared):
    missing = prepared["signature"].gene_ids[:1]
    with pytest.raises(InputError, match="the cohort lacks signature genes") as error:
        _validate(prepared, _without(prepared["validation_a"], missing))
    assert missing[0] in str(error.value) and "allow_missing_genes: true" in str(error.value)


def test_missing_signature_genes_scored_on_those_present_when_allowed(prepared, caplog):
    signature = prepared["signature"]
    missing = signature.gene_ids[1:3]
    with caplog.at_level(logging.WARNING):
        result = _validate(
            prepared, _imputed(prepared["validation_a"], missing), allow_missing_genes=True
        )
    assert all(gene in caplog.text for gene in missing)
    genes = result.metrics["signature_genes"]
    assert genes["missing"] == missing
    assert genes["used"] == [g for g in signature.gene_ids if g not in missing]
    table = result.replication.set_index("gene")
    assert list(table.loc[missing, "status"]) == ["missing", "missing"]
    assert len(result.random_signatures["genes"][0].split(",")) == 4  # size-matched to 4
    # The score is the 4-gene signature's; its risk cutpoint is re-set on discovery.
    reduced = dataclasses.replace(
        signature, genes=tuple(g for g in signature.genes if g.gene not in missing)
    )
    adata = prepared["validation_a"]
    score = score_signature(reduced, expression_frame(adata))
    np.testing.assert_array_equal(result.scores["score"].to_numpy(), score)
    time, event = outcome(adata)
    assert result.metrics["c_index"] == pytest.approx(concordance_index(time, event, score))
    discovery_score = score_signature(
        reduced, expression_frame(prepared["discovery"]), transfer="absolute"
    )
    assert genes["risk_cutpoint"] == np.quantile(discovery_score, 0.5, method="inverted_cdf")


def test_a_gene_filled_entirely_by_imputation_counts_as_missing(prepared):
    adata = _imputed(prepared["validation_a"], prepared["signature"].gene_ids[:1])
    with pytest.raises(InputError, match="absent or constant"):
        _validate(prepared, adata)


def test_too_few_signature_genes_is_an_error(prepared):
    missing = prepared["signature"].gene_ids[:4]
    with pytest.raises(InputError, match="too few signature genes") as error:
        _validate(prepared, _without(prepared["validation_a"], missing), allow_missing_genes=True)
    assert "2 of 6 signature genes present" in str(error.value)
    assert "min_genes_present" in str(error.value)


# ---------------------------------------------------------------- excluded cohorts, outputs
def _outputs(folder: Path) -> dict[str, Path]:
    names = {
        "metrics": "metrics.json",
        "scores": "scores.tsv",
        "replication": "replication.tsv",
        "calibration": "calibration.tsv",
        "random_signatures": "random_signatures.tsv",
        "km": "km.png",
        "km_model": "km_model.png",
        "calibration_png": "calibration.png",
    }
    return {key: folder / name for key, name in names.items()}


def test_excluded_cohort_has_no_metrics_and_leaves_the_meta_analysis(prepared, tmp_path):
    flagged = prepared["validation_b"].copy()
    flagged.uns["qc"] = {
        "score": 0.31,
        "verdict": "fail",
        "excluded": True,
        "exclusion_reason": "too few events (4 < 10)",
    }
    write_h5ad(tmp_path / "validation_b.h5ad", flagged)  # the flag as it travels between rules
    excluded = _validate(prepared, read_h5ad(tmp_path / "validation_b.h5ad"))
    assert excluded.excluded
    assert excluded.metrics == {
        "cohort": "validation_b",
        "excluded": True,
        "exclusion_reason": "too few events (4 < 10)",
        "platform": "rnaseq",
    }
    write_cohort_validation(excluded, **_outputs(tmp_path / "validation_b"))
    kept = _validate(prepared, prepared["validation_a"])
    write_cohort_validation(kept, **_outputs(tmp_path / "validation_a"))
    record = json.loads((tmp_path / "validation_b" / "metrics.json").read_text())
    assert record["excluded"] is True and "c_index" not in record
    assert (tmp_path / "validation_b" / "km.png").stat().st_size > 5_000
    assert pd.read_csv(tmp_path / "validation_b" / "scores.tsv", sep="\t").empty

    paths = [tmp_path / c / "metrics.json" for c in ("validation_a", "validation_b")]
    summary = summarise_validation(paths).set_index("cohort")
    assert bool(summary.loc["validation_b", "excluded"])
    assert summary.loc["validation_b", "exclusion_reason"] == "too few events (4 < 10)"
    assert np.isnan(float(summary.loc["validation_b", "c_index"]))
    assert summary.loc["validation_a", "c_index"] == pytest.approx(kept.metrics["c_index"])
    meta = write_validation_summary(
        paths,
        [tmp_path / c / "random_signatures.tsv" for c in ("validation_a", "validation_b")],
        summary=tmp_path / "summary.tsv",
        meta=tmp_path / "meta.json",
        forest=tmp_path / "forest.png",
        random_png=tmp_path / "random_signatures.png",
    )
    assert meta["signature"]["k"] == 1 and "validation_b" in meta["signature"]["left_out"]
    assert meta["excluded"] == {"validation_b": "too few events (4 < 10)"}
    assert meta["signature"]["hazard_ratio"] == pytest.approx(kept.metrics["hazard_ratio"])
    assert (tmp_path / "forest.png").stat().st_size > 10_000

    text = reporting_checklist(
        config={"seed": 1, "validation": {"random_signatures": 200}},
        signature=prepared["signature"].to_dict(),
        cutpoints=prepared["cutpoints"],
        quality={
            "validation_a": {"role": "validation", "n_samples": 120, "events": 72},
            "validation_b": {"role": "validation", "n_samples": 120, "events": 4},
        },
        genes=pd.DataFrame({"cohort": ["validation_a"], "n_kept": [1000]}),
        metrics=[json.loads(path.read_text()) for path in paths],
        meta=meta,
    )
    assert "Warning: validation cohort(s) excluded by quality control" in text
    assert "EXCLUDED: too few events (4 < 10)" in text
    assert f"{kept.metrics['c_index']:.3g}" in text


def test_meta_analysis_of_both_cohorts(prepared):
    records = [_validate(prepared, prepared[c]).metrics for c in ("validation_a", "validation_b")]
    meta = meta_analyse(records)
    assert meta["k"] == 2 and meta["hazard_ratio"] > 1.3
    low, high = sorted(r["hazard_ratio"] for r in records)
    assert low <= meta["hazard_ratio"] <= high

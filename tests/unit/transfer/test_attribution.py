"""Integrated gradients: completeness, planted genes first, biomarker columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from omicsflow.plots.train import attribution_plot, cv_comparison_plot, training_curve_plot
from omicsflow.transfer.attribution import (
    ATTRIBUTION_COLUMNS,
    attribution_table,
    integrated_gradients,
)
from omicsflow.transfer.cv import compare_models, pretraining_record
from omicsflow.transfer.model import SurvivalNet
from omicsflow.transfer.train import DEFAULT_TRAIN, finetune


def test_integrated_gradients_are_complete():
    torch.manual_seed(0)
    model = SurvivalNet(12, {"widths": [10, 5], "dropout": 0.0, "norm": "none"})
    x = np.random.default_rng(0).normal(size=(30, 12))
    attributions = integrated_gradients(model, x, steps=256)
    with torch.no_grad():
        risk = model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
        base = float(model(torch.zeros(1, 12)).double())
    np.testing.assert_allclose(attributions.sum(axis=1), risk - base, atol=2e-3)


def test_integrated_gradients_of_a_linear_score_are_weight_times_input():
    model = SurvivalNet(4, {"widths": [1], "dropout": 0.0, "norm": "none"})
    with torch.no_grad():  # risk = 2 * relu(w.x + 10) = 2 w.x + 20 while w.x > -10
        model.encoder.first_linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.0]]))
        model.encoder.first_linear.bias.fill_(10.0)
        model.head.weight.fill_(2.0)
    x = np.array([[1.0, 1.0, 2.0, 3.0], [-1.0, 0.5, 0.0, 1.0]])
    expected = 2 * x * np.array([1.0, -2.0, 0.5, 0.0])
    np.testing.assert_allclose(integrated_gradients(model, x, steps=8), expected, rtol=1e-6)


def test_attribution_table_ranks_the_planted_genes_and_marks_biomarkers(tmp_path):
    rng = np.random.default_rng(2)
    n = 300
    x = rng.normal(size=(n, 30)).astype(np.float32)
    time = rng.exponential(np.exp(-1.5 * x[:, 3] + 1.0 * x[:, 7]))
    event = np.ones(n)
    options = {**DEFAULT_TRAIN["finetune"], "epochs": 200, "patience": 200}
    result = finetune(
        x,
        time,
        event,
        architecture=DEFAULT_TRAIN["architecture"],
        options=options,
        seed=1,
        device=torch.device("cpu"),
    )
    genes = [f"g{i}" for i in range(30)]
    cutpoints = pd.DataFrame({"gene": ["g7", "g3", *genes[10:]], "q_value": np.linspace(0, 1, 22)})
    table, summary = attribution_table(
        result.model,
        pd.DataFrame(x, columns=genes),
        signature_genes=["g3", "g7", "g20"],
        cutpoints=cutpoints,
    )
    assert list(table.columns) == ATTRIBUTION_COLUMNS
    assert set(table["gene"].head(2)) == {"g3", "g7"}
    assert table["rank"].tolist() == list(range(1, 31))
    slope = table.set_index("gene")["slope"]
    assert slope["g3"] > 0 > slope["g7"]  # high g3 raises the risk, high g7 lowers it
    assert slope["g3"] > 2 * slope.drop(["g3", "g7"]).abs().max()
    assert table.set_index("gene").loc[["g3", "g7", "g20"], "in_signature"].all()
    assert int(table["in_signature"].sum()) == 3
    assert table.set_index("gene").loc["g7", "cutpoint_rank"] == 1
    assert pd.isna(table.set_index("gene").loc["g1", "cutpoint_rank"])
    assert summary["top_k_overlap"] == ["g3", "g7"]
    assert summary["signature_ranks"]["g3"] <= 2
    assert summary["completeness_max_error"] < 0.05
    attribution_plot(tmp_path / "attributions.png", table, summary)
    training_curve_plot(tmp_path / "curve.png", result.history, best_epoch=result.best_epoch)
    assert (tmp_path / "attributions.png").stat().st_size > 10_000
    assert (tmp_path / "curve.png").stat().st_size > 10_000


def test_cv_comparison_plot(tmp_path):
    rows = [
        {"model": m, "repeat": 1, "fold": f, "c_index": c, "n_train": 40, "n_test": 10}
        for f in (1, 2, 3)
        for m, c in (("pretrained", 0.6 + f / 100), ("random_init", 0.58), ("coxnet", 0.62))
    ]
    table = pd.DataFrame(rows)
    comparison = compare_models(table, pretraining=pretraining_record([], "d"))
    cv_comparison_plot(tmp_path / "cv.png", table, comparison)
    assert (tmp_path / "cv.png").stat().st_size > 10_000

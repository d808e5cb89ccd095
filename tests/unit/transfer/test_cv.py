"""The comparison: identical splits, no leakage into pretraining, corrected paired intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from omicsflow.transfer import cv
from omicsflow.transfer.cv import compare_models, derive_seed, pretraining_record, run_fold
from omicsflow.transfer.train import DEFAULT_TRAIN

OPTIONS = {
    **DEFAULT_TRAIN,
    "device": "cpu",
    "architecture": {"widths": [6], "dropout": 0.1, "norm": "none", "input_dropout": 0.0},
    "pretrain": {**DEFAULT_TRAIN["pretrain"], "epochs": 2, "batch_size": 32},
    "finetune": {**DEFAULT_TRAIN["finetune"], "epochs": 30, "patience": 30},
    "cv": {**DEFAULT_TRAIN["cv"], "coxnet_inner_folds": 3},
}


@pytest.fixture
def cohort():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(80, 15)).astype(np.float32)
    time = rng.exponential(np.exp(-x[:, 0]))
    event = (rng.uniform(size=80) < 0.8).astype(float)
    return x, time, event


def test_without_source_a_fold_pretrains_on_its_training_samples_only(cohort, monkeypatch):
    x, time, event = cohort
    seen = []
    real_pretrain = cv.pretrain

    def spy(expression, **kwargs):
        seen.append(np.array(expression))
        return real_pretrain(expression, **kwargs)

    monkeypatch.setattr(cv, "pretrain", spy)
    train, test = np.arange(0, 60), np.arange(60, 80)
    table = run_fold(
        x, time, event, train, test, options=OPTIONS, seed=1, repeat=1, fold=2, encoder_state=None
    )
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], x[train])  # the test rows never reach the encoder
    assert list(table["model"]) == ["pretrained", "random_init", "coxnet"]
    assert list(table.columns) == cv.CV_COLUMNS
    assert set(table["n_test"]) == {20} and set(table["n_train"]) == {60}
    assert table["c_index"].between(0, 1).all()


def test_a_fold_is_reproducible_and_uses_the_given_encoder(cohort, monkeypatch):
    x, time, event = cohort
    monkeypatch.setattr(cv, "pretrain", None)  # a source encoder is given: never pretrain here
    torch.manual_seed(0)
    encoder = {
        "blocks.0.0.weight": 0.1 * torch.randn(6, 15),
        "blocks.0.0.bias": torch.zeros(6),
    }
    args = (x, time, event, np.arange(20, 80), np.arange(0, 20))
    kwargs = dict(options=OPTIONS, seed=3, repeat=2, fold=1, encoder_state=encoder)
    first = run_fold(*args, **kwargs)
    pd.testing.assert_frame_equal(first, run_fold(*args, **kwargs))
    assert first["c_index"].iloc[0] != first["c_index"].iloc[1]  # (a) and (b) differ


def test_compare_models_uses_the_corrected_resampled_t_interval():
    rng = np.random.default_rng(5)
    rows = []
    for repeat in (1, 2):
        for fold in (1, 2, 3, 4, 5):
            base = rng.uniform(0.55, 0.7)
            for model, shift in (("pretrained", 0.03), ("random_init", 0.0), ("coxnet", 0.05)):
                rows.append(
                    {
                        "model": model,
                        "repeat": repeat,
                        "fold": fold,
                        "c_index": base + shift + rng.normal(0, 0.01),
                        "n_train": 80,
                        "n_test": 20,
                    }
                )
    table = pd.DataFrame(rows)
    result = compare_models(table, pretraining=pretraining_record(["src"], "disc"))
    wide = table.pivot_table(index=["repeat", "fold"], columns="model", values="c_index")
    d = (wide["pretrained"] - wide["random_init"]).to_numpy()
    se = np.sqrt((1 / 10 + 20 / 80) * d.var(ddof=1))
    half = stats.t.ppf(0.975, 9) * se
    diff = result["differences"]["pretrained_vs_random_init"]
    assert diff["mean"] == pytest.approx(d.mean())
    assert diff["ci_low"] == pytest.approx(d.mean() - half)
    assert diff["ci_high"] == pytest.approx(d.mean() + half)
    naive = stats.t.ppf(0.975, 9) * d.std(ddof=1) / np.sqrt(10)
    assert diff["ci_high"] - diff["ci_low"] > 2 * naive  # wider than the naive interval
    assert diff["wins"] + diff["losses"] == 10
    assert result["models"]["coxnet"]["mean"] == pytest.approx(
        table.loc[table["model"] == "coxnet", "c_index"].mean()
    )
    assert result["differences"]["pretrained_vs_coxnet"]["mean"] < 0
    assert result["folds"] == 5 and result["repeats"] == 2
    assert result["pretraining"]["per_fold"] is False


def test_pretraining_record_says_when_there_is_no_source():
    record = pretraining_record([], "disc")
    assert record["cohorts"] == ["disc"] and record["per_fold"] is True
    assert "no source cohort" in record["note"]


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(1, 1, 2) == derive_seed(1, 1, 2)
    assert len({derive_seed(1, r, f) for r in range(3) for f in range(5)}) == 15

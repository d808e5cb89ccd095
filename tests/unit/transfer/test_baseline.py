"""Elastic-net Cox baseline: partial likelihood against lifelines, planted sparse signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from omicsflow.survival.metrics import concordance_index
from omicsflow.transfer.baseline import PenalisedCox, partial_log_likelihood


def test_partial_log_likelihood_equals_lifelines():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 2))
    time = rng.exponential(3, 70)
    event = (rng.uniform(size=70) < 0.7).astype(int)
    fitted = CoxPHFitter().fit(
        pd.DataFrame(x, columns=["a", "b"]).assign(t=time, e=event), "t", "e"
    )
    risk = x @ fitted.params_.to_numpy()
    assert partial_log_likelihood(risk, time, event) == pytest.approx(fitted.log_likelihood_)
    assert partial_log_likelihood(risk, time, np.zeros(70)) == 0.0


def planted(n, rng, p=80):
    x = rng.normal(size=(n, p))
    linear = 1.0 * x[:, 0] - 0.8 * x[:, 1] + 0.6 * x[:, 2]
    time = rng.exponential(np.exp(-linear))
    censor = rng.exponential(2.0, n)
    return x, np.minimum(time, censor), (time <= censor).astype(int), linear


def test_penalised_cox_recovers_a_sparse_planted_signal():
    rng = np.random.default_rng(1)
    x, time, event, _ = planted(200, rng)
    test_x, test_time, test_event, test_linear = planted(400, rng)
    model = PenalisedCox(0.9, seed=0).fit(x, time, event)
    assert model.alpha_ in model.alphas_
    assert model.alpha_ < model.alphas_[0]  # not the all-zero end of the path
    assert np.argmax(model.cv_log_likelihood_) == list(model.alphas_).index(model.alpha_)
    top = set(np.argsort(-np.abs(model.coef_))[:3])
    assert top == {0, 1, 2}
    assert np.sign(model.coef_[:3]).tolist() == [1.0, -1.0, 1.0]
    assert np.count_nonzero(model.coef_) < 30
    c_model = concordance_index(test_time, test_event, model.predict(test_x))
    c_oracle = concordance_index(test_time, test_event, test_linear)
    assert c_model > c_oracle - 0.03, (c_model, c_oracle)


def test_penalised_cox_selects_nothing_without_signal():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(150, 40))
    time = rng.exponential(1.0, 150)
    event = np.ones(150, dtype=int)
    model = PenalisedCox(1.0, seed=0).fit(x, time, event)
    assert np.count_nonzero(model.coef_) <= 3

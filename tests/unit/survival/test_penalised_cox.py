"""Ridge-penalised Cox (the signature's cox scoring rule) against lifelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from omicsflow.survival.metrics import cox_fit

TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "step_size": 0.5}


@pytest.mark.parametrize("penalizer", [0.0, 0.05, 1.0])
def test_ridge_cox_matches_lifelines(survival_data, penalizer):
    time, event, x = survival_data
    x = np.c_[x[:, :2], x[:, 2] > 0]
    # lifelines penalises the coefficients of standardised covariates: give it covariates
    # that are already standardised (ddof = 1) so both penalise the same coefficients.
    x = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["t"], frame["e"] = time, event
    ref = CoxPHFitter(penalizer=penalizer).fit(frame, "t", "e", fit_options=TIGHT)
    ours = cox_fit(x, time, event, penalizer=penalizer)
    np.testing.assert_allclose(ours.coef, ref.params_.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(ours.se, ref.standard_errors_.to_numpy(), rtol=1e-6)


def test_penalty_shrinks_towards_zero(survival_data):
    time, event, x = survival_data
    norms = [
        np.abs(cox_fit(x, time, event, penalizer=penalizer).coef).sum()
        for penalizer in (0.0, 0.1, 1.0, 10.0)
    ]
    assert norms == sorted(norms, reverse=True) and norms[-1] < 0.1 * norms[0]

"""Survival metrics against lifelines (log-rank, Cox/Efron, C-index, Kaplan–Meier)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.utils import concordance_index as lifelines_cindex

from omicsflow.errors import InputError
from omicsflow.survival.metrics import (
    concordance_index,
    cox_fit,
    kaplan_meier,
    logrank_test,
    numbers_at_risk,
)

# lifelines stops Newton-Raphson at a step norm of 1e-7 by default, which leaves its Efron
# estimate ~3e-5 from the maximum with heavily tied times (checked by brute force); ask it to
# converge fully so the comparison tests our estimator, not lifelines' stopping rule.
TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "step_size": 0.5}


def test_logrank_matches_lifelines_with_ties(survival_data):
    time, event, x = survival_data
    group = x[:, 0] > 0.2
    ours = logrank_test(time, event, group)
    ref = lifelines_logrank(time[group], time[~group], event[group], event[~group])
    assert ours.chi2 == pytest.approx(ref.test_statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.p_value, rel=1e-8)


@pytest.mark.parametrize("columns", [[0], [0, 1, 2]])
def test_cox_efron_matches_lifelines(survival_data, columns):
    time, event, x = survival_data
    frame = pd.DataFrame(x[:, columns], columns=[f"x{c}" for c in columns])
    frame["time"], frame["event"] = time, event
    ref = CoxPHFitter().fit(frame, "time", "event", fit_options=TIGHT)
    ours = cox_fit(x[:, columns], time, event)
    assert ours.converged
    np.testing.assert_allclose(ours.coef, ref.params_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.se, ref.standard_errors_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.hazard_ratio, np.exp(ref.params_.to_numpy()), rtol=1e-6)
    np.testing.assert_allclose(
        ours.ci_low, np.exp(ref.confidence_intervals_.iloc[:, 0].to_numpy()), rtol=1e-6
    )
    np.testing.assert_allclose(ours.p_value, ref.summary["p"].to_numpy(), rtol=1e-5, atol=1e-12)
    assert ours.log_likelihood == pytest.approx(ref.log_likelihood_, abs=1e-6)


def test_cox_breslow_differs_from_efron_only_with_ties(survival_data):
    time, event, x = survival_data
    efron = cox_fit(x[:, 0], time, event, ties="efron")
    breslow = cox_fit(x[:, 0], time, event, ties="breslow")
    assert abs(efron.coef[0] - breslow.coef[0]) > 1e-4  # tied times here
    distinct = time + np.arange(time.size) * 1e-6
    assert cox_fit(x[:, 0], distinct, event, ties="efron").coef[0] == pytest.approx(
        cox_fit(x[:, 0], distinct, event, ties="breslow").coef[0], abs=1e-9
    )


def test_cox_without_events_is_an_error(survival_data):
    time, _, x = survival_data
    with pytest.raises(InputError, match="at least one event"):
        cox_fit(x[:, 0], time, np.zeros_like(time))


def test_c_index_matches_lifelines(survival_data):
    time, event, x = survival_data
    risk = np.round(x[:, 0], 1)  # tied risks too
    assert concordance_index(time, event, risk) == pytest.approx(
        lifelines_cindex(time, -risk, event), abs=1e-12
    )


def test_c_index_perfect_and_reversed():
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.ones(4)
    assert concordance_index(time, event, -time) == 1.0
    assert concordance_index(time, event, time) == 0.0


def test_kaplan_meier_matches_lifelines(survival_data):
    time, event, _ = survival_data
    ours = kaplan_meier(time, event)
    ref = KaplanMeierFitter().fit(time, event)
    ref_survival = ref.survival_function_.iloc[:, 0]
    ref_ci = ref.confidence_interval_
    ref_survival = ref_survival[ref_survival.index > 0]
    ref_ci = ref_ci[ref_ci.index > 0]
    np.testing.assert_allclose(ours.time, ref_survival.index.to_numpy())
    np.testing.assert_allclose(ours.survival, ref_survival.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.ci_low, ref_ci.iloc[:, 0].to_numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.ci_high, ref_ci.iloc[:, 1].to_numpy(), atol=1e-10)
    assert ours.median() == pytest.approx(ref.median_survival_time_)
    np.testing.assert_allclose(ours.survival_at([0.5, 5.0]), ref.predict([0.5, 5.0]).to_numpy())


def test_numbers_at_risk():
    assert list(numbers_at_risk(np.array([1.0, 2.0, 2.0, 5.0]), np.array([0.0, 2.0, 3.0]))) == [
        4,
        3,
        1,
    ]


def test_negative_times_rejected():
    with pytest.raises(InputError, match="non-negative"):
        kaplan_meier(np.array([1.0, -2.0]), np.array([1, 0]))

"""Validation metrics against scikit-survival and lifelines: Uno's C, td-AUC, k-group log-rank.

scikit-survival estimates the censoring distribution G with events leaving before censorings
at tied times and evaluates G at t_i (not just before it); our estimators use the same
convention, so they agree to rounding. R's ``survC1``/``timeROC`` differ by about 1e-5..1e-4
on tied times because of that convention, not because either is wrong; the tolerances below
(1e-9) are tight because the reference here is scikit-survival.
"""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import concordance_index as lifelines_cindex
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from omicsflow.errors import InputError
from omicsflow.survival.metrics import (
    censoring_survival,
    concordance_index,
    concordance_index_many,
    concordance_index_uno,
    logrank_test,
    logrank_test_groups,
    survival_at_horizons,
    time_dependent_auc,
)


def _risks(x: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "continuous": x[:, 0],
        "tied": np.round(x[:, 0]),  # few distinct values: many tied risks
        "uninformative": x[:, 1],
    }


@pytest.mark.parametrize("kind", ["continuous", "tied", "uninformative"])
@pytest.mark.parametrize("tau", [None, 10.0])
def test_uno_c_matches_sksurv(survival_data, kind, tau):
    time, event, x = survival_data
    risk = _risks(x)[kind]
    y = Surv.from_arrays(event.astype(bool), time)
    reference = concordance_index_ipcw(y, y, risk, tau=tau)[0]
    assert concordance_index_uno(time, event, risk, tau=tau) == pytest.approx(reference, abs=1e-9)


def test_uno_c_equals_harrell_without_censoring(survival_data):
    time, _, x = survival_data
    event = np.ones_like(time, dtype=int)  # G(t) = 1: every pair has weight 1
    risk = x[:, 0]
    assert concordance_index_uno(time, event, risk) == pytest.approx(
        concordance_index(time, event, risk), abs=1e-12
    )
    assert concordance_index_uno(time, event, risk) == pytest.approx(
        lifelines_cindex(time, -risk, event), abs=1e-12
    )


def test_uno_c_differs_from_harrell_under_heavy_late_censoring(survival_data):
    time, event, x = survival_data
    event = np.where(time > np.median(time), 0, event)  # late patients censored
    harrell = concordance_index(time, event, x[:, 0])
    uno = concordance_index_uno(time, event, x[:, 0])
    assert abs(harrell - uno) > 1e-3


def test_censoring_distribution_matches_sksurv(survival_data):
    time, event, _ = survival_data
    distinct, survival = censoring_survival(time, event)
    reference = CensoringDistributionEstimator().fit(Surv.from_arrays(event.astype(bool), time))
    np.testing.assert_allclose(survival, reference.predict_proba(distinct), atol=1e-12)


@pytest.mark.parametrize("kind", ["continuous", "tied", "uninformative"])
def test_time_dependent_auc_matches_sksurv(survival_data, kind):
    time, event, x = survival_data
    risk = _risks(x)[kind]
    horizons = np.array([3.0, 5.0, 8.0, 12.0])
    y = Surv.from_arrays(event.astype(bool), time)
    reference, _ = cumulative_dynamic_auc(y, y, risk, horizons)
    np.testing.assert_allclose(
        time_dependent_auc(time, event, risk, horizons), reference, atol=1e-9
    )


def test_time_dependent_auc_outside_follow_up_is_nan(survival_data):
    time, event, x = survival_data
    auc = time_dependent_auc(time, event, x[:, 0], [time.min() - 1, time.max(), 5.0])
    assert np.isnan(auc[0]) and np.isnan(auc[1]) and np.isfinite(auc[2])


def test_time_dependent_auc_perfect_score():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    event = np.ones(6, dtype=int)
    assert time_dependent_auc(time, event, -time, [3.5])[0] == pytest.approx(1.0)
    assert time_dependent_auc(time, event, time, [3.5])[0] == pytest.approx(0.0)


def test_k_group_logrank_matches_lifelines(survival_data):
    time, event, x = survival_data
    labels = np.digitize(x[:, 0], [-0.5, 0.5])
    ours = logrank_test_groups(time, event, labels)
    reference = multivariate_logrank_test(time, labels, event)
    assert ours.df == 2
    assert ours.chi2 == pytest.approx(reference.test_statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(reference.p_value, rel=1e-8)


def test_two_group_logrank_equals_the_classical_test(survival_data):
    time, event, x = survival_data
    group = x[:, 0] > 0.2
    ours = logrank_test_groups(time, event, np.where(group, "high", "low"))
    assert ours.chi2 == pytest.approx(logrank_test(time, event, group).chi2, rel=1e-10)
    assert ours.df == 1


def test_concordance_many_equals_one_at_a_time(survival_data):
    time, event, x = survival_data
    rng = np.random.default_rng(3)
    risks = np.column_stack([rng.integers(0, 5, time.size) for _ in range(20)] + [x])
    expected = [concordance_index(time, event, risks[:, j]) for j in range(risks.shape[1])]
    np.testing.assert_allclose(concordance_index_many(time, event, risks), expected, atol=1e-12)
    assert concordance_index_many(time, event, x[:, 0])[0] == pytest.approx(
        lifelines_cindex(time, -x[:, 0], event), abs=1e-12
    )


def test_concordance_many_rejects_wrong_length(survival_data):
    time, event, _ = survival_data
    with pytest.raises(InputError, match="different lengths"):
        concordance_index_many(time, event, np.zeros((3, 2)))


def test_survival_at_horizons_matches_lifelines(survival_data):
    time, event, _ = survival_data
    horizons = np.array([0.5, 4.0, 7.5, 12.0, 1e6])
    ours = survival_at_horizons(time, event, horizons)
    fitter = KaplanMeierFitter().fit(time, event)
    inside = horizons <= time.max()
    np.testing.assert_allclose(
        ours["survival"][inside],
        fitter.survival_function_at_times(horizons[inside]).to_numpy(),
        atol=1e-12,
    )
    ci = fitter.confidence_interval_survival_function_
    index = ci.index.to_numpy()
    rows = np.searchsorted(index, horizons[inside], side="right") - 1
    np.testing.assert_allclose(ours["ci_low"][inside], ci.iloc[rows, 0].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(ours["ci_high"][inside], ci.iloc[rows, 1].to_numpy(), atol=1e-9)
    assert np.isnan(ours["survival"][-1])  # beyond follow-up: not estimated
    assert list(ours["at_risk"]) == [int((time >= h).sum()) for h in horizons]

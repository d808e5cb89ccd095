"""Vectorised two-group log-rank and binary Cox against lifelines and the per-gene fits."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test as lifelines_logrank

from omicsflow.survival.groups import two_group_tests
from omicsflow.survival.metrics import cox_fit, logrank_test

# lifelines' default Newton stop (step norm 1e-7) leaves its Efron estimate ~3e-5 from the
# maximum with heavily tied times; converge fully so we compare estimators, not stop rules.
TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "step_size": 0.5}


@pytest.fixture
def tied_groups():
    """120 patients with heavily tied times (and tied event times), 40 random splits."""
    rng = np.random.default_rng(21)
    n = 120
    time = np.round(rng.exponential(6.0, n)) + 1.0
    event = (rng.uniform(size=n) < 0.65).astype(int)
    shares = rng.uniform(0.1, 0.9, 40)
    high = rng.uniform(size=(40, n)) > shares[:, None]
    return time, event, high


def test_logrank_matches_lifelines_and_survdiff_formula(tied_groups):
    time, event, high = tied_groups
    tests = two_group_tests(high, time, event, block_size=7)
    for gene, group in enumerate(high):
        ref = lifelines_logrank(time[group], time[~group], event[group], event[~group])
        assert tests.chi2[gene] == pytest.approx(ref.test_statistic, rel=1e-8)
        assert tests.p_value[gene] == pytest.approx(ref.p_value, rel=1e-8)
        ours = logrank_test(time, event, group)
        assert tests.observed[gene] == ours.observed
        assert tests.expected[gene] == pytest.approx(ours.expected, rel=1e-12)
        assert tests.variance[gene] == pytest.approx(ours.variance, rel=1e-12)
        assert tests.n_high[gene] == group.sum()
        assert tests.events_high[gene] == event[group].sum()
        assert tests.events_low[gene] == event[~group].sum()


def test_cox_matches_lifelines_efron(tied_groups):
    time, event, high = tied_groups
    tests = two_group_tests(high, time, event, threads=2, block_size=9)
    assert tests.converged.all()
    for gene, group in enumerate(high[:15]):
        frame = pd.DataFrame({"high": group.astype(float), "t": time, "e": event})
        ref = CoxPHFitter().fit(frame, "t", "e", fit_options=TIGHT)
        assert tests.hazard_ratio[gene] == pytest.approx(np.exp(ref.params_["high"]), rel=1e-6)
        assert tests.se[gene] == pytest.approx(ref.standard_errors_["high"], rel=1e-5)
        ci = np.exp(ref.confidence_intervals_.loc["high"].to_numpy())
        assert tests.ci_low[gene] == pytest.approx(ci[0], rel=1e-5)
        assert tests.ci_high[gene] == pytest.approx(ci[1], rel=1e-5)


def test_cox_matches_the_per_gene_fit_tightly(tied_groups):
    time, event, high = tied_groups
    tests = two_group_tests(high, time, event)
    for gene, group in enumerate(high):
        fit = cox_fit(group.astype(float), time, event, tol=1e-14)
        assert tests.coef[gene] == pytest.approx(fit.coef[0], abs=1e-9)
        assert tests.se[gene] == pytest.approx(fit.se[0], rel=1e-8)


def test_untied_times_also_match():
    rng = np.random.default_rng(4)
    n = 80
    time = rng.exponential(size=n)
    event = (rng.uniform(size=n) < 0.8).astype(int)
    high = rng.uniform(size=(5, n)) > 0.5
    tests = two_group_tests(high, time, event)
    for gene, group in enumerate(high):
        fit = cox_fit(group.astype(float), time, event, tol=1e-14)
        assert tests.coef[gene] == pytest.approx(fit.coef[0], abs=1e-9)
        assert tests.chi2[gene] == pytest.approx(logrank_test(time, event, group).chi2, rel=1e-10)


def test_infinite_estimates_are_detected(caplog):
    time = np.arange(1.0, 21.0)
    event = np.ones(20, dtype=int)
    event[[1, 3, 5, 7, 9, 11]] = 0
    # Gene 0: every high-group sample is censored → no high events → β = −∞.
    # Gene 1: the high group fails first and the low group has no events → β = +∞.
    none_high = event == 0
    first = np.zeros(20, dtype=bool)
    first[:10] = True
    event_1 = event.copy()
    event_1[10:] = 0
    caplog.set_level(logging.WARNING)
    tests = two_group_tests(np.vstack([none_high, first]), time, event)
    assert tests.hazard_ratio[0] == 0.0 and np.isnan(tests.ci_low[0])
    assert "infinite Cox estimate" in caplog.text
    plus = two_group_tests(first[None, :], time, event_1)
    assert plus.hazard_ratio[0] == np.inf and np.isnan(plus.se[0])
    # The per-gene Newton fit runs off towards the same infinities.
    assert cox_fit(none_high.astype(float), time, event).coef[0] < -5
    assert cox_fit(first.astype(float), time, event_1).coef[0] > 5

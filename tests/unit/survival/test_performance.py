"""Optimism-corrected C-index against an independent rerun of the whole pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsflow.survival.bootstrap import SelectionRule, bootstrap_stability, resample_indices
from omicsflow.survival.cutpoint import scan_cutpoints
from omicsflow.survival.metrics import concordance_index
from omicsflow.survival.performance import signature_performance
from omicsflow.survival.signature import lock_signature, score_signature


@pytest.fixture
def cohort():
    rng = np.random.default_rng(17)
    n = 120
    x = pd.DataFrame(rng.normal(size=(n, 15)), columns=[f"g{i}" for i in range(15)])
    hazard = np.exp(1.2 * (x["g0"] > 0) + 1.0 * (x["g1"] < 0.3))
    time = np.round(rng.exponential(1 / hazard), 2)
    event = (rng.uniform(size=n) < 0.8).astype(int)
    return x, time, event


@pytest.mark.parametrize("scoring", ["count", "cox"])
def test_optimism_equals_an_independent_rerun(cohort, scoring):
    x, time, event = cohort
    size, resamples, seed = 3, 6, 11
    stability = bootstrap_stability(
        x, time, event, n_resamples=resamples, seed=seed, rule=SelectionRule(size)
    )
    table = scan_cutpoints(x, time, event, permutations=0, stability=stability)
    signature = lock_signature(table, x, size=size, scoring=scoring, time=time, event=event)
    result = signature_performance(
        signature,
        x,
        time,
        event,
        picks=stability.picks,
        n_resamples=resamples,
        seed=seed,
        penalizer=0.1,
    )
    apparent = concordance_index(time, event, score_signature(signature, x, transfer="absolute"))
    optimism = []
    for index in resample_indices(len(x), resamples, seed):
        boot_x = x.iloc[index].reset_index(drop=True)
        boot = scan_cutpoints(boot_x, time[index], event[index], permutations=0)
        boot_signature = lock_signature(
            boot, boot_x, size=size, scoring=scoring, time=time[index], event=event[index]
        )
        c_boot = concordance_index(
            time[index], event[index], score_signature(boot_signature, boot_x, transfer="absolute")
        )
        c_orig = concordance_index(
            time, event, score_signature(boot_signature, x, transfer="absolute")
        )
        optimism.append(c_boot - c_orig)
    assert result["c_index_apparent"] == pytest.approx(apparent, rel=1e-12)
    assert result["c_index_optimism"] == pytest.approx(np.mean(optimism), rel=1e-9)
    assert result["c_index_corrected"] == pytest.approx(apparent - np.mean(optimism), rel=1e-9)
    assert result["c_index_optimism"] > 0 and result["n_resamples"] == resamples


def test_mismatched_bootstrap_is_an_error(cohort):
    x, time, event = cohort
    stability = bootstrap_stability(x, time, event, n_resamples=4, seed=1)
    signature = lock_signature(scan_cutpoints(x, time, event, permutations=0), x, size=2)
    with pytest.raises(ValueError, match="more resamples than requested"):
        signature_performance(
            signature, x, time, event, picks=stability.picks, n_resamples=2, seed=1
        )

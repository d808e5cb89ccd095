"""Quality score, verdict and gate."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsflow.errors import QualityGateError
from omicsflow.quality import check_gate, score_cohort


def cohort(n: int = 100, missing: float = 0.0, events: int = 50, role: str = "discovery"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 20)).astype(np.float32)
    x[rng.uniform(size=x.shape) < missing] = np.nan
    obs = pd.DataFrame(
        {"time": np.arange(1.0, n + 1), "event": [1] * events + [0] * (n - events)},
        index=[f"s{i}" for i in range(n)],
    )
    adata = ad.AnnData(X=x, obs=obs)
    adata.uns["cohort"] = {"id": "c", "role": role}
    return adata


def test_clean_cohort_passes():
    report = score_cohort(cohort())
    assert report.verdict == "pass" and report.score == pytest.approx(1.0)
    assert report.events == 50 and report.n_samples == 100


def test_score_falls_with_missingness():
    scores = [score_cohort(cohort(missing=m)).score for m in (0.0, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]


def test_hard_failure_whatever_the_score():
    report = score_cohort(cohort(missing=0.6))
    assert report.verdict == "fail" and "missingness" in report.hard_failures
    with pytest.raises(QualityGateError, match="failed the quality gate") as info:
        check_gate(report.to_dict())
    assert "missingness" in str(info.value) and "fix:" in str(info.value)


def test_too_few_events_fails():
    report = score_cohort(cohort(events=3))
    assert report.verdict == "fail" and "events" in report.hard_failures
    assert "3 events" in report.reasons["events"]

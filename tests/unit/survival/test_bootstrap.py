"""Bootstrap stability against a direct loop over the same resamples, and planted genes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsflow.survival.bootstrap import (
    PICK_COLUMNS,
    SelectionRule,
    bootstrap_stability,
    resample_indices,
)
from omicsflow.survival.cutpoint import benjamini_hochberg, p_lausen94, scan_cutpoints
from omicsflow.survival.logrank import logrank_scores, maxstat_scan


@pytest.fixture
def planted():
    rng = np.random.default_rng(31)
    n = 150
    x = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"g{i}" for i in range(12)])
    hazard = np.exp(1.5 * (x["g0"] > 0.4))
    time = np.round(rng.exponential(1 / hazard), 2)
    event = (rng.uniform(size=n) < 0.85).astype(int)
    return x, time, event


def test_matches_a_direct_loop(planted):
    x, time, event = planted
    rule = SelectionRule(size=3, max_q=0.9)
    stability = bootstrap_stability(x, time, event, n_resamples=25, seed=9, rule=rule)
    cuts, counts, picks = [], np.zeros(x.shape[1]), []
    for resample, index in enumerate(resample_indices(len(x), 25, 9)):
        scan = maxstat_scan(x.to_numpy()[index], logrank_scores(time[index], event[index]))
        p = p_lausen94(scan.statistic, scan.t_sum, scan.t3_sum)
        q = benjamini_hochberg(p)
        order = [g for g in np.lexsort((-scan.statistic, p)) if q[g] <= 0.9][:3]
        counts[order] += 1
        cuts.append(scan.cutpoint)
        picks += [(resample, rank + 1, f"g{g}") for rank, g in enumerate(order)]
    np.testing.assert_allclose(stability.selection_frequency, counts / 25)
    low, high = np.quantile(np.array(cuts), [0.025, 0.975], axis=0)
    np.testing.assert_allclose(stability.cut_ci_low, low)
    np.testing.assert_allclose(stability.cut_ci_high, high)
    assert list(stability.picks[["resample", "rank", "gene"]].itertuples(index=False)) == [
        tuple(row) for row in picks
    ]
    assert tuple(stability.picks.columns) == PICK_COLUMNS
    shares = (x.to_numpy() <= high).mean(axis=0)
    np.testing.assert_allclose(stability.percentile_ci_high, shares)


def test_planted_gene_is_stable_and_its_interval_is_tight(planted):
    x, time, event = planted
    stability = bootstrap_stability(x, time, event, n_resamples=60, seed=1, rule=SelectionRule(1))
    table = stability.table().set_index("gene")
    assert table.loc["g0", "selection_frequency"] > 0.8
    assert table["selection_frequency"].drop("g0").max() < 0.2
    # The planted gene has the tightest interval; noise genes wander over the range.
    widths = table["percentile_ci_high"] - table["percentile_ci_low"]
    assert widths["g0"] < 0.5 and widths.drop("g0").min() > widths["g0"] + 0.1
    scanned = scan_cutpoints(x, time, event, permutations=0, stability=stability)
    row = scanned.set_index("gene").loc["g0"]
    assert row["selection_frequency"] == table.loc["g0", "selection_frequency"]
    assert row["cut_ci_low"] <= row["cutpoint"] <= row["cut_ci_high"]


def test_reproducible_from_the_seed(planted):
    x, time, event = planted
    first = bootstrap_stability(x, time, event, n_resamples=8, seed=5)
    again = bootstrap_stability(x, time, event, n_resamples=8, seed=5)
    pd.testing.assert_frame_equal(first.table(), again.table())
    pd.testing.assert_frame_equal(first.picks, again.picks)
    np.testing.assert_array_equal(resample_indices(10, 3, 5), resample_indices(10, 3, 5))
    assert not np.array_equal(resample_indices(10, 3, 5), resample_indices(10, 3, 6))


def test_reference_mode_resamples_the_reference(planted):
    x, time, event = planted
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(rng.normal(-1.0, 0.5, size=(40, 12)), columns=x.columns)
    stability = bootstrap_stability(
        x, time, event, n_resamples=40, seed=2, reference=reference, n_sd=2.0
    )
    estimate = reference.mean() + 2.0 * reference.std(ddof=1)
    middle = (stability.cut_ci_low + stability.cut_ci_high) / 2
    np.testing.assert_allclose(middle, estimate, atol=0.15)
    # Standard error of mean + 2 SD from 40 normal samples with SD 0.5: 0.5·√(1/40 + 2/39).
    width = stability.cut_ci_high - stability.cut_ci_low
    assert 0.6 * 0.54 < width.mean() < 1.4 * 0.54


def test_errors(planted):
    x, time, event = planted
    with pytest.raises(ValueError, match="at least 1"):
        bootstrap_stability(x, time, event, n_resamples=0)
    with pytest.raises(ValueError, match="signature size must be at least 1"):
        SelectionRule(size=0)
    with pytest.raises(ValueError, match="no bootstrap resample has an event"):
        bootstrap_stability(x, time, np.zeros(len(x), dtype=int), n_resamples=2)
    with pytest.raises(ValueError, match="does not cover every gene"):
        stability = bootstrap_stability(x.iloc[:, :3], time, event, n_resamples=2)
        scan_cutpoints(x, time, event, permutations=0, stability=stability)

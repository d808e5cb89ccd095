"""Null controls: the type-I self-test on toy data and the random-signature C-index null."""

from __future__ import annotations

import numpy as np
import pytest

from omicsflow.survival.cutpoint import scan_cutpoints
from omicsflow.survival.metrics import concordance_index
from omicsflow.survival.nullcontrol import random_signature_null, type_one_self_test
from omicsflow.survival.signature import lock_signature, score_signature
from omicsflow.toy import ToyDesign, make_toy_cohorts


@pytest.fixture(scope="module")
def toy_discovery():
    cohorts, planted = make_toy_cohorts(ToyDesign(n_genes=400, n_source=10), seed=1)
    expression, clinical, _, _ = cohorts["discovery"]
    frame = expression.T
    frame = frame.fillna(frame.median())  # ties, as after the preprocess stage
    return frame, clinical["os_months"].to_numpy(), clinical["os_event"].to_numpy(), planted


def test_type_one_error_stays_near_alpha_on_toy_data(toy_discovery):
    frame, time, event, _ = toy_discovery
    result = type_one_self_test(frame, time, event, n_replicates=10, seed=3, permutations=2000)
    mean = result["mean_share_below_alpha"]
    assert mean["p_value"] < 0.1 and mean["p_lau92"] < 0.1
    assert 0.02 < mean["p_perm"] < 0.1  # exact test: near 0.05
    assert mean["logrank_p"] > 0.3  # the naive minimum-p cutpoint is badly inflated
    assert len(result["share_below_alpha"]["p_value"]) == 10
    again = type_one_self_test(frame, time, event, n_replicates=10, seed=3, permutations=2000)
    assert again == result
    with pytest.raises(ValueError, match="at least one outcome permutation"):
        type_one_self_test(frame, time, event, n_replicates=0)


def test_random_signatures_null(toy_discovery):
    frame, time, event, planted = toy_discovery
    table = scan_cutpoints(frame, time, event, permutations=0)
    signature = lock_signature(table, frame, size=4)
    result = random_signature_null(table, frame, time, event, signature, n_signatures=200, seed=2)
    observed = concordance_index(
        time, event, score_signature(signature, frame, transfer="absolute")
    )
    assert result["c_index_signature"] == observed
    null = np.array(result["c_index_null"])
    assert result["p_value"] == (1 + np.sum(null >= observed - 1e-12)) / 201
    assert result["p_value"] < 0.01  # the planted genes beat random genes
    assert 0.5 < result["c_index_null_quantiles"]["0.5"] < observed
    # A signature of arbitrary (noise) genes sits inside the null distribution.
    noise = table[~table["gene"].isin(planted["gene"])].tail(50)
    arbitrary = lock_signature(noise, frame, size=4)
    control = random_signature_null(table, frame, time, event, arbitrary, n_signatures=200)
    assert control["p_value"] > 0.5
    with pytest.raises(ValueError, match="too few genes"):
        random_signature_null(table.head(3), frame, time, event, signature, n_signatures=5)


def test_random_signatures_with_cox_scoring(toy_discovery):
    frame, time, event, _ = toy_discovery
    table = scan_cutpoints(frame, time, event, permutations=0)
    signature = lock_signature(table, frame, size=3, scoring="cox", time=time, event=event)
    result = random_signature_null(table, frame, time, event, signature, n_signatures=30, seed=1)
    assert result["scoring"] == "cox" and len(result["c_index_null"]) == 30
    assert result["c_index_signature"] > max(result["c_index_null"])

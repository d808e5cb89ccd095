"""Locked signature: selection, percentile vs absolute transfer, scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsflow.errors import InputError
from omicsflow.survival.cutpoint import scan_cutpoints
from omicsflow.survival.signature import (
    Signature,
    lock_signature,
    risk_states,
    score_signature,
    transferred_cutpoints,
)


@pytest.fixture
def discovery():
    rng = np.random.default_rng(2)
    n = 200
    x = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"g{i}" for i in range(6)])
    hazard = np.exp(1.4 * (x["g0"] > 0.3) + 1.4 * (x["g1"] <= -0.2))
    time = rng.exponential(1 / hazard)
    event = (rng.uniform(size=n) < 0.8).astype(int)
    return x, time, event


def test_lock_picks_planted_genes_and_roundtrips(discovery):
    x, time, event = discovery
    signature = lock_signature(scan_cutpoints(x, time, event), x, size=2)
    assert set(signature.gene_ids) == {"g0", "g1"}
    directions = {g.gene: g.direction for g in signature.genes}
    assert directions == {"g0": "high_risk_above", "g1": "high_risk_below"}
    assert Signature.from_dict(signature.to_dict()) == signature


def test_percentile_transfer_is_invariant_to_platform_scale(discovery):
    x, time, event = discovery
    signature = lock_signature(scan_cutpoints(x, time, event), x, size=2)
    shifted = 0.5 * x + 7.0  # another platform: same ranks, other scale
    np.testing.assert_array_equal(
        score_signature(signature, shifted, transfer="percentile"),
        score_signature(signature, x, transfer="absolute"),
    )
    # Absolute cutpoints on the shifted scale put everyone on one side.
    states = risk_states(signature, shifted, transfer="absolute")
    assert states["g0"].all() and not states["g1"].any()


def test_percentile_reproduces_discovery_groups(discovery):
    x, time, event = discovery
    signature = lock_signature(scan_cutpoints(x, time, event), x, size=2)
    cuts = transferred_cutpoints(signature, x, transfer="percentile")
    for gene in signature.genes:
        assert cuts[gene.gene] == pytest.approx(gene.cutpoint)


def test_high_risk_group_from_locked_median(discovery):
    x, time, event = discovery
    signature = lock_signature(scan_cutpoints(x, time, event), x, size=2)
    score = score_signature(signature, x, transfer="absolute")
    assert signature.risk_cutpoint == np.quantile(score, 0.5, method="inverted_cdf")
    assert 0 < (score > signature.risk_cutpoint).sum() < len(score)


def test_missing_signature_gene_is_an_error(discovery):
    x, time, event = discovery
    signature = lock_signature(scan_cutpoints(x, time, event), x, size=2)
    with pytest.raises(InputError, match="lacks signature genes"):
        score_signature(signature, x.drop(columns=["g0"]))


def test_unknown_transfer(discovery):
    x, time, event = discovery
    signature = lock_signature(scan_cutpoints(x, time, event), x, size=1)
    with pytest.raises(InputError, match="unknown cutpoint transfer"):
        score_signature(signature, x, transfer="nearest")

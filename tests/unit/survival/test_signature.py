"""Locked signature: selection, percentile vs absolute transfer, scoring."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from omicsflow.errors import InputError
from omicsflow.survival.cutpoint import scan_cutpoints
from omicsflow.survival.metrics import cox_fit
from omicsflow.survival.signature import (
    Signature,
    group_labels,
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


def test_epimed_risk_groups(discovery):
    x, time, event = discovery
    signature = lock_signature(
        scan_cutpoints(x, time, event, permutations=0), x, size=3, risk_groups=(1, 2)
    )
    assert signature.group_labels == ("0", "1", "≥2")
    score = score_signature(signature, x, transfer="absolute")
    labels = signature.risk_groups(score)
    expected = np.where(score == 0, "0", np.where(score == 1, "1", "≥2"))
    np.testing.assert_array_equal(labels, expected)
    # The two-group rule keeps its meaning.
    np.testing.assert_array_equal(signature.high_risk(score), score > signature.risk_cutpoint)
    assert group_labels((1, 3)) == ("0", "1–2", "≥3")
    assert group_labels(()) == ("≥0",)
    with pytest.raises(InputError, match="increasing whole numbers"):
        group_labels((2, 1))
    with pytest.raises(InputError, match="at least 1"):
        group_labels((0, 2))


def test_cox_scoring_is_penalised_cox_on_the_binarised_genes(discovery):
    x, time, event = discovery
    table = scan_cutpoints(x, time, event, permutations=0)
    signature = lock_signature(
        table, x, size=3, scoring="cox", penalizer=0.05, time=time, event=event
    )
    states = risk_states(signature, x, transfer="absolute").to_numpy(dtype=float)
    fit = cox_fit(states, time, event, penalizer=0.05)
    np.testing.assert_allclose(signature.weights, fit.coef)
    np.testing.assert_allclose(
        score_signature(signature, x, transfer="absolute"), states @ fit.coef
    )
    assert (signature.weights[:2] > 0.5).all()  # the planted genes carry the weight
    score = score_signature(signature, x, transfer="absolute")
    assert signature.risk_cutpoint == np.quantile(score, 0.5, method="inverted_cdf")
    assert set(signature.risk_groups(score)) == {"low", "high"}
    again = Signature.from_dict(signature.to_dict())
    assert again == signature and again.scoring == "cox"
    with pytest.raises(InputError, match="needs the discovery outcome"):
        lock_signature(table, x, size=2, scoring="cox")
    with pytest.raises(InputError, match="unknown signature scoring rule"):
        lock_signature(table, x, size=2, scoring="lasso")


def test_stability_requirement_and_fallbacks(discovery, caplog):
    x, time, event = discovery
    table = scan_cutpoints(x, time, event, permutations=0)
    table["selection_frequency"] = 0.0
    table.loc[table["gene"] == "g1", "selection_frequency"] = 0.9
    table.loc[table["gene"] == "g4", "selection_frequency"] = 0.5
    stable = lock_signature(table, x, size=3, min_selection_frequency=0.4)
    assert {g.gene: g.selection_frequency for g in stable.genes} == {"g1": 0.9, "g4": 0.5}
    caplog.set_level(logging.WARNING)
    fallback = lock_signature(table, x, size=2, min_selection_frequency=0.95)
    assert "stability requirement is dropped" in caplog.text
    assert fallback.gene_ids == table["gene"].head(2).tolist()
    single = lock_signature(table, x, size=2, max_q=1e-30)
    assert single.gene_ids == table["gene"].head(1).tolist() and "best gene" in caplog.text


def test_interval_percentiles_and_old_files_still_load(discovery):
    x, time, event = discovery
    table = scan_cutpoints(x, time, event, permutations=0)
    table["cut_ci_low"], table["cut_ci_high"] = table["cutpoint"] - 0.2, table["cutpoint"] + 0.3
    signature = lock_signature(table, x, size=2)
    for gene in signature.genes:
        values = x[gene.gene].to_numpy()
        assert gene.percentile_ci_low == np.mean(values <= gene.cut_ci_low)
        assert gene.percentile_ci_high == np.mean(values <= gene.cut_ci_high)
        assert gene.percentile_ci_low < gene.percentile < gene.percentile_ci_high
    # A signature.json written before the fields were added.
    old = signature.to_dict()
    for key in ("risk_groups", "performance"):
        del old[key]
    old["genes"] = [{key: entry[key] for key in list(entry)[:7]} for entry in old["genes"]]
    loaded = Signature.from_dict(old)
    assert loaded.scoring == "count" and loaded.group_bounds == ()
    np.testing.assert_array_equal(score_signature(loaded, x), score_signature(signature, x))

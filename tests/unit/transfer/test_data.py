"""Cross-validation splits and the early-stopping split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from omicsflow.errors import InputError
from omicsflow.transfer.data import (
    SurvivalTensors,
    cv_splits,
    fold_indices,
    inner_split,
    minibatches,
)


@pytest.fixture
def samples():
    rng = np.random.default_rng(4)
    event = (rng.uniform(size=53) < 0.4).astype(int)
    return [f"S{i:02d}" for i in range(53)], event


def test_cv_splits_are_stratified_partitions(samples):
    ids, event = samples
    splits = cv_splits(ids, event, folds=5, repeats=3, seed=1)
    assert list(splits.columns) == ["repeat", "fold", "sample"]
    assert len(splits) == 3 * len(ids)
    lookup = pd.Series(event, index=ids)
    for _, table in splits.groupby("repeat"):
        assert sorted(table["sample"]) == sorted(ids)  # every sample tested exactly once
        assert list(table["sample"]) == ids  # cohort order within a repeat
        events = lookup[table["sample"]].groupby(table["fold"].to_numpy()).sum()
        sizes = table.groupby("fold").size()
        assert events.max() - events.min() <= 1 and sizes.max() - sizes.min() <= 1
    by_repeat = splits.pivot(index="sample", columns="repeat", values="fold")
    assert not by_repeat[1].equals(by_repeat[2])  # repeats are new partitions
    pd.testing.assert_frame_equal(splits, cv_splits(ids, event, folds=5, repeats=3, seed=1))
    assert not splits.equals(cv_splits(ids, event, folds=5, repeats=3, seed=2))


def test_fold_indices_partition_the_cohort(samples):
    ids, event = samples
    splits = cv_splits(ids, event, folds=4, repeats=2, seed=1)
    seen = []
    for fold in range(1, 5):
        train, test = fold_indices(splits, ids, repeat=2, fold=fold)
        assert np.intersect1d(train, test).size == 0
        assert np.union1d(train, test).size == len(ids)
        seen.extend(test)
    assert sorted(seen) == list(range(len(ids)))
    with pytest.raises(InputError, match="no such cross-validation fold"):
        fold_indices(splits, ids, repeat=3, fold=1)
    with pytest.raises(InputError, match="name other samples than the discovery cohort"):
        fold_indices(splits, [*ids[:-1], "X"], repeat=1, fold=1)


def test_cv_splits_reject_too_many_folds(samples):
    ids, _ = samples
    with pytest.raises(InputError, match="too many cross-validation folds") as info:
        cv_splits(ids, np.r_[np.ones(3), np.zeros(50)], folds=5, repeats=1, seed=1, cohort="d")
    assert "2 <= folds <= 3" in str(info.value) and "cohort: d" in str(info.value)


def test_inner_split_is_stratified_and_seeded():
    event = np.r_[np.ones(40), np.zeros(60)]
    train, held = inner_split(event, 0.2, seed=1)
    assert held.size == 20 and event[held].sum() == 8
    assert np.union1d(train, held).size == 100
    assert np.array_equal(held, inner_split(event, 0.2, seed=1)[1])


def test_minibatches_cover_every_sample_once():
    x = torch.arange(23.0).unsqueeze(1)
    generator = torch.Generator().manual_seed(0)
    batches = list(minibatches(x, 5, generator, device=torch.device("cpu")))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(torch.cat(batches).squeeze(1).tolist()) == list(range(23))
    data = SurvivalTensors(np.ones((4, 2)), np.arange(4.0), np.array([1, 0, 1, 0]))
    part = data.subset(np.array([0, 2]))
    assert part.x.dtype == torch.float32 and part.event.tolist() == [1.0, 1.0]

"""Iterative imputation: scikit-learn's IterativeImputer when unrestricted; nearest genes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from omicsflow.preprocess.iterative import IterativeGeneImputer, nearest_features


def correlated(n: int, p: int, missing: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) @ rng.normal(size=(3, p)) + 0.3 * rng.normal(size=(n, p)) + 5
    x[rng.uniform(size=x.shape) < missing] = np.nan
    return x


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("max_iter", [1, 4, 10])
def test_unrestricted_equals_sklearn_iterative_imputer(max_iter):
    x = correlated(60, 12, 0.15, seed=0)
    genes = [f"g{i}" for i in range(12)]
    reference = IterativeImputer(max_iter=max_iter, tol=1e-3, random_state=0).fit(x)
    ours = IterativeGeneImputer(max_iter=max_iter, n_nearest_features=None)
    fitted = ours.fit_transform(pd.DataFrame(x, columns=genes))
    assert ours.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(fitted.to_numpy(), reference.transform(x), rtol=0, atol=1e-9)
    other = correlated(25, 12, 0.3, seed=1)  # a new cohort: replays the fitted models
    np.testing.assert_allclose(
        ours.transform(pd.DataFrame(other, columns=genes)).to_numpy(),
        reference.transform(other),
        rtol=0,
        atol=1e-9,
    )


def test_early_stop_matches_sklearn():
    x = correlated(80, 8, 0.1, seed=2)
    reference = IterativeImputer(max_iter=50, tol=0.01, random_state=0).fit(x)
    ours = IterativeGeneImputer(max_iter=50, tol=0.01, n_nearest_features=None).fit(pd.DataFrame(x))
    assert 1 < ours.n_iter_ == reference.n_iter_ < 50


def test_nearest_features_are_the_most_correlated_genes():
    rng = np.random.default_rng(3)
    filled = rng.normal(size=(50, 40)) @ rng.normal(size=(40, 40))
    chosen = nearest_features(filled, 5, block_size=7)
    corr = np.abs(np.corrcoef(filled, rowvar=False))
    np.fill_diagonal(corr, -1.0)
    expected = np.sort(np.argsort(-corr, axis=1, kind="stable")[:, :5], axis=1)
    np.testing.assert_array_equal(chosen, expected)
    everyone = nearest_features(filled[:, :4], None)
    np.testing.assert_array_equal(everyone, [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def test_restricted_models_use_only_the_nearest_genes():
    x = correlated(70, 30, 0.1, seed=4)
    imputer = IterativeGeneImputer(max_iter=2, n_nearest_features=4).fit(pd.DataFrame(x))
    assert imputer.neighbors_.shape == (30, 4) and imputer.coef_.shape == (2, 30, 4)
    assert not (imputer.neighbors_ == np.arange(30)[:, None]).any()

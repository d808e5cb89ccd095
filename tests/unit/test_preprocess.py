"""Imputation and normalisation: fitted on discovery only, saved without pickle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omicsflow.errors import InputError
from omicsflow.preprocess import Imputer, Normalizer, Preprocessor, shared_genes


@pytest.fixture
def frames():
    rng = np.random.default_rng(4)
    genes = [f"g{i}" for i in range(5)]
    discovery = pd.DataFrame(rng.normal(5, 2, size=(30, 5)), columns=genes)
    discovery.iloc[[1, 4, 7], 2] = np.nan
    validation = pd.DataFrame(rng.normal(9, 1, size=(20, 5)), columns=genes)
    validation.iloc[[0, 3], 1] = np.nan
    return discovery, validation


def test_median_imputer_fills_with_discovery_medians(frames):
    discovery, validation = frames
    imputer = Imputer("median").fit(discovery)
    filled = imputer.transform(validation)
    assert filled.iloc[0, 1] == pytest.approx(discovery["g1"].median())
    assert list(filled.index) == list(validation.index)
    assert not filled.isna().any().any()


def test_zscore_uses_fitted_parameters(frames):
    discovery, validation = frames
    complete = discovery.fillna(0.0)
    normalizer = Normalizer("zscore").fit(complete)
    out = normalizer.transform(complete)
    np.testing.assert_allclose(out.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(ddof=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        normalizer.transform(validation.fillna(0.0))["g0"],
        (validation["g0"] - complete["g0"].mean()) / complete["g0"].std(ddof=1),
    )


def test_validation_values_never_change_the_fit(frames):
    discovery, validation = frames
    fitted = Preprocessor(list(discovery.columns)).fit(discovery)
    before = fitted.transform(discovery)
    _ = fitted.transform(validation * 100 - 3)  # applying to other data changes nothing fitted
    refit = Preprocessor(list(discovery.columns)).fit(discovery)
    pd.testing.assert_frame_equal(before, refit.transform(discovery))
    pd.testing.assert_series_equal(fitted.normalizer_.center_, refit.normalizer_.center_)


def test_save_load_roundtrip(frames, tmp_path):
    discovery, validation = frames
    fitted = Preprocessor(list(discovery.columns)).fit(discovery)
    fitted.save(tmp_path / "t.npz")
    loaded = Preprocessor.load(tmp_path / "t.npz")
    pd.testing.assert_frame_equal(fitted.transform(validation), loaded.transform(validation))


def test_missing_genes_are_filled_with_fitted_values(frames, caplog):
    discovery, validation = frames
    fitted = Preprocessor(list(discovery.columns)).fit(discovery)
    out = fitted.transform(validation.drop(columns=["g3"]), cohort="v")
    assert list(out.columns) == list(discovery.columns)
    assert "lacks 1 of 5 model genes" in caplog.text


def test_all_missing_gene_is_an_error(frames):
    discovery, _ = frames
    discovery["g4"] = np.nan
    with pytest.raises(InputError, match="no observed value") as info:
        Imputer().fit(discovery)
    assert "'g4'" in str(info.value)


def test_shared_genes_keeps_first_order():
    assert shared_genes({"d": ["c", "a", "b"], "v": ["a", "b", "c", "z"]}) == ["c", "a", "b"]
    with pytest.raises(InputError, match="share no gene ids"):
        shared_genes({"d": ["a"], "v": ["b"]})

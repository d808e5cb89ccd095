"""kNN imputation against a direct, slow transcription of R's impute.knn (Fortran + R)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from omicsflow.errors import InputError
from omicsflow.preprocess.knn import KNNGeneImputer, neighbour_genes


def reference_impute_knn(
    x: np.ndarray, k: int = 10, rowmax: float = 0.5, colmax: float = 0.8
) -> np.ndarray:
    """impute::impute.knn on genes × samples ``x`` (NaN = missing), without the maxp split.

    A line-by-line transcription of ``impute.knn`` → ``knnimp`` → Fortran ``knnimp``
    (``misdis``, ``porder``, ``misave``) → ``mean.miss``/``meanimp``, loops and all.
    """
    p, n = x.shape
    imiss = np.isnan(x)
    col_nas = imiss.sum(axis=0)
    if np.any(col_nas > colmax * p):
        raise ValueError("a column has more than colmax missing values")
    irmiss = imiss.sum(axis=1)
    omitted = irmiss > math.trunc(rowmax * n)
    xk = np.where(imiss, 0.0, x)[~omitted]
    mk = imiss[~omitted]
    pk = xk.shape[0]
    ximp = xk.copy()
    flag = mk.astype(int)
    m = k + 1
    for i in range(pk):
        if not mk[i].any():
            continue
        dis = np.zeros(pk)
        count = np.zeros(pk, dtype=int)
        for col in range(n):  # misdis
            if mk[i, col]:
                continue
            for j in range(pk):
                if mk[j, col]:
                    continue
                dis[j] += (xk[i, col] - xk[j, col]) ** 2
                count[j] += 1
        for j in range(pk):
            dis[j] = dis[j] / count[j] if count[j] > 0 else 1e10
        nndist: list[float] = []  # porder: insertion, strict < (ties keep the earlier gene)
        pos: list[int] = []
        for j in range(pk):
            if len(pos) < m:
                for t in range(len(pos)):
                    if dis[j] < nndist[t]:
                        nndist.insert(t, dis[j])
                        pos.insert(t, j)
                        break
                else:
                    nndist.append(dis[j])
                    pos.append(j)
            else:
                if dis[j] >= nndist[m - 1]:
                    continue
                for t in range(m):
                    if dis[j] < nndist[t]:
                        nndist.insert(t, dis[j])
                        pos.insert(t, j)
                        nndist.pop()
                        pos.pop()
                        break
        neighbours = pos[1:m]
        for col in range(n):  # misave over positions 2..k+1
            if not mk[i, col]:
                continue
            total, used = 0.0, 0
            for jj in neighbours:
                if mk[jj, col]:
                    continue
                total += xk[jj, col]
                used += 1
            if used > 0:
                ximp[i, col] = total / used
            else:
                flag[i, col] = 2
    xbar = np.zeros(n)  # mean.miss over the kept rows, original mask
    for col in range(n):
        values = [xk[j, col] for j in range(pk) if not mk[j, col]]
        xbar[col] = sum(values) / len(values)
    rows, cols = np.nonzero(flag == 2)
    ximp[rows, cols] = xbar[cols]
    out = np.zeros((p, n))
    out[~omitted] = ximp
    xomit = x[omitted].copy()
    rows, cols = np.nonzero(np.isnan(xomit))
    xomit[rows, cols] = xbar[cols]
    out[omitted] = xomit
    return out


def frame(genes_by_samples: np.ndarray) -> pd.DataFrame:
    p, n = genes_by_samples.shape
    return pd.DataFrame(
        genes_by_samples.T,
        index=[f"s{j}" for j in range(n)],
        columns=[f"g{i}" for i in range(p)],
    )


def awkward_matrix(seed: int, p: int = 60, n: int = 14, missing: float = 0.2) -> np.ndarray:
    """Correlated genes, missing cells, duplicate genes (exact ties), a gene over rowmax, two
    genes sharing no observed sample, and a gene whose neighbours all miss a sample."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(4, n))
    x = rng.normal(size=(p, 4)) @ factors + 0.5 * rng.normal(size=(p, n)) + 8.0
    x[rng.uniform(size=x.shape) < missing] = np.nan
    x[5] = x[3]  # exact duplicates: ties broken by gene index
    x[6] = x[3]
    x[7, : n // 2] = np.nan  # no sample shared with gene 8 (distance 1e10)
    x[8, n // 2 :] = np.nan
    x[8, : n // 2] = x[3, : n // 2]
    x[9, : int(0.7 * n)] = np.nan  # over rowmax: mean-filled
    x[10] = np.round(x[10], 0)  # ties by value
    x[11] = x[10]
    x[12] = np.nan
    x[12, :3] = [7.0, 8.0, 9.0]  # few observations: neighbours may all miss a sample
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_knn_matches_reference_impute_knn(seed, k):
    x = awkward_matrix(seed)
    expected = reference_impute_knn(x, k=k, rowmax=0.8)
    out = KNNGeneImputer(k=k, rowmax=0.8).fit(frame(x)).transform(frame(x))
    np.testing.assert_allclose(out.to_numpy().T, expected, rtol=0, atol=1e-10)


def heavy_missing_matrix(seed: int, n: int = 14, p: int = 60) -> np.ndarray:
    """:func:`awkward_matrix` plus genes over the default rowmax (0.5): eight genes missing
    ``floor(0.5 n) + 1`` to ``n - 1`` samples, and one at exactly ``floor(0.5 n)`` (kept)."""
    x = awkward_matrix(seed, p=p, n=n)
    clean = awkward_matrix(seed, p=p, n=n, missing=0.0)  # same values, no random holes
    rng = np.random.default_rng(100 + seed)
    limit = math.trunc(0.5 * n)
    counts = [*np.linspace(limit + 1, n - 1, 8).round().astype(int).tolist(), limit]
    for row, count in zip(range(20, 20 + len(counts)), counts, strict=True):
        x[row] = clean[row]
        x[row, rng.choice(n, size=count, replace=False)] = np.nan
    return x


@pytest.mark.parametrize(
    ("seed", "k", "n"), [(0, 1, 14), (0, 10, 14), (1, 3, 14), (2, 10, 14), (3, 3, 15), (4, 5, 25)]
)
def test_knn_matches_reference_with_default_rowmax_and_many_mean_filled_genes(seed, k, n):
    x = heavy_missing_matrix(seed, n=n)
    missing = np.isnan(x)
    over = missing.sum(axis=1) > math.trunc(0.5 * n)
    assert over[20:28].all() and not over[28] and over.sum() >= 8
    expected = reference_impute_knn(x, k=k)  # rowmax 0.5, as R's default
    imputer = KNNGeneImputer(k=k).fit(frame(x))
    np.testing.assert_array_equal(imputer.mean_filled_, over)
    out = imputer.transform(frame(x)).to_numpy().T
    np.testing.assert_array_equal(out[~missing], x[~missing])
    np.testing.assert_allclose(out[missing], expected[missing], rtol=0, atol=1e-10)
    filled = missing & over[:, None]
    assert filled.sum() >= 8 * (math.trunc(0.5 * n) + 1)
    np.testing.assert_allclose(out[filled], expected[filled], rtol=0, atol=1e-10)
    # R's sample means run over the genes below rowmax only: means over all genes would differ
    all_genes = np.broadcast_to(np.nanmean(x, axis=0), x.shape)[filled]
    assert np.abs(expected[filled] - all_genes).max() > 1e-3


@pytest.mark.parametrize("n_candidates", [4, 13])
def test_screened_search_matches_reference(n_candidates, caplog):
    """The float32 screen, the float64 rescreen and the exhaustive search all agree with R."""
    caplog.set_level("INFO", logger="omicsflow.preprocess.knn")
    rng = np.random.default_rng(5)
    x = awkward_matrix(3, p=300, n=25, missing=0.1)
    x[40:60] = x[20:40] + rng.normal(scale=1e-7, size=(20, 25))  # near-ties
    x[60:80] = x[20]  # twenty exact copies of one gene: more ties than any screen keeps
    expected = reference_impute_knn(x, k=3, rowmax=0.8)
    imputer = KNNGeneImputer(k=3, rowmax=0.8, n_candidates=n_candidates).fit(frame(x))
    np.testing.assert_allclose(
        imputer.transform(frame(x)).to_numpy().T, expected, rtol=0, atol=1e-10
    )
    found = re.findall(r"(\d+) of 299 genes rescreened in float64, (\d+) searched", caplog.text)
    rescreened, exhaustive = (int(value) for value in found[0])
    assert rescreened >= 21  # the copies tie beyond any float32 screen
    assert (exhaustive >= 21) if n_candidates == 4 else (exhaustive == 0)  # 21 ties > 4 × 4


def test_neighbour_lists_are_identical_with_and_without_screen():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(400, 30)) + rng.normal(size=(400, 1))
    x[rng.uniform(size=x.shape) < 0.1] = np.nan
    exact = neighbour_genes(x, 10, n_candidates=400)
    screened = neighbour_genes(x, 10, block_size=64)
    np.testing.assert_array_equal(exact, screened)


def test_rowmax_genes_get_sample_means_and_colmax_is_an_error():
    x = awkward_matrix(4)
    imputer = KNNGeneImputer(k=5, rowmax=0.5).fit(frame(x))
    assert imputer.mean_filled_[9] and imputer.mean_filled_[12]
    assert (imputer.neighbors_[9] == -1).all()
    bad = x.copy()
    bad[:, 2] = np.nan
    bad[:5, 2] = 1.0
    with pytest.raises(InputError, match="colmax") as info:
        KNNGeneImputer(colmax=0.8).fit(frame(bad))
    assert "'s2'" in str(info.value) and "91.7% missing" in str(info.value)


def test_validation_cohort_uses_discovery_neighbours():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(30, 1)) * np.ones((30, 20)) + rng.normal(scale=0.1, size=(30, 20))
    discovery = frame(base)
    imputer = KNNGeneImputer(k=2).fit(discovery)
    validation = frame(rng.normal(size=(30, 6)))
    validation.iloc[0, 4] = np.nan
    out = imputer.transform(validation)
    donors = validation.iloc[0, imputer.neighbors_[4]]
    assert out.iloc[0, 4] == pytest.approx(donors.mean())
    pd.testing.assert_frame_equal(out.drop(columns="g4"), validation.drop(columns="g4"))

"""Imputers on data with known truth, the auto benchmark, the pipeline, saving, and errors."""

from __future__ import annotations

import io
import json
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsflow import toy_defects as td
from omicsflow.cohort import load_cohort, read_cohort_sheet
from omicsflow.errors import InputError
from omicsflow.preprocess import (
    Imputer,
    Normalizer,
    Preprocessor,
    benchmark_imputers,
    choose_method,
    gene_table,
    log2_plus_one,
    preprocess_cohort,
    read_transform_header,
    shared_genes,
    wants_log2,
)
from omicsflow.preprocess.align import alignment_table, check_absent_genes, model_gene_table
from omicsflow.preprocess.impute import hide_observed
from omicsflow.preprocess.pipeline import fit_preprocessor, imputer_options
from omicsflow.quality import apply_gate, score_cohort
from omicsflow.toy import ToyDesign, make_toy_cohorts

FAST_ITERATIVE = {"max_iter": 3}


def planted(
    n: int = 80, p: int = 120, modules: int = 6, missing: float = 0.08, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genes in modules (module level + module factor + small noise): (with holes, truth)."""
    rng = np.random.default_rng(seed)
    module = np.arange(p) % modules
    level = rng.uniform(5.0, 10.0, modules)
    factors = rng.normal(size=(n, modules))
    truth = level[module] + factors[:, module] + 0.2 * rng.normal(size=(n, p))
    holes = truth.copy()
    holes[rng.uniform(size=truth.shape) < missing] = np.nan
    columns = [f"g{i:03d}" for i in range(p)]
    index = [f"s{j:03d}" for j in range(n)]
    return (
        pd.DataFrame(holes, index=index, columns=columns),
        pd.DataFrame(truth, index=index, columns=columns),
    )


def nrmse(imputed: pd.DataFrame, truth: pd.DataFrame, holes: pd.DataFrame) -> float:
    """RMSE on the missing cells, each error divided by its gene's SD (observed cells)."""
    mask = holes.isna().to_numpy()
    scale = np.broadcast_to(holes.std(axis=0, ddof=1).to_numpy(), mask.shape)[mask]
    error = (imputed.to_numpy()[mask] - truth.to_numpy()[mask]) / scale
    return float(np.sqrt(np.mean(error**2)))


# ---------------------------------------------------------------- imputers against the truth


@pytest.mark.parametrize(
    ("method", "low", "high"),
    [("mean", 0.9, 1.1), ("median", 0.9, 1.15), ("knn", 0.0, 0.3), ("iterative", 0.0, 0.3)],
)
def test_imputer_nrmse_on_planted_modules(method, low, high):
    holes, truth = planted()
    imputed = Imputer(method, **FAST_ITERATIVE).fit(holes).transform(holes)
    assert list(imputed.index) == list(holes.index)
    assert list(imputed.columns) == list(holes.columns)
    observed = holes.notna().to_numpy()
    np.testing.assert_array_equal(imputed.to_numpy()[observed], holes.to_numpy()[observed])
    assert low <= nrmse(imputed, truth, holes) <= high


def test_imputer_nrmse_on_toy_cohort_with_known_truth():
    """The project's toy generator without holes, then 5% hidden: every method vs the truth."""
    design = ToyDesign(n_genes=300, n_discovery=150, missing_rate=0.0, n_modules=8)
    cohorts, _ = make_toy_cohorts(design, seed=3)
    truth = cohorts["discovery"][0].T  # samples × genes, complete
    rng = np.random.default_rng(9)
    holes = truth.mask(rng.uniform(size=truth.shape) < 0.05)
    scores = {
        method: nrmse(Imputer(method, **FAST_ITERATIVE).fit(holes).transform(holes), truth, holes)
        for method in ("mean", "median", "knn", "iterative")
    }
    assert 0.95 < scores["mean"] < 1.05 and 0.95 < scores["median"] < 1.1
    # module genes share a factor: chained equations on correlated genes recover part of it;
    # impute.knn's raw distances mostly pick genes of similar level, so it gains less
    assert scores["iterative"] < 0.9 * scores["mean"]
    assert scores["knn"] < scores["mean"]


def test_mean_and_median_fill_with_fitted_values():
    holes, _ = planted()
    validation = holes.iloc[:10].copy() + 50.0
    validation.iloc[0, 3] = np.nan
    for method, reducer in (("mean", np.nanmean), ("median", np.nanmedian)):
        filled = Imputer(method).fit(holes).transform(validation)
        assert filled.iloc[0, 3] == pytest.approx(reducer(holes.iloc[:, 3]))


def test_imputer_keeps_column_order_of_the_input():
    holes, _ = planted(p=30)
    imputer = Imputer("knn", k=3).fit(holes)
    shuffled = holes[holes.columns[::-1]]
    out = imputer.transform(shuffled)
    assert list(out.columns) == list(shuffled.columns)
    pd.testing.assert_frame_equal(out[holes.columns], imputer.transform(holes))


# ---------------------------------------------------------------- auto


def test_hide_observed_is_seeded_and_keeps_every_gene():
    holes, _ = planted()
    observed = holes.notna().to_numpy()
    first = hide_observed(observed, 0.1, seed=3)
    np.testing.assert_array_equal(first, hide_observed(observed, 0.1, seed=3))
    assert not np.array_equal(first, hide_observed(observed, 0.1, seed=4))
    assert not (first & ~observed).any()
    assert first.sum() == pytest.approx(0.1 * observed.sum(), abs=1)
    assert ((observed & ~first).sum(axis=0) >= 2).all()


def test_benchmark_scores_each_candidate_and_auto_fits_the_winner():
    holes, _ = planted()
    table = benchmark_imputers(holes, mask_share=0.1, seed=7, options=FAST_ITERATIVE)
    assert list(table["method"]) == ["mean", "median", "knn", "iterative"]
    assert list(table.columns) == ["method", "nrmse", "seconds", "n_hidden"]
    # the mean's NRMSE, computed independently from the hidden cells
    hidden = hide_observed(holes.notna().to_numpy(), 0.1, seed=7)
    masked = holes.mask(hidden)
    error = (masked.mean().to_numpy() - holes.to_numpy()) / masked.std(ddof=1).to_numpy()
    assert table.loc[0, "nrmse"] == pytest.approx(np.sqrt(np.mean(error[hidden] ** 2)), rel=1e-12)
    best = table.loc[table["nrmse"].idxmin(), "method"]
    assert best in ("knn", "iterative") and choose_method(table) == best
    again = benchmark_imputers(holes, mask_share=0.1, seed=7, options=FAST_ITERATIVE)
    pd.testing.assert_series_equal(table["nrmse"], again["nrmse"])
    auto = Imputer("auto", mask_share=0.1, random_state=7, **FAST_ITERATIVE).fit(holes)
    assert auto.method_ == best
    pd.testing.assert_frame_equal(
        auto.transform(holes), Imputer(best, **FAST_ITERATIVE).fit(holes).transform(holes)
    )


def test_benchmark_records_a_failing_candidate_and_choose_method_needs_one(caplog):
    holes, _ = planted(p=40)  # 8% missing: above a 5% colmax, so knn refuses the samples
    table = benchmark_imputers(holes, ["mean", "knn"], seed=1, options={"colmax": 0.05})
    assert np.isfinite(table.loc[0, "nrmse"]) and np.isnan(table.loc[1, "nrmse"])
    assert "knn failed on the masked cohort" in caplog.text
    assert choose_method(table) == "mean"
    with pytest.raises(InputError, match="no imputation method succeeded"):
        choose_method(table.assign(nrmse=np.nan))
    with pytest.raises(InputError, match="unknown imputation candidates"):
        benchmark_imputers(holes, ["knn", "missforest"])


# ---------------------------------------------------------------- normalisers


def test_quantile_normalisation_hand_computed_with_ties():
    # samples × genes; as genes × samples this is the classic example (columns = samples):
    #   A 5 4 3 / B 2 1 4 / C 3 4 6 / D 4 2 8. Sample 2 has a tie (A and C are both 4).
    X = pd.DataFrame(
        [[5.0, 2.0, 3.0, 4.0], [4.0, 1.0, 4.0, 2.0], [3.0, 4.0, 6.0, 8.0]],
        index=["s1", "s2", "s3"],
        columns=["A", "B", "C", "D"],
    )
    # sorted samples (2 3 4 5), (1 2 4 4), (3 4 6 8) → rank means 2, 3, 14/3, 17/3
    # sample 2: A and C share ranks 3 and 4 → average rank 3.5 → (14/3 + 17/3) / 2 = 31/6
    expected = np.array(
        [[17 / 3, 2.0, 3.0, 14 / 3], [31 / 6, 2.0, 31 / 6, 3.0], [2.0, 3.0, 14 / 3, 17 / 3]]
    )
    normalizer = Normalizer("quantile").fit(X)
    np.testing.assert_allclose(normalizer.target_, [2.0, 3.0, 14 / 3, 17 / 3], rtol=1e-15)
    np.testing.assert_allclose(normalizer.transform(X).to_numpy(), expected, rtol=1e-15)


def test_quantile_maps_a_new_cohort_onto_the_discovery_target():
    _, truth = planted()
    normalizer = Normalizer("quantile").fit(truth)
    rng = np.random.default_rng(1)
    other = pd.DataFrame(rng.normal(50, 9, size=(5, truth.shape[1])), columns=truth.columns)
    out = normalizer.transform(other).to_numpy()
    for row in out:
        np.testing.assert_allclose(np.sort(row), normalizer.target_, rtol=1e-14)
    np.testing.assert_array_equal(np.argsort(out, axis=1), np.argsort(other.to_numpy(), axis=1))


def test_rank_transform_is_per_gene_percentile_within_the_cohort():
    X = pd.DataFrame({"a": [3.0, 1.0, 3.0, 2.0], "b": [10.0, 40.0, 30.0, 20.0]})
    out = Normalizer("rank").fit(X).transform(X)
    # a: average ranks 3.5, 1, 3.5, 2 → (r - 0.5) / 4
    np.testing.assert_allclose(out["a"], [0.75, 0.125, 0.75, 0.375])
    np.testing.assert_allclose(out["b"], [0.125, 0.875, 0.625, 0.375])
    platform = Normalizer("rank").fit(X).transform(0.5 * X + 6.0)  # monotone platform change
    pd.testing.assert_frame_equal(platform, out)


def test_zscore_uses_fitted_parameters():
    _, truth = planted()
    normalizer = Normalizer("zscore").fit(truth)
    out = normalizer.transform(truth)
    np.testing.assert_allclose(out.mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(ddof=1), 1.0, atol=1e-12)
    shifted = truth.iloc[:10] * 3 + 1
    np.testing.assert_allclose(
        normalizer.transform(shifted)["g005"],
        (shifted["g005"] - truth["g005"].mean()) / truth["g005"].std(ddof=1),
    )


def test_normaliser_needs_complete_data():
    holes, _ = planted()
    with pytest.raises(InputError, match="needs complete data"):
        Normalizer("zscore").fit(holes)
    with pytest.raises(InputError, match="unknown normalisation method"):
        Normalizer("vsn").fit(holes.fillna(0.0))


# ---------------------------------------------------------------- fitted once, no leakage


def _saved_bytes(preprocessor: Preprocessor) -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        **{name: array for name, array in preprocessor.imputer_.state().items()},
        **{f"n_{name}": array for name, array in preprocessor.normalizer_.state().items()},
    )
    return buffer.getvalue()


@pytest.mark.parametrize("impute", ["median", "knn", "iterative"])
@pytest.mark.parametrize("normalize", ["zscore", "quantile", "rank"])
def test_validation_values_never_change_the_fit(impute, normalize, tmp_path):
    discovery, _ = planted(seed=1)
    validation, _ = planted(n=30, seed=2)
    fitted = Preprocessor(
        list(discovery.columns), impute=impute, normalize=normalize, impute_options=FAST_ITERATIVE
    ).fit(discovery, cohort="disc")
    before = _saved_bytes(fitted)
    fitted.save(tmp_path / "a.npz")
    first = fitted.transform(validation, cohort="val")
    changed = validation * 100 - 3
    changed.iloc[:, :5] = np.nan
    second = fitted.transform(changed, cohort="val")
    assert _saved_bytes(fitted) == before  # applying changes nothing fitted
    fitted.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert not np.allclose(first.to_numpy(), second.to_numpy())
    refit = Preprocessor(
        list(discovery.columns), impute=impute, normalize=normalize, impute_options=FAST_ITERATIVE
    ).fit(discovery, cohort="disc")
    assert _saved_bytes(refit) == before  # deterministic
    loaded = Preprocessor.load(tmp_path / "a.npz")
    pd.testing.assert_frame_equal(loaded.transform(validation, cohort="val"), first)


def _cohort(frame: pd.DataFrame, cohort: str, role: str) -> ad.AnnData:
    adata = ad.AnnData(
        X=frame.to_numpy(dtype=np.float32),
        obs=pd.DataFrame(index=frame.index.astype(str)),
        var=pd.DataFrame(index=frame.columns),
    )
    adata.uns["cohort"] = {"id": cohort, "role": role}
    return adata


def test_preprocess_cohort_roles_and_provenance(caplog):
    caplog.set_level(logging.INFO)
    discovery, _ = planted(seed=1)
    source, _ = planted(n=40, seed=3)
    validation, _ = planted(n=30, seed=2)
    validation = validation.drop(columns=["g010", "g011"]) * 0.5 + 6.0
    fitted = Preprocessor(list(discovery.columns)).fit(discovery, cohort="disc")
    out = preprocess_cohort(_cohort(validation, "val", "validation"), fitted, role="validation")
    assert out.X.dtype == np.float32 and not np.isnan(out.X).any()
    assert list(out.var_names) == list(discovery.columns)
    info = out.uns["preprocess"]
    assert info["fitted_on"] == "disc" and not info["fitted_on_own_values"]
    assert info["n_genes_absent"] == 2 and list(info["genes_absent"]) == ["g010", "g011"]
    assert info["n_values_imputed"] == int(validation.isna().sum().sum()) + 2 * 30
    assert float(out.X.mean()) > 1.0  # another scale (0.5 x + 6), not re-centred on itself
    own = preprocess_cohort(_cohort(source, "src", "source"), fitted, role="source")
    assert own.uns["preprocess"]["fitted_on"] == "src"
    np.testing.assert_allclose(own.X.mean(axis=0), 0.0, atol=1e-5)
    assert "lacks 2 of 120 model genes" in caplog.text


def test_source_and_discovery_fits_are_independent():
    discovery, _ = planted(seed=1)
    fitted = Preprocessor(list(discovery.columns), impute="knn").fit(discovery, cohort="disc")
    before = _saved_bytes(fitted)
    source, _ = planted(n=40, seed=3)
    preprocess_cohort(_cohort(source, "src", "source"), fitted, role="source")
    assert _saved_bytes(fitted) == before


def test_log2_is_applied_before_imputation():
    discovery, _ = planted(seed=1)
    counts = np.round(2.0**discovery - 1.0)
    fitted = Preprocessor(list(discovery.columns), normalize="none").fit(
        np.log2(counts + 1.0), cohort="disc"
    )
    out = preprocess_cohort(
        _cohort(counts, "disc", "discovery"), fitted, role="discovery", log2=True
    )
    assert out.uns["preprocess"]["log2"] is True
    np.testing.assert_allclose(out.X, fitted.transform(np.log2(counts + 1.0)), rtol=1e-6)


def test_wants_log2_follows_the_setting_and_the_qc_verdict():
    unlogged, logged = {"needs_log_transform": True}, {"needs_log_transform": False}
    assert wants_log2("auto", unlogged) is True
    assert wants_log2("auto", logged) is False
    assert wants_log2("auto", None) is False and wants_log2("auto", {}) is False
    assert wants_log2("always", logged) is True and wants_log2("always", None) is True
    assert wants_log2("never", unlogged) is False
    with pytest.raises(InputError, match="unknown log_transform setting") as info:
        wants_log2("yes", unlogged)
    assert "'yes'" in str(info.value) and "preprocess.log_transform" in str(info.value)


def test_log2_plus_one_values_and_negative_values_are_an_error():
    counts = pd.DataFrame({"a": [0.0, 1.0, np.nan], "b": [3.0, 1023.0, 7.0]}, index=["x", "y", "z"])
    out = log2_plus_one(counts, cohort="c")
    expected = pd.DataFrame({"a": [0.0, 1.0, np.nan], "b": [2.0, 10.0, 3.0]}, index=counts.index)
    pd.testing.assert_frame_equal(out, expected, rtol=0, atol=1e-15)
    logged = counts.copy()
    logged.loc["y", "b"] = -2.5
    logged.loc["z", "b"] = -0.5
    with pytest.raises(InputError, match=r"log2\(x \+ 1\) needs non-negative values") as info:
        log2_plus_one(logged, cohort="c")
    message = str(info.value)
    assert "cohort: c" in message and "'b'" in message and "'a'" not in message
    assert "2 negative values (minimum -2.5)" in message
    assert "set preprocess.log_transform to never" in message


def _log_mean_zscore(
    adata: ad.AnnData, genes: list[str], mean: np.ndarray, centre: np.ndarray, sd: np.ndarray
) -> np.ndarray:
    """log2(x + 1), missing cells (and absent genes) set to ``mean``, then z-scored."""
    values = pd.DataFrame(
        np.asarray(adata.X, dtype=np.float64), columns=adata.var_names.astype(str)
    ).reindex(columns=genes)
    logged = np.log2(values.to_numpy() + 1.0)
    filled = np.where(np.isnan(logged), mean, logged)
    return (filled - centre) / sd


def test_unlogged_toy_cohort_is_logged_then_imputed_then_normalised(toy_dir):
    """Raw counts: QC says un-logged → wants_log2 → log2(x + 1) → mean fill → z-score."""
    sheet = read_cohort_sheet(toy_dir / "cohorts.tsv")
    gated = {}
    for name in ("discovery", "validation_a"):
        counts = td.plant_unlogged(load_cohort(sheet[name])).adata
        quality = score_cohort(counts, seed=1).to_dict()
        assert quality["needs_log_transform"] is True and quality["verdict"] != "fail"
        gated[name] = (apply_gate(counts, quality), quality)
    discovery, quality = gated["discovery"]
    assert np.nanmax(discovery.X) > 1000 and np.isnan(discovery.X).any()
    options = {"log_transform": "auto", "impute": "mean", "normalize": "zscore"}
    genes = list(discovery.var_names.astype(str))
    fitted, extra = fit_preprocessor(
        discovery, gene_lists={"discovery": genes}, options=options, seed=1, quality=quality
    )
    assert extra["log2"] is True
    # the discovery reference, computed independently
    logged = np.log2(np.asarray(discovery.X, dtype=np.float64) + 1.0)
    mean = np.nanmean(logged, axis=0)
    filled = np.where(np.isnan(logged), mean, logged)
    centre, sd = filled.mean(axis=0), filled.std(axis=0, ddof=1)
    for name, (adata, cohort_quality) in gated.items():
        out = preprocess_cohort(
            adata,
            fitted,
            role=adata.uns["cohort"]["role"],
            log2=wants_log2(options["log_transform"], cohort_quality),
        )
        assert out.uns["preprocess"]["log2"] is True, name
        expected = _log_mean_zscore(adata, genes, mean, centre, sd)
        np.testing.assert_allclose(out.X, expected, rtol=1e-5, atol=1e-5, err_msg=name)
    # without the log, the same fit gives something else entirely
    unlogged = preprocess_cohort(discovery, fitted, role="discovery", log2=False)
    assert np.abs(unlogged.X - (filled - centre) / sd).max() > 10


def test_fit_preprocessor_from_config_and_header(tmp_path):
    discovery, _ = planted(seed=1)
    options = {
        "log_transform": "auto",
        "impute": "auto",
        "knn": {"k": 5, "rowmax": 0.5, "colmax": 0.8},
        "iterative": {"max_iter": 2, "tol": 0.001, "n_nearest_features": 4},
        "auto": {"candidates": ["mean", "knn"], "mask_share": 0.05},
        "normalize": "zscore",
    }
    assert imputer_options(options, 11)["random_state"] == 11
    adata = _cohort(discovery, "disc", "discovery")
    table = benchmark_imputers(discovery, ["mean", "knn"], seed=11, options={"k": 5})
    fitted, extra = fit_preprocessor(
        adata,
        gene_lists={"disc": list(discovery.columns), "src": list(discovery.columns[5:])},
        options=options,
        seed=11,
        quality={"needs_log_transform": False},
        benchmark=table,
    )
    assert fitted.genes == list(discovery.columns[5:])
    assert fitted.imputer_.method_ == "knn" and fitted.imputer_.k == 5
    fitted.save(tmp_path / "t.npz", extra=extra)
    header = read_transform_header(tmp_path / "t.npz")
    assert header["impute"] == "auto" and header["impute_method"] == "knn"
    assert header["log2"] is False and header["fitted_on"] == "disc"
    assert [row["method"] for row in header["benchmark"]] == ["mean", "knn"]
    loaded = Preprocessor.load(tmp_path / "t.npz")
    pd.testing.assert_frame_equal(loaded.transform(discovery), fitted.transform(discovery))
    with np.load(tmp_path / "t.npz", allow_pickle=False) as data:
        assert sorted(data.files) == [
            "header",
            "impute.mean_filled",
            "impute.neighbors",
            "normalize.center",
            "normalize.scale",
        ]
        assert json.loads(str(data["header"]))["seed"] == 11


# ---------------------------------------------------------------- genes


def test_shared_genes_keeps_first_order():
    assert shared_genes({"d": ["c", "a", "b"], "v": ["a", "b", "c", "z"]}) == ["c", "a", "b"]
    with pytest.raises(InputError, match="share no gene ids"):
        shared_genes({"d": ["a"], "v": ["b"]})


def test_gene_table_counts_kept_dropped_and_absent():
    discovery = pd.DataFrame(np.ones((3, 4)), columns=["a", "b", "c", "d"])
    other = pd.DataFrame(np.ones((3, 4)), columns=["b", "c", "x", "y"])
    other["c"] = np.nan  # present id, nothing measured: absent too
    table = alignment_table(
        [_cohort(discovery, "disc", "discovery"), _cohort(other, "val", "validation")],
        ["a", "b", "c", "d"],
    )
    row = table.set_index("cohort").loc["val"]
    assert (row["n_genes"], row["n_kept"], row["n_dropped"], row["n_absent"]) == (4, 1, 2, 3)
    assert row["share_absent"] == pytest.approx(0.75) and row["role"] == "validation"
    plain = gene_table({"v": ["b", "z"]}, ["a", "b"])
    assert plain.loc[0, "n_absent"] == 1 and "role" not in plain


def test_model_gene_table_lists_each_model_gene_and_the_cohorts_lacking_it(tmp_path):
    discovery = pd.DataFrame(np.ones((3, 5)), columns=["d", "a", "b", "c", "e"])
    source = pd.DataFrame(np.ones((2, 4)), columns=["a", "b", "c", "d"])
    other = pd.DataFrame(np.ones((3, 4)), columns=["b", "c", "x", "y"])
    other["c"] = np.nan  # present id, nothing measured: absent too
    cohorts = [
        _cohort(source, "src", "source"),
        _cohort(discovery, "disc", "discovery"),
        _cohort(other, "val", "validation"),
    ]
    genes = shared_genes({"disc": list(discovery.columns), "src": list(source.columns)})
    table = model_gene_table(cohorts, genes)
    assert list(table.columns) == ["gene", "n_cohorts_absent", "in_src", "in_disc", "in_val"]
    assert list(table["gene"]) == ["d", "a", "b", "c"]  # model order, "e" not kept
    assert table["in_src"].all() and table["in_disc"].all()
    assert list(table["in_val"]) == [False, False, True, False]
    assert list(table["n_cohorts_absent"]) == [1, 1, 0, 1]
    # agrees with the per-cohort counts of genes.tsv
    counts = alignment_table(cohorts, genes).set_index("cohort")
    for cohort in ("src", "disc", "val"):
        assert table[f"in_{cohort}"].sum() == counts.loc[cohort, "n_kept"]
        assert (~table[f"in_{cohort}"]).sum() == counts.loc[cohort, "n_absent"]
    table.to_csv(tmp_path / "model_genes.tsv", sep="\t", index=False)
    back = pd.read_csv(tmp_path / "model_genes.tsv", sep="\t")
    pd.testing.assert_frame_equal(back, table)


def test_absent_genes_warn_or_stop(caplog):
    caplog.set_level(logging.INFO)
    check_absent_genes(["a"], 10, cohort="v", max_share=0.2, action="error")
    assert "lacks 1 of 10 model genes" in caplog.text
    check_absent_genes(["a", "b", "c"], 10, cohort="v", max_share=0.2, action="warn")
    assert any(r.levelname == "WARNING" and "3 of 10" in r.message for r in caplog.records)
    with pytest.raises(InputError, match="lacks too many of the model's genes") as info:
        check_absent_genes(["a", "b", "c"], 10, cohort="v", max_share=0.2, action="error")
    assert "30.0%" in str(info.value) and "cohort: v" in str(info.value)


def _lacking_validation(n_absent_ids: int, n_unmeasured: int) -> tuple[Preprocessor, ad.AnnData]:
    """A discovery fit on 120 genes and a validation cohort lacking some of them: ids dropped
    (the first ``n_absent_ids``), or present with no measured value (the next ``n_unmeasured``)."""
    discovery, _ = planted(seed=1)
    validation, _ = planted(n=30, seed=2)
    genes = list(discovery.columns)
    validation = validation.drop(columns=genes[:n_absent_ids])
    validation[genes[n_absent_ids : n_absent_ids + n_unmeasured]] = np.nan
    fitted = Preprocessor(genes, impute="mean").fit(discovery, cohort="disc")
    return fitted, _cohort(validation, "val_b", "validation")


def test_validation_lacking_too_many_model_genes_stops_preprocessing():
    fitted, validation = _lacking_validation(25, 5)  # 30 of 120 = 25% > 20%
    with pytest.raises(InputError, match="lacks too many of the model's genes") as info:
        preprocess_cohort(
            validation, fitted, role="validation", max_absent_share=0.2, absent_action="error"
        )
    message = str(info.value)
    assert "cohort: val_b" in message
    assert "30 of 120 model genes absent (25.0%)" in message
    assert "at most 20% absent (preprocess.absent_genes.max_share)" in message
    assert "fix: map gene ids to the discovery cohort's identifiers" in message
    # the same cohort under a looser limit goes through, its absent genes imputed
    out = preprocess_cohort(
        validation, fitted, role="validation", max_absent_share=0.3, absent_action="error"
    )
    assert out.uns["preprocess"]["n_genes_absent"] == 30


def test_validation_lacking_too_many_model_genes_warns_with_the_count(caplog):
    fitted, validation = _lacking_validation(25, 5)
    with caplog.at_level("WARNING", logger="omicsflow.preprocess.align"):
        out = preprocess_cohort(
            validation, fitted, role="validation", max_absent_share=0.2, absent_action="warn"
        )
    (record,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert record.getMessage().startswith("cohort val_b lacks 30 of 120 model genes (25.0%)")
    assert record.getMessage().endswith("more than the 20% allowed")
    info = out.uns["preprocess"]
    assert info["n_genes_absent"] == 30 and list(info["genes_absent"]) == fitted.genes[:30]
    # absent genes get the discovery fit's fill (the discovery mean), then its z-score: 0
    absent = np.isin(out.var_names, fitted.genes[:30])
    np.testing.assert_allclose(out.X[:, absent], 0.0, atol=1e-5)
    caplog.clear()
    fitted, validation = _lacking_validation(20, 4)  # 24 of 120 = 20%: at the limit, no warning
    with caplog.at_level("WARNING", logger="omicsflow.preprocess.align"):
        preprocess_cohort(
            validation, fitted, role="validation", max_absent_share=0.2, absent_action="error"
        )
    assert caplog.records == []


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("method", ["mean", "median", "knn", "iterative", "auto"])
def test_all_missing_gene_or_sample_is_an_error(method):
    holes, _ = planted(p=30)
    gene = holes.copy()
    gene["g004"] = np.nan
    with pytest.raises(InputError, match="genes with no observed value") as info:
        Imputer(method, candidates=["mean"]).fit(gene, cohort="disc")
    assert "'g004'" in str(info.value) and "cohort: disc" in str(info.value)
    sample = holes.copy()
    sample.loc["s007"] = np.nan
    with pytest.raises(InputError, match="samples with no observed value") as info:
        Imputer(method, candidates=["mean"]).fit(sample)
    assert "'s007'" in str(info.value)
    fitted = Imputer(method, candidates=["mean"], **FAST_ITERATIVE).fit(holes)
    with pytest.raises(InputError, match="samples with no observed value"):
        fitted.transform(sample)


def test_bad_input_errors():
    holes, _ = planted(p=30)
    with pytest.raises(InputError, match="unknown imputation method"):
        Imputer("missforest").fit(holes)
    with pytest.raises(InputError, match="expects a samples × genes pandas DataFrame"):
        Imputer("mean").fit(holes.to_numpy())
    fitted = Imputer("mean").fit(holes)
    with pytest.raises(InputError, match="other genes than it was fitted on"):
        fitted.transform(holes.drop(columns="g001"))
    infinite = holes.copy()
    infinite.iloc[2, 2] = np.inf
    with pytest.raises(InputError, match="infinite expression values"):
        Imputer("knn").fit(infinite)
    with pytest.raises(InputError, match="must have every model gene"):
        Preprocessor([*holes.columns, "extra"]).fit(holes)


def test_loading_something_else_is_an_error(tmp_path):
    np.savez(tmp_path / "other.npz", header=np.array(json.dumps({"format": "x"})))
    with pytest.raises(InputError, match="not a preprocessing state"):
        Preprocessor.load(tmp_path / "other.npz")

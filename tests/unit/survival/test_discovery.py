"""The workflow steps of biomarker discovery on a small AnnData (scan, lock, null controls)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsflow.survival.discovery import (
    discover_cutpoints,
    discovery_data,
    lock_discovery_signature,
    null_controls,
)

OPTIONS = {
    "min_prop": 0.1,
    "max_prop": 0.9,
    "permutations": 500,
    "max_tie_patterns": 100,
    "bootstrap": 8,
    "signature_size": 2,
    "max_q": 1.0,
    "min_selection_frequency": 0.1,
    "scoring": "count",
    "risk_groups": [1, 2],
    "penalizer": 0.1,
    "reference": {"column": "", "value": "normal", "n_sd": 2.0},
    "null_control": {"outcome_permutations": 3, "random_signatures": 20},
}


@pytest.fixture
def adata():
    rng = np.random.default_rng(9)
    n = 100
    x = rng.normal(size=(n, 10)).astype(np.float32)
    time = np.round(rng.exponential(1 / np.exp(1.4 * (x[:, 0] > 0))), 2)
    obs = pd.DataFrame(
        {
            "time": time,
            "event": (rng.uniform(size=n) < 0.8).astype(int),
            "tissue": np.where(np.arange(n) < 20, "normal", "tumour"),
        },
        index=[f"s{i}" for i in range(n)],
    )
    return ad.AnnData(
        X=x, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(10)]), uns={"cohort": {}}
    )


def test_scan_lock_and_controls(adata):
    discovery = discover_cutpoints(adata, OPTIONS, seed=4)
    assert discovery.table["gene"].iloc[0] == "g0"
    assert discovery.table["selection_frequency"].notna().all()
    assert set(discovery.picks["resample"]) <= set(range(8))
    stability = discovery.stability
    assert stability["gene"].tolist() == discovery.table["gene"].tolist()
    np.testing.assert_array_equal(
        stability["selection_frequency"], discovery.table["selection_frequency"]
    )
    assert (stability["percentile_ci_low"] <= stability["percentile_ci_high"]).all()
    signature = lock_discovery_signature(adata, discovery.table, discovery.picks, OPTIONS, seed=4)
    assert signature.gene_ids[0] == "g0"
    performance = signature.performance
    assert performance["c_index_corrected"] == pytest.approx(
        performance["c_index_apparent"] - performance["c_index_optimism"]
    )
    control = null_controls(adata, discovery.table, signature, OPTIONS, seed=4)
    assert set(control) == {"type_one_error", "random_signatures"}
    assert control["random_signatures"]["signature_size"] == 2


def test_reference_mode(adata, caplog):
    options = {**OPTIONS, "reference": {"column": "tissue", "value": "normal", "n_sd": 1.0}}
    data = discovery_data(adata, options)
    assert len(data.expression) == 80 and len(data.reference) == 20
    assert "20 reference samples" in caplog.text
    discovery = discover_cutpoints(adata, options, seed=1)
    normal = adata.X[:20].astype(np.float64)
    cut = pd.Series(normal.mean(axis=0) + normal.std(axis=0, ddof=1), index=adata.var_names)
    table = discovery.table.set_index("gene")
    np.testing.assert_allclose(table.loc[cut.index, "cutpoint"], cut, rtol=1e-12)
    assert table["p_lau92"].isna().all()
    with pytest.raises(ValueError, match="reference column is not in"):
        discovery_data(adata, {**OPTIONS, "reference": {"column": "site", "value": "x"}})

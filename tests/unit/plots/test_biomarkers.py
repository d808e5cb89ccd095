"""Biomarker figures: written, readable, and drawn from the right numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

from omicsflow.plots.biomarkers import (
    _critical_value,
    km_top_genes,
    null_control_plot,
    stability_plot,
    statistic_profiles,
    volcano_plot,
)
from omicsflow.survival.bootstrap import bootstrap_stability
from omicsflow.survival.cutpoint import p_lausen94, scan_cutpoints
from omicsflow.survival.nullcontrol import random_signature_null, type_one_self_test
from omicsflow.survival.signature import lock_signature


@pytest.fixture(scope="module")
def discovery():
    rng = np.random.default_rng(5)
    n = 120
    x = pd.DataFrame(rng.normal(size=(n, 20)), columns=[f"g{i}" for i in range(20)])
    time = np.round(rng.exponential(1 / np.exp(1.3 * (x["g0"] > 0.2))), 2)
    event = (rng.uniform(size=n) < 0.8).astype(int)
    stability = bootstrap_stability(x, time, event, n_resamples=10, seed=1)
    table = scan_cutpoints(x, time, event, permutations=200, stability=stability)
    return x, time, event, table


def test_critical_value_is_the_5_percent_point():
    t = np.full(50, 0.1)
    critical = _critical_value(float(t.sum()), float((t**3).sum()))
    assert p_lausen94(np.array([critical]), np.array([t.sum()]), np.array([(t**3).sum()]))[
        0
    ] == pytest.approx(0.05, abs=1e-10)
    assert critical > 1.96


def test_figures_are_written(discovery, tmp_path):
    x, time, event, table = discovery
    written = km_top_genes(tmp_path / "km", table, x, time, event, top=3)
    assert [path.name for path in written] == [
        f"km_{rank}_{gene}.png" for rank, gene in enumerate(table["gene"].head(3), start=1)
    ]
    signature = lock_signature(table, x, size=2)
    statistic_profiles(tmp_path / "profiles.png", table, x, time, event)
    volcano_plot(tmp_path / "volcano.png", table, signature_genes=signature.gene_ids)
    stability_plot(tmp_path / "stability.png", table, x, signature_genes=signature.gene_ids)
    control = {
        "type_one_error": type_one_self_test(x, time, event, n_replicates=2, permutations=100),
        "random_signatures": random_signature_null(
            table, x, time, event, signature, n_signatures=20
        ),
    }
    null_control_plot(tmp_path / "null.png", control)
    for path in [*written, *(tmp_path / name for name in ("profiles.png", "volcano.png"))]:
        assert path.stat().st_size > 10_000
        assert image.imread(path).shape[2] in (3, 4)
    for name in ("stability.png", "null.png"):
        assert image.imread(tmp_path / name).shape[1] > 800

"""Biomarker figures: written, readable, and drawn from the right numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib import image
from scipy import stats

from omicsflow.io import write_tsv
from omicsflow.plots.biomarkers import (
    _critical_value,
    km_top_genes,
    null_control_plot,
    stability_plot,
    statistic_profile_figure,
    statistic_profiles,
    volcano_figure,
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


def _as_written(table: pd.DataFrame, tmp_path) -> pd.DataFrame:
    """The table as the plotting rule sees it: ``cutpoints.tsv`` read back."""
    write_tsv(tmp_path / "cutpoints.tsv", table)
    return pd.read_csv(tmp_path / "cutpoints.tsv", sep="\t")


def test_volcano_points_are_log_hr_and_minus_log10_q(discovery, tmp_path):
    x, _, _, table = discovery
    written = _as_written(table, tmp_path)
    signature = lock_signature(table, x, size=2)
    chosen_genes = set(signature.gene_ids)
    figure = volcano_figure(written, signature_genes=signature.gene_ids)
    ax = figure.axes[0]
    others, chosen = ax.collections[:2]
    assert np.isfinite(written["hazard_ratio"]).all() and (written["q_value"] > 0).all()
    expected = {
        row.gene: (np.log(row.hazard_ratio), -np.log10(row.q_value)) for row in written.itertuples()
    }
    plain = [gene for gene in written["gene"] if gene not in chosen_genes]
    picked = [gene for gene in written["gene"] if gene in chosen_genes]
    assert len(picked) == 2 and len(plain) == len(written) - 2
    np.testing.assert_allclose(
        others.get_offsets(), [expected[g] for g in plain], rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        chosen.get_offsets(), [expected[g] for g in picked], rtol=1e-12, atol=0
    )
    labels = {text.get_text(): text.xy for text in ax.texts}
    assert set(labels) == chosen_genes
    for gene in picked:
        np.testing.assert_allclose(labels[gene], expected[gene], rtol=1e-12)
    q_lines = [line for line in ax.lines if line.get_label() == "q = 0.05"]
    assert q_lines[0].get_ydata()[0] == pytest.approx(-np.log10(0.05))


def _direct_profile(values: np.ndarray, time: np.ndarray, event: np.ndarray) -> dict:
    """|S_m − E_m|/√V_m per distinct cutpoint in the 10–90% range, from the definition, O(N²).

    Log-rank scores a_i = δ_i − Σ_{j: r_j ≤ r_i} δ_j/(N − r_j + 1), r = rank(time, ties max).
    """
    n = time.size
    rank = np.array([np.sum(time <= t) for t in time])
    scores = np.array(
        [
            event[i] - sum(event[j] / (n - rank[j] + 1) for j in range(n) if rank[j] <= rank[i])
            for i in range(n)
        ]
    )
    total, total_sq = scores.sum(), np.sum(scores**2)
    out = {}
    for cut in np.unique(values):
        low = values <= cut
        m = int(low.sum())
        if not np.floor(0.1 * n) <= m <= np.floor(0.9 * n):
            continue
        v = m * (n - m) / (n**2 * (n - 1)) * (n * total_sq - total**2)
        out[cut] = (m / n, abs(scores[low].sum() - m / n * total) / np.sqrt(v))
    return out


def _r_plausen94(b: float, n: int, minprop: float = 0.1, maxprop: float = 0.9) -> float:
    """R maxstat's ``pLausen94`` with its default grid m = floor(N minprop):floor(N maxprop)."""
    m = np.arange(np.floor(n * minprop), np.floor(n * maxprop) + 1)
    m1, m2 = m[:-1], m[1:]
    t = np.sqrt(1 - m1 * (n - m2) / ((n - m1) * m2))
    d = np.sum(1 / np.pi * np.exp(-(b**2) / 2) * (t - (b**2 / 4 - 1) * t**3 / 6))
    return 1 - (stats.norm.cdf(b) - stats.norm.cdf(-b)) + d


def test_statistic_profiles_are_the_standardised_statistic(discovery, tmp_path):
    x, time, event, table = discovery
    written = _as_written(table, tmp_path)
    figure = statistic_profile_figure(written, x, time, event, top=3)
    ax = figure.axes[0]
    top = written.head(3)
    curves = {line.get_label(): line for line in ax.lines if line.get_label() in set(top["gene"])}
    peaks = [line for line in ax.lines if line.get_marker() == "o"]
    assert list(curves) == list(top["gene"]) and len(peaks) == 3
    for row, peak in zip(top.itertuples(), peaks, strict=True):
        direct = _direct_profile(x[row.gene].to_numpy(), time, event.astype(float))
        share, statistic = np.array([direct[cut] for cut in sorted(direct)]).T
        line = curves[row.gene]
        np.testing.assert_allclose(line.get_xdata(), share, rtol=1e-12)
        np.testing.assert_allclose(line.get_ydata(), statistic, rtol=1e-10)
        # The curve's maximum is the gene's statistic in cutpoints.tsv (written to 10
        # significant digits), marked by a dot there.
        assert np.max(line.get_ydata()) == pytest.approx(row.statistic, rel=1e-9)
        assert peak.get_ydata()[0] == pytest.approx(row.statistic, rel=1e-9)
        assert peak.get_xdata()[0] == pytest.approx(row.n_low / time.size)
    levels = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() in (":", "--"))
    assert levels[0] == pytest.approx(1.96)
    # The dashed level is the 5% point of R maxstat's pLausen94 for this N.
    assert _r_plausen94(levels[1], time.size) == pytest.approx(0.05, abs=1e-9)

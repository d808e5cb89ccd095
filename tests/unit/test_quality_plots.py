"""QC figures: written, readable, and showing what was flagged where a reader looks for it."""

from __future__ import annotations

import matplotlib.image as mpimg
import pytest

from omicsflow import toy_defects as td
from omicsflow.cohort import load_cohort, read_cohort_sheet
from omicsflow.plots.qc import _cluster_order, _flag_of, quality_plots
from omicsflow.quality import score_cohort


@pytest.fixture(scope="module")
def defective_report(toy_dir):
    discovery = load_cohort(read_cohort_sheet(toy_dir / "cohorts.tsv")["discovery"])
    outliers = td.plant_outliers(discovery, 2, seed=1)
    duplicates = td.plant_duplicates(outliers.adata, 2, seed=2)
    return score_cohort(duplicates.adata, seed=1), outliers, duplicates


def test_every_qc_figure_is_written(defective_report, tmp_path):
    report, _, _ = defective_report
    paths = {name: tmp_path / f"{name}.png" for name in ("missingness", "distances", "pca")}
    paths["distributions"] = tmp_path / "distributions.png"
    quality_plots(report, paths)
    for path in paths.values():
        image = mpimg.imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 600, path
        assert image[..., :3].std() > 0.05  # not blank
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporary files


def test_flag_colours_and_clustered_order_show_the_planted_defects(defective_report):
    report, outliers, duplicates = defective_report
    table = report.sample_table
    flag = dict(zip(table["sample"], _flag_of(table), strict=True))
    assert {flag[sample] for sample in outliers.samples} == {"outliers"}
    for original, copy in duplicates.pairs:
        if flag[original] != "outliers":
            assert flag[original] == flag[copy] == "duplicates"
    order = list(table["sample"].iloc[_cluster_order(report.correlation)])
    for original, copy in duplicates.pairs:  # near-identical samples sit side by side
        assert abs(order.index(original) - order.index(copy)) == 1
    assert sum(value != "" for value in flag.values()) == 2 + 4

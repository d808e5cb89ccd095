"""The demo cohorts from survset: counts, dropped arrays, and the committed sheet agrees."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from omicsflow.cohort import load_cohort, read_cohort_sheet
from omicsflow.demo import demo_files, materialise_demo, non_primary_arrays, uses_demo
from omicsflow.preprocess import shared_genes

pytest.importorskip("SurvSet", reason="the demo extra (survset) is not installed")

REPO = Path(__file__).resolve().parents[2]


class _Records(logging.Handler):
    """Keeps every record (``caplog`` is per test; the demo is written once per module)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def demo_log() -> _Records:
    return _Records()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, demo_log: _Records) -> Path:
    outdir = tmp_path_factory.mktemp("demo")
    logger = logging.getLogger("omicsflow.demo")
    level = logger.level
    logger.addHandler(demo_log)
    logger.setLevel(logging.INFO)
    try:
        materialise_demo(outdir)
    finally:
        logger.removeHandler(demo_log)
        logger.setLevel(level)
    return outdir


def test_every_declared_file_is_written(demo_dir):
    assert all(path.is_file() for path in demo_files(demo_dir))


def test_cohorts_match_the_published_counts(demo_dir):
    sheet = read_cohort_sheet(demo_dir / "cohorts.tsv")
    assert sheet.discovery == "GSE3143"
    assert sheet.with_role("validation") == ["GSE4335"]
    assert sheet.with_role("source") == ["GSE1992"]
    loaded = {entry.cohort: load_cohort(entry) for entry in sheet.entries}
    assert loaded["GSE3143"].shape == (158, 8659)
    assert int(loaded["GSE3143"].obs["event"].sum()) == 50
    assert loaded["GSE4335"].shape == (115, 12793)
    assert int(loaded["GSE4335"].obs["event"].sum()) == 38
    assert loaded["GSE1992"].shape == (124 - 8, 15528)
    genes = shared_genes({name: list(adata.var_names) for name, adata in loaded.items()})
    assert len(genes) == 7106
    assert {"MKI67", "AURKA", "PLK1"} <= set(genes)


def test_non_primary_arrays_are_dropped_and_listed(demo_dir):
    dropped = pd.read_csv(demo_dir / "dropped_samples.tsv", sep="\t")
    assert list(dropped["cohort"].unique()) == ["GSE1992"]
    assert len(dropped) == 8
    assert set(dropped["reason"]) == {"Met", "post-chemo", "RECUR", "paired"}
    assert (dropped["reason"] == "Met").sum() == 4
    assert non_primary_arrays(["BC1", "X-Brain-Met", "BC2-post-chemo"]) == [
        "X-Brain-Met",
        "BC2-post-chemo",
    ]


def test_dropped_arrays_are_logged_with_count_and_ids(demo_dir, demo_log):
    dropped = pd.read_csv(demo_dir / "dropped_samples.tsv", sep="\t")
    warnings = [r.getMessage() for r in demo_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0]
    assert message.startswith(
        "GSE1992: dropping 8 arrays that are not primary tumours or repeat a patient: "
    )
    assert message.split(": ", 2)[2].split(", ") == list(dropped["sample"])
    infos = [r.getMessage() for r in demo_log.records if r.levelno == logging.INFO]
    assert "GSE1992 (source): 116 samples × 15528 genes" in infos


def test_committed_sheet_describes_the_same_cohorts(demo_dir):
    written = pd.read_csv(demo_dir / "cohorts.tsv", sep="\t", dtype=str, keep_default_na=False)
    committed = pd.read_csv(
        REPO / "config" / "cohorts.tsv", sep="\t", dtype=str, keep_default_na=False
    )
    for column in ("expression", "clinical"):
        committed[column] = [name.replace("../resources/demo/", "") for name in committed[column]]
    pd.testing.assert_frame_equal(written, committed)


def test_uses_demo_when_the_sheet_or_a_named_file_is_the_demos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outdir = Path("resources/demo")
    assert uses_demo(["config/cohorts.tsv", outdir / "GSE3143_expression.tsv.gz"], outdir)
    # The same file named by an absolute path counts; the demo's own sheet counts alone.
    assert uses_demo([tmp_path / outdir / "cohorts.tsv"], outdir)
    assert not uses_demo(["toy/cohorts.tsv", "toy/discovery_expression.tsv.gz"], outdir)
    assert not uses_demo([], outdir)

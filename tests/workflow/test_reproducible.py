"""Two runs of the toy workflow from scratch give byte-identical results."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.workflow.helpers import FAST_TRAIN, make_workdir, snakemake

pytestmark = pytest.mark.slow

# Files that may legitimately differ between two identical runs, and why.
LEGITIMATELY_DIFFERENT = {
    # wall-clock seconds per imputation method (only written when preprocess.impute is auto)
    "results/preprocess/imputation_benchmark.tsv": "holds timings",
    "results/preprocess/imputation_benchmark.png": "plots those timings",
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_runs_from_scratch_are_byte_identical(toy_run, toy_dir, tmp_path):
    again = make_workdir(tmp_path / "again", toy_dir / "cohorts.tsv", {"train": FAST_TRAIN})
    result = snakemake(again)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    files = sorted(
        str(path.relative_to(again)) for path in (again / "results").rglob("*") if path.is_file()
    )
    assert len(files) > 80, files
    tables = [name for name in files if name.endswith((".tsv", ".json"))]
    assert len(tables) > 40
    for name in (
        "results/train/model.pt",
        "results/preprocess/discovery.h5ad",
        "results/validation/validation_a/km.png",
    ):
        assert name in files
    differing = [
        name
        for name in files
        if name not in LEGITIMATELY_DIFFERENT and digest(toy_run / name) != digest(again / name)
    ]
    assert differing == []

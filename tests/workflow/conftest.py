"""One toy run of the whole workflow per test session, shared by the workflow tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.workflow.helpers import FAST_TRAIN, make_workdir, snakemake


@pytest.fixture(scope="session")
def toy_run(toy_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the whole DAG on the toy cohorts (fast training budget)."""
    workdir = make_workdir(
        tmp_path_factory.mktemp("run"), toy_dir / "cohorts.tsv", {"train": FAST_TRAIN}
    )
    result = snakemake(workdir)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return workdir


@pytest.fixture(scope="session")
def toy_report(toy_run: Path) -> Path:
    """``results/report.html`` of :func:`toy_run`."""
    report = toy_run / "results" / "report.html"
    if not report.exists():
        result = snakemake(toy_run, "--report", "results/report.html")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return report

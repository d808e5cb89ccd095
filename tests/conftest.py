"""Shared fixtures: toy cohorts written once per session, and small helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsflow.toy import ToyDesign, write_toy_cohorts

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default toy cohorts (seed 1), written once."""
    outdir = tmp_path_factory.mktemp("toy")
    write_toy_cohorts(outdir, ToyDesign(), seed=1)
    return outdir


@pytest.fixture
def survival_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random survival data with tied times: (time, event, covariates n × 3)."""
    rng = np.random.default_rng(7)
    n = 150
    x = rng.normal(size=(n, 3))
    time = np.round(rng.exponential(10.0 * np.exp(-0.5 * x[:, 0])), 0) + 1.0
    event = (rng.uniform(size=n) < 0.7).astype(int)
    return time, event, x


def write_cohort_files(
    folder: Path,
    *,
    expression: pd.DataFrame,
    clinical: pd.DataFrame | None,
    name: str = "c1",
) -> tuple[Path, Path | None]:
    """Write an expression matrix (genes × samples TSV) and clinical table; return paths."""
    folder.mkdir(parents=True, exist_ok=True)
    expression_path = folder / f"{name}_expression.tsv"
    expression.to_csv(expression_path, sep="\t")
    clinical_path = None
    if clinical is not None:
        clinical_path = folder / f"{name}_clinical.tsv"
        clinical.to_csv(clinical_path, sep="\t", index=False)
    return expression_path, clinical_path

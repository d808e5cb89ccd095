"""Provenance: checksums, configuration, cohort sheet, versions, commit and platform."""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsflow.io import write_tsv
from omicsflow.provenance import (
    active_stamp,
    config_hash,
    package_versions,
    provenance_record,
    sha256,
    stamping,
    workflow_provenance,
)

REPO = Path(__file__).resolve().parents[2]
REQUIRED_PACKAGES = (
    "omicsflow",
    "snakemake",
    "torch",
    "numpy",
    "pandas",
    "scikit-learn",
    "lifelines",
)
CONFIG = {
    "cohorts": "config/cohorts.tsv",
    "seed": 7,
    "qc": {"pass_score": 0.8, "weights": {"scale": 1.0, "batch": 0.5}},
    "validation": {"horizons": [12, 36, 60]},
}


def _git_head(directory: Path) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(directory), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture
def run_files(toy_dir: Path, tmp_path: Path) -> dict[str, object]:
    """The toy sheet, every file it names, and a training metrics file."""
    sheet = toy_dir / "cohorts.tsv"
    table = pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False)
    named = [
        toy_dir / name for column in ("expression", "clinical") for name in table[column] if name
    ]
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"device": "cpu", "c_index": 0.7}))
    return {"sheet": sheet, "inputs": [sheet, *named], "metrics": metrics}


@pytest.mark.parametrize("chunk_size", [7, 1 << 20])
def test_sha256_equals_hashlib(tmp_path, chunk_size):
    data = np.random.default_rng(3).bytes(3 * (1 << 20) + 11)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    small = tmp_path / "small.bin"
    small.write_bytes(data[:1000])
    assert sha256(small, chunk_size=chunk_size) == hashlib.sha256(data[:1000]).hexdigest()
    if chunk_size > 1000:
        assert sha256(path, chunk_size=chunk_size) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256(empty) == hashlib.sha256(b"").hexdigest()


def test_workflow_provenance_records_everything(run_files):
    head_before = _git_head(REPO)
    record = workflow_provenance(
        config=CONFIG,
        sheet=run_files["sheet"],
        inputs=run_files["inputs"],
        train_metrics=run_files["metrics"],
        workflow_dir=REPO / "workflow",
    )
    head_after = _git_head(REPO)

    inputs = run_files["inputs"]
    assert len(inputs) == 8  # the sheet, four expression matrices, three clinical tables
    assert record["inputs"] == {
        str(path): hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in inputs
    }
    assert record["config"] == CONFIG
    assert record["config_hash"] == config_hash(CONFIG)
    sheet = pd.read_csv(run_files["sheet"], sep="\t", dtype=str, keep_default_na=False)
    assert record["cohort_sheet"] == {
        "path": str(run_files["sheet"]),
        "rows": sheet.to_dict("records"),
    }
    assert [row["cohort"] for row in record["cohort_sheet"]["rows"]] == list(sheet["cohort"])
    for name in REQUIRED_PACKAGES:
        assert record["packages"][name] == version(name), name
    assert record["platform"] == platform.platform()
    assert record["python"] == sys.version.split()[0]
    assert record["seeds"] == {"seed": 7}
    assert record["training_device"] == "cpu"
    # provenance.json is written as JSON: the record must survive a round trip unchanged.
    assert json.loads(json.dumps(record)) == record
    if head_before is None:
        pytest.skip("the checkout is not a git repository")
    assert record["git_commit"] in {head_before, head_after}
    assert len(record["git_commit"]) == 40


def test_git_commit_is_none_outside_a_repository(tmp_path):
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    if _git_head(outside) is not None:
        pytest.skip("tmp_path lies inside a git repository")
    record = provenance_record(config=CONFIG, inputs=[], workflow_dir=outside)
    assert record["git_commit"] is None
    record = provenance_record(config=CONFIG, inputs=[])
    assert record["git_commit"] is None


def test_config_hash_is_stable_and_changes_with_the_config():
    reordered = {key: CONFIG[key] for key in reversed(list(CONFIG))}
    reordered["qc"] = {"weights": {"batch": 0.5, "scale": 1.0}, "pass_score": 0.8}
    assert config_hash(reordered) == config_hash(CONFIG) == config_hash(copy.deepcopy(CONFIG))
    # Independent reference: SHA-256 of the sorted-key JSON, first 12 hex digits.
    text = json.dumps(CONFIG, sort_keys=True)
    assert config_hash(CONFIG) == hashlib.sha256(text.encode()).hexdigest()[:12]

    changed = copy.deepcopy(CONFIG)
    changed["qc"]["weights"]["batch"] = 0.6
    assert config_hash(changed) != config_hash(CONFIG)
    changed = copy.deepcopy(CONFIG)
    changed["validation"]["horizons"] = [12, 60, 36]  # list order is meaningful
    assert config_hash(changed) != config_hash(CONFIG)
    changed = copy.deepcopy(CONFIG)
    changed["seed"] = 8
    assert config_hash(changed) != config_hash(CONFIG)


def test_missing_package_is_reported_not_raised():
    versions = package_versions(("numpy", "omicsflow-no-such-package"))
    assert versions == {"numpy": version("numpy"), "omicsflow-no-such-package": "not installed"}


def test_tables_written_inside_stamping_carry_version_and_config_hash(tmp_path):
    table = pd.DataFrame({"gene": ["A", "B"], "value": [1.0, 2.0]})
    assert active_stamp() is None
    with stamping(CONFIG) as stamp:
        write_tsv(tmp_path / "stamped.tsv", table)
    assert active_stamp() is None
    expected = {"omicsflow_version": version("omicsflow"), "config_hash": config_hash(CONFIG)}
    assert stamp == expected
    sidecar = json.loads((tmp_path / "stamped.tsv.meta.json").read_text())
    assert sidecar == {"table": "stamped.tsv", "rows": 2, "provenance": expected}
    write_tsv(tmp_path / "plain.tsv", table)
    assert not (tmp_path / "plain.tsv.meta.json").exists()

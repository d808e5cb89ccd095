"""Provenance: input checksums, package versions, configuration, platform."""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = [
    "PACKAGES",
    "active_stamp",
    "config_hash",
    "package_versions",
    "provenance_record",
    "result_stamp",
    "sha256",
    "stamping",
    "workflow_provenance",
]

PACKAGES = (
    "omicsflow",
    "snakemake",
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lifelines",
    "anndata",
    "matplotlib",
    "survset",
)


def sha256(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a configuration (sorted-key JSON, first 12 hex digits)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git_commit(directory: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def provenance_record(
    *,
    config: dict[str, Any],
    inputs: list[str | Path],
    workflow_dir: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything needed to tell how a result was made.

    Parameters
    ----------
    config
        The fully resolved configuration.
    inputs
        Input files to checksum.
    workflow_dir
        Folder of the workflow source, for the git commit.
    extra
        Anything else to record (e.g. the training device).

    Returns
    -------
    dict
        ``inputs`` (path → sha256), ``config``, ``config_hash``, ``packages``, ``python``,
        ``platform``, ``git_commit``, plus ``extra``.
    """
    return {
        "inputs": {str(path): sha256(path) for path in inputs},
        "config": config,
        "config_hash": config_hash(config),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": _git_commit(Path(workflow_dir)) if workflow_dir else None,
        **(extra or {}),
    }


_ACTIVE_STAMP: ContextVar[dict[str, str] | None] = ContextVar("omicsflow_stamp", default=None)


def result_stamp(config: dict[str, Any]) -> dict[str, str]:
    """What every result carries: the omicsflow version and the configuration's hash."""
    return {
        "omicsflow_version": package_versions(("omicsflow",))["omicsflow"],
        "config_hash": config_hash(config),
    }


@contextlib.contextmanager
def stamping(config: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Stamp every result written inside the block (see :func:`omicsflow.io.write_tsv`)."""
    token = _ACTIVE_STAMP.set(result_stamp(config))
    try:
        yield _ACTIVE_STAMP.get()
    finally:
        _ACTIVE_STAMP.reset(token)


def active_stamp() -> dict[str, str] | None:
    """The stamp of the enclosing :func:`stamping` block, if any."""
    return _ACTIVE_STAMP.get()


def workflow_provenance(
    *,
    config: dict[str, Any],
    sheet: str | Path,
    inputs: list[str | Path],
    train_metrics: str | Path,
    workflow_dir: str | Path,
) -> dict[str, Any]:
    """The run's ``provenance.json``.

    :func:`provenance_record` plus the cohort sheet as read, the seeds and the device training
    ran on.

    Parameters
    ----------
    config
        The fully resolved configuration.
    sheet
        The cohort sheet.
    inputs
        Every input file (the sheet and the files it names).
    train_metrics
        ``results/train/metrics.json`` (its ``device`` is recorded).
    workflow_dir
        Folder of the workflow source, for the git commit.
    """
    import pandas as pd

    rows = pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False).to_dict("records")
    device = json.loads(Path(train_metrics).read_text(encoding="utf-8")).get("device")
    return provenance_record(
        config=config,
        inputs=inputs,
        workflow_dir=workflow_dir,
        extra={
            "cohort_sheet": {"path": str(sheet), "rows": rows},
            "seeds": {"seed": config.get("seed")},
            "training_device": device,
        },
    )

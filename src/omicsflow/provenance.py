"""Provenance: input checksums, package versions, configuration, platform."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "config_hash", "package_versions", "provenance_record", "sha256"]

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

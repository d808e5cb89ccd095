"""Run the workflow as a user would: snakemake on this repo's Snakefile in a working folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "workflow" / "Snakefile"

# Small training budgets keep the end-to-end test fast; the science is unchanged.
FAST_TRAIN: dict[str, Any] = {
    "pretrain": {"epochs": 5},
    "finetune": {"epochs": 60, "patience": 20},
    "cv": {"folds": 3, "repeats": 1, "coxnet_inner_folds": 3},
}


def deep_update(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_workdir(folder: Path, cohorts: Path, overrides: dict[str, Any] | None = None) -> Path:
    """A deployed-style working folder: ``config/config.yaml`` naming ``cohorts``."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config = deep_update(config, {"cohorts": str(cohorts), **(overrides or {})})
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run snakemake on this repo's Snakefile from ``workdir``; output captured as text."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--cores", "2", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

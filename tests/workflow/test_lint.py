"""Lint: ruff, snakefmt and snakemake --lint are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflow.helpers import REPO, SNAKEFILE, snakemake

BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "src", "tests", "scripts", "bench"),
        ("ruff", "format", "--check", "src", "tests", "scripts", "bench"),
        ("snakefmt", "--check", "workflow"),
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_static_checks(command):
    result = run(str(BIN / command[0]), *command[1:])
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint(toy_dir, tmp_path):
    from tests.workflow.helpers import make_workdir

    workdir = make_workdir(tmp_path, toy_dir / "cohorts.tsv")
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert SNAKEFILE.exists()

"""Training rules: the DAG without a source cohort, and a killed training job that resumes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.workflow.helpers import FAST_TRAIN, SNAKEFILE, make_workdir, snakemake


def dag_edges(workdir: Path) -> set[tuple[str, str]]:
    """(upstream rule, downstream rule) pairs of the dry-run DAG."""
    result = snakemake(workdir, "--dag", "--forceall")
    assert result.returncode == 0, result.stderr[-3000:]
    labels = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)", result.stdout, flags=re.M))
    return {
        (labels[a], labels[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", result.stdout, re.M)
    }


def sheet_without_source(toy_dir: Path) -> Path:
    """The toy cohort sheet minus its source cohort (and the second validation cohort)."""
    sheet = pd.read_csv(toy_dir / "cohorts.tsv", sep="\t", dtype=str, keep_default_na=False)
    path = toy_dir / "cohorts_no_source.tsv"
    sheet.loc[sheet["cohort"].isin(["discovery", "validation_a"])].to_csv(
        path, sep="\t", index=False
    )
    return path


def test_folds_share_the_source_encoder_or_pretrain_on_their_own(toy_dir, tmp_path):
    with_source = dag_edges(make_workdir(tmp_path / "a", toy_dir / "cohorts.tsv"))
    assert ("train_pretrain", "train_cv_fold") in with_source
    without = dag_edges(make_workdir(tmp_path / "b", sheet_without_source(toy_dir)))
    # Without a source cohort the shared encoder would have seen the test folds: folds pretrain
    # on their own training samples, and only the final model uses train_pretrain.
    assert ("train_pretrain", "train_cv_fold") not in without
    assert ("train_pretrain", "train_finetune") in without
    assert ("train_cv_splits", "train_cv_fold") in without


@pytest.mark.slow
def test_a_killed_training_job_resumes_from_its_checkpoint(toy_dir, tmp_path):
    """Run train_finetune slowly, kill it mid-run, rerun: it resumes and ends as if never killed.

    The sheet has no source cohort (smaller and faster): the encoder is pretrained on discovery.
    """
    sheet = sheet_without_source(toy_dir)
    workdir = make_workdir(tmp_path / "run", sheet, {"train": FAST_TRAIN})
    reference = snakemake(workdir, "results/train/model.pt")
    assert reference.returncode == 0, reference.stderr[-3000:]
    model = workdir / "results" / "train" / "model.pt"
    expected = torch.load(model, weights_only=True)["state_dict"]
    model.unlink()
    checkpoint = workdir / "results" / ".checkpoints" / "train_finetune" / "all" / "finetune.pt"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMICSFLOW_EPOCH_DELAY": "0.3",
    }
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--cores", "2"]
    job = subprocess.Popen(
        [*command, "results/train/model.pt"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    epoch = 0
    while time.monotonic() < deadline and job.poll() is None and epoch < 4:
        time.sleep(0.2)
        if checkpoint.exists():
            try:
                epoch = torch.load(checkpoint, weights_only=True)["state"]["epoch"]
            except (RuntimeError, EOFError, FileNotFoundError):
                continue
    assert job.poll() is None, "the training job finished before it could be killed"
    os.killpg(job.pid, signal.SIGKILL)  # like a preempted node: no clean-up
    job.wait()
    assert checkpoint.exists() and not model.exists()
    assert snakemake(workdir, "--unlock").returncode == 0  # the killed run left its lock
    again = snakemake(workdir, "results/train/model.pt", "--rerun-incomplete")
    assert again.returncode == 0, again.stderr[-3000:]
    log = (workdir / "logs" / "train_finetune" / "all.log").read_text()
    match = re.search(r"resuming from epoch (\d+) of (\d+) \(checkpoint (\S+)\)", log)
    assert match, log[-2000:]
    assert int(match.group(1)) >= 4
    assert int(match.group(2)) == FAST_TRAIN["finetune"]["epochs"]
    assert match.group(3) == "results/.checkpoints/train_finetune/all/finetune.pt"
    assert "finetune epoch 1/" not in log  # nothing before the checkpoint was redone
    assert not checkpoint.parent.exists()
    resumed = torch.load(model, weights_only=True)["state_dict"]
    for key, value in expected.items():
        assert torch.equal(value, resumed[key]), key

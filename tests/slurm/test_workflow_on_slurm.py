"""The toy workflow through a real SLURM cluster with the SLURM profile, checked with sacct."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from tests.slurm.helpers import sacct_jobs

pytestmark = pytest.mark.slurm

# The network-training rules: res("gpu"), so SLURM sends them to the gpu partition.
GPU_RULES = {"train_pretrain", "train_cv_fold", "train_finetune"}


@pytest.fixture(scope="module")
def jobs(slurm_runs):
    returncode, output = slurm_runs.results["slurm"]
    assert returncode == 0, output[-6000:]
    return sacct_jobs(slurm_runs.slurm, since=slurm_runs.since)


def test_every_rule_ran_as_a_slurm_job_that_completed(slurm_runs, jobs):
    planned = Counter((job.rule, job.wildcards) for job in slurm_runs.planned if not job.local)
    ran = Counter((step.rule, step.wildcards) for job in jobs for step in job.steps)
    assert len(planned) >= 20, planned  # 26 rule instances in the toy DAG
    assert ran == planned
    for job in jobs:
        assert job.state == "COMPLETED", (job.job_id, job.comment, job.state)
        for step in job.steps:
            assert (step.state, step.attempt) == ("COMPLETED", 1), (job.comment, step)
        logs = list((slurm_runs.slurm / ".snakemake" / "slurm_logs").rglob(f"{job.job_id}.log"))
        assert len(logs) == 1, (job.job_id, logs)


def test_training_runs_on_the_gpu_partition_with_a_gpu_and_the_rest_on_cpu(slurm_runs, jobs):
    planned_training = {job.rule for job in slurm_runs.planned if job.rule in GPU_RULES}
    assert planned_training == GPU_RULES
    seen_training = set()
    for job in jobs:
        training = {rule for rule in job.rules if rule in GPU_RULES}
        if training:
            assert training == job.rules, f"job {job.job_id} mixes {job.rules}"
            assert job.partition == "gpu", (job.comment, job.partition)
            assert job.tres("gres/gpu") == 1, (job.comment, job.alloc_tres)
            assert "gres/gpu=1" in job.req_tres, job.req_tres
            assert "--gpus=1" in job.submit_line and "--gres" not in job.submit_line
            seen_training |= training
        else:
            assert job.partition == "cpu", (job.comment, job.partition)
            assert job.tres("gres/gpu") == 0, (job.comment, job.alloc_tres)
            assert "--gpus" not in job.submit_line
    assert seen_training == planned_training


def test_each_cohorts_load_qc_and_gate_share_one_job(slurm_runs, jobs):
    """The profile groups a cohort's three short steps: one SLURM job per cohort, not three."""
    cohorts = {job.wildcards for job in slurm_runs.planned if job.rule == "cohort_load"}
    assert len(cohorts) == 4
    for cohort in cohorts:
        (job,) = [
            j
            for j in jobs
            if any(s.wildcards == cohort for s in j.steps) and "cohort_load" in j.rules
        ]
        steps = sorted((s.rule, s.wildcards) for s in job.steps)
        assert steps == sorted((rule, cohort) for rule in ("cohort_load", "qc_score", "qc_gate"))
    assert len(jobs) < sum(not job.local for job in slurm_runs.planned)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_results_are_identical_to_a_local_run(slurm_runs, jobs):
    """Every result file equals the local run's, byte for byte (models and figures included)."""
    returncode, output = slurm_runs.results["local"]
    assert returncode == 0, output[-6000:]
    local = {p.relative_to(slurm_runs.local) for p in (slurm_runs.local / "results").rglob("*")}
    remote = {p.relative_to(slurm_runs.slurm) for p in (slurm_runs.slurm / "results").rglob("*")}
    assert local == remote
    files = sorted(path for path in local if (slurm_runs.local / path).is_file())
    tables = [path for path in files if path.suffix in (".tsv", ".json")]
    assert len(tables) >= 15, tables
    assert {path.name for path in files if path.suffix == ".pt"} >= {"encoder.pt", "model.pt"}
    differing = [
        str(path)
        for path in files
        if digest(slurm_runs.local / path) != digest(slurm_runs.slurm / path)
    ]
    assert differing == []

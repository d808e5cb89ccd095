"""Failure drills on the real cluster: memory kill and retry; new GPU rule; cancel and resume."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.slurm.helpers import (
    SlurmJob,
    finish,
    running_job,
    sacct_jobs,
    sacct_now,
    snakemake_command,
    start_snakemake,
)
from tests.workflow.helpers import REPO, make_workdir

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def drill_jobs(slurm_runs) -> list[SlurmJob]:
    returncode, output = slurm_runs.results["drill"]
    assert returncode == 0, output[-6000:]
    return sacct_jobs(slurm_runs.drill, since=slurm_runs.since)


def test_job_killed_for_memory_is_resubmitted_bigger_and_succeeds(slurm_runs, drill_jobs):
    attempts = sorted(
        (job for job in drill_jobs if job.rules == {"drill_memory"}),
        key=lambda job: int(job.job_id),
    )
    assert [job.steps[0].attempt for job in attempts] == [1, 2]
    first, second = attempts
    # res("low"): 2000 MB and 15 min, times the attempt.
    assert (first.req_mem, first.timelimit) == ("2000M", "00:15:00")
    assert (second.req_mem, second.timelimit) == ("4000M", "00:30:00")
    assert first.state in ("FAILED", "OUT_OF_MEMORY", "CANCELLED"), first.state
    assert first.steps[0].state.startswith(("CANCELLED", "OUT_OF_MEMORY")), first.steps[0]
    (log,) = (slurm_runs.drill / ".snakemake" / "slurm_logs").rglob(f"{first.job_id}.log")
    killed = re.search(r"exceeded memory limit \((\d+) > (\d+)\)", log.read_text())
    assert killed, log.read_text()[-3000:]
    assert int(killed.group(2)) == 2000 * 2**20 and int(killed.group(1)) > 2000 * 2**20
    assert second.state == "COMPLETED" and second.steps[0].state == "COMPLETED"
    report = json.loads((slurm_runs.drill / "results" / "drill" / "memory.json").read_text())
    assert report == {"mem_mb": 4000, "allocated_mb": 3000, "slurm_job_id": second.job_id}


def test_a_new_train_rule_with_res_gpu_is_routed_without_editing_the_profile(
    slurm_runs, drill_jobs
):
    assert "train_routing_probe" not in (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    (job,) = [job for job in drill_jobs if job.rules == {"train_routing_probe"}]
    assert job.state == "COMPLETED"
    assert (job.partition, job.tres("gres/gpu")) == ("gpu", 1)
    report = json.loads((slurm_runs.drill / "results" / "drill" / "routing.json").read_text())
    assert report["SLURM_JOB_ID"] == job.job_id
    assert report["CUDA_VISIBLE_DEVICES"] == "0"  # the one (fake) GPU, handed to the job step


def test_a_cancelled_job_fails_the_run_instead_of_hanging(slurm_runs):
    """scancel on a running job: Snakemake reports it failed and stops (profile: squeue).

    With the plugin's sacct status query (2.8.0), "CANCELLED by 0" counts as still running
    and the run would wait until its time limit.
    """
    assert slurm_runs.cancelled is not None, "the drill_sleep job never ran"
    job_id, seconds = slurm_runs.cancelled
    returncode, output = slurm_runs.results["cancel"]
    assert returncode == 1, (returncode, output[-3000:])  # not 124/137: timeout
    assert seconds < 200, seconds  # status polls back off to at most 180 s apart
    assert f"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED'" in output
    (job,) = sacct_jobs(slurm_runs.folders["cancel"], since=slurm_runs.since)
    assert job.job_id == job_id and job.state.startswith("CANCELLED"), job.state
    assert not (slurm_runs.folders["cancel"] / "results" / "drill" / "slept.txt").exists()


# ------------------------------------------------------------------ cancel and resume
# Waits for epoch checkpoints in training (issue 5, transfer learning). A resumed training job
# logs "resuming from epoch K of N (checkpoint PATH)"; until a training module can say that,
# this drill is skipped with that reason. Nothing else needs to change to enable it.
RESUME_LINE = re.compile(r"resuming from epoch (\d+) of (\d+) \(checkpoint (.+)\)")
EPOCH_LINE = re.compile(r"pretrain epoch (\d+)/(\d+)")
RESUME_EPOCHS = 400


def checkpoints_available() -> bool:
    sources = [*(REPO / "src" / "omicsflow" / "transfer").glob("*.py")]
    sources += [*(REPO / "scripts").glob("train_*.py")]
    return any("resuming from epoch" in path.read_text() for path in sources)


@pytest.mark.skipif(
    not checkpoints_available(),
    reason="needs epoch checkpoints in training (issue 5): no training code logs "
    "'resuming from epoch K of N (checkpoint PATH)' on this branch",
)
def test_cancelled_training_job_resumes_from_its_epoch_checkpoint(
    slurm_runs, tmp_path: Path, toy_dir: Path
):
    """Cancel train_pretrain mid-run with scancel; the rerun resumes instead of starting over.

    Runs in a copy of the finished SLURM run (upstream results reused), with a long
    pretraining and `--retries 0`, so the cancelled job fails the run and a second
    `snakemake` invocation (as a user restarting it) resubmits it. (With the profile's
    `retries: 2` Snakemake would resubmit it by itself, but with twice res("gpu")'s memory,
    more than the test node has.)
    """
    workdir = tmp_path / "resume"
    finished = slurm_runs.slurm / "results"
    # Upstream results only: no training outputs and no epoch checkpoints of that run.
    shutil.copytree(
        finished,
        workdir / "results",
        ignore=lambda folder, names: ["train"] if Path(folder) == finished else [],
    )
    make_workdir(
        workdir,
        toy_dir / "cohorts.tsv",
        {"train": {"pretrain": {"epochs": RESUME_EPOCHS}}},
    )
    target = ("results/train/encoder.pt", "--retries", "0")
    since = sacct_now()
    first = start_snakemake(workdir, snakemake_command(*target), log_name="first.out")
    log = workdir / "logs" / "train_pretrain" / "all.log"
    cancelled_at, deadline = None, time.monotonic() + 600
    while cancelled_at is None and time.monotonic() < deadline and first.poll() is None:
        epochs = (
            [int(m.group(1)) for m in EPOCH_LINE.finditer(log.read_text())] if log.exists() else []
        )
        job_id = running_job(workdir, "train_pretrain")
        if job_id and epochs and max(epochs) >= RESUME_EPOCHS // 10:
            subprocess.run(["scancel", job_id], check=True, timeout=60)
            cancelled_at = max(epochs)
        time.sleep(0.2)
    returncode, output = finish(first, workdir, "first.out")
    assert cancelled_at is not None, (
        f"training ended before it could be cancelled:\n{output[-3000:]}"
    )
    assert returncode != 0, output[-3000:]
    assert cancelled_at < RESUME_EPOCHS, "raise RESUME_EPOCHS: training finished first"

    second = start_snakemake(workdir, snakemake_command(*target), log_name="second.out")
    returncode, output = finish(second, workdir, "second.out")
    assert returncode == 0, output[-6000:]

    runs = sorted(
        (job for job in sacct_jobs(workdir, since=since) if job.rules == {"train_pretrain"}),
        key=lambda job: int(job.job_id),
    )
    assert [job.state.split()[0] for job in runs] == ["CANCELLED", "COMPLETED"]
    assert all(job.partition == "gpu" for job in runs)
    resumed = RESUME_LINE.search(log.read_text())
    assert resumed, log.read_text()[-3000:]
    start, total = int(resumed.group(1)), int(resumed.group(2))
    assert total == RESUME_EPOCHS and 1 <= start <= cancelled_at
    later_epochs = [int(m.group(1)) for m in EPOCH_LINE.finditer(log.read_text())]
    assert min(later_epochs) == start + 1, "the resumed job started over"
    history = (workdir / "results" / "train" / "pretrain_history.tsv").read_text().splitlines()
    assert len(history) == 1 + RESUME_EPOCHS

"""Failure drills on the real cluster: memory kill and retry; new GPU rule; cancel and resume."""

from __future__ import annotations

import json
import re

import pytest

from tests.slurm import resume_drill
from tests.slurm.helpers import SlurmJob, sacct_jobs
from tests.workflow.helpers import REPO

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
@pytest.mark.skipif(
    not resume_drill.checkpoints_available(),
    reason="needs epoch checkpoints in training (issue 5): no training code logs "
    "'resuming from epoch K of N (checkpoint PATH)' on this branch",
)
def test_cancelled_training_job_resumes_from_its_epoch_checkpoint(slurm_runs):
    """scancel train_pretrain mid-run; rerunning the workflow resumes it, not starts it over.

    The drill (tests/slurm/resume_drill.py) ran alongside the other runs.
    """
    drill = slurm_runs.resume
    assert drill is not None and drill.error is None, drill
    assert drill.cancelled_job is not None, f"never cancelled:\n{drill.first[1][-3000:]}"
    first_code, first_output = drill.first
    assert first_code == 1, first_output[-3000:]
    assert drill.cancelled_at_epoch < resume_drill.RESUME_EPOCHS, "raise RESUME_EPOCHS"
    second_code, second_output = drill.second
    assert second_code == 0, second_output[-6000:]

    jobs = sacct_jobs(drill.workdir, since=drill.since)
    runs = sorted(
        (job for job in jobs if job.rules == {"train_pretrain"}), key=lambda job: int(job.job_id)
    )
    assert [(job.job_id, job.state.split()[0]) for job in runs] == [
        (drill.cancelled_job, "CANCELLED"),
        (runs[-1].job_id, "COMPLETED"),
    ]
    assert all(job.partition == "gpu" and job.tres("gres/gpu") == 1 for job in runs)
    text = drill.log.read_text()  # the log of the resumed attempt
    resumed = resume_drill.RESUME_LINE.search(text)
    assert resumed, text[-3000:]
    start, total = int(resumed.group(1)), int(resumed.group(2))
    assert total == resume_drill.RESUME_EPOCHS
    assert 1 <= start <= drill.cancelled_at_epoch
    assert min(drill.epochs_logged()) == start + 1, "the resumed job started over"
    assert max(drill.epochs_logged()) == total
    history = drill.workdir / "results" / "train" / "pretrain_history.tsv"
    assert len(history.read_text().splitlines()) == 1 + total  # every epoch, once

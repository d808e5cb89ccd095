"""The one-node SLURM cluster (tests/slurm/cluster.sh) and the runs the SLURM tests read.

The cluster is started once per session, as root with apt-get (CI); elsewhere every test that
needs it is skipped with the reason. It is stopped at the end of the session, failed or not,
if and only if this session started it. A lock file serialises SLURM test sessions on one
machine (they would share the cluster's ports and /etc/slurm).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.slurm import resume_drill
from tests.slurm.helpers import (
    CLUSTER_SCRIPT,
    DRILL_SNAKEFILE,
    PlannedJob,
    finish,
    kill,
    planned_jobs,
    run_env,
    running_job,
    sacct_now,
    snakemake_command,
    start_snakemake,
)
from tests.workflow.helpers import FAST_TRAIN, SNAKEFILE, make_workdir

LOCK_FILE = Path("/tmp/omicsflow-slurm-tests.lock")
LOCK_WAIT_S = 1800


def why_no_cluster() -> str | None:
    """Why this machine cannot bring up the test cluster; None if it can."""
    if os.environ.get("OMICSFLOW_SLURM_TESTS") == "0":
        return "SLURM tests disabled by OMICSFLOW_SLURM_TESTS=0"
    if not sys.platform.startswith("linux"):
        return "SLURM tests need Linux (Debian 12 packages, /proc)"
    if os.geteuid() != 0:
        return (
            "SLURM tests need root: tests/slurm/cluster.sh installs Debian's Slurm with "
            "apt-get and starts its daemons (run them on CI, or `sudo make test`)"
        )
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM tests need Debian's slurm packages or apt-get to install them"
    return None


def cluster(command: str, *, timeout: int) -> subprocess.CompletedProcess:
    """Run ``tests/slurm/cluster.sh COMMAND``."""
    return subprocess.run(
        ["bash", str(CLUSTER_SCRIPT), command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A running test cluster; stopped afterwards if this session started it."""
    reason = why_no_cluster()
    if reason is not None:
        pytest.skip(reason)
    with LOCK_FILE.open("w") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another SLURM test session held {LOCK_FILE} for 30 min")
                time.sleep(2)
        started_here = cluster("status", timeout=60).returncode != 0
        try:
            result = cluster("start", timeout=900)
            assert result.returncode == 0, f"cluster.sh start failed:\n{result.stderr}"
            yield
        finally:
            if started_here:
                stopped = cluster("stop", timeout=300)
                status = cluster("status", timeout=60)
                assert stopped.returncode == 0, f"cluster.sh stop failed:\n{stopped.stderr}"
                assert "running (PID" not in status.stdout, f"daemons left:\n{status.stdout}"


@dataclass(frozen=True)
class SlurmRuns:
    """The toy workflow run locally and through SLURM, and the drill runs, all finished.

    Attributes
    ----------
    since
        sacct ``--starttime`` before the first submission.
    folders
        Working folder of each run: ``local`` (reference, no SLURM), ``slurm`` (the toy
        workflow), ``drill`` (memory drill and GPU routing probe), ``cancel`` (a job cancelled
        with scancel while it runs).
    planned
        Jobs of the SLURM run's dry run (same profiles).
    results
        ``name -> (exit code, output)`` of each run.
    cancelled
        ``(SLURM job id, seconds from scancel to the end of the cancel run)``.
    resume
        The cancel-and-resume drill of a training job, when the training code has epoch
        checkpoints (see tests/slurm/resume_drill.py); else None.
    """

    since: str
    folders: dict[str, Path]
    planned: list[PlannedJob]
    results: dict[str, tuple[int, str]]
    cancelled: tuple[str, float] | None
    resume: resume_drill.ResumeDrill | None

    @property
    def local(self) -> Path:
        return self.folders["local"]

    @property
    def slurm(self) -> Path:
        return self.folders["slurm"]

    @property
    def drill(self) -> Path:
        return self.folders["drill"]


@pytest.fixture(scope="session")
def slurm_runs(slurm_cluster, toy_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Run the toy workflow through SLURM, the same locally, and the drills, concurrently.

    The runs overlap: the SLURM runs mostly wait for the queue and its status polls, which
    leaves the 2-core machine to the local reference run. Meanwhile this fixture cancels the
    `cancel` run's job with scancel as soon as it runs, and, once the local run has made the
    preprocessed cohorts, starts the resume drill on them (if the training code can resume).
    """
    sheet = toy_dir / "cohorts.tsv"
    overrides = {"train": FAST_TRAIN}
    folders = {
        name: make_workdir(tmp_path_factory.mktemp(f"slurm-{name}"), sheet, overrides)
        for name in ("local", "slurm", "drill", "cancel")
    }
    dry = subprocess.run(
        snakemake_command("-n"),
        cwd=folders["slurm"],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    since = sacct_now()
    drill_targets = ("results/drill/memory.json", "results/drill/routing.json")
    commands = {
        "slurm": snakemake_command(),
        "drill": snakemake_command(*drill_targets, snakefile=DRILL_SNAKEFILE),
        "cancel": snakemake_command(
            "results/drill/slept.txt", "--retries", "0", snakefile=DRILL_SNAKEFILE
        ),
        "local": snakemake_command("--cores", "2", snakefile=SNAKEFILE, slurm=False),
    }
    processes = {
        name: start_snakemake(folders[name], command, log_name="snakemake.out")
        for name, command in commands.items()
    }
    cancelled_job, cancelled_at, cancel_ended = None, None, None
    resume, resume_thread = None, None
    try:
        while any(process.poll() is None for process in processes.values()):
            if (
                resume is None
                and processes["local"].poll() == 0
                and resume_drill.checkpoints_available()
            ):
                resume = resume_drill.prepare(
                    tmp_path_factory.mktemp("slurm-resume"), folders["local"] / "results", sheet
                )
                resume_thread = threading.Thread(target=resume_drill.run, args=(resume,))
                resume_thread.start()
            if cancelled_job is None:
                cancelled_job = running_job(folders["cancel"], "drill_sleep")
                if cancelled_job is not None:
                    time.sleep(2)  # let it run a little
                    subprocess.run(["scancel", cancelled_job], check=True, timeout=60)
                    cancelled_at = time.monotonic()
            if cancel_ended is None and processes["cancel"].poll() is not None:
                cancel_ended = time.monotonic()
            time.sleep(0.5)
        results = {
            name: finish(process, folders[name], "snakemake.out")
            for name, process in processes.items()
        }
        if resume_thread is not None:
            resume_thread.join()
    finally:  # a failed assertion or an interrupt must not leave runs behind
        for process in processes.values():
            kill(process)
    cancelled = None
    if cancelled_job is not None:
        cancelled = (cancelled_job, (cancel_ended or time.monotonic()) - cancelled_at)
    return SlurmRuns(
        since=since,
        folders=folders,
        planned=planned_jobs(dry.stdout + dry.stderr),
        results=results,
        cancelled=cancelled,
        resume=resume,
    )

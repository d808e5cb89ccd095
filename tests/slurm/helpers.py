"""Run Snakemake through the test cluster and read back what SLURM recorded (sacct)."""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.workflow.helpers import REPO, SNAKEFILE

CLUSTER_SCRIPT = REPO / "tests" / "slurm" / "cluster.sh"
SLURM_PROFILE = REPO / "profiles" / "slurm"
TEST_OVERLAY = REPO / "tests" / "slurm" / "profile"
DRILL_SNAKEFILE = REPO / "tests" / "slurm" / "drill" / "Snakefile"
# A broken status query makes Snakemake wait forever and ignore SIGTERM: every run gets a hard
# limit, then SIGKILL 30 s later (timeout -k).
RUN_LIMIT_S = 900


def run_env() -> dict[str, str]:
    """This interpreter's bin folder first on PATH (snakemake, the jobs' python)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def snakemake_command(
    *args: str, snakefile: Path = SNAKEFILE, slurm: bool = True, limit_s: int = RUN_LIMIT_S
) -> list[str]:
    """``timeout -k 30 LIMIT snakemake`` on ``snakefile``, with the SLURM profile + test overlay."""
    profiles = ["--profile", str(SLURM_PROFILE), "--profile", str(TEST_OVERLAY)] if slurm else []
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), *profiles, *args]
    return ["timeout", "-k", "30", str(limit_s), *command]


def start_snakemake(
    workdir: Path, command: list[str], *, log_name: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start ``command`` in ``workdir`` with stdout and stderr in ``workdir/log_name``.

    ``env`` adds variables to the environment (the SLURM jobs inherit it: ``--export=ALL``).

    It gets a process group of its own, so that :func:`kill` can end it with its children.
    """
    log = (workdir / log_name).open("w")
    return subprocess.Popen(
        command,
        cwd=workdir,
        env={**run_env(), **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a run started by :func:`start_snakemake` (its own process group) if it runs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)


def finish(process: subprocess.Popen, workdir: Path, log_name: str) -> tuple[int, str]:
    """Wait for a run started by :func:`start_snakemake`; its exit code and output."""
    returncode = process.wait(timeout=RUN_LIMIT_S + 60)
    return returncode, (workdir / log_name).read_text(errors="replace")


# ------------------------------------------------------------------------------- dry runs
_JOB_HEADER = re.compile(r"^(local)?rule (\w+):$")


@dataclass(frozen=True)
class PlannedJob:
    """One job of a dry run: rule, wildcards (``a=1,b=2``), threads, resources, outputs."""

    rule: str
    wildcards: str
    threads: int
    resources: dict[str, int | str]
    outputs: str
    localrule: bool

    @property
    def local(self) -> bool:
        """Runs on the submitting machine: a local rule, or a target rule without outputs."""
        return self.localrule or not self.outputs


def _parse_resources(text: str) -> dict[str, int | str]:
    resources: dict[str, int | str] = {}
    for item in text.split(", "):
        key, _, value = item.partition("=")
        resources[key.strip()] = int(value) if value.isdigit() else value
    return resources


def planned_jobs(output: str) -> list[PlannedJob]:
    """The jobs a dry run (``snakemake -n``) lists, one per job block."""
    jobs, block = [], None
    for line in [*output.splitlines(), ""]:
        header = _JOB_HEADER.match(line.strip())
        if header or not line.startswith("    "):
            if block is not None:
                jobs.append(PlannedJob(**block))
                block = None
        if header:
            block = {
                "rule": header.group(2),
                "wildcards": "",
                "threads": 1,
                "resources": {},
                "outputs": "",
                "localrule": header.group(1) is not None,
            }
        elif block is not None:
            key, _, value = line.strip().partition(": ")
            if key == "wildcards":
                block["wildcards"] = value.replace(" ", "")
            elif key == "threads":
                block["threads"] = int(value)
            elif key == "resources":
                block["resources"] = _parse_resources(value)
            elif key == "output":
                block["outputs"] = value
    return jobs


# ------------------------------------------------------------------------------- sacct
SACCT_FIELDS = (
    "JobID",
    "Comment",
    "Partition",
    "State",
    "ReqMem",
    "Timelimit",
    "AllocTRES",
    "ReqTRES",
    "WorkDir",
    "SubmitLine",
)
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class SlurmStep:
    """A job step that ran one Snakemake job (``srun ... snakemake --target-jobs RULE:WC``)."""

    step_id: str
    state: str
    rule: str
    wildcards: str
    attempt: int


@dataclass(frozen=True)
class SlurmJob:
    """A SLURM job as sacct reports it, with the steps that ran Snakemake jobs."""

    job_id: str
    comment: str
    partition: str
    state: str
    req_mem: str
    timelimit: str
    alloc_tres: str
    req_tres: str
    workdir: str
    submit_line: str
    steps: list[SlurmStep] = field(default_factory=list)

    @property
    def rules(self) -> set[str]:
        """Rules of the Snakemake jobs its steps ran."""
        return {step.rule for step in self.steps}

    def tres(self, name: str) -> int:
        """Count of one allocated trackable resource (e.g. ``gres/gpu``); 0 if absent."""
        match = re.search(rf"(?:^|,){re.escape(name)}=(\d+)", self.alloc_tres)
        return int(match.group(1)) if match else 0


def _step_from(record: dict[str, str]) -> SlurmStep | None:
    target = re.search(r"--target-jobs (\S+)", record["SubmitLine"])
    if target is None:
        return None
    rule, _, wildcards = target.group(1).partition(":")
    attempt = re.search(r"--attempt (\d+)", record["SubmitLine"])
    return SlurmStep(
        step_id=record["JobID"],
        state=record["State"],
        rule=rule,
        wildcards=wildcards,
        attempt=int(attempt.group(1)) if attempt else 0,
    )


def sacct_jobs(workdir: Path, *, since: str) -> list[SlurmJob]:
    """Jobs submitted from ``workdir`` since ``since`` (sacct time), with their Snakemake steps.

    A step of job ``J`` (``J.0``, ``J.1``, ...) whose submit line names ``--target-jobs`` ran
    one Snakemake job: a plain job has one, a group job one per rule instance of the group.
    """
    command = [
        "sacct",
        "--allusers",
        "--noheader",
        "--parsable2",
        f"--delimiter={_SEPARATOR}",
        f"--starttime={since}",
        f"--format={','.join(SACCT_FIELDS)}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    jobs: dict[str, SlurmJob] = {}
    for line in result.stdout.splitlines():
        values = line.split(_SEPARATOR)
        if len(values) != len(SACCT_FIELDS):
            continue
        record = dict(zip(SACCT_FIELDS, values, strict=True))
        job_id, _, step = record["JobID"].partition(".")
        if not step:
            if Path(record["WorkDir"]) == workdir:
                jobs[job_id] = SlurmJob(
                    job_id=job_id,
                    comment=record["Comment"],
                    partition=record["Partition"],
                    state=record["State"],
                    req_mem=record["ReqMem"],
                    timelimit=record["Timelimit"],
                    alloc_tres=record["AllocTRES"],
                    req_tres=record["ReqTRES"],
                    workdir=record["WorkDir"],
                    submit_line=record["SubmitLine"],
                )
        elif job_id in jobs and step.isdigit():
            parsed = _step_from(record)
            if parsed is not None:
                jobs[job_id].steps.append(parsed)
    return list(jobs.values())


def sacct_now() -> str:
    """Five seconds ago in sacct's ``--starttime`` format (local time)."""
    return (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")


def running_job(workdir: Path, rule: str) -> str | None:
    """ID of the running SLURM job of ``rule`` (not grouped) submitted from ``workdir``."""
    result = subprocess.run(
        ["squeue", "--noheader", "--format=%i|%Z|%k|%T"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for line in result.stdout.splitlines():
        job_id, folder, comment, state = line.split("|")
        if Path(folder) == workdir and comment == f"rule_{rule}" and state == "RUNNING":
            return job_id
    return None

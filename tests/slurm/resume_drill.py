"""Drill: a training job cancelled mid-run, then restarted, resumes from its epoch checkpoint.

Needs epoch checkpoints in training (issue 5, transfer learning): a resumed training job logs
"resuming from epoch K of N (checkpoint PATH)". Until the training code can say that, the
drill does not run and its test is skipped with that reason; nothing else has to change to
enable it.

The drill pretrains for RESUME_EPOCHS epochs on SLURM with `--retries 0`, cancels the job with
scancel once it has logged CANCEL_AT_EPOCH epochs (so the run fails), then runs the same
command again, as a user restarting the workflow would. (With the profile's `retries: 2`
Snakemake would resubmit the job by itself, but with twice res("gpu")'s memory, more than the
test node has.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.slurm.helpers import (
    finish,
    kill,
    running_job,
    sacct_now,
    snakemake_command,
    start_snakemake,
)
from tests.workflow.helpers import REPO, make_workdir

RESUME_LINE = re.compile(r"resuming from epoch (\d+) of (\d+) \(checkpoint (.+)\)")
EPOCH_LINE = re.compile(r"pretrain epoch (\d+)/(\d+)")
RESUME_EPOCHS = 250
CANCEL_AT_EPOCH = 20
TARGET = ("results/train/encoder.pt", "--retries", "0")
# Training writes its epoch checkpoint at most every 20 s, and after every epoch when
# $OMICSFLOW_EPOCH_DELAY is set (omicsflow.transfer.checkpoint.epoch_delay): a short pause per
# epoch makes every epoch a resumable point without changing the results.
DRILL_ENV = {"OMICSFLOW_EPOCH_DELAY": "0.05"}


def checkpoints_available() -> bool:
    """Whether the training code on this branch resumes from epoch checkpoints."""
    sources = [*(REPO / "src" / "omicsflow" / "transfer").glob("*.py")]
    sources += [*(REPO / "scripts").glob("train_*.py")]
    return any("resuming from epoch" in path.read_text() for path in sources)


@dataclass
class ResumeDrill:
    """State and outcome of the drill (filled in by :func:`run`)."""

    workdir: Path
    since: str = ""
    cancelled_job: str | None = None
    cancelled_at_epoch: int | None = None
    first: tuple[int, str] | None = None
    second: tuple[int, str] | None = None
    error: str | None = None

    @property
    def log(self) -> Path:
        """The train_pretrain rule log (rewritten by each attempt)."""
        return self.workdir / "logs" / "train_pretrain" / "all.log"

    def epochs_logged(self) -> list[int]:
        """Epoch numbers the current log reports."""
        if not self.log.exists():
            return []
        return [int(match.group(1)) for match in EPOCH_LINE.finditer(self.log.read_text())]


def prepare(workdir: Path, finished_results: Path, cohorts: Path) -> ResumeDrill:
    """A working folder holding a finished run's upstream results, without its training."""
    shutil.copytree(
        finished_results,
        workdir / "results",
        ignore=lambda folder, names: ["train"] if Path(folder) == finished_results else [],
    )
    # Large batches: cheap epochs (~0.1 s on the 2-core node), so the drill stays short.
    pretrain = {"epochs": RESUME_EPOCHS, "batch_size": 1000}
    make_workdir(workdir, cohorts, {"train": {"pretrain": pretrain}})
    return ResumeDrill(workdir=workdir)


def run(drill: ResumeDrill) -> None:
    """Run, cancel mid-run, run again; record what happened in ``drill``."""
    started = []
    try:
        drill.since = sacct_now()
        first = start_snakemake(
            drill.workdir, snakemake_command(*TARGET), log_name="first.out", env=DRILL_ENV
        )
        started.append(first)
        deadline = time.monotonic() + 600
        while drill.cancelled_job is None and first.poll() is None:
            if time.monotonic() > deadline:
                break
            job_id = running_job(drill.workdir, "train_pretrain")
            epochs = drill.epochs_logged()
            if job_id and epochs and max(epochs) >= CANCEL_AT_EPOCH:
                subprocess.run(["scancel", job_id], check=True, timeout=60)
                drill.cancelled_job, drill.cancelled_at_epoch = job_id, max(epochs)
            time.sleep(0.2)
        drill.first = finish(first, drill.workdir, "first.out")
        if drill.cancelled_job is None:
            return
        second = start_snakemake(
            drill.workdir, snakemake_command(*TARGET), log_name="second.out", env=DRILL_ENV
        )
        started.append(second)
        drill.second = finish(second, drill.workdir, "second.out")
    except Exception as error:  # reported by the test, not lost in the thread
        drill.error = repr(error)
    finally:
        for process in started:
            kill(process)

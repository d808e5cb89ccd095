"""Drill rule drill_memory: hold ``allocate_mb`` MB for a few seconds, then report the attempt."""

import os
import time

import numpy as np

from omicsflow.io import write_json
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule) as log:
        mem_mb = int(smk.resources.mem_mb)
        log.info("granted %d MB; touching %d MB", mem_mb, smk.params.allocate_mb)
        block = np.ones(smk.params.allocate_mb * 2**20 // 8)  # every page written
        time.sleep(4)  # SLURM samples memory every second (JobAcctGatherFrequency=task=1)
        write_json(
            smk.output.report,
            {
                "mem_mb": mem_mb,
                "allocated_mb": round(block.nbytes / 2**20),
                "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            },
        )


main(snakemake)  # noqa: F821 - set by Snakemake

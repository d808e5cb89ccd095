"""Drill rule train_routing_probe: report where SLURM ran it and which GPU it was given."""

import os

from omicsflow.io import write_json
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        names = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "CUDA_VISIBLE_DEVICES")
        write_json(smk.output.report, {name: os.environ.get(name) for name in names})


main(snakemake)  # noqa: F821 - set by Snakemake

"""Rule qc_summary: one row per cohort from the quality reports."""

from omicsflow.io import write_tsv
from omicsflow.quality import summarise_quality
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        write_tsv(smk.output.summary, summarise_quality(list(smk.input.quality)))


main(snakemake)

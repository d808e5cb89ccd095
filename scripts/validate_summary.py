"""Rule validate_summary: one row per validation cohort."""

from omicsflow.io import write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.validate import summarise_validation


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        write_tsv(smk.output.summary, summarise_validation(list(smk.input.metrics)))


main(snakemake)

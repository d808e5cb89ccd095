"""Rule qc_summary: one row per cohort from the quality reports."""

from omicsflow.io import write_tsv
from omicsflow.quality import summarise_quality
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        table = summarise_quality(
            list(smk.input.quality), on_fail_validation=smk.params.on_fail_validation
        )
        write_tsv(smk.output.summary, table)


main(snakemake)

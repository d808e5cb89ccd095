"""Rule validate_summary: one row per cohort, meta-analysis, forest and random-signature plots."""

from omicsflow.runlog import rule_logging
from omicsflow.validate import write_validation_summary


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        write_validation_summary(
            list(smk.input.metrics),
            list(smk.input.random_signatures),
            **dict(smk.output.items()),
        )


main(snakemake)

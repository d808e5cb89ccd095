"""Rule report_summary: the report's first page from the run's result files."""

from omicsflow.io import write_text
from omicsflow.runlog import rule_logging
from omicsflow.summary import run_summary


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        write_text(smk.output.summary, run_summary(**dict(smk.input.items())))


main(snakemake)

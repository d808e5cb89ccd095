"""Rule demo_data: write the demo cohorts from the installed survset package."""

from pathlib import Path

from omicsflow.demo import materialise_demo
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        materialise_demo(Path(smk.output.sheet).parent)


main(snakemake)

"""Rule qc_score: score one cohort's quality."""

from omicsflow.io import read_h5ad, write_json
from omicsflow.quality import score_cohort
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        report = score_cohort(read_h5ad(smk.input.h5ad), options=dict(smk.params.options))
        write_json(smk.output.quality, report.to_dict())


main(snakemake)

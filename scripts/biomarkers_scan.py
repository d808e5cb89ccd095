"""Rule biomarkers_scan: maximally selected log-rank cutpoint of every gene."""

from omicsflow.cohort import expression_frame, outcome
from omicsflow.io import read_h5ad, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.survival.cutpoint import scan_cutpoints


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        adata = read_h5ad(smk.input.h5ad)
        time, event = outcome(adata)
        options = smk.params.options
        table = scan_cutpoints(
            expression_frame(adata),
            time,
            event,
            min_prop=options["min_prop"],
            max_prop=options["max_prop"],
        )
        write_tsv(smk.output.cutpoints, table)


main(snakemake)

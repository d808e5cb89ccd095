"""Rule biomarkers_scan: every gene's maximally selected cutpoint, p-values and stability."""

from omicsflow.io import read_h5ad, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.survival.discovery import discover_cutpoints


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        discovery = discover_cutpoints(
            read_h5ad(smk.input.h5ad), dict(smk.params.options), seed=int(smk.params.seed)
        )
        write_tsv(smk.output.cutpoints, discovery.table)
        write_tsv(smk.output.picks, discovery.picks)
        write_tsv(smk.output.stability, discovery.stability)


main(snakemake)

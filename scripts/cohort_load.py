"""Rule cohort_load: read and validate one cohort into AnnData."""

from pathlib import Path

from omicsflow.cohort import CohortEntry, load_cohort
from omicsflow.io import write_h5ad
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        entry = CohortEntry(
            expression=Path(smk.input.expression),
            clinical=Path(smk.input.clinical) if "clinical" in smk.input.keys() else None,
            **smk.params.entry,
        )
        adata = load_cohort(
            entry, allow_sample_intersection=smk.params.options["allow_sample_intersection"]
        )
        write_h5ad(smk.output.h5ad, adata)


main(snakemake)

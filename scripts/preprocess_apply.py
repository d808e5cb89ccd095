"""Rule preprocess_apply: apply the discovery-fitted transform to one cohort."""

from omicsflow.io import read_h5ad, write_h5ad
from omicsflow.preprocess import Preprocessor, preprocess_cohort
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        fitted = Preprocessor.load(smk.input.transform)
        adata = preprocess_cohort(read_h5ad(smk.input.h5ad), fitted, role=smk.params.role)
        write_h5ad(smk.output.h5ad, adata)


main(snakemake)

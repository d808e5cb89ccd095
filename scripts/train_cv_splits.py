"""Rule train_cv_splits: repeated stratified K-fold assignment of the discovery samples."""

from omicsflow.cohort import outcome
from omicsflow.io import read_h5ad, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.transfer.data import cv_splits


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        adata = read_h5ad(smk.input.h5ad)
        _, event = outcome(adata)
        options = smk.params.options
        splits = cv_splits(
            list(adata.obs_names),
            event,
            folds=options["folds"],
            repeats=options["repeats"],
            seed=smk.params.seed,
            cohort=adata.uns["cohort"]["id"],
        )
        write_tsv(smk.output.splits, splits)


main(snakemake)

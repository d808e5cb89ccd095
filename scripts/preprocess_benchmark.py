"""Rule preprocess_benchmark: hide discovery cells, impute with each candidate, score NRMSE."""

import json
from pathlib import Path

from omicsflow.io import read_h5ad, write_tsv
from omicsflow.plots.preprocess import imputation_benchmark_plot
from omicsflow.preprocess import choose_method
from omicsflow.preprocess.pipeline import run_imputation_benchmark
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        discovery = read_h5ad(smk.input.h5ad)
        table = run_imputation_benchmark(
            discovery,
            options=smk.params.options,
            seed=smk.params.seed,
            quality=json.loads(Path(smk.input.quality).read_text()),
        )
        write_tsv(smk.output.table, table)
        imputation_benchmark_plot(
            smk.output.plot,
            table,
            chosen=choose_method(table),
            cohort=discovery.uns["cohort"]["id"],
        )


main(snakemake)

"""Rule preprocess_fit: fit imputation and normalisation on the discovery cohort alone."""

import json
from pathlib import Path

import pandas as pd

from omicsflow.io import read_h5ad
from omicsflow.preprocess.pipeline import fit_preprocessor
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        discovery = read_h5ad(smk.input.discovery)
        gene_lists = {discovery.uns["cohort"]["id"]: list(discovery.var_names)}
        for path in smk.input.sources:
            source = read_h5ad(path, backed="r")
            gene_lists[source.uns["cohort"]["id"]] = list(source.var_names)
        benchmark = smk.input.get("benchmark")
        preprocessor, extra = fit_preprocessor(
            discovery,
            gene_lists=gene_lists,
            options=smk.params.options,
            seed=smk.params.seed,
            quality=json.loads(Path(smk.input.quality).read_text()),
            benchmark=pd.read_csv(benchmark, sep="\t") if benchmark else None,
        )
        preprocessor.save(smk.output.transform, extra=extra)


main(snakemake)

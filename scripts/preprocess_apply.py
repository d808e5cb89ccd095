"""Rule preprocess_apply: a cohort through the discovery-fitted (a source: its own) transform."""

import json
from pathlib import Path

from omicsflow.io import read_h5ad, write_h5ad
from omicsflow.preprocess import Preprocessor, preprocess_cohort, wants_log2
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        options = smk.params.options
        quality = json.loads(Path(smk.input.quality).read_text())
        adata = preprocess_cohort(
            read_h5ad(smk.input.h5ad),
            Preprocessor.load(smk.input.transform),
            role=smk.params.role,
            log2=wants_log2(options["log_transform"], quality),
            max_absent_share=options["absent_genes"]["max_share"],
            absent_action=options["absent_genes"]["action"],
        )
        write_h5ad(smk.output.h5ad, adata)


main(snakemake)

"""Rule biomarkers_signature: lock the prognostic signature."""

import pandas as pd

from omicsflow.cohort import expression_frame
from omicsflow.io import read_h5ad, write_json
from omicsflow.runlog import rule_logging
from omicsflow.survival.signature import lock_signature


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        cutpoints = pd.read_csv(smk.input.cutpoints, sep="\t")
        options = smk.params.options
        signature = lock_signature(
            cutpoints,
            expression_frame(read_h5ad(smk.input.h5ad)),
            size=options["signature_size"],
            max_q=options["max_q"],
        )
        write_json(smk.output.signature, signature.to_dict())


main(snakemake)

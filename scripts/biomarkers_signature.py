"""Rule biomarkers_signature: lock the prognostic signature and its discovery C-index."""

import pandas as pd

from omicsflow.io import read_h5ad, write_json
from omicsflow.runlog import rule_logging
from omicsflow.survival.discovery import lock_discovery_signature


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        signature = lock_discovery_signature(
            read_h5ad(smk.input.h5ad),
            pd.read_csv(smk.input.cutpoints, sep="\t"),
            pd.read_csv(smk.input.picks, sep="\t"),
            dict(smk.params.options),
            seed=int(smk.params.seed),
        )
        write_json(smk.output.signature, signature.to_dict())


main(snakemake)

"""Rule validate_cohort: the locked signature and the trained model on one cohort."""

import json
from pathlib import Path

import pandas as pd

from omicsflow.io import read_h5ad
from omicsflow.runlog import rule_logging
from omicsflow.survival.signature import Signature
from omicsflow.validate import validate_cohort, write_cohort_validation


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        signature = Signature.from_dict(json.loads(Path(smk.input.signature).read_text()))
        result = validate_cohort(
            read_h5ad(smk.input.h5ad),
            signature,
            model_path=smk.input.model,
            discovery=read_h5ad(smk.input.discovery),
            cutpoints=pd.read_csv(smk.input.cutpoints, sep="\t"),
            options=dict(smk.params.options),
            seed=int(smk.params.seed),
        )
        write_cohort_validation(result, **dict(smk.output.items()))


main(snakemake)

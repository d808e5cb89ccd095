"""Rule validate_cohort: the locked signature and the trained model on one cohort."""

import json
from pathlib import Path

from omicsflow.io import read_h5ad, write_json, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.survival.signature import Signature
from omicsflow.validate import validate_cohort


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        signature = Signature.from_dict(json.loads(Path(smk.input.signature).read_text()))
        result = validate_cohort(
            read_h5ad(smk.input.h5ad),
            signature,
            model_path=smk.input.model,
            km_path=smk.output.km,
            options=dict(smk.params.options),
        )
        write_json(smk.output.metrics, result["metrics"])
        write_tsv(smk.output.scores, result["scores"])


main(snakemake)

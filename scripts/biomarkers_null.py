"""Rule biomarkers_null: type-I self-test and random-signature null of the C-index."""

import json
from pathlib import Path

import pandas as pd

from omicsflow.io import read_h5ad, write_json
from omicsflow.runlog import rule_logging
from omicsflow.survival.discovery import null_controls
from omicsflow.survival.signature import Signature


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        control = null_controls(
            read_h5ad(smk.input.h5ad),
            pd.read_csv(smk.input.cutpoints, sep="\t"),
            Signature.from_dict(json.loads(Path(smk.input.signature).read_text())),
            dict(smk.params.options),
            seed=int(smk.params.seed),
        )
        write_json(smk.output.control, control)


main(snakemake)

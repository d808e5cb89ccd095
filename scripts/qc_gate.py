"""Rule qc_gate: stop the run on a failing cohort; pass the cohort on otherwise."""

import json
from pathlib import Path

from omicsflow.io import read_h5ad, write_h5ad
from omicsflow.quality import check_gate
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        quality = json.loads(Path(smk.input.quality).read_text(encoding="utf-8"))
        check_gate(quality)
        adata = read_h5ad(smk.input.h5ad)
        adata.uns["qc"] = {"score": quality["score"], "verdict": quality["verdict"]}
        write_h5ad(smk.output.h5ad, adata)


main(snakemake)

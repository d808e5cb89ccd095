"""Rule qc_gate: stop, exclude or pass a cohort on its quality; remove flagged samples."""

import json
from pathlib import Path

from omicsflow.io import read_h5ad, write_h5ad
from omicsflow.quality import apply_gate
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        quality = json.loads(Path(smk.input.quality).read_text(encoding="utf-8"))
        passed = apply_gate(
            read_h5ad(smk.input.h5ad),
            quality,
            on_fail_validation=smk.params.on_fail_validation,
        )
        write_h5ad(smk.output.h5ad, passed)


main(snakemake)

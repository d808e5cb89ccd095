"""Rule validate_checklist: the REMARK / TRIPOD+AI checklist filled from the run."""

import json
from pathlib import Path

import pandas as pd

from omicsflow.cohort import read_cohort_sheet
from omicsflow.io import write_text
from omicsflow.runlog import rule_logging
from omicsflow.validate import reporting_checklist


def _json(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        config = dict(smk.params.config)
        quality = [_json(path) for path in smk.input.quality]
        sheet = read_cohort_sheet(config["cohorts"], check_files=False)
        text = reporting_checklist(
            config=config,
            signature=_json(smk.input.signature),
            cutpoints=pd.read_csv(smk.input.cutpoints, sep="\t"),
            quality={record["cohort"]: record for record in quality},
            genes=pd.read_csv(smk.input.genes, sep="\t"),
            metrics=[_json(path) for path in smk.input.metrics],
            meta=_json(smk.input.meta),
            platforms={entry.cohort: entry.platform for entry in sheet.entries},
        )
        write_text(smk.output.checklist, text)


main(snakemake)

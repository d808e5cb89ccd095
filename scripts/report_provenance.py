"""Rule report_provenance: input checksums, resolved config and package versions."""

from omicsflow.io import write_json
from omicsflow.provenance import provenance_record
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        record = provenance_record(
            config=dict(smk.params.config),
            inputs=list(smk.input.files),
            workflow_dir=smk.params.workflow_dir,
        )
        write_json(smk.output.provenance, record)


main(snakemake)

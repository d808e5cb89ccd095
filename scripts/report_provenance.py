"""Rule report_provenance: input checksums, resolved config, package versions, device."""

from omicsflow.io import write_json
from omicsflow.provenance import workflow_provenance
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        record = workflow_provenance(
            config=dict(smk.params.config),
            sheet=smk.input.files[0],
            inputs=list(smk.input.files),
            train_metrics=smk.input.train_metrics,
            workflow_dir=smk.params.workflow_dir,
        )
        write_json(smk.output.provenance, record)


main(snakemake)

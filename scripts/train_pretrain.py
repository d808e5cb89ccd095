"""Rule train_pretrain: pretrain the encoder on the source cohorts."""

import numpy as np

from omicsflow.cohort import expression_frame
from omicsflow.io import read_h5ad, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.transfer.checkpoint import save_encoder
from omicsflow.transfer.train import pretrain, resolve_device


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule) as log:
        cohorts = [read_h5ad(path) for path in smk.input.cohorts]
        names = [adata.uns["cohort"]["id"] for adata in cohorts]
        genes = list(cohorts[0].var_names)
        expression = np.vstack([expression_frame(adata)[genes].to_numpy() for adata in cohorts])
        options = smk.params.options
        device = resolve_device(options["device"])
        log.info("pretraining on %s (%d samples) on %s", names, expression.shape[0], device)
        state, history = pretrain(
            expression,
            architecture=options["architecture"],
            options=options["pretrain"],
            seed=smk.params.seed,
            device=device,
        )
        save_encoder(
            smk.output.encoder,
            state,
            architecture=options["architecture"],
            genes=genes,
            pretrained_on=names,
        )
        write_tsv(smk.output.history, history)


main(snakemake)

"""Rule train_pretrain: pretrain the encoder on the source cohorts (discovery if none)."""

import numpy as np
import torch

from omicsflow.cohort import expression_frame
from omicsflow.io import read_h5ad, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.transfer.checkpoint import clear_checkpoints, save_encoder
from omicsflow.transfer.pretrain import pretrain
from omicsflow.transfer.runtime import resolve_device, set_seed


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config) as log:
        torch.set_num_threads(smk.threads)
        cohorts = [read_h5ad(path) for path in smk.input.cohorts]
        names = [adata.uns["cohort"]["id"] for adata in cohorts]
        if [adata.uns["cohort"]["role"] for adata in cohorts] == ["discovery"]:
            log.warning("no source cohort: pretraining on the discovery expression alone")
        genes = list(cohorts[0].var_names)
        expression = np.vstack([expression_frame(adata)[genes].to_numpy() for adata in cohorts])
        options = smk.params.options
        device = resolve_device(options["device"])
        set_seed(smk.params.seed, deterministic=options["deterministic"])
        log.info("pretraining on %s (%d samples) on %s", names, expression.shape[0], device)
        state, history = pretrain(
            expression,
            architecture=options["architecture"],
            options=options["pretrain"],
            seed=smk.params.seed,
            device=device,
            checkpoint_dir=smk.params.checkpoints,
            mixed_precision=options["mixed_precision"],
        )
        save_encoder(
            smk.output.encoder,
            state,
            architecture=options["architecture"],
            genes=genes,
            pretrained_on=names,
        )
        write_tsv(smk.output.history, history)
        clear_checkpoints(smk.params.checkpoints)


main(snakemake)

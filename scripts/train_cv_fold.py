"""Rule train_cv_fold: (a) pretrained, (b) random-init and (c) elastic-net Cox on one fold."""

import pandas as pd
import torch

from omicsflow.cohort import expression_frame, outcome
from omicsflow.io import read_h5ad, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.transfer.checkpoint import clear_checkpoints, load_encoder
from omicsflow.transfer.cv import run_fold
from omicsflow.transfer.data import fold_indices


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        torch.set_num_threads(smk.threads)
        adata = read_h5ad(smk.input.h5ad)
        expression = expression_frame(adata)
        time, event = outcome(adata)
        repeat, fold = int(smk.wildcards.repeat), int(smk.wildcards.fold)
        splits = pd.read_csv(smk.input.splits, sep="\t", dtype={"sample": str})
        train, test = fold_indices(splits, list(adata.obs_names), repeat=repeat, fold=fold)
        encoders = [smk.input.encoder] if isinstance(smk.input.encoder, str) else smk.input.encoder
        encoder_state = None
        if encoders:  # source cohorts exist: the shared encoder never saw discovery samples
            encoder_state, _ = load_encoder(encoders[0], genes=list(expression.columns))
        table = run_fold(
            expression.to_numpy(),
            time,
            event,
            train,
            test,
            options=smk.params.options,
            seed=smk.params.seed,
            repeat=repeat,
            fold=fold,
            encoder_state=encoder_state,
            checkpoint_dir=smk.params.checkpoints,
        )
        write_tsv(smk.output.metrics, table)
        clear_checkpoints(smk.params.checkpoints)


main(snakemake)

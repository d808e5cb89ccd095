"""Rule train_finetune: fine-tune the final Cox network on the whole discovery cohort."""

import pandas as pd
import torch

from omicsflow.cohort import expression_frame, outcome
from omicsflow.io import read_h5ad, write_json, write_tsv
from omicsflow.plots.train import training_curve_plot
from omicsflow.runlog import rule_logging
from omicsflow.transfer.checkpoint import clear_checkpoints, load_encoder, save_model
from omicsflow.transfer.train import fit_final_model, pretraining_title


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        torch.set_num_threads(smk.threads)
        adata = read_h5ad(smk.input.h5ad)
        expression = expression_frame(adata)
        time, event = outcome(adata)
        genes = list(expression.columns)
        encoder_state, encoder_info = load_encoder(smk.input.encoder, genes=genes)
        options = smk.params.options
        result, metrics = fit_final_model(
            expression.to_numpy(),
            time,
            event,
            options=options,
            seed=smk.params.seed,
            encoder_state=encoder_state,
            pretrained_on=encoder_info["pretrained_on"],
            checkpoint_dir=smk.params.checkpoints,
        )
        info = {key: metrics[key] for key in ("pretrained_on", "best_epoch", "strategy", "seed")}
        save_model(
            smk.output.model,
            result.model,
            architecture=options["architecture"],
            genes=genes,
            info=info,
        )
        write_json(smk.output.metrics, metrics)
        write_tsv(smk.output.history, result.history)
        training_curve_plot(
            smk.output.curve,
            result.history,
            best_epoch=result.best_epoch,
            pretrain_history=pd.read_csv(smk.input.pretrain_history, sep="\t"),
            title=pretraining_title(metrics["pretrained_on"], adata.uns["cohort"]["id"]),
        )
        clear_checkpoints(smk.params.checkpoints)


main(snakemake)

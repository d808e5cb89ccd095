"""Rule train_finetune: fine-tune a Cox network on the discovery cohort."""

from omicsflow.cohort import expression_frame, outcome
from omicsflow.io import read_h5ad, write_json, write_tsv
from omicsflow.runlog import rule_logging
from omicsflow.transfer.checkpoint import load_encoder, save_model
from omicsflow.transfer.train import fit_final_model


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
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
        )
        save_model(
            smk.output.model, result.model, architecture=options["architecture"], genes=genes
        )
        write_json(smk.output.metrics, metrics)
        write_tsv(smk.output.history, result.history)


main(snakemake)

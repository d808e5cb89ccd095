"""Rule train_attributions: integrated-gradient gene attributions vs the threshold biomarkers."""

import json
from pathlib import Path

import pandas as pd

from omicsflow.cohort import expression_frame
from omicsflow.io import read_h5ad, write_json, write_tsv
from omicsflow.plots.train import attribution_plot
from omicsflow.runlog import rule_logging
from omicsflow.survival.signature import Signature
from omicsflow.transfer.attribution import attribution_table
from omicsflow.transfer.checkpoint import load_model


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        expression = expression_frame(read_h5ad(smk.input.h5ad))
        model, genes = load_model(smk.input.model, genes=list(expression.columns))
        signature = Signature.from_dict(json.loads(Path(smk.input.signature).read_text()))
        table, summary = attribution_table(
            model,
            expression[genes],
            signature_genes=signature.gene_ids,
            cutpoints=pd.read_csv(smk.input.cutpoints, sep="\t"),
        )
        write_tsv(smk.output.table, table)
        write_json(smk.output.summary, summary)
        attribution_plot(smk.output.figure, table, summary)


main(snakemake)

"""Rule train_cv_aggregate: fold tables → cv_metrics.tsv, comparison.json and a figure."""

import pandas as pd

from omicsflow.io import write_json, write_tsv
from omicsflow.plots.train import cv_comparison_plot
from omicsflow.runlog import rule_logging
from omicsflow.transfer.cv import compare_models, pretraining_record


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config) as log:
        cv = pd.concat([pd.read_csv(path, sep="\t") for path in smk.input.folds])
        cv = cv.sort_values(["repeat", "fold", "model"], kind="stable").reset_index(drop=True)
        pretraining = pretraining_record(list(smk.params.sources), smk.params.discovery)
        comparison = compare_models(cv, pretraining=pretraining)
        for name, values in comparison["models"].items():
            log.info("%s: mean C-index %.3f (SD %.3f)", name, values["mean"], values["sd"])
        write_tsv(smk.output.cv, cv)
        write_json(smk.output.comparison, comparison)
        cv_comparison_plot(smk.output.figure, cv, comparison)


main(snakemake)

"""Rule biomarkers_plots: the biomarker figures of the report."""

import json
from pathlib import Path

import pandas as pd

from omicsflow.io import read_h5ad
from omicsflow.plots.biomarkers import (
    km_top_genes,
    null_control_plot,
    stability_plot,
    statistic_profiles,
    volcano_plot,
)
from omicsflow.runlog import rule_logging
from omicsflow.survival.discovery import discovery_data


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        options = dict(smk.params.options)
        adata = read_h5ad(smk.input.h5ad)
        data = discovery_data(adata, options)
        table = pd.read_csv(smk.input.cutpoints, sep="\t")
        signature = json.loads(Path(smk.input.signature).read_text())
        genes = [gene["gene"] for gene in signature["genes"]]
        unit = str(adata.uns.get("cohort", {}).get("metadata", {}).get("time_unit", ""))
        km_top_genes(smk.output.km, table, data.expression, data.time, data.event, time_unit=unit)
        statistic_profiles(
            smk.output.profiles,
            table,
            data.expression,
            data.time,
            data.event,
            min_prop=options["min_prop"],
            max_prop=options["max_prop"],
        )
        volcano_plot(smk.output.volcano, table, signature_genes=genes)
        stability_plot(
            smk.output.stability,
            table,
            data.expression,
            signature_genes=genes,
            min_selection_frequency=options["min_selection_frequency"],
        )
        null_control_plot(smk.output.null, json.loads(Path(smk.input.control).read_text()))


main(snakemake)

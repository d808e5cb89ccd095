"""Rule preprocess_genes: the model's genes against every cohort (kept, dropped, absent)."""

from omicsflow.io import read_h5ad, write_tsv
from omicsflow.plots.preprocess import gene_alignment_plot
from omicsflow.preprocess import read_transform_header
from omicsflow.preprocess.align import alignment_table, model_gene_table
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        genes = read_transform_header(smk.input.transform)["genes"]
        cohorts = [read_h5ad(path) for path in smk.input.cohorts]
        table = alignment_table(cohorts, genes)
        write_tsv(smk.output.table, table)
        write_tsv(smk.output.model_genes, model_gene_table(cohorts, genes))
        gene_alignment_plot(smk.output.plot, table)


main(snakemake)

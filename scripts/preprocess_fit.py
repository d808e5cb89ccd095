"""Rule preprocess_fit: fit imputation and normalisation on the discovery cohort."""

from omicsflow.cohort import expression_frame
from omicsflow.io import read_h5ad, write_tsv
from omicsflow.preprocess import Preprocessor, gene_table, shared_genes
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule):
        discovery = read_h5ad(smk.input.discovery)
        gene_lists = {discovery.uns["cohort"]["id"]: list(discovery.var_names)}
        for path in smk.input.cohorts:
            cohort = read_h5ad(path, backed="r")
            gene_lists[cohort.uns["cohort"]["id"]] = list(cohort.var_names)
        genes = shared_genes(gene_lists)
        options = smk.params.options
        preprocessor = Preprocessor(genes, impute=options["impute"], normalize=options["normalize"])
        preprocessor.fit(expression_frame(discovery), cohort=discovery.uns["cohort"]["id"])
        preprocessor.save(smk.output.transform)
        write_tsv(smk.output.genes, gene_table(gene_lists, genes))


main(snakemake)

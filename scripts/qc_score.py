"""Rule qc_score: score one cohort's quality; write quality.json, samples.tsv and the plots."""

from omicsflow.io import read_h5ad, write_json, write_tsv
from omicsflow.plots.qc import quality_plots
from omicsflow.quality import score_cohort
from omicsflow.runlog import rule_logging


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        report = score_cohort(
            read_h5ad(smk.input.h5ad),
            options=dict(smk.params.options),
            seed=int(smk.params.seed),
            candidate_variables=int(smk.params.candidate_variables),
        )
        write_json(smk.output.quality, report.to_dict())
        write_tsv(smk.output.samples, report.sample_table)
        quality_plots(
            report,
            {
                name: getattr(smk.output, name)
                for name in ("missingness", "distances", "pca", "distributions")
            },
        )


main(snakemake)

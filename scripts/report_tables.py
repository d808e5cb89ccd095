"""Rule report_tables: searchable HTML pages of the key result tables, for the report."""

from omicsflow.runlog import rule_logging
from omicsflow.tables import write_searchable_table


def main(smk) -> None:
    with rule_logging(smk.log[0], rule=smk.rule, config=smk.config):
        for name, source in smk.input.items():
            write_searchable_table(source, smk.output[name], title=smk.params.titles[name])


main(snakemake)

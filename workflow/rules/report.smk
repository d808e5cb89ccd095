# Provenance of the run: input checksums, resolved config, package versions.


rule report_provenance:
    input:
        files=get_sheet_files,
        summary="results/validation/summary.tsv",
        train_metrics="results/train/metrics.json",
    output:
        provenance="results/provenance.json",
    log:
        "logs/report_provenance/all.log",
    conda:
        "../../envs/report.yaml"
    resources:
        **res("low"),
    params:
        config=config,
        workflow_dir=workflow.basedir,
    script:
        "../../scripts/report_provenance.py"

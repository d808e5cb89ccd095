# The run's provenance and the first page of the report.


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


rule report_summary:
    input:
        qc_summary="results/qc/summary.tsv",
        cutpoints="results/biomarkers/cutpoints.tsv",
        signature="results/biomarkers/signature.json",
        null_control="results/biomarkers/null_control.json",
        validation_summary="results/validation/summary.tsv",
        meta="results/validation/meta.json",
        comparison="results/train/comparison.json",
        train_metrics="results/train/metrics.json",
    output:
        summary=report(
            "results/report/summary.rst",
            caption="../report/summary.rst",
            category="0. Summary",
        ),
    log:
        "logs/report_summary/all.log",
    conda:
        "../../envs/report.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/report_summary.py"

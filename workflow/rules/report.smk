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
        unpack(get_demo_dropped),
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


rule report_tables:
    input:
        qc="results/qc/summary.tsv",
        genes="results/preprocess/genes.tsv",
        cv="results/train/cv_metrics.tsv",
        attributions="results/train/attributions.tsv",
        cutpoints="results/biomarkers/cutpoints.tsv",
        validation="results/validation/summary.tsv",
    output:
        qc=report(
            "results/report/tables/qc_summary.html",
            caption="../report/qc_summary.rst",
            category="1. Quality",
        ),
        genes=report(
            "results/report/tables/genes.html",
            caption="../report/genes.rst",
            category="2. Preprocessing",
        ),
        cv=report(
            "results/report/tables/cv_metrics.html",
            caption="../report/table_cv_metrics.rst",
            category="3. Training",
        ),
        attributions=report(
            "results/report/tables/attributions.html",
            caption="../report/table_attributions.rst",
            category="3. Training",
        ),
        cutpoints=report(
            "results/report/tables/cutpoints.html",
            caption="../report/cutpoints.rst",
            category="4. Biomarkers",
        ),
        validation=report(
            "results/report/tables/validation_summary.html",
            caption="../report/validation_summary.rst",
            category="5. Validation",
        ),
    log:
        "logs/report_tables/all.log",
    conda:
        "../../envs/report.yaml"
    resources:
        **res("low"),
    params:
        titles={
            "qc": "Quality of every cohort",
            "genes": "Genes kept, dropped and absent per cohort",
            "cv": "Cross-validated C-index per model, repeat and fold",
            "attributions": "Gene attributions of the fine-tuned network",
            "cutpoints": "Every gene's maximally selected cutpoint",
            "validation": "The signature and the network on every validation cohort",
        },
    script:
        "../../scripts/report_tables.py"

# Quality scoring, the gate, and the across-cohort summary.


rule qc_score:
    input:
        h5ad="results/cohort/{cohort}.h5ad",
    output:
        quality="results/qc/{cohort}/quality.json",
    log:
        "logs/qc_score/{cohort}.log",
    conda:
        "../../envs/qc.yaml"
    resources:
        **res("low"),
    params:
        options=config["qc"],
    script:
        "../../scripts/qc_score.py"


rule qc_gate:
    input:
        h5ad="results/cohort/{cohort}.h5ad",
        quality="results/qc/{cohort}/quality.json",
    output:
        h5ad="results/qc/{cohort}/passed.h5ad",
    log:
        "logs/qc_gate/{cohort}.log",
    conda:
        "../../envs/qc.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/qc_gate.py"


rule qc_summary:
    input:
        quality=expand("results/qc/{cohort}/quality.json", cohort=COHORTS),
    output:
        summary=report(
            "results/qc/summary.tsv",
            caption="../report/qc_summary.rst",
            category="1. Quality",
        ),
    log:
        "logs/qc_summary/all.log",
    conda:
        "../../envs/qc.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/qc_summary.py"

# Quality scoring, the gate, and the across-cohort summary.


rule qc_score:
    input:
        h5ad="results/cohort/{cohort}.h5ad",
    output:
        quality="results/qc/{cohort}/quality.json",
        samples="results/qc/{cohort}/samples.tsv",
        missingness=report(
            "results/qc/{cohort}/missingness.png",
            caption="../report/qc_missingness.rst",
            category="1. Quality",
            subcategory="{cohort}",
        ),
        distances=report(
            "results/qc/{cohort}/distances.png",
            caption="../report/qc_distances.rst",
            category="1. Quality",
            subcategory="{cohort}",
        ),
        pca=report(
            "results/qc/{cohort}/pca.png",
            caption="../report/qc_pca.rst",
            category="1. Quality",
            subcategory="{cohort}",
        ),
        distributions=report(
            "results/qc/{cohort}/distributions.png",
            caption="../report/qc_distributions.rst",
            category="1. Quality",
            subcategory="{cohort}",
        ),
    log:
        "logs/qc_score/{cohort}.log",
    benchmark:
        "benchmarks/qc_score/{cohort}.tsv"
    conda:
        "../../envs/qc.yaml"
    resources:
        **res("medium"),
    params:
        options=config["qc"],
        seed=config["seed"],
        candidate_variables=config["biomarkers"]["signature_size"],
    script:
        "../../scripts/qc_score.py"


# The gate: a failing discovery or source cohort stops the run (QualityGateError in the log);
# a failing validation cohort is excluded or stops the run (qc.on_fail_validation); flagged
# samples listed in quality.json are removed when qc.remove_outliers is true.
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
    params:
        on_fail_validation=config["qc"]["on_fail_validation"],
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
    params:
        on_fail_validation=config["qc"]["on_fail_validation"],
    script:
        "../../scripts/qc_summary.py"

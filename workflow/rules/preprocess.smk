# Imputation and normalisation: fitted on the discovery cohort, applied to every cohort.


rule preprocess_fit:
    input:
        discovery=f"results/qc/{DISCOVERY}/passed.h5ad",
        cohorts=expand("results/qc/{cohort}/passed.h5ad", cohort=COHORTS),
    output:
        transform="results/preprocess/transform.npz",
        genes=report(
            "results/preprocess/genes.tsv",
            caption="../report/genes.rst",
            category="2. Preprocessing",
        ),
    log:
        "logs/preprocess_fit/all.log",
    conda:
        "../../envs/preprocess.yaml"
    resources:
        **res("medium"),
    params:
        options=config["preprocess"],
    script:
        "../../scripts/preprocess_fit.py"


rule preprocess_apply:
    input:
        h5ad="results/qc/{cohort}/passed.h5ad",
        transform="results/preprocess/transform.npz",
    output:
        h5ad="results/preprocess/{cohort}.h5ad",
    log:
        "logs/preprocess_apply/{cohort}.log",
    conda:
        "../../envs/preprocess.yaml"
    resources:
        **res("medium"),
    params:
        role=get_cohort_role,
    script:
        "../../scripts/preprocess_apply.py"

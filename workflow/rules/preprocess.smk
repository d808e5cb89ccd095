# Imputation and normalisation: fitted on the discovery cohort alone (the fit never reads a
# validation cohort), applied unchanged to discovery and validation cohorts; source cohorts get
# their own fit. Gene accounting and the `auto` imputation benchmark go to the report.


rule preprocess_benchmark:
    input:
        h5ad=f"results/qc/{DISCOVERY}/passed.h5ad",
        quality=f"results/qc/{DISCOVERY}/quality.json",
    output:
        table=report(
            "results/preprocess/imputation_benchmark.tsv",
            caption="../report/imputation_benchmark.rst",
            category="2. Preprocessing",
        ),
        plot=report(
            "results/preprocess/imputation_benchmark.png",
            caption="../report/imputation_benchmark.rst",
            category="2. Preprocessing",
        ),
    log:
        "logs/preprocess_benchmark/all.log",
    benchmark:
        "benchmarks/preprocess_benchmark/all.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 2
    resources:
        **res("medium"),
    params:
        options=config["preprocess"],
        seed=config["seed"],
    script:
        "../../scripts/preprocess_benchmark.py"


rule preprocess_fit:
    input:
        unpack(get_preprocess_fit_inputs),
    output:
        transform="results/preprocess/transform.npz",
    log:
        "logs/preprocess_fit/all.log",
    benchmark:
        "benchmarks/preprocess_fit/all.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 2
    resources:
        **res("medium"),
    params:
        options=config["preprocess"],
        seed=config["seed"],
    script:
        "../../scripts/preprocess_fit.py"


rule preprocess_apply:
    input:
        h5ad="results/qc/{cohort}/passed.h5ad",
        quality="results/qc/{cohort}/quality.json",
        transform="results/preprocess/transform.npz",
    output:
        h5ad="results/preprocess/{cohort}.h5ad",
    log:
        "logs/preprocess_apply/{cohort}.log",
    benchmark:
        "benchmarks/preprocess_apply/{cohort}.tsv"
    conda:
        "../../envs/preprocess.yaml"
    threads: 2
    resources:
        **res("medium"),
    params:
        role=get_cohort_role,
        options=config["preprocess"],
    script:
        "../../scripts/preprocess_apply.py"


rule preprocess_genes:
    input:
        cohorts=expand("results/qc/{cohort}/passed.h5ad", cohort=COHORTS),
        transform="results/preprocess/transform.npz",
    output:
        table=report(
            "results/preprocess/genes.tsv",
            caption="../report/genes.rst",
            category="2. Preprocessing",
        ),
        plot=report(
            "results/preprocess/genes.png",
            caption="../report/genes.rst",
            category="2. Preprocessing",
        ),
        model_genes=report(
            "results/preprocess/model_genes.tsv",
            caption="../report/genes.rst",
            category="2. Preprocessing",
        ),
    log:
        "logs/preprocess_genes/all.log",
    conda:
        "../../envs/preprocess.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/preprocess_genes.py"

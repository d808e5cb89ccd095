# Load and validate one cohort into AnnData.


rule cohort_load:
    input:
        unpack(get_cohort_files),
    output:
        h5ad="results/cohort/{cohort}.h5ad",
    log:
        "logs/cohort_load/{cohort}.log",
    conda:
        "../../envs/cohort.yaml"
    resources:
        **res("low"),
    params:
        entry=get_cohort_entry,
        options=config["cohort"],
    script:
        "../../scripts/cohort_load.py"

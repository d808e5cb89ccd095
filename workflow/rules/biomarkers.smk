# Survival-threshold biomarkers: every gene, every cutpoint; the locked signature.


rule biomarkers_scan:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        cutpoints=report(
            "results/biomarkers/cutpoints.tsv",
            caption="../report/cutpoints.rst",
            category="4. Biomarkers",
        ),
    log:
        "logs/biomarkers_scan/all.log",
    benchmark:
        "benchmarks/biomarkers_scan/all.tsv"
    conda:
        "../../envs/biomarkers.yaml"
    resources:
        **res("medium"),
    params:
        options=config["biomarkers"],
    script:
        "../../scripts/biomarkers_scan.py"


rule biomarkers_signature:
    input:
        cutpoints="results/biomarkers/cutpoints.tsv",
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        signature="results/biomarkers/signature.json",
    log:
        "logs/biomarkers_signature/all.log",
    conda:
        "../../envs/biomarkers.yaml"
    resources:
        **res("low"),
    params:
        options=config["biomarkers"],
    script:
        "../../scripts/biomarkers_signature.py"

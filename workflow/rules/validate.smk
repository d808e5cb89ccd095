# Independent-cohort validation of the locked signature and the trained model.


rule validate_cohort:
    input:
        h5ad="results/preprocess/{validation}.h5ad",
        signature="results/biomarkers/signature.json",
        model="results/train/model.pt",
    output:
        metrics="results/validation/{validation}/metrics.json",
        scores="results/validation/{validation}/scores.tsv",
        km=report(
            "results/validation/{validation}/km.png",
            caption="../report/km.rst",
            category="5. Validation",
            subcategory="{validation}",
        ),
    log:
        "logs/validate_cohort/{validation}.log",
    conda:
        "../../envs/validate.yaml"
    resources:
        **res("low"),
    params:
        options=config["validation"],
    script:
        "../../scripts/validate_cohort.py"


rule validate_summary:
    input:
        metrics=expand(
            "results/validation/{validation}/metrics.json", validation=VALIDATION
        ),
    output:
        summary=report(
            "results/validation/summary.tsv",
            caption="../report/validation_summary.rst",
            category="5. Validation",
        ),
    log:
        "logs/validate_summary/all.log",
    conda:
        "../../envs/validate.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/validate_summary.py"

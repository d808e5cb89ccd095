# Independent-cohort validation of the locked signature and the trained model.


rule validate_cohort:
    input:
        h5ad="results/preprocess/{validation}.h5ad",
        discovery=f"results/preprocess/{DISCOVERY}.h5ad",
        signature="results/biomarkers/signature.json",
        cutpoints="results/biomarkers/cutpoints.tsv",
        model="results/train/model.pt",
    output:
        metrics="results/validation/{validation}/metrics.json",
        scores="results/validation/{validation}/scores.tsv",
        replication=report(
            "results/validation/{validation}/replication.tsv",
            caption="../report/replication.rst",
            category="5. Validation",
            subcategory="{validation}",
        ),
        calibration="results/validation/{validation}/calibration.tsv",
        random_signatures="results/validation/{validation}/random_signatures.tsv",
        km=report(
            "results/validation/{validation}/km.png",
            caption="../report/km.rst",
            category="5. Validation",
            subcategory="{validation}",
        ),
        km_model=report(
            "results/validation/{validation}/km_model.png",
            caption="../report/km_model.rst",
            category="5. Validation",
            subcategory="{validation}",
        ),
        calibration_png=report(
            "results/validation/{validation}/calibration.png",
            caption="../report/calibration.rst",
            category="5. Validation",
            subcategory="{validation}",
        ),
    log:
        "logs/validate_cohort/{validation}.log",
    benchmark:
        "benchmarks/validate_cohort/{validation}.tsv"
    conda:
        "../../envs/validate.yaml"
    resources:
        **res("low"),
    params:
        options=config["validation"],
        seed=config["seed"],
    script:
        "../../scripts/validate_cohort.py"


rule validate_summary:
    input:
        metrics=expand(
            "results/validation/{validation}/metrics.json", validation=VALIDATION
        ),
        random_signatures=expand(
            "results/validation/{validation}/random_signatures.tsv",
            validation=VALIDATION,
        ),
    output:
        summary=report(
            "results/validation/summary.tsv",
            caption="../report/validation_summary.rst",
            category="5. Validation",
        ),
        meta="results/validation/meta.json",
        forest=report(
            "results/validation/forest.png",
            caption="../report/forest.rst",
            category="5. Validation",
        ),
        random_png=report(
            "results/validation/random_signatures.png",
            caption="../report/random_signatures.rst",
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


rule validate_checklist:
    input:
        metrics=expand(
            "results/validation/{validation}/metrics.json", validation=VALIDATION
        ),
        meta="results/validation/meta.json",
        signature="results/biomarkers/signature.json",
        cutpoints="results/biomarkers/cutpoints.tsv",
        genes="results/preprocess/genes.tsv",
        quality=expand("results/qc/{cohort}/quality.json", cohort=COHORTS),
    output:
        checklist=report(
            "results/validation/reporting_checklist.md",
            caption="../report/reporting_checklist.rst",
            category="5. Validation",
        ),
    log:
        "logs/validate_checklist/all.log",
    conda:
        "../../envs/validate.yaml"
    resources:
        **res("low"),
    params:
        config=config,
    script:
        "../../scripts/validate_checklist.py"

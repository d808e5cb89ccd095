# Survival-threshold biomarkers: every gene, every cutpoint, honest p-values, bootstrap
# stability; the locked signature; null controls; figures.


rule biomarkers_scan:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        cutpoints=report(
            "results/biomarkers/cutpoints.tsv",
            caption="../report/cutpoints.rst",
            category="4. Biomarkers",
        ),
        picks="results/biomarkers/bootstrap_picks.tsv",
        stability="results/biomarkers/stability.tsv",
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
        seed=config["seed"],
    script:
        "../../scripts/biomarkers_scan.py"


rule biomarkers_signature:
    input:
        cutpoints="results/biomarkers/cutpoints.tsv",
        picks="results/biomarkers/bootstrap_picks.tsv",
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        signature=report(
            "results/biomarkers/signature.json",
            caption="../report/signature.rst",
            category="4. Biomarkers",
        ),
    log:
        "logs/biomarkers_signature/all.log",
    benchmark:
        "benchmarks/biomarkers_signature/all.tsv"
    conda:
        "../../envs/biomarkers.yaml"
    resources:
        **res("low"),
    params:
        options=config["biomarkers"],
        seed=config["seed"],
    script:
        "../../scripts/biomarkers_signature.py"


rule biomarkers_null:
    input:
        cutpoints="results/biomarkers/cutpoints.tsv",
        signature="results/biomarkers/signature.json",
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        control=report(
            "results/biomarkers/null_control.json",
            caption="../report/null_control.rst",
            category="4. Biomarkers",
        ),
    log:
        "logs/biomarkers_null/all.log",
    benchmark:
        "benchmarks/biomarkers_null/all.tsv"
    conda:
        "../../envs/biomarkers.yaml"
    resources:
        **res("medium"),
    params:
        options=config["biomarkers"],
        seed=config["seed"],
    script:
        "../../scripts/biomarkers_null.py"


rule biomarkers_plots:
    input:
        cutpoints="results/biomarkers/cutpoints.tsv",
        signature="results/biomarkers/signature.json",
        control="results/biomarkers/null_control.json",
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        km=report(
            directory("results/biomarkers/km"),
            patterns=["{name}.png"],
            caption="../report/biomarkers_km.rst",
            category="4. Biomarkers",
        ),
        profiles=report(
            "results/biomarkers/statistic_profiles.png",
            caption="../report/biomarkers_profiles.rst",
            category="4. Biomarkers",
        ),
        volcano=report(
            "results/biomarkers/volcano.png",
            caption="../report/biomarkers_volcano.rst",
            category="4. Biomarkers",
        ),
        stability=report(
            "results/biomarkers/stability.png",
            caption="../report/biomarkers_stability.rst",
            category="4. Biomarkers",
        ),
        null=report(
            "results/biomarkers/null_control.png",
            caption="../report/null_control.rst",
            category="4. Biomarkers",
        ),
    log:
        "logs/biomarkers_plots/all.log",
    conda:
        "../../envs/biomarkers.yaml"
    resources:
        **res("low"),
    params:
        options=config["biomarkers"],
    script:
        "../../scripts/biomarkers_plots.py"

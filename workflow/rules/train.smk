# Transfer learning: pretrain an encoder on source cohorts, measure the gain of transfer by
# repeated cross-validation (one job per repeat × fold), fine-tune the final Cox network on
# discovery, attribute its risk to genes. Rules named train_* with res("gpu") go to GPU nodes.
# Epoch checkpoints live under results/.checkpoints/<rule>/<wildcards>/ (not declared outputs):
# a preempted job resumes from them and removes them once its outputs are written.

CV_FOLD_TABLES = expand(
    "results/train/cv/{repeat}_{fold}.tsv",
    repeat=range(1, config["train"]["cv"]["repeats"] + 1),
    fold=range(1, config["train"]["cv"]["folds"] + 1),
)


rule train_pretrain:
    input:
        cohorts=get_pretrain_inputs,
    output:
        encoder="results/train/encoder.pt",
        history="results/train/pretrain_history.tsv",
    log:
        "logs/train_pretrain/all.log",
    benchmark:
        "benchmarks/train_pretrain/all.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        **res("gpu"),
    params:
        options=config["train"],
        seed=config["seed"],
        checkpoints="results/.checkpoints/train_pretrain/all",
    script:
        "../../scripts/train_pretrain.py"


rule train_cv_splits:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
    output:
        splits="results/train/cv_splits.tsv",
    log:
        "logs/train_cv_splits/all.log",
    conda:
        "../../envs/train.yaml"
    resources:
        **res("low"),
    params:
        options=config["train"]["cv"],
        seed=config["seed"],
    script:
        "../../scripts/train_cv_splits.py"


rule train_cv_fold:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
        splits="results/train/cv_splits.tsv",
        encoder=get_cv_encoder,
    output:
        metrics="results/train/cv/{repeat}_{fold}.tsv",
    log:
        "logs/train_cv_fold/{repeat}_{fold}.log",
    benchmark:
        "benchmarks/train_cv_fold/{repeat}_{fold}.tsv"
    wildcard_constraints:
        repeat=r"\d+",
        fold=r"\d+",
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        **res("gpu"),
    params:
        options=config["train"],
        seed=config["seed"],
        checkpoints="results/.checkpoints/train_cv_fold/{repeat}_{fold}",
    script:
        "../../scripts/train_cv_fold.py"


rule train_cv_aggregate:
    input:
        folds=CV_FOLD_TABLES,
    output:
        cv=report(
            "results/train/cv_metrics.tsv",
            caption="../report/train_cv_metrics.rst",
            category="3. Training",
        ),
        comparison="results/train/comparison.json",
        figure=report(
            "results/train/cv_comparison.png",
            caption="../report/train_cv_comparison.rst",
            category="3. Training",
        ),
    log:
        "logs/train_cv_aggregate/all.log",
    conda:
        "../../envs/train.yaml"
    resources:
        **res("low"),
    params:
        sources=SOURCE,
        discovery=DISCOVERY,
    script:
        "../../scripts/train_cv_aggregate.py"


rule train_finetune:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
        encoder="results/train/encoder.pt",
        pretrain_history="results/train/pretrain_history.tsv",
    output:
        model="results/train/model.pt",
        metrics="results/train/metrics.json",
        history=report(
            "results/train/history.tsv",
            caption="../report/train_history.rst",
            category="3. Training",
        ),
        curve=report(
            "results/train/training_curve.png",
            caption="../report/train_curve.rst",
            category="3. Training",
        ),
    log:
        "logs/train_finetune/all.log",
    benchmark:
        "benchmarks/train_finetune/all.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        **res("gpu"),
    params:
        options=config["train"],
        seed=config["seed"],
        checkpoints="results/.checkpoints/train_finetune/all",
    script:
        "../../scripts/train_finetune.py"


rule train_attributions:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
        model="results/train/model.pt",
        signature="results/biomarkers/signature.json",
        cutpoints="results/biomarkers/cutpoints.tsv",
    output:
        table=report(
            "results/train/attributions.tsv",
            caption="../report/train_attributions_table.rst",
            category="3. Training",
        ),
        summary="results/train/attributions.json",
        figure=report(
            "results/train/attributions.png",
            caption="../report/train_attributions.rst",
            category="3. Training",
        ),
    log:
        "logs/train_attributions/all.log",
    conda:
        "../../envs/train.yaml"
    resources:
        **res("low"),
    script:
        "../../scripts/train_attributions.py"

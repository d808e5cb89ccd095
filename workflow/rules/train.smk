# Transfer learning: pretrain an encoder on source cohorts, fine-tune a Cox network on discovery.


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
    script:
        "../../scripts/train_pretrain.py"


rule train_finetune:
    input:
        h5ad=f"results/preprocess/{DISCOVERY}.h5ad",
        encoder="results/train/encoder.pt",
    output:
        model="results/train/model.pt",
        metrics="results/train/metrics.json",
        history=report(
            "results/train/history.tsv",
            caption="../report/train_history.rst",
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
    script:
        "../../scripts/train_finetune.py"

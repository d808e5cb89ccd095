# Configuration and cohort-sheet validation, wildcard constraints, input functions, resources.
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from omicsflow.cohort import read_cohort_sheet
from omicsflow.config import check_config
from omicsflow.demo import DEMO_COHORTS, demo_files, uses_demo
from omicsflow.validate.transfer import check_transfer_config

# Our check first: a ConfigError naming the key path, the file and the keys allowed there;
# then Snakemake's validate, which fills in the schema's defaults.
check_config(
    config,
    Path(workflow.current_basedir) / ".." / "schemas" / "config.schema.yaml",
    files=workflow.configfiles,
)
validate(config, "../schemas/config.schema.yaml")

# The demo cohorts are written by the demo_data step, so a sheet may name them before they exist.
DEMO_DIR = "resources/demo"
DEMO_EXPRESSION_FILES = [f"{DEMO_DIR}/{c.expression_file}" for c in DEMO_COHORTS]
DEMO_CLINICAL_FILES = [
    f"{DEMO_DIR}/{c.clinical_file}" for c in DEMO_COHORTS if c.clinical_file
]
SHEET = read_cohort_sheet(config["cohorts"], pending=demo_files(DEMO_DIR))
USES_DEMO = uses_demo([config["cohorts"], *SHEET.files()], DEMO_DIR)
validate(
    pd.read_csv(config["cohorts"], sep="\t", dtype=str, keep_default_na=False),
    "../schemas/cohorts.schema.yaml",
)
# Cutpoint transfer per validation cohort: absolute only on the discovery platform.
check_transfer_config(
    config["validation"],
    {entry.cohort: entry.platform for entry in SHEET.entries},
    {entry.cohort: entry.role for entry in SHEET.entries},
)
DISCOVERY = SHEET.discovery
VALIDATION = SHEET.with_role("validation")
SOURCE = SHEET.with_role("source")
COHORTS = SHEET.ids


wildcard_constraints:
    cohort="|".join(COHORTS),
    validation="|".join(VALIDATION),


# ---------------------------------------------------------------- resources by label
# Rules say `resources: **res("low"|"medium"|"high"|"gpu")`, never raw numbers; `threads:` stays
# a rule directive. Memory (MB) and runtime (minutes) grow with each attempt, so a job killed
# for memory or time is resubmitted bigger (profiles set `retries`). "gpu" also asks for one
# GPU with the SLURM plugin's generic `gpu` resource (sbatch --gpus=1); profiles/slurm sends
# every job that asks for a GPU to the GPU partition, so a new rule using res("gpu") needs no
# profile edit. Partitions, accounts and GPU models live in profiles/slurm/config.yaml only.
# Local runs do not limit `gpu` (it is not in --resources), so no GPU is needed there.
RESOURCE_CLASSES = {
    "low": {"mem_mb": 2000, "runtime": 15},
    "medium": {"mem_mb": 6000, "runtime": 60},
    "high": {"mem_mb": 16000, "runtime": 240},
    "gpu": {"mem_mb": 16000, "runtime": 240, "gpu": 1},
}
SCALED_BY_ATTEMPT = ("mem_mb", "runtime")


def res(label):
    """Resources of a class; memory and runtime scale with the attempt number."""
    if label not in RESOURCE_CLASSES:
        raise ValueError(
            f"unknown resource class {label!r}; expected one of {sorted(RESOURCE_CLASSES)}"
        )
    spec = RESOURCE_CLASSES[label]

    def mem_mb(wildcards, attempt):
        return spec["mem_mb"] * attempt

    def runtime(wildcards, attempt):
        return spec["runtime"] * attempt

    fixed = {key: value for key, value in spec.items() if key not in SCALED_BY_ATTEMPT}
    return {"mem_mb": mem_mb, "runtime": runtime, **fixed}


# ---------------------------------------------------------------- input functions
def workdir_relative(path):
    """A path inside the working directory as a relative path (as rule outputs name it)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def get_cohort_files(wildcards):
    """Expression (and clinical, when given) files of one cohort."""
    entry = SHEET[wildcards.cohort]
    files = {"expression": workdir_relative(entry.expression)}
    if entry.clinical is not None:
        files["clinical"] = workdir_relative(entry.clinical)
    return files


def get_cohort_entry(wildcards):
    """The cohort's sheet row without its file paths (those are inputs)."""
    entry = SHEET[wildcards.cohort]
    return {
        "cohort": entry.cohort,
        "role": entry.role,
        "platform": entry.platform,
        "time": entry.time,
        "event": entry.event,
        "batch": entry.batch,
        "metadata": dict(entry.metadata),
    }


def get_cohort_role(wildcards):
    """Role of one cohort."""
    return SHEET[wildcards.cohort].role


def get_preprocess_fit_inputs(wildcards):
    """Discovery cohort, its QC report, the source cohorts (for their gene ids only), and the
    imputation benchmark when `preprocess.impute` is `auto`; never a validation cohort.
    """
    inputs = {
        "discovery": f"results/qc/{DISCOVERY}/passed.h5ad",
        "quality": f"results/qc/{DISCOVERY}/quality.json",
        "sources": expand("results/qc/{cohort}/passed.h5ad", cohort=SOURCE),
    }
    if config["preprocess"]["impute"] == "auto":
        inputs["benchmark"] = "results/preprocess/imputation_benchmark.tsv"
    return inputs


def get_pretrain_inputs(wildcards):
    """Preprocessed source cohorts; the discovery cohort when there is none."""
    cohorts = SOURCE or [DISCOVERY]
    return expand("results/preprocess/{cohort}.h5ad", cohort=cohorts)


def get_cv_encoder(wildcards):
    """The shared pretrained encoder for CV folds when source cohorts exist, else nothing.

    Without a source cohort the encoder would be pretrained on discovery expression, test
    folds included; each fold then pretrains on its own training samples instead.
    """
    return ["results/train/encoder.pt"] if SOURCE else []


def get_demo_dropped(wildcards):
    """The arrays dropped from the demo cohorts, for the report's first page (demo runs only)."""
    return {"dropped": f"{DEMO_DIR}/dropped_samples.tsv"} if USES_DEMO else {}


def get_sheet_files(wildcards):
    """Every input file named by the cohort sheet, and the sheet itself."""
    return [config["cohorts"], *[workdir_relative(path) for path in SHEET.files()]]

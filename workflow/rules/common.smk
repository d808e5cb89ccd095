# Configuration and cohort-sheet validation, wildcard constraints, input functions, resources.
import pandas as pd
from snakemake.utils import validate

from omicsflow.cohort import read_cohort_sheet

validate(config, "../schemas/config.schema.yaml")

SHEET = read_cohort_sheet(config["cohorts"])
validate(
    pd.read_csv(config["cohorts"], sep="\t", dtype=str, keep_default_na=False),
    "../schemas/cohorts.schema.yaml",
)
DISCOVERY = SHEET.discovery
VALIDATION = SHEET.with_role("validation")
SOURCE = SHEET.with_role("source")
COHORTS = SHEET.ids


wildcard_constraints:
    cohort="|".join(COHORTS),
    validation="|".join(VALIDATION),


# ---------------------------------------------------------------- resources by label
# Memory (MB) and runtime (minutes) grow with each attempt, so a job killed for memory or
# time is resubmitted bigger (profiles set `retries`).
RESOURCE_CLASSES = {
    "low": {"mem_mb": 2000, "runtime": 15},
    "medium": {"mem_mb": 6000, "runtime": 60},
    "high": {"mem_mb": 16000, "runtime": 240},
    "gpu": {"mem_mb": 16000, "runtime": 240},
}


def res(label):
    """Resources of a class; memory and runtime scale with the attempt number."""
    spec = RESOURCE_CLASSES[label]

    def mem_mb(wildcards, attempt):
        return spec["mem_mb"] * attempt

    def runtime(wildcards, attempt):
        return spec["runtime"] * attempt

    return {"mem_mb": mem_mb, "runtime": runtime}


# ---------------------------------------------------------------- input functions
def get_cohort_files(wildcards):
    """Expression (and clinical, when given) files of one cohort."""
    entry = SHEET[wildcards.cohort]
    files = {"expression": str(entry.expression)}
    if entry.clinical is not None:
        files["clinical"] = str(entry.clinical)
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


def get_sheet_files(wildcards):
    """Every input file named by the cohort sheet, and the sheet itself."""
    return [config["cohorts"], *[str(path) for path in SHEET.files()]]

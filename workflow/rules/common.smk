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


def get_pretrain_inputs(wildcards):
    """Preprocessed source cohorts; the discovery cohort when there is none."""
    cohorts = SOURCE or [DISCOVERY]
    return expand("results/preprocess/{cohort}.h5ad", cohort=cohorts)


def get_sheet_files(wildcards):
    """Every input file named by the cohort sheet, and the sheet itself."""
    return [config["cohorts"], *[str(path) for path in SHEET.files()]]

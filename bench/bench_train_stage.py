"""The whole training stage on the toy cohorts, CV included: under 5 minutes on 2 CPU cores.

Writes the default toy cohorts (``python -m omicsflow.toy``) and a working folder whose
``config/config.yaml`` is the repository's (default training settings: 30 pretraining epochs,
up to 500 fine-tuning epochs, 3 × 5-fold CV) naming them. Then:

1. runs the workflow up to what training needs and is not training: the preprocessed discovery
   and source cohorts and the locked signature (``train_attributions`` reads it) — untimed;
2. times ``snakemake --cores 2`` on the training targets (``results/train/model.pt``,
   ``comparison.json``, ``attributions.tsv``): pretraining, the CV split table, every CV fold,
   the aggregation, the final fine-tune and the attributions.

Prints the wall seconds of step 2 against the goal (OK / TOO SLOW), and per rule the number of
jobs and seconds: from the ``benchmarks/`` files of rules with a ``benchmark:`` directive (the
whole job: interpreter start, imports, the work) and from the ``<rule> finished in N s`` line
every rule writes to its log (the work inside the rule's script).

The process and every job it starts are pinned to two CPUs (``BENCH_CPUS``, default ``0,1``)
and to two threads per BLAS/OpenMP pool, so a larger machine does not flatter the numbers.

Usage::

    .venv/bin/python bench/bench_train_stage.py             # the benchmark (minutes)
    .venv/bin/python bench/bench_train_stage.py --dry-run   # plan both steps, run nothing
    .venv/bin/python bench/bench_train_stage.py --keep      # keep the working folder
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
GOAL_S = 300.0
THREADS = "2"
TRAIN_TARGETS = (
    "results/train/model.pt",
    "results/train/comparison.json",
    "results/train/attributions.tsv",
)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_cpus() -> str:
    """Pin this process (and so every child) to ``BENCH_CPUS``; return the CPU list used."""
    wanted = os.environ.get("BENCH_CPUS", "0,1")
    cpus = {int(cpu) for cpu in wanted.split(",")}
    available = os.sched_getaffinity(0)
    if not cpus <= available:
        raise SystemExit(
            f"BENCH_CPUS={wanted} names CPUs outside this machine's {sorted(available)}"
        )
    os.sched_setaffinity(0, cpus)
    return ",".join(str(cpu) for cpu in sorted(cpus))


def child_env() -> dict[str, str]:
    """The environment of every child: this interpreter's bin first, two threads per pool."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.update(dict.fromkeys(THREAD_VARIABLES, THREADS))
    return env


def write_toy(folder: Path) -> Path:
    """The default toy cohorts, written by the package's command line; the sheet's path."""
    command = [sys.executable, "-m", "omicsflow.toy", str(folder)]
    subprocess.run(command, env=child_env(), check=True, capture_output=True, text=True)
    return folder / "cohorts.tsv"


def make_workdir(folder: Path, sheet: Path) -> Path:
    """A working folder whose ``config/config.yaml`` is the repository's, naming ``sheet``."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["cohorts"] = str(sheet)
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def upstream_targets(sheet: Path) -> list[str]:
    """Inputs of the training rules made by other stages: preprocessed cohorts, signature."""
    with sheet.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    cohorts = [row["cohort"] for row in rows if row["role"] in ("discovery", "source")]
    return [
        *(f"results/preprocess/{cohort}.h5ad" for cohort in cohorts),
        "results/biomarkers/signature.json",
        "results/biomarkers/cutpoints.tsv",
    ]


def snakemake(
    workdir: Path, targets: list[str] | tuple[str, ...], *extra: str
) -> tuple[float, dict[str, int]]:
    """Run snakemake on ``targets`` with 2 cores; seconds it took and jobs per rule planned."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--cores",
        THREADS,
        *extra,
        *targets,
    ]
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=workdir, env=child_env(), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed in {workdir}:\n{result.stderr[-5000:]}")
    return elapsed, job_stats(result.stdout + result.stderr)


def job_stats(output: str) -> dict[str, int]:
    """Jobs per rule from snakemake's ``Job stats`` table (empty: nothing to be done)."""
    table = re.search(r"^Job stats:\n(.*?)(?:\n\n|\Z)", output, re.S | re.M)
    if table is None:
        return {}
    rows = re.findall(r"^(\w+)\s+(\d+)\s*$", table.group(1), re.M)
    return {rule: int(count) for rule, count in rows if rule != "total"}


def describe(jobs: dict[str, int]) -> str:
    """``rule×count, ...`` or ``nothing to be done``."""
    if not jobs:
        return "nothing to be done"
    return ", ".join(f"{rule}×{count}" for rule, count in jobs.items())


def benchmark_seconds(workdir: Path) -> dict[str, list[float]]:
    """Seconds of each job of each rule with a ``benchmark:`` directive (``benchmarks/<rule>/``)."""
    seconds: dict[str, list[float]] = defaultdict(list)
    for path in sorted((workdir / "benchmarks").glob("*/*.tsv")):
        with path.open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                seconds[path.parent.name].append(float(row["s"]))
    return seconds


def logged_seconds(workdir: Path) -> dict[str, list[float]]:
    """Seconds from each rule log's ``<rule> finished in N s`` line (``logs/<rule>/``)."""
    pattern = re.compile(r"(\w+) finished in ([\d.]+) s")
    seconds: dict[str, list[float]] = defaultdict(list)
    for path in sorted((workdir / "logs").glob("*/*.log")):
        for rule, value in pattern.findall(path.read_text(errors="replace")):
            seconds[rule].append(float(value))
    return seconds


def report(elapsed: float, workdir: Path, cpus: str) -> None:
    """Print the per-rule table and the verdict."""
    benchmarks, logged = benchmark_seconds(workdir), logged_seconds(workdir)
    train_rules = sorted(rule for rule in {*benchmarks, *logged} if rule.startswith("train_"))
    sys.stdout.write(f"{'rule':<20} {'jobs':>4} {'benchmark s':>12} {'max':>7} {'log s':>8}\n")
    for rule in train_rules:
        bench = benchmarks.get(rule, [])
        log = logged.get(rule, [])
        bench_text = f"{sum(bench):12.1f} {max(bench):7.1f}" if bench else f"{'-':>12} {'-':>7}"
        sys.stdout.write(
            f"{rule:<20} {max(len(bench), len(log)):>4} {bench_text} {sum(log):8.1f}\n"
        )
    verdict = "OK" if elapsed < GOAL_S else "TOO SLOW"
    sys.stdout.write(
        f"training stage (toy cohorts, default config, CPUs {cpus}): {elapsed:.1f} s wall; "
        f"goal < {GOAL_S:.0f} s: {verdict}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="plan both steps (snakemake -n), run nothing"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    cpus = pin_cpus()
    root = Path(tempfile.mkdtemp(prefix="bench_train_stage_"))
    try:
        sheet = write_toy(root / "toy")
        workdir = make_workdir(root / "run", sheet)
        extra = ("--dry-run",) if args.dry_run else ()
        sys.stdout.write(f"step 1 (untimed): preprocessing and signature in {workdir}\n")
        _, jobs = snakemake(workdir, upstream_targets(sheet), *extra)
        sys.stdout.write(f"  jobs: {describe(jobs)}\n")
        if args.dry_run:
            _, jobs = snakemake(workdir, TRAIN_TARGETS, *extra)
            planned = {rule: count for rule, count in jobs.items() if rule.startswith("train_")}
            sys.stdout.write(f"step 2 (timed), training jobs planned: {describe(planned)}\n")
            return
        sys.stdout.write(f"step 2 (timed): {' '.join(TRAIN_TARGETS)}\n")
        elapsed, jobs = snakemake(workdir, TRAIN_TARGETS)
        sys.stdout.write(f"  jobs: {describe(jobs)}\n")
        others = [rule for rule in jobs if not rule.startswith("train_")]
        if others:
            sys.stdout.write(f"  warning: step 2 also ran {others}: the time includes them\n")
        report(elapsed, workdir, cpus)
    finally:
        if args.keep:
            sys.stdout.write(f"working folder kept: {root}\n")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

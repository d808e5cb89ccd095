"""DAG build time for a 200-cohort sheet: `snakemake -n` must finish in under 10 s.

Writes a sheet of 200 cohorts (1 discovery, 149 validation, 50 source; tiny placeholder files,
since a dry run only checks that they exist), then times `snakemake -n` on it, plain and with
the SLURM profile (which adds job groups), against the 4-cohort toy sheet as the reference.
Prints the median of three runs each and the ratios. Run by hand: `make bench`.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
GOAL_S = 10.0
REPEATS = 3


def write_sheet(folder: Path, n_cohorts: int) -> Path:
    """A valid cohort sheet of ``n_cohorts`` with small placeholder files."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["cohort\trole\tplatform\texpression\tclinical\ttime\tevent"]
    n_source = n_cohorts // 4
    for index in range(n_cohorts):
        role = "discovery" if index == 0 else "source" if index <= n_source else "validation"
        name = f"c{index:03d}"
        (folder / f"{name}_expression.tsv").write_text("gene\ts1\ts2\ng1\t1.0\t2.0\n")
        clinical = ""
        if role != "source":
            clinical = f"{name}_clinical.tsv"
            (folder / clinical).write_text("sample\ttime\tevent\ns1\t1.0\t1\ns2\t2.0\t0\n")
        rows.append(f"{name}\t{role}\tmicroarray\t{name}_expression.tsv\t{clinical}\ttime\tevent")
    sheet = folder / "cohorts.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def workdir_for(folder: Path, sheet: Path) -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["cohorts"] = str(sheet)
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def dry_run(workdir: Path, *profile: str) -> tuple[float, int]:
    """Seconds `snakemake -n` took, and the number of jobs it planned."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "-n", *profile]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    total = re.findall(r"^total\s+(\d+)$", result.stdout + result.stderr, re.MULTILINE)
    return elapsed, int(total[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = {
            n: workdir_for(root / f"run{n}", write_sheet(root / f"data{n}", n)) for n in (4, 200)
        }
        profiles = {"plain": (), "slurm profile": ("--profile", str(REPO / "profiles" / "slurm"))}
        for label, profile in profiles.items():
            timings = {}
            for n, workdir in cases.items():
                runs = [dry_run(workdir, *profile) for _ in range(REPEATS)]
                timings[n] = (statistics.median(t for t, _ in runs), runs[0][1])
            (small, small_jobs), (large, large_jobs) = timings[4], timings[200]
            verdict = "OK" if large < GOAL_S else "TOO SLOW"
            sys.stdout.write(
                f"{label:>13}: 4 cohorts {small:.2f} s ({small_jobs} jobs); "
                f"200 cohorts {large:.2f} s ({large_jobs} jobs); ratio {large / small:.2f}; "
                f"goal < {GOAL_S:.0f} s: {verdict}\n"
            )


if __name__ == "__main__":
    main()

"""Benchmark: quality scoring of a 1,000 samples × 20,000 genes cohort (goal: < 30 s, < 4 GB).

Run by hand: ``.venv/bin/python bench/bench_quality.py [--samples N] [--genes P]``.

1. ``score_cohort`` on a simulated cohort (log2 scale, gene modules, 5% missing values, two
   batches, survival outcome, 3 planted outliers): wall time, peak Python allocations
   (tracemalloc; numpy buffers included) and the process's peak resident memory
   (``resource.getrusage``: everything, data and libraries included).
2. The pairwise-complete sample–sample correlation (``sample_geometry``) against the reference
   implementation, pandas ``DataFrame.corr`` (pairwise-complete Pearson), on the same samples:
   both times, the ratio and the largest difference.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import tracemalloc

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow import toy_defects
from omicsflow.quality import score_cohort
from omicsflow.quality.geometry import sample_geometry


def simulate(n_samples: int, n_genes: int, seed: int = 1) -> ad.AnnData:
    """A log2-scale cohort with 50 gene modules, 5% missing values, batches and outcomes."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(4, 11, n_genes).astype(np.float32)
    sds = rng.uniform(0.5, 1.5, n_genes).astype(np.float32)
    modules = rng.integers(0, 50, n_genes)
    factors = rng.standard_normal((n_samples, 50)).astype(np.float32)
    x = 0.6 * factors[:, modules] + 0.8 * rng.standard_normal((n_samples, n_genes), np.float32)
    x = means + sds * x
    x[rng.uniform(size=x.shape) < 0.05] = np.nan
    obs = pd.DataFrame(
        {
            "time": rng.uniform(1, 120, n_samples).round(2),
            "event": (rng.uniform(size=n_samples) < 0.5).astype(int),
            "batch": rng.choice(["b1", "b2"], n_samples),
        },
        index=[f"S{i:05d}" for i in range(n_samples)],
    )
    adata = ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=[f"G{j:05d}" for j in range(n_genes)]))
    adata.uns["cohort"] = {
        "id": "bench",
        "role": "discovery",
        "platform": "microarray",
        "time_unit": "months",
    }
    return adata


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--reference-samples", type=int, default=300)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores in use, "
        f"load average {os.getloadavg()[0]:.1f} (timings are noisy on a shared machine)"
    )
    planted = toy_defects.plant_outliers(simulate(args.samples, args.genes), 3, seed=2)
    adata = planted.adata
    print(f"cohort: {adata.n_obs} × {adata.n_vars}; rss so far {peak_rss_mb():.0f} MB")

    tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    report = score_cohort(adata, seed=1, candidate_variables=6)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"score_cohort: {wall:.1f} s wall (goal < 30 s), {cpu:.1f} s CPU; peak allocations "
        f"{traced_peak / 2**20:.0f} MB (tracemalloc); peak RSS of the process "
        f"{peak_rss_mb():.0f} MB (goal < 4096 MB)"
    )
    print(
        f"  verdict {report.verdict}, score {report.score:.3f}; outliers flagged "
        f"{report.flagged_samples['outliers']} (planted {list(planted.samples)})"
    )

    n = min(args.reference_samples, adata.n_obs)
    values = np.asarray(adata.X[:n], dtype=np.float64)
    observed = ~np.isnan(values)
    started = time.perf_counter()
    geometry = sample_geometry(values, observed, n_pcs=5)
    ours = time.perf_counter() - started
    centred = values - np.nanmedian(values, axis=0)
    started = time.perf_counter()
    reference = pd.DataFrame(centred.T).corr(min_periods=3).to_numpy()
    theirs = time.perf_counter() - started
    difference = float(np.nanmax(np.abs(reference - geometry.correlation)))
    print(
        f"pairwise-complete correlation, {n} samples × {adata.n_vars} genes: sample_geometry "
        f"{ours:.2f} s (also distances and PCA) vs pandas DataFrame.corr {theirs:.2f} s: "
        f"{theirs / ours:.1f}× faster; max |difference| {difference:.1e}"
    )


if __name__ == "__main__":
    main()

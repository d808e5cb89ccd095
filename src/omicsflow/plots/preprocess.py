"""Preprocessing figures: the imputation benchmark and the gene alignment per cohort."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from omicsflow.plots.save import save_png

__all__ = ["gene_alignment_plot", "imputation_benchmark_plot"]

_CHOSEN, _OTHER, _FAILED = "#1b7837", "#9e9e9e", "#b2182b"


def imputation_benchmark_plot(
    path: str | Path, table: pd.DataFrame, *, chosen: str, cohort: str = ""
) -> None:
    """Bar chart of each candidate's NRMSE on the hidden cells, the chosen method highlighted.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        :func:`~omicsflow.preprocess.impute.benchmark_imputers` output.
    chosen
        The method picked.
    cohort
        Cohort id for the title.
    """
    methods = list(table["method"])
    nrmse = table["nrmse"].to_numpy(dtype=np.float64)
    failed = ~np.isfinite(nrmse)
    heights = np.where(failed, 0.0, nrmse)
    colours = [
        _FAILED if bad else _CHOSEN if method == chosen else _OTHER
        for method, bad in zip(methods, failed, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(6.5, 0.6 * len(methods) + 1.8))
    positions = np.arange(len(methods))[::-1]
    ax.barh(positions, heights, color=colours)
    top = max(1.1, float(np.nanmax(heights)) * 1.25 if heights.size else 1.1)
    for y, height, bad, seconds in zip(
        positions, heights, failed, table["seconds"].to_numpy(), strict=True
    ):
        label = "failed" if bad else f"{height:.3f}  ({seconds:.1f} s)"
        ax.text(height + top * 0.01, y, label, va="center", fontsize=9)
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.text(1.0, positions.max() + 0.55, " ≈ gene mean", fontsize=8, color="0.3", va="bottom")
    ax.set_yticks(positions, methods)
    ax.set_xlim(0, top)
    ax.set_ylim(-0.6, positions.max() + 1.0)
    ax.set_xlabel("NRMSE on hidden cells (error / gene SD; lower is better)")
    n_hidden = int(table["n_hidden"].iloc[0]) if len(table) else 0
    where = f" on {cohort}" if cohort else ""
    ax.set_title(f"Imputation benchmark{where}: {n_hidden} cells hidden")
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    save_png(fig, path)


def gene_alignment_plot(path: str | Path, table: pd.DataFrame) -> None:
    """Per cohort, its genes split into model genes kept, other genes dropped, model genes absent.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        :func:`~omicsflow.preprocess.align.gene_table` output.
    """
    cohorts = list(table["cohort"])
    positions = np.arange(len(cohorts))[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(cohorts) + 1.8))
    kept = table["n_kept"].to_numpy()
    dropped = table["n_dropped"].to_numpy()
    absent = table["n_absent"].to_numpy()
    ax.barh(positions, kept, color="#2166ac", label="model genes measured")
    ax.barh(positions, dropped, left=kept, color="#bdbdbd", label="other genes (not used)")
    ax.barh(positions, absent, left=kept + dropped, color="#d6604d", label="model genes absent")
    for y, row in zip(positions, table.itertuples(index=False), strict=True):
        ax.text(
            row.n_genes + row.n_absent,
            y,
            f"  {row.share_absent:.0%} absent",
            va="center",
            fontsize=8,
        )
    labels = [
        f"{cohort} ({role})" if "role" in table else cohort
        for cohort, role in zip(cohorts, table.get("role", cohorts), strict=True)
    ]
    ax.set_yticks(positions, labels)
    ax.set_xlabel("genes")
    ax.set_title(f"{int(table['n_kept'].iloc[0] + table['n_absent'].iloc[0])} model genes", pad=24)
    ax.set_xlim(0, float((table["n_genes"] + table["n_absent"]).max()) * 1.18)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    save_png(fig, path)

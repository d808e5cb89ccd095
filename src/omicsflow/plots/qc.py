"""Quality-control figures of one cohort, drawn from its :class:`QualityReport`.

* :func:`missingness_plot`: missing share per sample, with the limit and flagged samples;
* :func:`sample_distance_plot`: sample–sample correlation heatmap (clustered) beside the
  distance-to-others statistic with its boxplot fence, flagged samples marked;
* :func:`pca_plot`: the first two principal components, coloured by batch and by flag;
* :func:`distribution_plot`: per-sample boxplots (box = quartiles, whiskers = 2.5–97.5%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from omicsflow.plots.save import save_png

__all__ = [
    "distribution_plot",
    "missingness_plot",
    "pca_plot",
    "quality_plots",
    "sample_distance_plot",
]

_OK = "#9e9e9e"
# Flag colours in order of precedence: a sample with several flags shows the first.
_FLAG_COLOURS = {
    "heavy_missing": "#e08214",
    "mixed_scale": "#762a83",
    "outliers": "#b2182b",
    "duplicates": "#2166ac",
}
_FLAG_LABELS = {
    "heavy_missing": "heavy missingness",
    "mixed_scale": "other scale",
    "outliers": "outlier",
    "duplicates": "duplicate",
}
_BATCH_COLOURS = ("#1b7837", "#2166ac", "#e08214", "#762a83", "#b2182b", "#35978f", "#8c510a")


def _flag_of(table: pd.DataFrame) -> np.ndarray:
    """Per sample, the first flag that applies (``""`` for none)."""
    flag = np.full(len(table), "", dtype=object)
    for kind in reversed(list(_FLAG_COLOURS)):
        flag[table[f"flag_{kind}"].to_numpy(dtype=bool)] = kind
    return flag


def _flag_colours(flag: np.ndarray) -> list[str]:
    return [_FLAG_COLOURS.get(kind, _OK) for kind in flag]


def _legend_for_flags(ax: Any, flag: np.ndarray, loc: str = "best") -> None:
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=_OK, label="not flagged"),
        *[
            plt.Line2D([], [], marker="o", linestyle="", color=colour, label=_FLAG_LABELS[kind])
            for kind, colour in _FLAG_COLOURS.items()
            if (flag == kind).any()
        ],
    ]
    ax.legend(handles=handles, loc=loc, fontsize=8, framealpha=0.9)


def missingness_plot(path: str | Path, table: pd.DataFrame, *, limit: float, title: str) -> None:
    """Missing share of every sample (cohort order), the per-sample limit, flagged samples red.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        :attr:`QualityReport.sample_table`.
    limit
        ``qc.max_sample_missing``.
    title
        Figure title.
    """
    fig, ax = plt.subplots(figsize=(8, 3.6))
    missing = table["missing_fraction"].to_numpy()
    flagged = table["flag_heavy_missing"].to_numpy(dtype=bool)
    position = np.arange(len(table))
    ax.vlines(position, 0, missing, color=np.where(flagged, "#b2182b", _OK), linewidth=1)
    ax.axhline(limit, color="#b2182b", linestyle="--", linewidth=1, label=f"limit {limit:.0%}")
    for i in np.flatnonzero(flagged)[:20]:
        ax.annotate(
            table["sample"].iloc[i],
            (i, missing[i]),
            fontsize=7,
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
        )
    ax.set_xlim(-1, len(table))
    ax.set_ylim(0, max(1.1 * float(missing.max(initial=0.0)), 1.3 * limit))
    ax.set_xlabel("Sample (cohort order)")
    ax.set_ylabel("Missing share")
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    fig.tight_layout()
    save_png(fig, path, tight=False)


def _cluster_order(correlation: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    n = correlation.shape[0]
    if n < 3:
        return np.arange(n)
    distance = 1.0 - np.nan_to_num(correlation, nan=0.0)
    distance = (distance + distance.T) / 2.0
    np.fill_diagonal(distance, 0.0)
    return leaves_list(linkage(squareform(np.clip(distance, 0.0, None)), method="average"))


def sample_distance_plot(
    path: str | Path,
    table: pd.DataFrame,
    correlation: np.ndarray,
    *,
    fence: float | None,
    title: str,
) -> None:
    """Correlation heatmap (samples clustered) and distance to others with the boxplot fence.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        :attr:`QualityReport.sample_table`.
    correlation
        :attr:`QualityReport.correlation`.
    fence
        Boxplot fence of the distance statistic (``None`` when not computed).
    title
        Figure title.
    """
    flag = _flag_of(table)
    colours = _flag_colours(flag)
    order = _cluster_order(correlation)
    fig = plt.figure(figsize=(13, 5.6))
    grid = fig.add_gridspec(
        1, 5, width_ratios=[0.03, 1.0, 0.04, 0.14, 1.3], wspace=0.08, left=0.05, right=0.93
    )
    strip = fig.add_subplot(grid[0])
    heat = fig.add_subplot(grid[1])
    scale = fig.add_subplot(grid[2])
    bars = fig.add_subplot(grid[4])
    rgb = np.array([mpl.colors.to_rgb(colours[i]) for i in order])[:, None, :]
    strip.imshow(rgb, aspect="auto", interpolation="nearest")
    strip.set_xticks([])
    strip.set_yticks([])
    strip.set_ylabel("Samples (clustered); colour = flag")
    image = heat.imshow(
        correlation[np.ix_(order, order)],
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        aspect="auto",
        interpolation="nearest",
    )
    heat.set_xticks([])
    heat.set_yticks([])
    heat.set_title("Correlation of gene-centred profiles", fontsize=10)
    fig.colorbar(image, cax=scale, label="Pearson r")
    distance = table["distance_to_others"].to_numpy()
    position = np.arange(len(table))
    bars.vlines(position, 0, distance, color=colours, linewidth=1)
    if fence is not None and np.isfinite(fence):
        bars.axhline(fence, color="#b2182b", linestyle="--", linewidth=1, label="Q3 + 1.5·IQR")
    for i in np.flatnonzero(table["flag_outliers"].to_numpy(dtype=bool))[:20]:
        bars.annotate(
            table["sample"].iloc[i],
            (i, distance[i]),
            fontsize=7,
            xytext=(3, 0),
            textcoords="offset points",
        )
    finite = distance[np.isfinite(distance)]
    if finite.size:
        low, high = float(finite.min()), max(float(finite.max()), fence or 0.0)
        bars.set_ylim(low - 0.1 * (high - low), high + 0.1 * (high - low))
    bars.set_xlim(-1, len(table))
    bars.set_xlabel("Sample (cohort order)")
    bars.set_ylabel("Mean distance to the other samples")
    bars.yaxis.set_label_position("right")
    bars.yaxis.tick_right()
    _legend_for_flags(bars, flag, loc="lower right")
    fig.suptitle(title)
    save_png(fig, path, tight=False)


def pca_plot(path: str | Path, table: pd.DataFrame, *, explained: list[float], title: str) -> None:
    """PC1 against PC2, coloured by batch (left) and by QC flag (right).

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        :attr:`QualityReport.sample_table`.
    explained
        Share of variance of each component (``metrics["pca"]["explained"]``).
    title
        Figure title.
    """
    fig, (by_batch, by_flag) = plt.subplots(1, 2, figsize=(11, 4.8), sharex=True, sharey=True)
    x = table["pc1"].to_numpy() if "pc1" in table else np.zeros(len(table))
    y = table["pc2"].to_numpy() if "pc2" in table else np.zeros(len(table))
    if "batch" in table:
        for i, batch in enumerate(sorted(table["batch"].astype(str).unique())):
            members = table["batch"].astype(str).to_numpy() == batch
            by_batch.scatter(
                x[members],
                y[members],
                s=12,
                color=_BATCH_COLOURS[i % len(_BATCH_COLOURS)],
                label=batch,
                alpha=0.8,
            )
        by_batch.legend(title="batch", fontsize=8, frameon=False)
        by_batch.set_title("Coloured by batch", fontsize=10)
    else:
        by_batch.scatter(x, y, s=12, color=_OK)
        by_batch.set_title("No batch column", fontsize=10)
    flag = _flag_of(table)
    order = np.argsort(flag != "", kind="stable")  # flagged samples drawn on top
    by_flag.scatter(x[order], y[order], s=14, c=[_flag_colours(flag)[i] for i in order])
    for i in np.flatnonzero(flag != "")[:20]:
        by_flag.annotate(table["sample"].iloc[i], (x[i], y[i]), fontsize=7)
    _legend_for_flags(by_flag, flag)
    by_flag.set_title("Coloured by QC flag", fontsize=10)
    shares = [*explained, 0.0, 0.0]
    for ax in (by_batch, by_flag):
        ax.set_xlabel(f"PC1 ({shares[0]:.1%} of variance)")
    by_batch.set_ylabel(f"PC2 ({shares[1]:.1%} of variance)")
    fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path, tight=False)


def distribution_plot(path: str | Path, table: pd.DataFrame, *, title: str) -> None:
    """Per-sample boxplots of the expression values as given (before any log transform).

    Box = quartiles, line = median, whiskers = 2.5% and 97.5% quantiles; flagged samples in
    their flag's colour.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        :attr:`QualityReport.sample_table`.
    title
        Figure title.
    """
    flag = _flag_of(table)
    colours = np.array(_flag_colours(flag), dtype=object)
    n = len(table)
    position = np.arange(n)
    width = max(0.5, min(8.0, 400.0 / max(n, 1)))
    fig, ax = plt.subplots(figsize=(max(8.0, min(16.0, n * 0.06)), 4.2))
    ax.vlines(position, table["q02_5"], table["q97_5"], color=colours, linewidth=0.6)
    ax.vlines(position, table["q25"], table["q75"], color=colours, linewidth=width)
    ax.scatter(position, table["median"], s=max(1.0, width), color="black", zorder=3)
    raw = table[["q25", "q75"]].to_numpy()
    if np.nanmax(raw, initial=0.0) > 100:
        ax.set_yscale("symlog")
    ax.set_xlim(-1, n)
    ax.set_xlabel("Sample (cohort order)")
    ax.set_ylabel("Expression value (as given)")
    ax.set_title(title)
    _legend_for_flags(ax, flag)
    fig.tight_layout()
    save_png(fig, path, tight=False)


def quality_plots(report: Any, paths: dict[str, str | Path]) -> None:
    """Draw every QC figure of one cohort.

    Parameters
    ----------
    report
        The cohort's :class:`~omicsflow.quality.QualityReport`.
    paths
        Output PNG per figure: ``missingness``, ``distances``, ``pca``, ``distributions``.
    """
    table = report.sample_table
    label = f"{report.cohort} ({report.role}): score {report.score:.2f}, {report.verdict}"
    missingness_plot(
        paths["missingness"],
        table,
        limit=float(report.options["max_sample_missing"]),
        title=f"Missing values per sample — {label}",
    )
    sample_distance_plot(
        paths["distances"],
        table,
        report.correlation,
        fence=report.metrics["outliers"].get("distance_fence"),
        title=f"Sample similarity and outliers — {label}",
    )
    pca_plot(
        paths["pca"],
        table,
        explained=report.metrics["pca"]["explained"],
        title=f"Principal components — {label}",
    )
    distribution_plot(paths["distributions"], table, title=f"Distribution of each sample — {label}")

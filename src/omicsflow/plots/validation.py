"""Validation figures: forest plot, calibration by risk group, random-signature control.

Kaplan–Meier curves of risk groups use :func:`omicsflow.plots.km_plot`; a cohort left out of
validation gets :func:`notice_plot`, a figure that says why instead of a missing file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from omicsflow.plots.save import save_png

__all__ = [
    "calibration_plot",
    "forest_figure",
    "forest_plot",
    "notice_plot",
    "random_signature_plot",
]

_COLOURS = ("#1b7837", "#b2182b", "#2166ac", "#e08214", "#762a83")
_SCORE_NAMES = {"signature": "signature", "model": "network"}
_MARKERS = ("o", "s", "^", "D", "v", "P")


def notice_plot(path: str | Path, *, title: str, message: str) -> None:
    """A figure that states, in words, why there is nothing to plot (e.g. cohort excluded).

    Parameters
    ----------
    path
        Output PNG (written atomically).
    title
        Figure title.
    message
        The statement shown in a warning box.
    """
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        fontsize=11,
        color="#8c2d04",
        bbox={"facecolor": "#fff7bc", "edgecolor": "#cc4c02", "boxstyle": "round,pad=0.8"},
        transform=ax.transAxes,
    )
    save_png(fig, path, tight=False)


def forest_plot(path: str | Path, analyses: list[dict[str, Any]], *, title: str) -> None:
    """Per-cohort hazard ratios with 95% CI and the pooled random-effects estimate.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    analyses
        One :func:`omicsflow.validate.meta.meta_analyse` result per panel (e.g. signature,
        network), drawn top to bottom.
    title
        Figure title.
    """
    save_png(forest_figure(analyses, title=title), path, tight=False)


def forest_figure(analyses: list[dict[str, Any]], *, title: str) -> Figure:
    """The figure of :func:`forest_plot`, not yet saved.

    Parameters
    ----------
    analyses
        One :func:`omicsflow.validate.meta.meta_analyse` result per panel.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One axes (log x scale): per cohort a CI segment ``[hr_ci_low, hr_ci_high]`` and a
        square marker at ``hazard_ratio``; per pooled estimate a diamond (a filled polygon
        through ``hr_ci_low``, ``hazard_ratio``, ``hr_ci_high``).
    """
    rows = sum(len(a["cohorts"]) + 2 + len(a["left_out"]) for a in analyses) or 1
    fig, ax = plt.subplots(figsize=(11, 1.4 + 0.42 * rows))
    y = 0.0
    ticks, labels = [], []
    all_values = [1.0]
    for analysis in analyses:
        ticks.append(y)
        labels.append(f"$\\bf{{{_SCORE_NAMES.get(analysis['score'], analysis['score'])}}}$")
        y -= 1
        for entry in analysis["cohorts"]:
            hr, low, high = entry["hazard_ratio"], entry["hr_ci_low"], entry["hr_ci_high"]
            size = 4 + 10 * entry.get("weight", 0.5)
            ax.plot([low, high], [y, y], color="0.2", linewidth=1.2)
            ax.plot(hr, y, "s", color="#2166ac", markersize=size)
            ticks.append(y)
            labels.append(
                f"{entry['cohort']}  (n={entry['n']}, events={entry['events']})  "
                f"HR {hr:.2f} [{low:.2f}, {high:.2f}]"
            )
            all_values += [low, high]
            y -= 1
        for cohort, reason in analysis["left_out"].items():
            ticks.append(y)
            labels.append(f"{cohort}: left out ({reason})")
            y -= 1
        if "hazard_ratio" in analysis:
            hr, low, high = analysis["hazard_ratio"], analysis["hr_ci_low"], analysis["hr_ci_high"]
            diamond_x = [low, hr, high, hr, low]
            diamond_y = [y, y + 0.3, y, y - 0.3, y]
            ax.fill(diamond_x, diamond_y, color="#b2182b")
            i2 = analysis["i2"]
            i2_text = "n/a" if i2 is None or not np.isfinite(i2) else f"{i2:.0f}%"
            ticks.append(y)
            labels.append(
                f"Random effects (DL), k={analysis['k']}  HR {hr:.2f} [{low:.2f}, {high:.2f}]  "
                f"I² {i2_text}, τ² {analysis['tau2']:.3g}"
            )
            all_values += [low, high]
        else:
            ticks.append(y)
            labels.append("no cohort to pool")
        y -= 1.5
    ax.axvline(1.0, color="0.5", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    finite = [v for v in all_values if v is not None and np.isfinite(v) and v > 0]
    low_limit, high_limit = min(finite) / 1.3, max(finite) * 1.3
    ax.set_xlim(low_limit, high_limit)
    candidates = np.array([0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32])
    ax.set_xticks(candidates[(candidates >= low_limit) & (candidates <= high_limit)])
    ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
    ax.set_yticks(ticks, labels, fontsize=8.5)
    ax.set_ylim(y + 1, 0.8)
    ax.set_xlabel("Hazard ratio, highest vs lowest risk group (log scale; 95% CI)")
    fig.suptitle(title)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.tick_params(axis="y", length=0)
    fig.tight_layout()
    return fig


def calibration_plot(
    path: str | Path, calibration: pd.DataFrame, *, title: str, time_unit: str = ""
) -> None:
    """Observed (cohort Kaplan–Meier, 95% CI) vs predicted (discovery) survival per risk group.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    calibration
        ``calibration.tsv`` rows: ``score, group, horizon, predicted, observed,
        observed_ci_low, observed_ci_high``; one panel per ``score``.
    title
        Figure title.
    time_unit
        Unit of the horizons, for the legend.
    """
    scores = list(dict.fromkeys(calibration["score"]))
    fig, axes = plt.subplots(1, max(1, len(scores)), figsize=(5.2 * max(1, len(scores)), 4.6))
    axes = np.atleast_1d(axes)
    horizons = sorted(set(calibration["horizon"]))
    unit = f" {time_unit}" if time_unit else ""
    for ax, score in zip(axes, scores, strict=False):
        table = calibration[calibration["score"] == score]
        for g, group in enumerate(dict.fromkeys(table["group"])):
            for h, horizon in enumerate(horizons):
                row = table[(table["group"] == group) & (table["horizon"] == horizon)]
                if row.empty or not np.isfinite(row[["predicted", "observed"]].to_numpy()).all():
                    continue
                row = row.iloc[0]
                ax.errorbar(
                    row["predicted"],
                    row["observed"],
                    yerr=[
                        [row["observed"] - row["observed_ci_low"]],
                        [row["observed_ci_high"] - row["observed"]],
                    ],
                    fmt=_MARKERS[h % len(_MARKERS)],
                    color=_COLOURS[g % len(_COLOURS)],
                    capsize=3,
                    label=f"{group}, {horizon:g}{unit}",
                )
        ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel("Predicted survival (discovery, same risk group)")
        ax.set_ylabel("Observed survival (this cohort, KM ± 95% CI)")
        ax.set_title(_SCORE_NAMES.get(score, score), fontsize=10)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path, tight=False)


def random_signature_plot(
    path: str | Path, controls: dict[str, tuple[np.ndarray, float, float]], *, title: str
) -> None:
    """Histogram of random-signature C-indices per cohort with the signature's C marked.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    controls
        Cohort → ``(random C-indices, signature C-index, empirical p)``; an empty dict draws
        a notice.
    title
        Figure title.
    """
    if not controls:
        notice_plot(path, title=title, message="No validation cohort was evaluated.")
        return
    fig, axes = plt.subplots(1, len(controls), figsize=(4.6 * len(controls), 3.6), squeeze=False)
    for ax, (cohort, (values, observed, p_value)) in zip(axes[0], controls.items(), strict=True):
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        ax.hist(finite, bins=30, color="0.7", edgecolor="0.4")
        ax.axvline(observed, color="#b2182b", linewidth=2, label=f"signature C = {observed:.3f}")
        ax.axvline(0.5, color="0.4", linestyle=":", linewidth=1)
        ax.set_title(f"{cohort}: empirical p = {p_value:.3g}", fontsize=10)
        ax.set_xlabel(f"C-index of {finite.size} random signatures")
        ax.set_ylabel("Count")
        ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path, tight=False)

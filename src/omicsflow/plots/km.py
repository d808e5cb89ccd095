"""Kaplan–Meier curves with numbers at risk."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from omicsflow.plots.save import save_png
from omicsflow.survival.metrics import kaplan_meier, numbers_at_risk

__all__ = ["km_figure", "km_plot"]

_COLOURS = ("#1b7837", "#b2182b", "#2166ac", "#e08214", "#762a83")


def km_plot(
    path: str | Path,
    time: np.ndarray,
    event: np.ndarray,
    groups: dict[str, np.ndarray],
    *,
    title: str,
    annotation: str = "",
    time_unit: str = "",
) -> None:
    """Draw Kaplan–Meier curves per group with a numbers-at-risk table, and save as PNG.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    time, event, groups, title, annotation, time_unit
        As for :func:`km_figure`.
    """
    figure = km_figure(time, event, groups, title=title, annotation=annotation, time_unit=time_unit)
    save_png(figure, path)


def km_figure(
    time: np.ndarray,
    event: np.ndarray,
    groups: dict[str, np.ndarray],
    *,
    title: str,
    annotation: str = "",
    time_unit: str = "",
) -> Figure:
    """Kaplan–Meier curves per group with a numbers-at-risk table (not yet saved).

    Parameters
    ----------
    time, event
        Survival outcome.
    groups
        Label → boolean membership mask, in legend order.
    title
        Figure title.
    annotation
        Text shown in the plot (e.g. log-rank p and HR with CI).
    time_unit
        Axis label unit.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the curves (with ``annotation`` as a text) and below them the table, one
        text per group and tick time holding the number at risk (``time >= tick``).
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(bool)
    fig, (ax, table_ax) = plt.subplots(
        2, 1, figsize=(7, 5.6), gridspec_kw={"height_ratios": [4, 1.1]}, sharex=True
    )
    last = float(time.max()) if time.size else 1.0
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, last)
    ticks = ticks[(ticks >= 0) & (ticks <= last)]
    for i, (label, mask) in enumerate(groups.items()):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            continue
        colour = _COLOURS[i % len(_COLOURS)]
        km = kaplan_meier(time[mask], event[mask])
        steps_t = np.r_[0.0, km.time]
        ax.step(
            steps_t,
            np.r_[1.0, km.survival],
            where="post",
            color=colour,
            label=f"{label} (n={int(mask.sum())}, events={int(event[mask].sum())})",
        )
        ax.fill_between(
            steps_t,
            np.r_[1.0, km.ci_low],
            np.r_[1.0, km.ci_high],
            step="post",
            color=colour,
            alpha=0.15,
            linewidth=0,
        )
        censored = ~event[mask]
        ax.plot(
            time[mask][censored],
            km.survival_at(time[mask][censored]),
            "|",
            color=colour,
            markersize=7,
        )
        at_risk = numbers_at_risk(time[mask], ticks)
        for tick, count in zip(ticks, at_risk, strict=True):
            table_ax.text(
                tick, -i, str(int(count)), ha="center", va="center", color=colour, fontsize=9
            )
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Survival probability")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=9, frameon=False)
    if annotation:
        ax.text(
            0.98,
            0.98,
            annotation,
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"},
        )
    table_ax.set_ylim(-len(groups) + 0.5, 0.5)
    table_ax.set_yticks([-i for i in range(len(groups))], list(groups))
    table_ax.set_title("Number at risk", fontsize=9, loc="left")
    table_ax.set_xticks(ticks)
    table_ax.set_xlabel(f"Time ({time_unit})" if time_unit else "Time")
    for spine in ("top", "right", "left"):
        table_ax.spines[spine].set_visible(False)
    table_ax.tick_params(axis="y", length=0)
    return fig

"""Figures of the biomarker discovery: KM of top genes, statistic profiles, volcano, stability.

Every function reads the ``cutpoints.tsv`` table (and, where needed, the discovery expression
and outcome or the locked signature) and writes one PNG atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import optimize

from omicsflow.plots.km import km_plot
from omicsflow.plots.save import save_png
from omicsflow.survival.cutpoint import p_lausen94
from omicsflow.survival.logrank import logrank_scores, maxstat_profile

__all__ = [
    "km_top_genes",
    "null_control_plot",
    "stability_plot",
    "statistic_profile_figure",
    "statistic_profiles",
    "volcano_figure",
    "volcano_plot",
]

_COLOURS = ("#b2182b", "#2166ac", "#1b7837", "#e08214", "#762a83", "#4d4d4d")


def _format_p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else (f"{p:.2g}" if p >= 1e-300 else "<1e-300")


def km_top_genes(
    outdir: str | Path,
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    top: int = 4,
    time_unit: str = "",
) -> list[Path]:
    """Kaplan–Meier curves (with numbers at risk) of the ``top`` genes split at their cutpoints.

    Parameters
    ----------
    outdir
        Folder for ``km_<rank>_<gene>.png`` (created).
    cutpoints
        The scan table, best first.
    expression
        Discovery expression, samples × genes.
    time, event
        Discovery outcome.
    top
        Number of genes.
    time_unit
        Time axis unit.

    Returns
    -------
    list of pathlib.Path
        The written figures.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    best = cutpoints.dropna(subset=["cutpoint"]).head(top)
    for rank, row in enumerate(best.itertuples(index=False), start=1):
        high = expression[row.gene].to_numpy(dtype=np.float64) > row.cutpoint
        path = outdir / f"km_{rank}_{row.gene}.png"
        km_plot(
            path,
            time,
            event,
            {f"low (≤ {row.cutpoint:.3g})": ~high, f"high (> {row.cutpoint:.3g})": high},
            title=f"#{rank} {row.gene}: cut at the {100 * row.cutpoint_percentile:.0f}th "
            f"percentile ({row.direction.replace('_', ' ')})",
            annotation=(
                f"maxstat M = {row.statistic:.2f}\n"
                f"corrected p (Lau94) = {_format_p(row.p_value)}, q = {_format_p(row.q_value)}\n"
                f"naive log-rank p = {_format_p(row.logrank_p)}\n"
                f"HR high vs low = {row.hazard_ratio:.2f} "
                f"({row.hr_ci_low:.2f}–{row.hr_ci_high:.2f})"
            ),
            time_unit=time_unit,
        )
        written.append(path)
    return written


def _critical_value(t_sum: float, t3_sum: float, alpha: float = 0.05) -> float:
    """M at which the Lausen–Schumacher 1994 p-value equals ``alpha``."""

    def excess(m: float) -> float:
        return float(p_lausen94(np.array([m]), np.array([t_sum]), np.array([t3_sum]))[0]) - alpha

    return float(optimize.brentq(excess, 1.0, 10.0))


def statistic_profiles(
    path: str | Path,
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    top: int = 4,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
) -> None:
    """The standardised log-rank statistic over every candidate cutpoint of the top genes.

    The x axis is the share of samples in the low group, so genes on different scales share
    it; dashed lines mark 1.96 (naive 5% level, ignoring the search) and the 5% critical value
    of the maximum by Lausen & Schumacher 1994 for an untied gene. Saved as a PNG at ``path``
    (written atomically); the arguments are those of :func:`statistic_profile_figure`.
    """
    figure = statistic_profile_figure(
        cutpoints, expression, time, event, top=top, min_prop=min_prop, max_prop=max_prop
    )
    save_png(figure, path)


def statistic_profile_figure(
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    top: int = 4,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
) -> Figure:
    """The figure of :func:`statistic_profiles`, not yet saved.

    Parameters
    ----------
    cutpoints
        The scan table, best first.
    expression
        Discovery expression, samples × genes.
    time, event
        Discovery outcome.
    top
        Number of genes (the first ``top`` rows with a cutpoint).
    min_prop, max_prop
        Candidate range of the scan.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: per gene a line (label = gene) of |S − E|/√V against the share of samples
        in the low group at each candidate cutpoint and a dot at its maximum; horizontal
        lines at 1.96 and at the Lausen–Schumacher 1994 5% critical value.
    """
    scores = logrank_scores(time, event)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    n = len(time)
    best = cutpoints.dropna(subset=["cutpoint"]).head(top)
    for i, row in enumerate(best.itertuples(index=False)):
        profile = maxstat_profile(
            expression[row.gene].to_numpy(dtype=np.float64),
            scores,
            min_prop=min_prop,
            max_prop=max_prop,
        )
        colour = _COLOURS[i % len(_COLOURS)]
        share = profile.n_low / n
        ax.plot(share, profile.statistic, "-", color=colour, lw=1.2, label=row.gene)
        peak = int(np.argmax(profile.statistic))
        ax.plot(share[peak], profile.statistic[peak], "o", color=colour, ms=6)
    m = np.arange(np.floor(min_prop * n), np.floor(max_prop * n) + 1)
    t = np.sqrt(1.0 - m[:-1] * (n - m[1:]) / ((n - m[:-1]) * m[1:]))
    critical = _critical_value(float(t.sum()), float((t**3).sum()))
    ax.axhline(1.96, color="0.5", ls=":", lw=1, label="1.96 (naive 5%, no search)")
    ax.axhline(critical, color="0.2", ls="--", lw=1, label=f"{critical:.2f} (5% after search)")
    ax.set_xlabel("Share of samples in the low-expression group (cutpoint percentile)")
    ax.set_ylabel("Standardised log-rank statistic |S − E| / √V")
    ax.set_title("Maximally selected log-rank statistic over cutpoints, top genes")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return fig


def volcano_plot(
    path: str | Path,
    cutpoints: pd.DataFrame,
    *,
    signature_genes: Sequence[str] = (),
    q_line: float = 0.05,
) -> None:
    """Log hazard ratio (high vs low) against −log10 q of every gene; signature genes named.

    Saved as a PNG at ``path`` (written atomically); the arguments are those of
    :func:`volcano_figure`.
    """
    save_png(volcano_figure(cutpoints, signature_genes=signature_genes, q_line=q_line), path)


def volcano_figure(
    cutpoints: pd.DataFrame,
    *,
    signature_genes: Sequence[str] = (),
    q_line: float = 0.05,
) -> Figure:
    """The figure of :func:`volcano_plot`, not yet saved.

    Parameters
    ----------
    cutpoints
        The scan table; genes without a q-value are left out.
    signature_genes
        Genes drawn in colour and named.
    q_line
        q-value of the dashed horizontal line.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with two scatter collections, other genes then signature genes, each in
        table order: x = log hazard ratio (infinite values clipped to the largest finite
        |log HR|), y = −log10 q (q clipped at 1e-300).
    """
    table = cutpoints.dropna(subset=["q_value"])
    log_hr = np.log(table["hazard_ratio"].to_numpy(dtype=np.float64))
    finite = np.isfinite(log_hr)
    limit = np.nanmax(np.abs(log_hr[finite])) if finite.any() else 1.0
    log_hr = np.clip(np.nan_to_num(log_hr, nan=0.0, posinf=limit, neginf=-limit), -limit, limit)
    height = -np.log10(np.clip(table["q_value"].to_numpy(dtype=np.float64), 1e-300, 1.0))
    chosen = table["gene"].astype(str).isin(list(signature_genes)).to_numpy()
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(log_hr[~chosen], height[~chosen], s=8, color="0.6", alpha=0.6, linewidths=0)
    ax.scatter(log_hr[chosen], height[chosen], s=28, color=_COLOURS[0], label="signature")
    for x, y, gene in zip(log_hr[chosen], height[chosen], table["gene"][chosen], strict=True):
        ax.annotate(str(gene), (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.axhline(-np.log10(q_line), color="0.3", ls="--", lw=1, label=f"q = {q_line}")
    ax.axvline(0.0, color="0.8", lw=0.8)
    ax.set_xlabel("log hazard ratio, high vs low expression (at each gene's cutpoint)")
    ax.set_ylabel("−log10 q (BH over genes, on the corrected p)")
    ax.set_title(f"Volcano: {len(table)} genes")
    ax.legend(fontsize=8, frameon=False)
    return fig


def stability_plot(
    path: str | Path,
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    *,
    signature_genes: Sequence[str] = (),
    top: int = 20,
    min_selection_frequency: float | None = None,
) -> None:
    """Bootstrap selection frequency and cutpoint interval (in percentiles) of the top genes."""
    best = cutpoints.dropna(subset=["cutpoint"]).head(top).reset_index(drop=True)
    genes = best["gene"].astype(str).tolist()
    chosen = np.isin(genes, list(signature_genes))
    colours = [_COLOURS[0] if pick else "0.55" for pick in chosen]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, max(3.5, 0.28 * len(genes) + 1.5)))
    y = np.arange(len(genes))[::-1]
    frequency = best["selection_frequency"].to_numpy(dtype=np.float64)
    left.barh(y, np.nan_to_num(frequency), color=colours)
    if min_selection_frequency:
        left.axvline(min_selection_frequency, color="0.2", ls="--", lw=1, label="required")
        left.legend(fontsize=8, frameon=False, loc="lower right")
    left.set_yticks(y, genes, fontsize=8)
    left.set_xlim(0, 1)
    left.set_xlabel("Selection frequency (share of bootstrap resamples)")
    left.set_title("Selection stability (best by corrected p first)")
    percentile = best["cutpoint_percentile"].to_numpy(dtype=np.float64)
    low, high = [], []
    for row in best.itertuples(index=False):
        values = expression[row.gene].to_numpy(dtype=np.float64)
        low.append(np.mean(values <= row.cut_ci_low) if np.isfinite(row.cut_ci_low) else np.nan)
        high.append(np.mean(values <= row.cut_ci_high) if np.isfinite(row.cut_ci_high) else np.nan)
    low_arr, high_arr = np.asarray(low), np.asarray(high)
    errors = np.vstack(
        [np.clip(percentile - low_arr, 0, None), np.clip(high_arr - percentile, 0, None)]
    )
    right.errorbar(
        percentile, y, xerr=np.nan_to_num(errors), fmt="none", ecolor="0.4", capsize=2, lw=1
    )
    right.scatter(percentile, y, c=colours, s=22, zorder=3)
    right.set_yticks(y, genes, fontsize=8)
    right.set_xlim(0, 1)
    right.set_xlabel("Cutpoint as a share of discovery samples at or below it")
    right.set_title("Cutpoint with bootstrap 95% interval")
    save_png(fig, path)


def null_control_plot(path: str | Path, control: dict[str, Any]) -> None:
    """Type-I self-test (share of genes with p < α under permuted outcomes) and C-index null."""
    type_one = control["type_one_error"]
    random = control["random_signatures"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    names = {
        "p_value": "Lausen 1994\n(default)",
        "p_lau92": "Lausen 1992",
        "p_perm": "permutation",
        "logrank_p": "naive log-rank\n(no correction)",
    }
    kinds = [kind for kind in names if kind in type_one["mean_share_below_alpha"]]
    shares = [type_one["mean_share_below_alpha"][kind] for kind in kinds]
    left.bar(
        range(len(kinds)),
        shares,
        color=["#2166ac" if kind != "logrank_p" else "#b2182b" for kind in kinds],
    )
    for i, kind in enumerate(kinds):
        replicate = type_one["share_below_alpha"][kind]
        left.plot([i] * len(replicate), replicate, "k.", ms=3, alpha=0.6)
    left.axhline(type_one["alpha"], color="0.2", ls="--", lw=1, label=f"α = {type_one['alpha']}")
    left.set_xticks(range(len(kinds)), [names[kind] for kind in kinds], fontsize=8)
    left.set_ylabel("Share of genes with p < α")
    left.set_title(f"Permuted outcomes ({type_one['outcome_permutations']} permutations)")
    left.legend(fontsize=8, frameon=False)
    null = np.asarray(random["c_index_null"], dtype=np.float64)
    right.hist(null, bins=30, color="0.65")
    right.axvline(random["c_index_signature"], color="#b2182b", lw=2, label="signature")
    right.set_xlabel("Apparent discovery C-index")
    right.set_ylabel("Random signatures")
    right.set_title(
        f"{random['random_signatures']} random {random['signature_size']}-gene signatures "
        f"(p = {random['p_value']:.3g})"
    )
    right.legend(fontsize=8, frameon=False)
    save_png(fig, path)

"""Training figures: learning curves, the cross-validated comparison, gene attributions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from omicsflow.plots.save import save_png

__all__ = ["attribution_plot", "cv_comparison_plot", "training_curve_plot"]

_MODEL_COLOURS = {"pretrained": "#2166ac", "random_init": "#e08214", "coxnet": "#1b7837"}
_MODEL_LABELS = {
    "pretrained": "(a) pretrained +\nfine-tuned",
    "random_init": "(b) random init",
    "coxnet": "(c) elastic-net\nCox",
}


def training_curve_plot(
    path: str | Path,
    history: pd.DataFrame,
    *,
    best_epoch: int,
    pretrain_history: pd.DataFrame | None = None,
    title: str = "",
) -> None:
    """Learning curves of the final model (and of pretraining, when given), as PNG.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    history
        Fine-tuning history (``epoch, train_loss, val_loss, val_c_index, genes_in_use``).
    best_epoch
        The kept epoch (marked with a vertical line).
    pretrain_history
        Pretraining history (``epoch, loss, reconstruction_loss, mask_loss``).
    title
        Figure title.
    """
    panels = 3 if pretrain_history is not None and len(pretrain_history) else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8))
    loss_ax, c_ax = axes[-2], axes[-1]
    if panels == 3:
        pre = axes[0]
        pre.plot(pretrain_history["epoch"], pretrain_history["loss"], color="0.2", label="total")
        pre.plot(
            pretrain_history["epoch"],
            pretrain_history["reconstruction_loss"],
            color="#2166ac",
            label="reconstruction (MSE)",
        )
        if pretrain_history["mask_loss"].notna().any():
            pre.plot(
                pretrain_history["epoch"],
                pretrain_history["mask_loss"],
                color="#b2182b",
                label="mask estimation (BCE)",
            )
        pre.set_xlabel("Pretraining epoch")
        pre.set_ylabel("Loss")
        pre.set_title("Pretraining (unlabelled)", fontsize=10)
        pre.legend(fontsize=8)
    loss_ax.plot(history["epoch"], history["train_loss"], color="0.3", label="training")
    loss_ax.plot(history["epoch"], history["val_loss"], color="#b2182b", label="held out")
    loss_ax.set_xlabel("Fine-tuning epoch")
    loss_ax.set_ylabel("Cox loss (neg. partial log-lik. / event)")
    loss_ax.set_title("Fine-tuning loss", fontsize=10)
    loss_ax.legend(fontsize=8)
    c_ax.plot(history["epoch"], history["val_c_index"], color="#b2182b", label="held-out C")
    c_ax.axhline(0.5, color="0.6", linestyle=":", linewidth=1)
    c_ax.set_ylim(0.3, 1.0)
    c_ax.set_xlabel("Fine-tuning epoch")
    c_ax.set_ylabel("Held-out C-index")
    genes_ax = c_ax.twinx()
    genes_ax.plot(history["epoch"], history["genes_in_use"], color="0.5", linewidth=1)
    genes_ax.set_ylabel("Genes in use (grey)", color="0.4")
    genes_ax.set_ylim(bottom=0)
    c_ax.set_title("Early stopping", fontsize=10)
    for ax in (loss_ax, c_ax):
        ax.axvline(best_epoch, color="0.2", linestyle="--", linewidth=1)
    c_ax.text(
        best_epoch,
        0.32,
        f" kept: epoch {best_epoch}",
        fontsize=8,
        ha="left",
        va="bottom",
    )
    if title:
        fig.suptitle(title, fontsize=11)
    save_png(fig, path)


def cv_comparison_plot(path: str | Path, cv: pd.DataFrame, comparison: dict[str, Any]) -> None:
    """Per-fold test C-index of the three models, paired folds joined by lines, as PNG.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    cv
        ``cv_metrics.tsv`` (``model, repeat, fold, c_index``).
    comparison
        ``comparison.json`` record (means and paired differences with CIs).
    """
    models = [name for name in _MODEL_LABELS if name in set(cv["model"])]
    wide = cv.pivot_table(index=["repeat", "fold"], columns="model", values="c_index")[models]
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    positions = np.arange(len(models))
    for _, row in wide.iterrows():
        ax.plot(positions, row.to_numpy(), color="0.75", linewidth=0.8, zorder=1)
    for position, name in zip(positions, models, strict=True):
        values = wide[name].to_numpy()
        ax.scatter(
            np.full(values.size, position),
            values,
            color=_MODEL_COLOURS[name],
            s=22,
            zorder=2,
        )
        mean = comparison["models"][name]["mean"]
        ax.hlines(mean, position - 0.25, position + 0.25, color="0.1", linewidth=2, zorder=3)
        ax.text(position + 0.28, mean, f"{mean:.3f}", va="center", fontsize=9)
    ax.axhline(0.5, color="0.6", linestyle=":", linewidth=1)
    ax.set_xticks(positions, [_MODEL_LABELS[name] for name in models])
    ax.set_ylabel("Test-fold C-index")
    ax.set_xlim(-0.5, len(models) - 0.3)
    lines = []
    for key, diff in comparison["differences"].items():
        first, second = key.split("_vs_")
        lines.append(
            f"{first} − {second}: {diff['mean']:+.3f} "
            f"(95% CI {diff['ci_low']:+.3f} to {diff['ci_high']:+.3f})"
        )
    short = comparison.get("pretraining", {}).get("short", "")
    ax.set_title(
        f"{comparison['repeats']} × {comparison['folds']}-fold CV on the discovery cohort"
        + (f" ({short})" if short else "")
        + "\n"
        + "\n".join(lines),
        fontsize=8,
    )
    save_png(fig, path)


def attribution_plot(
    path: str | Path, table: pd.DataFrame, summary: dict[str, Any], *, top: int = 25
) -> None:
    """The most attributed genes, signature genes highlighted, as PNG.

    Parameters
    ----------
    path
        Output PNG (written atomically).
    table
        ``attributions.tsv`` (``gene, attribution, slope, rank, in_signature``).
    summary
        Summary from :func:`omicsflow.transfer.attribution.attribution_table`.
    top
        Genes shown.
    """
    shown = table.head(top).iloc[::-1]
    colours = np.where(shown["in_signature"].to_numpy(dtype=bool), "#b2182b", "#9e9e9e")
    fig, ax = plt.subplots(figsize=(6.4, 0.22 * len(shown) + 1.8))
    ax.barh(np.arange(len(shown)), shown["attribution"], color=colours)
    labels = [
        f"{gene} ({'+' if slope > 0 else '−'})"
        for gene, slope in zip(shown["gene"], shown["slope"], strict=True)
    ]
    ax.set_yticks(np.arange(len(shown)), labels, fontsize=8)
    ax.set_xlabel("Mean |integrated gradient| (log-risk units)")
    k = summary["signature_size"]
    overlap = len(summary["top_k_overlap"])
    ax.set_title(
        f"Top {len(shown)} genes of the fine-tuned network (red: in the locked signature)\n"
        f"{overlap} of the {k} signature genes are among the top {k} attributed genes",
        fontsize=9,
    )
    save_png(fig, path)

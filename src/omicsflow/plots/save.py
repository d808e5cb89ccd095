"""Writing figures: PNG, atomically, with reproducible bytes."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from omicsflow.io import atomic_path

__all__ = ["save_png"]


def save_png(fig: Figure, path: str | Path, *, tight: bool = True) -> None:
    """Save ``fig`` as a 110-dpi PNG atomically and close it.

    Parameters
    ----------
    fig
        The figure.
    path
        Destination; a failed write leaves nothing behind.
    tight
        Apply ``tight_layout`` first (off for figures that manage their own layout).
    """
    if tight:
        fig.tight_layout()
    with atomic_path(path) as tmp:
        # No "Software" text chunk: the same figure gives the same bytes across versions.
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)

"""Plant known defects into a clean toy cohort, returning exactly what was planted.

Each function takes a loaded cohort (AnnData, :func:`omicsflow.cohort.load_cohort`), leaves it
untouched, and returns a :class:`Planted` holding a defective copy and the planted sample ids,
so that a test can assert that quality control flags exactly those samples:

* :func:`plant_missingness`: heavy missingness in given samples;
* :func:`plant_outliers`: degraded samples (gene-wise noise of a given size);
* :func:`plant_batch_shift`: a gene-wise shift of every sample of one batch;
* :func:`plant_unlogged`: raw counts (``round(2**x)``) in given samples or the whole cohort;
* :func:`plant_duplicates`: samples replaced by near-identical copies of others;
* :func:`plant_no_events`: events censored until only ``keep`` remain.

:func:`write_defective_sheet` writes a cohort sheet in which one cohort is replaced by its
defective copy, for workflow tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.cohort import load_cohort, read_cohort_sheet
from omicsflow.errors import InputError, first_items
from omicsflow.io import write_tsv

__all__ = [
    "Planted",
    "plant_batch_shift",
    "plant_duplicates",
    "plant_missingness",
    "plant_no_events",
    "plant_outliers",
    "plant_unlogged",
    "write_cohort_tables",
    "write_defective_sheet",
]


@dataclass(frozen=True)
class Planted:
    """A defective copy of a cohort and what was planted in it.

    Attributes
    ----------
    adata
        The defective cohort.
    samples
        Planted sample ids, in cohort order (for duplicates: the copies).
    pairs
        For duplicates: ``(original, copy)`` pairs.
    description
        What was planted, for messages.
    """

    adata: ad.AnnData
    samples: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...] = ()
    description: str = ""


def _choose(
    adata: ad.AnnData, samples: Sequence[str] | int, rng: np.random.Generator
) -> np.ndarray:
    """Row positions of the given sample ids, or of ``samples`` random samples; sorted."""
    names = pd.Index(adata.obs_names.astype(str))
    if isinstance(samples, int | np.integer):
        if not 0 <= samples <= names.size:
            raise InputError(
                "cannot plant a defect in that many samples",
                seen=f"{samples} of {names.size}",
                fix="ask for at most as many samples as the cohort holds",
            )
        return np.sort(rng.choice(names.size, size=int(samples), replace=False))
    unknown = [sample for sample in samples if sample not in names]
    if unknown:
        raise InputError(
            "unknown sample ids",
            seen=first_items(unknown),
            fix="name samples of this cohort",
        )
    return np.sort(names.get_indexer(list(samples)))


def _copy_with(adata: ad.AnnData, values: np.ndarray) -> ad.AnnData:
    copy = adata.copy()
    copy.X = values.astype(np.float32)
    return copy


def _ids(adata: ad.AnnData, rows: np.ndarray) -> tuple[str, ...]:
    return tuple(str(name) for name in adata.obs_names[rows])


def _gene_sd(values: np.ndarray) -> np.ndarray:
    sd = np.nanstd(values, axis=0)
    return np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)


def plant_missingness(
    adata: ad.AnnData, samples: Sequence[str] | int, *, rate: float = 0.8, seed: int = 0
) -> Planted:
    """Make ``rate`` of the values of the chosen samples missing (completely at random)."""
    rng = np.random.default_rng(seed)
    rows = _choose(adata, samples, rng)
    values = np.array(adata.X, dtype=np.float64)
    hit = rng.uniform(size=(rows.size, values.shape[1])) < rate
    block = values[rows]
    block[hit] = np.nan
    values[rows] = block
    return Planted(_copy_with(adata, values), _ids(adata, rows), description=f"{rate:.0%} missing")


def plant_outliers(
    adata: ad.AnnData, samples: Sequence[str] | int, *, severity: float = 1.0, seed: int = 0
) -> Planted:
    """Degrade the chosen samples: add ``severity × gene SD × N(0, 1)`` noise to every gene."""
    rng = np.random.default_rng(seed)
    rows = _choose(adata, samples, rng)
    values = np.array(adata.X, dtype=np.float64)
    noise = rng.standard_normal((rows.size, values.shape[1]))
    values[rows] += severity * _gene_sd(values) * noise
    return Planted(
        _copy_with(adata, values), _ids(adata, rows), description=f"outliers ×{severity:g}"
    )


def plant_batch_shift(
    adata: ad.AnnData, *, shift: float = 1.0, batch: str | None = None, seed: int = 0
) -> Planted:
    """Shift every sample of one batch by ``shift × gene SD × g`` with ``g ~ N(0, 1)`` per gene.

    The batch is ``batch`` or, by default, the last batch label in sorted order. The planted
    samples are that batch's members.
    """
    if "batch" not in adata.obs:
        raise InputError(
            "the cohort has no batch column",
            cohort=str(adata.uns.get("cohort", {}).get("id", "")),
            fix="give a batch column in the cohort sheet",
        )
    rng = np.random.default_rng(seed)
    labels = adata.obs["batch"].astype(str).to_numpy()
    batch = batch if batch is not None else sorted(set(labels))[-1]
    rows = np.flatnonzero(labels == batch)
    values = np.array(adata.X, dtype=np.float64)
    values[rows] += shift * _gene_sd(values) * rng.standard_normal(values.shape[1])
    return Planted(
        _copy_with(adata, values), _ids(adata, rows), description=f"batch {batch} +{shift:g} SD"
    )


def plant_unlogged(
    adata: ad.AnnData, samples: Sequence[str] | int | None = None, *, seed: int = 0
) -> Planted:
    """Turn log2 values into raw counts, ``round(2**x)``, in the chosen samples (default all)."""
    rng = np.random.default_rng(seed)
    rows = np.arange(adata.n_obs) if samples is None else _choose(adata, samples, rng)
    values = np.array(adata.X, dtype=np.float64)
    values[rows] = np.round(np.exp2(values[rows]))
    return Planted(_copy_with(adata, values), _ids(adata, rows), description="un-logged counts")


def plant_duplicates(
    adata: ad.AnnData, n_pairs: int, *, noise: float = 0.05, seed: int = 0
) -> Planted:
    """Replace ``n_pairs`` samples by near-identical copies of others.

    Each copy takes the original's values (and missing pattern) plus
    ``noise × gene SD × N(0, 1)`` (technical re-measurement). The original of each pair comes
    first in cohort order.
    """
    rng = np.random.default_rng(seed)
    rows = rng.choice(adata.n_obs, size=2 * n_pairs, replace=False).reshape(n_pairs, 2)
    rows = np.sort(rows, axis=1)
    rows = rows[np.argsort(rows[:, 0])]
    values = np.array(adata.X, dtype=np.float64)
    sd = _gene_sd(values)
    for original, copy in rows:
        values[copy] = values[original] + noise * sd * rng.standard_normal(values.shape[1])
    names = adata.obs_names.astype(str)
    pairs = tuple((str(names[a]), str(names[b])) for a, b in rows)
    copies = tuple(sorted((b for _, b in pairs), key=list(names).index))
    return Planted(
        _copy_with(adata, values), copies, pairs=pairs, description=f"{n_pairs} duplicates"
    )


def plant_no_events(adata: ad.AnnData, *, keep: int = 0, seed: int = 0) -> Planted:
    """Censor events (event → 0, time unchanged) until only ``keep`` remain."""
    rng = np.random.default_rng(seed)
    copy = adata.copy()
    event = copy.obs["event"].to_numpy().astype(np.int8)
    rows = np.flatnonzero(event == 1)
    censor = np.sort(rng.choice(rows, size=max(0, rows.size - keep), replace=False))
    event[censor] = 0
    copy.obs["event"] = event
    return Planted(copy, _ids(adata, censor), description=f"{keep} events left")


def write_cohort_tables(adata: ad.AnnData, folder: str | Path, name: str) -> tuple[Path, Path]:
    """Write a cohort back to the input format: expression (genes × samples) and clinical.

    Returns
    -------
    tuple of pathlib.Path
        ``(expression TSV, clinical TSV)``; the clinical table has ``sample`` first and keeps
        ``time``, ``event``, ``batch`` and every covariate under their ``obs`` names.
    """
    folder = Path(folder)
    expression = pd.DataFrame(
        np.asarray(adata.X, dtype=np.float64).T,
        index=pd.Index(adata.var_names.astype(str), name="gene"),
        columns=adata.obs_names.astype(str),
    )
    expression_path = folder / f"{name}_expression.tsv"
    write_tsv(expression_path, expression, index=True)
    clinical = adata.obs.copy()
    clinical.index.name = "sample"
    clinical_path = folder / f"{name}_clinical.tsv"
    write_tsv(clinical_path, clinical.reset_index())
    return expression_path, clinical_path


def write_defective_sheet(
    sheet: str | Path,
    outdir: str | Path,
    cohort: str,
    plant: Callable[..., Planted],
    **kwargs: Any,
) -> tuple[Path, Planted]:
    """Copy a cohort sheet with one cohort replaced by a defective copy of it.

    Parameters
    ----------
    sheet
        The clean cohort sheet.
    outdir
        Folder for the new sheet and the defective cohort's tables.
    cohort
        Which cohort to damage (it must have a clinical table).
    plant
        One of the ``plant_*`` functions.
    **kwargs
        Passed to ``plant``.

    Returns
    -------
    tuple
        The new sheet's path and what was planted.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    parsed = read_cohort_sheet(sheet)
    planted = plant(load_cohort(parsed[cohort]), **kwargs)
    expression, clinical = write_cohort_tables(planted.adata, outdir, cohort)
    table = pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False)
    for entry in parsed.entries:
        row = table["cohort"] == entry.cohort
        table.loc[row, "expression"] = str(entry.expression)
        table.loc[row, "clinical"] = "" if entry.clinical is None else str(entry.clinical)
    row = table["cohort"] == cohort
    table.loc[row, ["expression", "clinical", "time", "event"]] = [
        str(expression),
        str(clinical),
        "time",
        "event",
    ]
    if "batch" in table.columns and "batch" in planted.adata.obs:
        table.loc[row, "batch"] = "batch"
    path = outdir / "cohorts.tsv"
    write_tsv(path, table)
    return path, planted

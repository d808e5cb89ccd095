"""The demo cohorts: three public GEO breast-cancer cohorts shipped inside the ``survset`` wheel.

Nothing is downloaded: the data come from the installed PyPI package ``survset`` (GPL-3,
``pip install omicsflow[demo]``), which bundles them from the R package ``survJamda.data``.

=========  ==========  ==========================================  ========================
cohort     role        platform and scale                          endpoint
=========  ==========  ==========================================  ========================
GSE3143    discovery   Affymetrix HG-U95Av2, log2 intensities      overall survival, months
GSE4335    validation  Stanford cDNA two-colour, centred log ratio overall survival, months
GSE1992    source      UNC two-colour oligo, centred log ratios    expression only
=========  ==========  ==========================================  ========================

GSE1992 holds arrays that are not primary tumours or repeat a patient: metastases (``Met``),
post-chemotherapy samples (``post-chemo``), a recurrence (``RECUR``) and a paired repeat
(``paired``). They are dropped, and the dropped ids are written to ``dropped_samples.tsv`` and
logged. Gene columns ``num_HS_<SYMBOL>`` become gene symbols; clinical ``fac_*``/``num_*``
columns keep their names without the prefix.
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from omicsflow.errors import InputError
from omicsflow.io import atomic_path, write_tsv

__all__ = [
    "DEMO_COHORTS",
    "DemoCohort",
    "demo_files",
    "load_survset",
    "materialise_demo",
    "non_primary_arrays",
    "uses_demo",
]

logger = logging.getLogger(__name__)

_GENE_PREFIX = "num_HS_"
_NON_PRIMARY = re.compile(r"Met|post-chemo|RECUR|paired", flags=re.IGNORECASE)


@dataclass(frozen=True)
class DemoCohort:
    """One demo cohort and how it enters the cohort sheet."""

    cohort: str
    dataset: str
    role: str
    platform: str
    endpoint: str
    time_unit: str
    description: str

    @property
    def expression_file(self) -> str:
        """File name of the expression matrix in the demo folder."""
        return f"{self.cohort}_expression.tsv.gz"

    @property
    def clinical_file(self) -> str | None:
        """File name of the clinical table (``None`` for the expression-only source)."""
        return None if self.role == "source" else f"{self.cohort}_clinical.tsv"


DEMO_COHORTS: tuple[DemoCohort, ...] = (
    DemoCohort(
        "GSE3143",
        "gse3143",
        "discovery",
        "microarray",
        "overall survival",
        "months",
        "Bild et al. 2006; Affymetrix HG-U95Av2, log2 intensities",
    ),
    DemoCohort(
        "GSE4335",
        "gse4335",
        "validation",
        "microarray",
        "overall survival",
        "months",
        "Sorlie et al. 2001/2003; Stanford cDNA two-colour arrays, centred log ratios",
    ),
    DemoCohort(
        "GSE1992",
        "gse1992",
        "source",
        "microarray",
        "relapse-free survival (not used)",
        "months",
        "Hu et al. 2006, Oh et al. 2006; UNC two-colour oligo arrays, centred log "
        "ratios; expression only, for pretraining",
    ),
)


def demo_files(outdir: str | Path) -> list[Path]:
    """Every file :func:`materialise_demo` writes into ``outdir``."""
    outdir = Path(outdir)
    files = [outdir / "cohorts.tsv", outdir / "dropped_samples.tsv"]
    for cohort in DEMO_COHORTS:
        files.append(outdir / cohort.expression_file)
        if cohort.clinical_file is not None:
            files.append(outdir / cohort.clinical_file)
    return files


def uses_demo(files: Iterable[str | Path], outdir: str | Path) -> bool:
    """Whether a run reads the demo cohorts: any of ``files`` is one :func:`demo_files` writes.

    Parameters
    ----------
    files
        The cohort sheet and every file it names.
    outdir
        The folder the demo cohorts are written to (``resources/demo``).

    Returns
    -------
    bool
        True when the sheet is the demo's or names a demo file (paths compared resolved).
    """
    demo = {path.resolve() for path in demo_files(outdir)}
    return any(Path(path).resolve() in demo for path in files)


def non_primary_arrays(sample_ids: pd.Index | list[str]) -> list[str]:
    """Sample ids naming metastases, post-chemotherapy, recurrence or paired repeat arrays."""
    return [str(sample) for sample in sample_ids if _NON_PRIMARY.search(str(sample))]


def load_survset(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load one cohort from the installed ``survset`` package.

    Parameters
    ----------
    dataset
        survset's dataset name, e.g. ``"gse3143"``.

    Returns
    -------
    expression : pandas.DataFrame
        genes × samples (gene symbols as index).
    clinical : pandas.DataFrame
        ``sample, time, event`` and the covariates (prefixes ``fac_``/``num_`` removed).
    """
    try:
        from SurvSet.data import SurvLoader
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "the demo data need the 'survset' package",
            seen=str(exc),
            fix="pip install 'omicsflow[demo]' (make demo does this)",
        ) from exc
    frame = SurvLoader().load_dataset(dataset)["df"]
    frame["pid"] = frame["pid"].astype(str)
    genes = [column for column in frame.columns if column.startswith(_GENE_PREFIX)]
    expression = frame.set_index("pid")[genes].T
    expression.index = pd.Index([gene[len(_GENE_PREFIX) :] for gene in genes], name="gene")
    expression.columns.name = None
    covariates = [c for c in frame.columns if c not in genes and c not in ("pid", "time", "event")]
    clinical = frame[["pid", "time", "event", *covariates]].rename(
        columns={"pid": "sample", **{c: re.sub(r"^(fac|num)_", "", c) for c in covariates}}
    )
    # A covariate present both as factor and number (e.g. grade) keeps its first form.
    clinical = clinical.loc[:, ~clinical.columns.duplicated()]
    return expression, clinical


def _write_gzip_tsv(path: Path, table: pd.DataFrame) -> None:
    text = table.to_csv(sep="\t", float_format="%.6g", na_rep="NA", lineterminator="\n")
    with atomic_path(path) as tmp, tmp.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(text.encode("utf-8"))


def materialise_demo(outdir: str | Path) -> Path:
    """Write the demo cohorts in the workflow's input format, with their cohort sheet.

    Parameters
    ----------
    outdir
        Folder to write into (``resources/demo`` in the workflow).

    Returns
    -------
    pathlib.Path
        The written ``cohorts.tsv`` (paths relative to ``outdir``).
    """
    outdir = Path(outdir)
    rows, dropped_rows = [], []
    for cohort in DEMO_COHORTS:
        expression, clinical = load_survset(cohort.dataset)
        dropped = non_primary_arrays(expression.columns)
        if dropped:
            logger.warning(
                "%s: dropping %d arrays that are not primary tumours or repeat a patient: %s",
                cohort.cohort,
                len(dropped),
                ", ".join(dropped),
            )
            expression = expression.drop(columns=dropped)
            clinical = clinical[~clinical["sample"].isin(dropped)]
            dropped_rows += [
                {
                    "cohort": cohort.cohort,
                    "sample": sample,
                    "reason": _NON_PRIMARY.search(sample).group(0),
                }
                for sample in dropped
            ]
        _write_gzip_tsv(outdir / cohort.expression_file, expression)
        if cohort.clinical_file is not None:
            write_tsv(outdir / cohort.clinical_file, clinical)
        logger.info(
            "%s (%s): %d samples × %d genes%s",
            cohort.cohort,
            cohort.role,
            expression.shape[1],
            expression.shape[0],
            "" if cohort.clinical_file is None else f", {int(clinical['event'].sum())} events",
        )
        rows.append(
            {
                "cohort": cohort.cohort,
                "role": cohort.role,
                "platform": cohort.platform,
                "expression": cohort.expression_file,
                "clinical": cohort.clinical_file or "",
                "time": "" if cohort.clinical_file is None else "time",
                "event": "" if cohort.clinical_file is None else "event",
                "accession": cohort.cohort,
                "endpoint": cohort.endpoint,
                "time_unit": cohort.time_unit,
                "description": cohort.description,
            }
        )
    write_tsv(
        outdir / "dropped_samples.tsv",
        pd.DataFrame(dropped_rows, columns=["cohort", "sample", "reason"]),
    )
    sheet = outdir / "cohorts.tsv"
    write_tsv(sheet, pd.DataFrame(rows))
    return sheet

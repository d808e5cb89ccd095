"""The cohort sheet and one cohort's data: all input validation lives here.

The cohort sheet (``config/cohorts.tsv``) has one row per cohort:

=============  ==========================================================================
column         meaning
=============  ==========================================================================
cohort         id: letters, digits, ``_`` and ``-``; unique
role           ``source`` (unlabelled, for pretraining) | ``discovery`` (exactly one) |
               ``validation`` (at least one)
platform       ``rnaseq`` | ``microarray`` | ``qpcr`` | ``other``
expression     genes × samples matrix (TSV/CSV, optionally gzipped, or Parquet);
               first column = gene id, one column per sample
clinical       one row per sample; first column = sample id (optional for ``source``)
time, event    column names in the clinical table (required unless ``source``)
batch          optional column name in the clinical table
accession,     optional free-text metadata recorded with the results
endpoint,
time_unit,
description
=============  ==========================================================================

Relative paths resolve against the folder holding the sheet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.errors import CohortSheetError, InputError, first_items
from omicsflow.io import NA_TOKENS, read_matrix, read_table

__all__ = [
    "METADATA_COLUMNS",
    "PLATFORMS",
    "REQUIRED_COLUMNS",
    "ROLES",
    "CohortEntry",
    "CohortSheet",
    "expression_frame",
    "load_cohort",
    "outcome",
    "parse_events",
    "parse_times",
    "read_cohort_sheet",
]

logger = logging.getLogger(__name__)

ROLES = ("source", "discovery", "validation")
PLATFORMS = ("rnaseq", "microarray", "qpcr", "other")
REQUIRED_COLUMNS = ("cohort", "role", "platform", "expression", "clinical", "time", "event")
OPTIONAL_COLUMNS = ("batch",)
METADATA_COLUMNS = ("accession", "endpoint", "time_unit", "description")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
_EVENT_CODES = {
    "0": 0,
    "1": 1,
    "0.0": 0,
    "1.0": 1,
    "false": 0,
    "true": 1,
}


@dataclass(frozen=True)
class CohortEntry:
    """One validated row of the cohort sheet.

    Attributes
    ----------
    cohort, role, platform
        Identity and role of the cohort.
    expression, clinical
        Absolute paths; ``clinical`` is ``None`` for a source cohort without outcomes.
    time, event, batch
        Column names in the clinical table (``None`` when not given).
    metadata
        Optional descriptive columns (accession, endpoint, time unit, description).
    """

    cohort: str
    role: str
    platform: str
    expression: Path
    clinical: Path | None
    time: str | None
    event: str | None
    batch: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def has_outcome(self) -> bool:
        """Whether the cohort carries survival outcomes."""
        return self.clinical is not None and self.time is not None and self.event is not None


@dataclass(frozen=True)
class CohortSheet:
    """The validated cohort sheet.

    Attributes
    ----------
    path
        Where the sheet was read from.
    entries
        One :class:`CohortEntry` per row, in sheet order.
    """

    path: Path
    entries: tuple[CohortEntry, ...]

    def __getitem__(self, cohort: str) -> CohortEntry:
        for entry in self.entries:
            if entry.cohort == cohort:
                return entry
        raise KeyError(cohort)

    @property
    def ids(self) -> list[str]:
        """All cohort ids in sheet order."""
        return [entry.cohort for entry in self.entries]

    def with_role(self, role: str) -> list[str]:
        """Ids of the cohorts that have ``role``."""
        return [entry.cohort for entry in self.entries if entry.role == role]

    @property
    def discovery(self) -> str:
        """Id of the one discovery cohort."""
        return self.with_role("discovery")[0]

    def files(self) -> list[Path]:
        """Every input file named by the sheet (expression and clinical)."""
        paths: list[Path] = []
        for entry in self.entries:
            paths.append(entry.expression)
            if entry.clinical is not None:
                paths.append(entry.clinical)
        return paths


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in NA_TOKENS)


def read_cohort_sheet(
    path: str | Path, *, check_files: bool = True, pending: Collection[str | Path] = ()
) -> CohortSheet:
    """Read and validate a cohort sheet.

    Parameters
    ----------
    path
        The sheet (TSV).
    check_files
        Whether to require that every named file exists (on by default; the workflow checks
        at parse time).
    pending
        Files that do not exist yet because a workflow rule creates them (the demo data);
        they are accepted although missing.

    Returns
    -------
    CohortSheet
        The validated sheet with absolute paths.

    Raises
    ------
    CohortSheetError
        Missing or unknown columns, malformed or duplicate ids, unknown role or platform,
        missing files, not exactly one discovery cohort, no validation cohort, or a file used
        both as a source and a validation cohort.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise CohortSheetError(
            "cohort sheet not found",
            file=str(path),
            fix="pass the sheet with --config cohorts=PATH, or create config/cohorts.tsv",
        )
    table = read_table(path)
    columns = list(table.columns)
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise CohortSheetError(
            "the cohort sheet lacks required columns",
            file=str(path),
            column=missing[0],
            seen=f"columns: {columns}",
            expected=f"at least {list(REQUIRED_COLUMNS)}",
            fix="add the missing columns (leave cells empty where a column does not apply)",
        )
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(METADATA_COLUMNS)
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise CohortSheetError(
            "unknown column in the cohort sheet",
            file=str(path),
            column=unknown[0],
            seen=f"unknown columns: {unknown}",
            expected=f"columns among {sorted(known)}",
            fix="remove or rename the column",
        )
    if table.empty:
        raise CohortSheetError(
            "the cohort sheet has no rows",
            file=str(path),
            fix="add one row per cohort: one discovery and at least one validation cohort",
        )
    base = path.parent
    will_exist = {Path(file).resolve() for file in pending}
    entries = [
        _parse_row(
            row, line=i + 2, sheet=path, base=base, check_files=check_files, will_exist=will_exist
        )
        for i, row in enumerate(table.to_dict("records"))
    ]
    _check_sheet(entries, path)
    return CohortSheet(path=path, entries=tuple(entries))


def _parse_row(
    row: dict[str, str],
    *,
    line: int,
    sheet: Path,
    base: Path,
    check_files: bool,
    will_exist: set[Path],
) -> CohortEntry:
    def cell(name: str) -> str | None:
        value = row.get(name)
        return None if _blank(value) else str(value).strip()

    cohort = cell("cohort")
    if cohort is None or not _ID_PATTERN.match(cohort):
        raise CohortSheetError(
            "invalid cohort id",
            file=str(sheet),
            row=line,
            column="cohort",
            seen=repr(row.get("cohort")),
            expected="letters, digits, '_' and '-' only",
            fix="rename the cohort",
        )
    role = cell("role")
    if role not in ROLES:
        raise CohortSheetError(
            "unknown role",
            cohort=cohort,
            file=str(sheet),
            row=line,
            column="role",
            seen=repr(row.get("role")),
            expected=" | ".join(ROLES),
            fix="set the role to one of the expected values",
        )
    platform = cell("platform")
    if platform not in PLATFORMS:
        raise CohortSheetError(
            "unknown platform",
            cohort=cohort,
            file=str(sheet),
            row=line,
            column="platform",
            seen=repr(row.get("platform")),
            expected=" | ".join(PLATFORMS),
            fix="use 'other' for a platform not listed",
        )

    def resolve(name: str) -> Path | None:
        value = cell(name)
        if value is None:
            return None
        resolved = (Path(value) if Path(value).is_absolute() else base / value).resolve()
        if check_files and not resolved.is_file() and resolved not in will_exist:
            raise CohortSheetError(
                f"{name} file not found",
                cohort=cohort,
                file=str(sheet),
                row=line,
                column=name,
                seen=str(resolved),
                fix=f"check the path; relative paths resolve against the sheet's folder ({base})",
            )
        return resolved

    def require(name: str) -> Path:
        path = resolve(name)
        if path is None:
            raise CohortSheetError(
                f"missing {name} file",
                cohort=cohort,
                file=str(sheet),
                row=line,
                column=name,
                fix=f"give the path of the {name} table for this {role} cohort",
            )
        return path

    needs_outcome = role != "source"
    expression = require("expression")
    clinical = require("clinical") if needs_outcome else resolve("clinical")
    time_column, event_column = cell("time"), cell("event")
    if needs_outcome:
        for name, value in (("time", time_column), ("event", event_column)):
            if value is None:
                raise CohortSheetError(
                    f"missing {name} column name",
                    cohort=cohort,
                    file=str(sheet),
                    row=line,
                    column=name,
                    fix=f"name the clinical column that holds the survival {name}",
                )
    return CohortEntry(
        cohort=cohort,
        role=role,
        platform=platform,
        expression=expression,
        clinical=clinical,
        time=time_column,
        event=event_column,
        batch=cell("batch"),
        metadata={name: value for name in METADATA_COLUMNS if (value := cell(name)) is not None},
    )


def _check_sheet(entries: list[CohortEntry], sheet: Path) -> None:
    ids = pd.Series([entry.cohort for entry in entries])
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        raise CohortSheetError(
            "duplicate cohort ids",
            file=str(sheet),
            column="cohort",
            seen=first_items(duplicated),
            fix="give every cohort a unique id",
        )
    roles = [entry.role for entry in entries]
    if roles.count("discovery") != 1:
        raise CohortSheetError(
            "the sheet must have exactly one discovery cohort",
            file=str(sheet),
            column="role",
            seen=f"{roles.count('discovery')} discovery cohorts",
            fix="mark exactly one cohort as 'discovery'",
        )
    if roles.count("validation") < 1:
        raise CohortSheetError(
            "the sheet has no validation cohort",
            file=str(sheet),
            column="role",
            fix="mark at least one independent cohort as 'validation'",
        )
    source_files = {entry.expression: entry.cohort for entry in entries if entry.role == "source"}
    for entry in entries:
        if entry.role == "validation" and entry.expression in source_files:
            raise CohortSheetError(
                "a cohort cannot be both source and validation",
                cohort=entry.cohort,
                file=str(sheet),
                column="expression",
                seen=f"{entry.expression} is also source cohort {source_files[entry.expression]!r}",
                fix="pretraining on validation data leaks it: use another source cohort",
            )


def parse_times(values: pd.Series, *, cohort: str, file: str, column: str) -> np.ndarray:
    """Convert survival times to float, rejecting missing, non-numeric and negative values.

    Parameters
    ----------
    values
        The time column as read (text), indexed by sample id.
    cohort, file, column
        Where the values come from, for error messages.

    Returns
    -------
    numpy.ndarray
        float64 times.
    """
    text = values.astype(str).str.strip()
    missing = text.isin(NA_TOKENS)
    if missing.any():
        raise InputError(
            "missing survival times",
            cohort=cohort,
            file=file,
            column=column,
            row=first_items(values.index[missing]),
            seen=f"{int(missing.sum())} samples without a time",
            fix="fill in the follow-up time, or remove these samples from the clinical table",
        )
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna()
    if bad.any():
        raise InputError(
            "non-numeric survival times",
            cohort=cohort,
            file=file,
            column=column,
            row=first_items(values.index[bad]),
            seen=first_items(text[bad]),
            fix="write times as plain numbers in one unit (e.g. months)",
        )
    negative = numbers < 0
    if negative.any():
        raise InputError(
            "negative survival times",
            cohort=cohort,
            file=file,
            column=column,
            row=first_items(values.index[negative]),
            seen=first_items(numbers[negative]),
            expected="times >= 0",
            fix="check the time origin; times count from diagnosis or study entry",
        )
    return numbers.to_numpy(dtype=np.float64)


def parse_events(values: pd.Series, *, cohort: str, file: str, column: str) -> np.ndarray:
    """Convert event indicators (0/1/True/False, any case) to 0/1 integers.

    Parameters
    ----------
    values
        The event column as read (text), indexed by sample id.
    cohort, file, column
        Where the values come from, for error messages.

    Returns
    -------
    numpy.ndarray
        int8 array with 1 = event observed, 0 = censored.
    """
    text = values.astype(str).str.strip().str.lower()
    codes = text.map(_EVENT_CODES)
    bad = codes.isna()
    if bad.any():
        raise InputError(
            "event values must be 0/1 or True/False",
            cohort=cohort,
            file=file,
            column=column,
            row=first_items(values.index[bad]),
            seen=first_items(values[bad]),
            expected="1 = event (death, relapse), 0 = censored",
            fix="recode the event column; missing events are not allowed",
        )
    return codes.to_numpy(dtype=np.int8)


def _check_unique_ids(ids: pd.Index, *, what: str, cohort: str, file: str, column: str) -> None:
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate {what}",
            cohort=cohort,
            file=file,
            column=column,
            seen=first_items(duplicated),
            fix=f"make every {what[:-1] if what.endswith('s') else what} unique",
        )


def _match_samples(
    expression_ids: pd.Index,
    clinical_ids: pd.Index,
    entry: CohortEntry,
    *,
    allow_intersection: bool,
) -> pd.Index:
    only_expression = expression_ids.difference(clinical_ids, sort=False)
    only_clinical = clinical_ids.difference(expression_ids, sort=False)
    if len(only_expression) == 0 and len(only_clinical) == 0:
        return expression_ids
    shared = expression_ids.intersection(clinical_ids, sort=False)
    detail = (
        f"{len(only_expression)} expression samples have no clinical row"
        + (f" ({first_items(only_expression)})" if len(only_expression) else "")
        + f"; {len(only_clinical)} clinical rows have no expression column"
        + (f" ({first_items(only_clinical)})" if len(only_clinical) else "")
    )
    if not allow_intersection or len(shared) == 0:
        raise InputError(
            "expression samples and clinical rows do not match",
            cohort=entry.cohort,
            file=f"{entry.expression} / {entry.clinical}",
            seen=detail + f"; {len(shared)} shared",
            fix="fix the sample ids, or set cohort.allow_sample_intersection: true in the "
            "config to continue with the shared samples only",
        )
    logger.warning(
        "cohort %s: dropping %d of %d samples not present in both tables (%s); "
        "continuing with %d shared samples",
        entry.cohort,
        len(only_expression) + len(only_clinical),
        len(expression_ids) + len(only_clinical),
        detail,
        len(shared),
    )
    return shared


def load_cohort(entry: CohortEntry, *, allow_sample_intersection: bool = False) -> ad.AnnData:
    """Read and validate one cohort into an AnnData object.

    Parameters
    ----------
    entry
        The cohort's row of the sheet.
    allow_sample_intersection
        If expression and clinical sample ids differ, continue on the shared samples (with a
        warning giving the count) instead of raising.

    Returns
    -------
    anndata.AnnData
        ``X`` samples × genes (float32, NaN = missing); ``obs`` indexed by sample id with the
        clinical columns, ``time`` (float) and ``event`` (0/1) when the cohort has outcomes and
        ``batch`` when given; ``var`` indexed by gene id; ``uns["cohort"]`` the sheet row.

    Raises
    ------
    InputError
        On duplicate gene or sample ids, non-numeric expression, mismatched samples, bad
        survival times or event codes, missing columns, or no events.
    """
    matrix = read_matrix(entry.expression, cohort=entry.cohort)
    matrix.index = matrix.index.astype(str)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InputError(
            "the expression matrix is empty",
            cohort=entry.cohort,
            file=str(entry.expression),
            seen=f"{matrix.shape[0]} genes × {matrix.shape[1]} samples",
            fix="check the file: genes as rows, samples as columns",
        )
    _check_unique_ids(
        matrix.index,
        what="gene ids",
        cohort=entry.cohort,
        file=str(entry.expression),
        column=str(matrix.index.name),
    )
    expression = matrix.T
    expression.index.name = "sample"
    obs = pd.DataFrame(index=expression.index)
    if entry.clinical is not None:
        obs = _read_clinical(entry, entry.clinical)
        samples = _match_samples(
            expression.index, obs.index, entry, allow_intersection=allow_sample_intersection
        )
        expression = expression.loc[samples]
        obs = obs.loc[samples]
    adata = ad.AnnData(
        X=expression.to_numpy(dtype=np.float32),
        obs=obs,
        var=pd.DataFrame(index=pd.Index(expression.columns.astype(str), name="gene")),
    )
    adata.uns["cohort"] = {
        "id": entry.cohort,
        "role": entry.role,
        "platform": entry.platform,
        "expression_file": str(entry.expression),
        "clinical_file": "" if entry.clinical is None else str(entry.clinical),
        **entry.metadata,
    }
    logger.info(
        "cohort %s (%s, %s): %d samples × %d genes, %.2f%% missing values%s",
        entry.cohort,
        entry.role,
        entry.platform,
        adata.n_obs,
        adata.n_vars,
        100.0 * float(np.isnan(adata.X).mean()),
        f", {int(adata.obs['event'].sum())} events" if "event" in adata.obs else "",
    )
    return adata


def _read_clinical(entry: CohortEntry, path: Path) -> pd.DataFrame:
    file = str(path)
    table = read_table(path, cohort=entry.cohort)
    id_column = table.columns[0]
    table[id_column] = table[id_column].astype(str).str.strip()
    table = table.set_index(id_column)
    table.index.name = "sample"
    _check_unique_ids(
        table.index, what="sample ids", cohort=entry.cohort, file=file, column=id_column
    )
    wanted = {"time": entry.time, "event": entry.event, "batch": entry.batch}
    for role, column in wanted.items():
        if column is not None and column not in table.columns:
            raise InputError(
                f"the {role} column is not in the clinical table",
                cohort=entry.cohort,
                file=file,
                column=column,
                seen=f"columns: {list(table.columns)}",
                fix=f"set the sheet's '{role}' cell to one of the clinical columns",
            )
    obs = pd.DataFrame(index=table.index)
    for column in table.columns:
        if column in wanted.values():
            continue
        obs[column] = _covariate(table[column])
    if entry.time is not None and entry.event is not None:
        obs["time"] = parse_times(
            table[entry.time], cohort=entry.cohort, file=file, column=entry.time
        )
        obs["event"] = parse_events(
            table[entry.event], cohort=entry.cohort, file=file, column=entry.event
        )
        if entry.role != "source" and int(obs["event"].sum()) == 0:
            raise InputError(
                "the cohort has no events (every sample is censored)",
                cohort=entry.cohort,
                file=file,
                column=entry.event,
                seen=f"0 events among {len(obs)} samples",
                fix="check the event coding (1 = event); survival analysis needs events",
            )
    if entry.batch is not None:
        obs["batch"] = table[entry.batch].astype(str).str.strip().astype("category")
    return obs


def _covariate(values: pd.Series) -> pd.Series:
    """Carry a clinical column: numeric if every non-missing cell is a number, else text."""
    text = values.astype(str).str.strip()
    missing = text.isin(NA_TOKENS)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce")
    if numbers[~missing].notna().all():
        return numbers.astype(np.float64)
    return text.where(~missing, "").astype(str)


def expression_frame(adata: ad.AnnData) -> pd.DataFrame:
    """The expression of a cohort as a samples × genes DataFrame (float64)."""
    return pd.DataFrame(
        np.asarray(adata.X, dtype=np.float64),
        index=adata.obs_names.astype(str),
        columns=adata.var_names.astype(str),
    )


def outcome(adata: ad.AnnData) -> tuple[np.ndarray, np.ndarray]:
    """``(time, event)`` of a cohort with outcomes.

    Raises
    ------
    InputError
        If the cohort carries no survival outcome.
    """
    if "time" not in adata.obs or "event" not in adata.obs:
        raise InputError(
            "the cohort has no survival outcome",
            cohort=str(adata.uns.get("cohort", {}).get("id", "")),
            fix="give clinical, time and event in the cohort sheet",
        )
    return (
        adata.obs["time"].to_numpy(dtype=np.float64),
        adata.obs["event"].to_numpy(dtype=np.int64),
    )

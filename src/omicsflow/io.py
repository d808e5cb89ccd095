"""Reading input tables and writing results atomically.

Every writer goes through :func:`atomic_path`: the content is written to a temporary file in
the destination folder and renamed into place only once complete, so a failed or killed job
never leaves a half-written result behind.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsflow.errors import InputError
from omicsflow.provenance import active_stamp

__all__ = [
    "NA_TOKENS",
    "atomic_path",
    "read_h5ad",
    "read_header",
    "read_matrix",
    "read_table",
    "write_h5ad",
    "write_json",
    "write_text",
    "write_tsv",
]

logger = logging.getLogger(__name__)

_TEXT_SUFFIXES = {".tsv": "\t", ".txt": "\t", ".csv": ","}


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    Parameters
    ----------
    path
        The final destination. Its folder is created if needed.

    Yields
    ------
    pathlib.Path
        A temporary file path in the same folder (same file system, so the rename is atomic).
        On an exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last: some writers (matplotlib, pandas) infer the format from it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates 0600; results are shared files
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON with sorted keys, atomically.

    NaN and infinity are written as ``null`` so the file is strict JSON. Inside a
    :func:`omicsflow.provenance.stamping` block (every workflow step), a dict gains a
    ``provenance`` entry with the omicsflow version and the config hash.
    """
    stamp = active_stamp()
    if stamp is not None and isinstance(data, dict) and "provenance" not in data:
        data = {**data, "provenance": stamp}
    text = json.dumps(_replace_non_finite(data), indent=2, sort_keys=True, default=_json_default)
    write_text(path, text + "\n")


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _replace_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_non_finite(item) for item in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def write_tsv(path: str | os.PathLike[str], table: pd.DataFrame, *, index: bool = False) -> None:
    """Write ``table`` as tab-separated text with a header, atomically.

    Floats are written with 10 significant digits, so identical runs give identical bytes.
    Inside a :func:`omicsflow.provenance.stamping` block (every workflow step) a JSON sidecar
    ``<path>.meta.json`` records the omicsflow version and the config hash.
    """
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=index, float_format="%.10g", lineterminator="\n")
    stamp = active_stamp()
    if stamp is not None:
        write_json(
            f"{path}.meta.json", {"table": Path(path).name, "rows": len(table), "provenance": stamp}
        )


def write_h5ad(path: str | os.PathLike[str], adata: ad.AnnData) -> None:
    """Write an AnnData object to ``.h5ad`` atomically."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)


def read_h5ad(path: str | os.PathLike[str], *, backed: str | None = None) -> ad.AnnData:
    """Read an ``.h5ad`` file written by :func:`write_h5ad`.

    ``backed="r"`` leaves ``X`` on disk (for reading only the annotations).
    """
    return ad.read_h5ad(path, backed=backed)


NA_TOKENS: tuple[str, ...] = ("", "NA", "NaN", "nan", "na", "N/A", "NULL", "null", "None")
"""Cell texts read as missing values."""


def _text_separator(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _TEXT_SUFFIXES:
        return _TEXT_SUFFIXES[suffixes[-1]]
    raise InputError(
        "unsupported table format",
        file=str(path),
        seen="".join(path.suffixes) or "(no suffix)",
        expected=".tsv, .txt, .csv (optionally .gz) or .parquet",
        fix="convert the file to one of the supported formats and name it accordingly",
    )


def _require_file(path: Path, cohort: str | None) -> None:
    if not path.is_file():
        raise InputError(
            "file not found",
            cohort=cohort,
            file=str(path),
            fix="check the path in the cohort sheet "
            "(relative paths resolve against the sheet's folder)",
        )


def read_header(path: str | os.PathLike[str], *, cohort: str | None = None) -> list[str]:
    """Return the column names of a table exactly as written (duplicates kept).

    Parameters
    ----------
    path
        A TSV/CSV (optionally gzipped) or Parquet file.
    cohort
        Cohort id, used in error messages.

    Returns
    -------
    list of str
        The header fields, the id column first.
    """
    path = Path(path)
    _require_file(path, cohort)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return [str(name) for name in pq.read_schema(path).names if name != "__index_level_0__"]
    sep = _text_separator(path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, delimiter=sep), [])
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(
            "could not read the file",
            cohort=cohort,
            file=str(path),
            seen=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            fix="check that the file is plain text (UTF-8), gzip or Parquet",
        ) from exc
    return [field.strip() for field in header]


def _check_unique_header(header: list[str], path: Path, cohort: str | None, kind: str) -> None:
    counts = pd.Series(header[1:]).value_counts()
    duplicated = counts[counts > 1]
    if len(duplicated):
        raise InputError(
            f"duplicate {kind} in the header",
            cohort=cohort,
            file=str(path),
            column=duplicated.index[0],
            seen=", ".join(f"{name!r} ×{count}" for name, count in duplicated.head(5).items()),
            fix=f"make every {kind[:-1] if kind.endswith('s') else kind} appear once in the header",
        )


def read_table(path: str | os.PathLike[str], *, cohort: str | None = None) -> pd.DataFrame:
    """Read a small TSV/CSV (optionally gzipped) or Parquet table, every cell as text.

    Values are read as strings (never guessed), so the caller can report exactly which cell
    is wrong. Parquet columns keep their types. Missing cells are empty strings.

    Parameters
    ----------
    path
        File to read.
    cohort
        Cohort id, used in error messages.

    Returns
    -------
    pandas.DataFrame
        The table with a default integer index (row ``i`` is line ``i + 2`` of a text file).
    """
    path = Path(path)
    header = read_header(path, cohort=cohort)
    _check_unique_header(header, path, cohort, "column names")
    if path.suffix.lower() == ".parquet":
        table = pd.read_parquet(path)
        return table.reset_index(drop=isinstance(table.index, pd.RangeIndex))
    try:
        table = pd.read_csv(
            path,
            sep=_text_separator(path),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            compression="infer",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise InputError(
            "could not parse the table",
            cohort=cohort,
            file=str(path),
            seen=str(exc).splitlines()[0],
            fix="check the delimiter and that every row has the same number of fields",
        ) from exc
    table.columns = [str(name).strip() for name in table.columns]
    return table


def read_matrix(
    path: str | os.PathLike[str],
    *,
    cohort: str | None = None,
    column_kind: str = "sample ids",
) -> pd.DataFrame:
    """Read a numeric matrix whose first column holds row ids (genes × samples).

    Parameters
    ----------
    path
        TSV/CSV (optionally gzipped) or Parquet file; the first column is the row id.
        Missing values may be written as any of :data:`NA_TOKENS`.
    cohort
        Cohort id, used in error messages.
    column_kind
        What the column names are, for error messages.

    Returns
    -------
    pandas.DataFrame
        float64 values, index = row ids (str), columns = column names (str).

    Raises
    ------
    InputError
        Duplicate column names, or a cell that is neither a number nor a missing-value token
        (the message gives its row id, column, line and value).
    """
    path = Path(path)
    header = read_header(path, cohort=cohort)
    if len(header) < 2:
        raise InputError(
            "the matrix has fewer than two columns",
            cohort=cohort,
            file=str(path),
            seen=f"header: {header}",
            expected="a gene id column followed by one column per sample",
            fix="check the delimiter matches the file extension (.tsv = tabs, .csv = commas)",
        )
    _check_unique_header(header, path, cohort, column_kind)
    if path.suffix.lower() == ".parquet":
        table = pd.read_parquet(path)
        if not isinstance(table.index, pd.RangeIndex):
            table = table.reset_index()
    else:
        try:
            table = pd.read_csv(
                path,
                sep=_text_separator(path),
                dtype={header[0]: str},
                na_values=list(NA_TOKENS),
                keep_default_na=False,
                compression="infer",
                low_memory=False,
            )
        except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
            raise InputError(
                "could not parse the matrix",
                cohort=cohort,
                file=str(path),
                seen=str(exc).splitlines()[0],
                fix="check the delimiter and that every row has the same number of fields",
            ) from exc
    table.columns = [str(name).strip() for name in table.columns]
    ids = table.iloc[:, 0].astype(str).str.strip()
    values = table.iloc[:, 1:]
    for column in values.columns:
        if not pd.api.types.is_numeric_dtype(values[column]):
            converted = pd.to_numeric(values[column], errors="coerce")
            bad = converted.isna() & values[column].notna()
            if bad.any():
                position = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(
                    "non-numeric value in the matrix",
                    cohort=cohort,
                    file=str(path),
                    row=f"{ids.iloc[position]!r} (line {position + 2})",
                    column=column,
                    seen=f"{values[column].iloc[position]!r} ({int(bad.sum())} such cells in "
                    "this column)",
                    expected=f"numbers; missing values as one of {list(NA_TOKENS)}",
                    fix="remove units, thousands separators or annotations from the data cells",
                )
    matrix = values.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    matrix.index = pd.Index(ids, name=header[0] or "gene")
    return matrix

"""Errors that tell the user what went wrong, where, what was seen, and how to fix it.

Every error raised on bad input is an :class:`OmicsflowError` (a ``ValueError``), so callers
may catch either. The message is assembled from structured parts so that tests and logs can
rely on them::

    InputError: duplicate sample ids in the expression matrix
      cohort: disc  file: data/disc.tsv  column: S12
      seen: 'S12' appears 2 times
      fix: make sample ids unique (one column per sample)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "CohortSheetError",
    "ConfigError",
    "InputError",
    "OmicsflowError",
    "QualityGateError",
    "first_items",
]


def first_items(items: Iterable[Any], limit: int = 5) -> str:
    """Format the first ``limit`` items of ``items`` for an error message.

    Parameters
    ----------
    items
        Anything iterable (ids, labels).
    limit
        How many to show before summarising the rest as ``… (+N more)``.

    Returns
    -------
    str
        For example ``'a', 'b', 'c' … (+12 more)``.
    """
    items = list(items)
    shown = ", ".join(repr(item) for item in items[:limit])
    if len(items) > limit:
        shown += f" … (+{len(items) - limit} more)"
    return shown


class OmicsflowError(ValueError):
    """An error in the user's input or configuration, with where it is and how to fix it.

    Parameters
    ----------
    what
        One line saying what is wrong.
    cohort, file, row, column
        Where the problem is; any may be omitted.
    seen
        The offending value(s), as the user would recognise them.
    expected
        What a valid value looks like.
    fix
        What the user should do.
    """

    def __init__(
        self,
        what: str,
        *,
        cohort: str | None = None,
        file: str | None = None,
        row: Any = None,
        column: Any = None,
        seen: Any = None,
        expected: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.what = what
        self.cohort = cohort
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.seen = seen
        self.expected = expected
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        lines = [self.what]
        where = [
            f"{label}: {value}"
            for label, value in (
                ("cohort", self.cohort),
                ("file", self.file),
                ("row", self.row),
                ("column", self.column),
            )
            if value is not None
        ]
        if where:
            lines.append("  " + "  ".join(where))
        if self.seen is not None:
            lines.append(f"  seen: {self.seen}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.fix is not None:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class InputError(OmicsflowError):
    """A data file (expression matrix, clinical table) is malformed or inconsistent."""


class CohortSheetError(OmicsflowError):
    """The cohort sheet (``cohorts.tsv``) is malformed or inconsistent."""


class ConfigError(OmicsflowError):
    """The workflow configuration is invalid."""


class QualityGateError(OmicsflowError):
    """A cohort failed the quality gate and the run must stop."""

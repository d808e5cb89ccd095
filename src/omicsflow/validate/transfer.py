"""Which cutpoint transfer each validation cohort uses, checked against its platform.

Light on imports on purpose: the workflow calls :func:`check_transfer_config` while parsing,
so a wrong setting stops the run before any job starts.
"""

from __future__ import annotations

from typing import Any

from omicsflow.errors import ConfigError, first_items
from omicsflow.survival.signature import TRANSFERS

__all__ = ["DEFAULT_VALIDATION", "check_transfer_config", "cohort_transfer", "validation_options"]

DEFAULT_VALIDATION: dict[str, Any] = {
    "transfer": "percentile",
    "transfer_by_cohort": {},
    "allow_missing_genes": False,
    "min_genes_present": 0.5,
    "horizons": [12, 36, 60],
    "uno_tau": None,
    "covariates": [],
    "random_signatures": 1000,
    "alpha": 0.05,
}
"""Defaults of the ``validation`` config section (as in the schema, except ``covariates``)."""


def validation_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The ``validation`` options with defaults filled in."""
    merged = {**DEFAULT_VALIDATION, **(options or {})}
    merged["transfer_by_cohort"] = dict(merged.get("transfer_by_cohort") or {})
    return merged


def cohort_transfer(
    cohort: str, *, platform: str, discovery_platform: str, options: dict[str, Any]
) -> str:
    """The cutpoint transfer of one validation cohort, checked against its platform.

    Parameters
    ----------
    cohort
        Cohort id.
    platform, discovery_platform
        The cohort's and the discovery cohort's platform (cohort sheet).
    options
        The ``validation`` config (``transfer``, ``transfer_by_cohort``).

    Returns
    -------
    str
        ``"percentile"`` or ``"absolute"``.

    Raises
    ------
    ConfigError
        Unknown transfer, or ``absolute`` for a cohort on another platform than discovery
        (its values are on another scale: the discovery cutpoint values mean nothing there).
    """
    options = validation_options(options)
    by_cohort = options["transfer_by_cohort"]
    transfer = by_cohort.get(cohort, options["transfer"])
    key = (
        f"validation.transfer_by_cohort.{cohort}" if cohort in by_cohort else "validation.transfer"
    )
    if transfer not in TRANSFERS:
        raise ConfigError(
            "unknown cutpoint transfer",
            cohort=cohort,
            column=key,
            seen=repr(transfer),
            expected=" | ".join(TRANSFERS),
            fix=f"set {key} to percentile or absolute",
        )
    if transfer == "absolute" and platform != discovery_platform:
        raise ConfigError(
            "absolute cutpoint transfer is allowed only on the discovery cohort's platform",
            cohort=cohort,
            column=key,
            seen=f"absolute for a {platform!r} cohort; discovery is {discovery_platform!r}",
            expected="percentile transfer for a cohort on another platform",
            fix=f"set validation.transfer_by_cohort.{cohort}: percentile "
            "(the same percentile of this cohort's own distribution)",
        )
    return transfer


def check_transfer_config(options: dict[str, Any], platforms: dict[str, str], roles: dict) -> None:
    """Check the ``validation`` transfer settings against the cohort sheet (at parse time).

    Parameters
    ----------
    options
        The ``validation`` config section.
    platforms
        Cohort id → platform, every cohort of the sheet.
    roles
        Cohort id → role.

    Raises
    ------
    ConfigError
        A ``transfer_by_cohort`` entry names no validation cohort, or a cohort's transfer is
        not allowed (see :func:`cohort_transfer`).
    """
    options = validation_options(options)
    validation = [cohort for cohort, role in roles.items() if role == "validation"]
    discovery = [cohort for cohort, role in roles.items() if role == "discovery"]
    unknown = [cohort for cohort in options["transfer_by_cohort"] if cohort not in validation]
    if unknown:
        raise ConfigError(
            "validation.transfer_by_cohort names cohorts that are not validation cohorts",
            column="validation.transfer_by_cohort",
            seen=first_items(unknown),
            expected=f"validation cohorts of the sheet: {first_items(validation)}",
            fix="use the cohort ids of the sheet's validation rows",
        )
    if not discovery:
        return
    for cohort in validation:
        cohort_transfer(
            cohort,
            platform=platforms[cohort],
            discovery_platform=platforms[discovery[0]],
            options=options,
        )

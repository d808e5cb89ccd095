"""Default quality options (the ``qc`` section of the config) and how user options merge in.

Every default here is the one documented in ``config/config.yaml`` and in the config schema;
:func:`resolve_options` fills keys the user left out, so the package gives the same answer when
called without Snakemake.
"""

from __future__ import annotations

from typing import Any

from omicsflow.errors import ConfigError

__all__ = ["COMPONENTS", "DEFAULT_QC", "resolve_options"]

COMPONENTS: tuple[str, ...] = (
    "missingness",
    "scale",
    "variance",
    "outliers",
    "duplicates",
    "batch",
    "dimensionality",
    "outcome",
)
"""Component scores, in the order they are reported."""

DEFAULT_QC: dict[str, Any] = {
    "weights": dict.fromkeys(COMPONENTS, 1.0),
    "pass_score": 0.8,
    "warn_score": 0.6,
    "remove_outliers": True,
    "on_fail_validation": "exclude",
    "max_missing": 0.5,
    "max_sample_missing": 0.2,
    "max_gene_missing": 0.2,
    "max_flagged_share": 0.2,
    "unlogged_q99": 100.0,
    "unlogged_range": 50.0,
    "unlogged_skew": 2.0,
    "near_constant_freq_ratio": 19.0,
    "near_constant_unique_share": 0.1,
    "n_pcs": 5,
    "outlier_iqr": 1.5,
    "outlier_alpha": 0.001,
    "duplicate_correlation": 0.95,
    "max_batch_share": 0.5,
    "min_samples": 20,
    "min_epv": 10.0,
    "min_events": 10,
    "max_zero_time_share": 0.1,
}
"""Defaults of the ``qc`` config section (see ``config/config.yaml`` for what each means)."""

_FAIL_ACTIONS = ("exclude", "stop")


def resolve_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """Merge user options over :data:`DEFAULT_QC` (``weights`` merged key by key).

    Parameters
    ----------
    options
        The ``qc`` section of the config, possibly partial; ``None`` for all defaults.

    Returns
    -------
    dict
        A complete option set.

    Raises
    ------
    ConfigError
        On an unknown key, an unknown weight name, inverted verdict thresholds or an unknown
        ``on_fail_validation`` action (the schema rejects these in a workflow run; this catches
        direct package calls).
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULT_QC))
    if unknown:
        raise ConfigError(
            "unknown qc options",
            seen=", ".join(unknown),
            expected=", ".join(sorted(DEFAULT_QC)),
            fix="remove or correct the keys in the qc section of the config",
        )
    weights = dict(options.pop("weights", None) or {})
    unknown_weights = sorted(set(weights) - set(COMPONENTS))
    if unknown_weights:
        raise ConfigError(
            "unknown qc weights",
            seen=", ".join(unknown_weights),
            expected=", ".join(COMPONENTS),
            fix="name only the component scores listed",
        )
    resolved = {**DEFAULT_QC, **options, "weights": {**DEFAULT_QC["weights"], **weights}}
    if resolved["warn_score"] > resolved["pass_score"]:
        raise ConfigError(
            "qc.warn_score is above qc.pass_score",
            seen=f"warn_score {resolved['warn_score']}, pass_score {resolved['pass_score']}",
            expected="warn_score <= pass_score",
            fix="lower warn_score or raise pass_score",
        )
    if resolved["on_fail_validation"] not in _FAIL_ACTIONS:
        raise ConfigError(
            "unknown qc.on_fail_validation",
            seen=repr(resolved["on_fail_validation"]),
            expected=" | ".join(_FAIL_ACTIONS),
            fix="use 'exclude' to drop a failing validation cohort or 'stop' to stop the run",
        )
    return resolved

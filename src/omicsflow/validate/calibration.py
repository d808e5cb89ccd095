"""Calibration by risk group: observed survival in a cohort vs what discovery predicts.

A risk group's prediction is the survival the discovery cohort showed in that group (its
Kaplan–Meier estimate at each horizon): a patient placed in the high-risk group is told "about
S_disc(t)". The validation cohort's own Kaplan–Meier estimate in the same group, with its 95%
interval, is the observation. A well-calibrated signature has observed ≈ predicted; a
shifted cohort (other case mix, other treatment era) shows up as a systematic gap.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from omicsflow.survival.metrics import survival_at_horizons
from omicsflow.validate.groups import RiskGroups

__all__ = ["CALIBRATION_COLUMNS", "group_calibration"]

logger = logging.getLogger(__name__)

CALIBRATION_COLUMNS = (
    "group",
    "horizon",
    "n",
    "at_risk",
    "predicted",
    "observed",
    "observed_ci_low",
    "observed_ci_high",
    "difference",
    "within_ci",
)


def group_calibration(
    time: np.ndarray,
    event: np.ndarray,
    groups: RiskGroups,
    *,
    reference_time: np.ndarray,
    reference_event: np.ndarray,
    reference_groups: RiskGroups,
    horizons: np.ndarray | list[float],
) -> pd.DataFrame:
    """Observed (this cohort) vs predicted (discovery) survival per risk group and horizon.

    Parameters
    ----------
    time, event
        The validation cohort's outcome.
    groups
        Its risk groups.
    reference_time, reference_event
        The discovery cohort's outcome.
    reference_groups
        Discovery risk groups formed by the same rule (same labels).
    horizons
        Times at which to compare.

    Returns
    -------
    pandas.DataFrame
        :data:`CALIBRATION_COLUMNS`, one row per group and horizon; ``difference`` is observed
        minus predicted, ``within_ci`` whether the prediction lies in the observed 95%
        interval. NaN where a curve does not reach the horizon or a group is empty.
    """
    horizons = np.atleast_1d(np.asarray(horizons, dtype=np.float64))
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event).astype(int)
    reference_time = np.asarray(reference_time, dtype=np.float64)
    reference_event = np.asarray(reference_event).astype(int)
    rows = []
    for label in groups.order:
        mask = groups.labels == label
        reference_mask = reference_groups.labels == label
        observed = _curve(time[mask], event[mask], horizons)
        predicted = _curve(
            reference_time[reference_mask], reference_event[reference_mask], horizons
        )
        for k, horizon in enumerate(horizons):
            value, low, high = (
                observed["survival"][k],
                observed["ci_low"][k],
                observed["ci_high"][k],
            )
            prediction = predicted["survival"][k]
            rows.append(
                {
                    "group": label,
                    "horizon": float(horizon),
                    "n": int(mask.sum()),
                    "at_risk": int(observed["at_risk"][k]),
                    "predicted": prediction,
                    "observed": value,
                    "observed_ci_low": low,
                    "observed_ci_high": high,
                    "difference": value - prediction,
                    "within_ci": bool(low <= prediction <= high)
                    if np.isfinite([value, prediction]).all()
                    else None,
                }
            )
    return pd.DataFrame(rows, columns=list(CALIBRATION_COLUMNS))


def _curve(time: np.ndarray, event: np.ndarray, horizons: np.ndarray) -> dict[str, np.ndarray]:
    if time.size == 0:
        nan = np.full(horizons.size, np.nan)
        return {"survival": nan, "ci_low": nan, "ci_high": nan, "at_risk": np.zeros(horizons.size)}
    return survival_at_horizons(time, event, horizons)

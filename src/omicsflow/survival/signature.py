"""A locked prognostic signature: genes, cutpoints, directions and the scoring rule.

The signature is chosen on the discovery cohort and then frozen in ``signature.json``. Each
gene's cutpoint is stored in expression units and as a percentile of the discovery
distribution (the share of discovery samples at or below it). A new cohort is scored by
moving every cutpoint to the same percentile of that cohort's own distribution
(``transfer="percentile"``, fair across platforms and scales) or, when the platforms match,
by using the absolute value (``transfer="absolute"``).

A gene is *risk-activated* in a sample when its expression is on the risk side of the
cutpoint. Two scoring rules:

* ``count`` (EpiMed): the score is the number of risk-activated genes; risk groups by the
  locked bounds (default 0 / 1 / ≥ 2 activated genes, :meth:`Signature.risk_groups`);
* ``cox``: a ridge-penalised Cox model on the binarised genes, fitted on discovery; the score
  is its linear predictor ``Σ weight_g · activated_g``.

With either rule the two-group split is high risk = ``score > risk_cutpoint`` (the discovery
median, locked).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from omicsflow.errors import InputError, first_items
from omicsflow.survival.metrics import cox_fit

__all__ = [
    "DIRECTIONS",
    "SCORINGS",
    "TRANSFERS",
    "Signature",
    "SignatureGene",
    "group_labels",
    "lock_signature",
    "risk_states",
    "score_signature",
    "transferred_cutpoints",
]

logger = logging.getLogger(__name__)

DIRECTIONS = ("high_risk_above", "high_risk_below")
TRANSFERS = ("percentile", "absolute")
SCORINGS = ("count", "cox")
FORMAT = "omicsflow.signature/1"


@dataclass(frozen=True)
class SignatureGene:
    """One gene of a signature.

    Attributes
    ----------
    gene
        Gene id.
    cutpoint
        Threshold in discovery expression units; low = ``x <= cutpoint``.
    percentile
        Share of discovery samples at or below ``cutpoint``.
    direction
        ``high_risk_above`` or ``high_risk_below``.
    hazard_ratio, p_value, q_value
        Discovery evidence (HR of high vs low expression, corrected p, BH q).
    weight
        The gene's weight in the score: 1 for ``count``, the penalised Cox coefficient of
        its risk activation for ``cox``.
    cut_ci_low, cut_ci_high
        Bootstrap 95% interval of the cutpoint (expression units), when known.
    percentile_ci_low, percentile_ci_high
        The same interval as shares of discovery samples at or below its bounds.
    selection_frequency
        Share of bootstrap resamples in which the gene passed the selection rule.
    """

    gene: str
    cutpoint: float
    percentile: float
    direction: str
    hazard_ratio: float
    p_value: float
    q_value: float
    weight: float = 1.0
    cut_ci_low: float | None = None
    cut_ci_high: float | None = None
    percentile_ci_low: float | None = None
    percentile_ci_high: float | None = None
    selection_frequency: float | None = None


@dataclass(frozen=True)
class Signature:
    """A locked signature.

    Attributes
    ----------
    genes
        The signature genes, best first.
    scoring
        The scoring rule: ``"count"`` or ``"cox"``.
    risk_cutpoint
        High risk = score greater than this (set on discovery).
    selection
        How the genes were chosen (rule and parameters), for the record.
    group_bounds, group_labels
        Risk groups of the score: group ``i`` holds scores with ``i`` bounds at or below
        them (``count``: EpiMed's 0 / 1 / ≥ 2 for bounds ``(1, 2)``). Empty: two groups
        ``low`` / ``high`` split at ``risk_cutpoint``.
    performance
        The score on the discovery cohort: apparent and optimism-corrected C-index.
    """

    genes: tuple[SignatureGene, ...]
    scoring: str
    risk_cutpoint: float
    selection: dict[str, Any]
    group_bounds: tuple[float, ...] = ()
    group_labels: tuple[str, ...] = ()
    performance: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def gene_ids(self) -> list[str]:
        """The signature's gene ids."""
        return [entry.gene for entry in self.genes]

    @property
    def weights(self) -> np.ndarray:
        """Each gene's weight in the score (all 1 for ``count``)."""
        return np.array([entry.weight for entry in self.genes], dtype=np.float64)

    def high_risk(self, score: np.ndarray) -> np.ndarray:
        """The locked two-group split: ``score > risk_cutpoint``."""
        return np.asarray(score, dtype=np.float64) > self.risk_cutpoint

    def risk_groups(self, score: np.ndarray) -> np.ndarray:
        """Risk-group label of each score.

        Parameters
        ----------
        score
            Signature scores (:func:`score_signature`).

        Returns
        -------
        numpy.ndarray
            With bounds: ``group_labels[i]``, ``i`` = number of bounds ``<= score`` (count
            signature, EpiMed: ``"0"``, ``"1"``, ``"≥2"``). Without: ``"low"`` / ``"high"``
            by ``score > risk_cutpoint``.
        """
        score = np.asarray(score, dtype=np.float64)
        if not self.group_bounds:
            return np.where(self.high_risk(score), "high", "low")
        index = np.searchsorted(np.asarray(self.group_bounds), score, side="right")
        return np.asarray(self.group_labels, dtype=object)[index]

    def describe_score(self) -> str:
        """One paragraph on how the score and its groups are computed."""
        activated = (
            "a gene is risk-activated when its expression is above the cutpoint "
            "(high_risk_above) or at or below it (high_risk_below)"
        )
        if self.scoring == "cox":
            rule = (
                "score = sum over genes of weight × risk activation (ridge-penalised Cox "
                "coefficients fitted on the discovery cohort)"
            )
        else:
            rule = "score = number of risk-activated genes"
        groups = (
            f"risk groups {list(self.group_labels)} at score bounds {list(self.group_bounds)}"
            if self.group_bounds
            else "risk groups low/high"
        )
        return (
            f"{rule}; {activated}. High risk = score > risk_cutpoint; {groups}. In a new "
            "cohort each cutpoint moves to the same percentile of that cohort's own "
            "distribution (or stays absolute when the platforms match)."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for ``signature.json``."""
        return {
            "format": FORMAT,
            "scoring": self.scoring,
            "score_description": self.describe_score(),
            "risk_cutpoint": self.risk_cutpoint,
            "risk_groups": {
                "bounds": list(self.group_bounds),
                "labels": list(self.group_labels) if self.group_bounds else ["low", "high"],
            },
            "selection": self.selection,
            "performance": self.performance,
            "genes": [asdict(entry) for entry in self.genes],
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Signature:
        """Rebuild a signature from :meth:`to_dict` output."""
        if record.get("format") != FORMAT:
            raise InputError(
                "not an omicsflow signature",
                seen=repr(record.get("format")),
                expected=FORMAT,
                fix="pass results/biomarkers/signature.json",
            )
        genes = tuple(SignatureGene(**entry) for entry in record["genes"])
        groups = record.get("risk_groups") or {}
        bounds = tuple(float(bound) for bound in groups.get("bounds", ()))
        return cls(
            genes=genes,
            scoring=record["scoring"],
            risk_cutpoint=float(record["risk_cutpoint"]),
            selection=record["selection"],
            group_bounds=bounds,
            group_labels=tuple(groups.get("labels", ())) if bounds else (),
            performance=dict(record.get("performance") or {}),
        )


def group_labels(bounds: Sequence[float]) -> tuple[str, ...]:
    """Labels of count-score groups cut at integer ``bounds``: (1, 2) → "0", "1", "≥2"."""
    values = [int(bound) for bound in bounds]
    if any(b != v for b, v in zip(bounds, values, strict=True)) or values != sorted(set(values)):
        raise InputError(
            "risk-group bounds must be increasing whole numbers of activated genes",
            seen=list(bounds),
            fix="set biomarkers.risk_groups, e.g. [1, 2] for 0 / 1 / ≥2",
        )
    if values and values[0] < 1:
        raise InputError(
            "the first risk-group bound must be at least 1",
            seen=list(bounds),
            fix="set biomarkers.risk_groups, e.g. [1, 2] for 0 / 1 / ≥2",
        )
    labels = []
    low = 0
    for high in values:
        labels.append(str(low) if high - 1 == low else f"{low}–{high - 1}")
        low = high
    labels.append(f"≥{low}")
    return tuple(labels)


def _optional(value: Any) -> float | None:
    """A finite float, or None (missing, NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def lock_signature(
    cutpoints: pd.DataFrame,
    expression: pd.DataFrame,
    *,
    size: int = 10,
    max_q: float = 1.0,
    min_selection_frequency: float = 0.0,
    scoring: str = "count",
    risk_groups: Sequence[float] = (),
    penalizer: float = 0.1,
    time: np.ndarray | None = None,
    event: np.ndarray | None = None,
) -> Signature:
    """Choose the signature genes on the discovery cohort and lock the scoring rule.

    Parameters
    ----------
    cutpoints
        The scan result (:func:`omicsflow.survival.cutpoint.scan_cutpoints`), best first.
    expression
        Discovery expression, samples × genes (to set the risk cutpoint and the weights).
    size
        Number of genes: the ``size`` best by corrected p-value (equivalently q-value) among
        genes with ``q_value <= max_q`` and ``selection_frequency >= min_selection_frequency``.
    max_q
        Largest Benjamini–Hochberg q-value admitted.
    min_selection_frequency
        Smallest bootstrap selection frequency admitted (0: stability not required). If no
        gene qualifies, the stability requirement is dropped with a warning; if still none,
        the best gene by p-value is taken with a warning.
    scoring
        ``"count"`` or ``"cox"`` (see the module docstring).
    risk_groups
        Bounds of the count-score risk groups (EpiMed: ``(1, 2)`` → 0 / 1 / ≥ 2 activated
        genes); ignored for ``cox`` (two groups at ``risk_cutpoint``).
    penalizer
        Ridge penalty of the ``cox`` scoring rule (lifelines convention).
    time, event
        Discovery outcome (needed for ``cox``).

    Returns
    -------
    Signature
        The locked signature.
    """
    if size < 1:
        raise InputError(
            "signature size must be at least 1", seen=size, fix="set biomarkers.signature_size"
        )
    if scoring not in SCORINGS:
        raise InputError(
            "unknown signature scoring rule",
            seen=repr(scoring),
            expected=" | ".join(SCORINGS),
            fix="set biomarkers.scoring",
        )
    chosen = _choose(cutpoints, size, max_q, min_selection_frequency)
    genes = tuple(_signature_gene(row, expression) for row in chosen.itertuples(index=False))
    bounds = tuple(float(bound) for bound in risk_groups) if scoring == "count" else ()
    labels = group_labels(bounds) if bounds else ()
    provisional = Signature(
        genes=genes, scoring="count", risk_cutpoint=0.0, selection={}, group_bounds=bounds
    )
    if scoring == "cox":
        if time is None or event is None:
            raise InputError(
                "the cox scoring rule needs the discovery outcome",
                fix="pass time and event to lock_signature",
            )
        states = risk_states(provisional, expression, transfer="absolute")
        fit = cox_fit(states.to_numpy(dtype=np.float64), time, event, penalizer=penalizer)
        genes = tuple(
            replace(entry, weight=float(weight))
            for entry, weight in zip(genes, fit.coef, strict=True)
        )
        provisional = replace(provisional, genes=genes, scoring="cox")
    score = score_signature(provisional, expression, transfer="absolute")
    risk_cutpoint = _median_cutpoint(score, scoring)
    signature = Signature(
        genes=genes,
        scoring=scoring,
        risk_cutpoint=risk_cutpoint,
        selection={
            "rule": (
                "best corrected p-value (Lausen-Schumacher 1994) among genes with "
                "q_value <= max_q and selection_frequency >= min_selection_frequency"
            ),
            "size": size,
            "max_q": max_q,
            "min_selection_frequency": min_selection_frequency,
            "candidates": int(cutpoints["p_value"].notna().sum()),
            "penalizer": penalizer if scoring == "cox" else None,
        },
        group_bounds=bounds,
        group_labels=labels,
    )
    logger.info(
        "locked %s signature of %d genes: %s",
        scoring,
        len(genes),
        ", ".join(signature.gene_ids),
    )
    return signature


def _choose(
    cutpoints: pd.DataFrame, size: int, max_q: float, min_selection_frequency: float
) -> pd.DataFrame:
    ranked = cutpoints.dropna(subset=["p_value"])
    ranked = ranked.sort_values(
        ["p_value", "statistic"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)
    significant = ranked[ranked["q_value"] <= max_q]
    if min_selection_frequency > 0:
        frequency = significant.get("selection_frequency")
        if frequency is None or frequency.isna().all():
            logger.warning(
                "no bootstrap selection frequencies: the stability requirement (>= %.2f) is "
                "not applied",
                min_selection_frequency,
            )
            stable = significant
        else:
            stable = significant[frequency >= min_selection_frequency]
            if stable.empty and not significant.empty:
                logger.warning(
                    "no gene with q <= %.3g has selection frequency >= %.2f; the stability "
                    "requirement is dropped",
                    max_q,
                    min_selection_frequency,
                )
                stable = significant
    else:
        stable = significant
    chosen = stable.head(size)
    if chosen.empty:
        logger.warning("no gene has q <= %.3g; the signature takes the best gene by p-value", max_q)
        chosen = ranked.head(1)
    if chosen.empty:
        raise InputError(
            "no gene has a cutpoint; a signature cannot be formed",
            fix="check the discovery cohort's expression values",
        )
    return chosen


def _signature_gene(row: Any, expression: pd.DataFrame) -> SignatureGene:
    values = expression[row.gene].to_numpy(dtype=np.float64) if row.gene in expression else None

    def share(bound: Any) -> float | None:
        bound = _optional(bound)
        if bound is None or values is None:
            return None
        return float(np.mean(values <= bound))

    return SignatureGene(
        gene=str(row.gene),
        cutpoint=float(row.cutpoint),
        percentile=float(row.cutpoint_percentile),
        direction=str(row.direction),
        hazard_ratio=float(row.hazard_ratio),
        p_value=float(row.p_value),
        q_value=float(row.q_value),
        cut_ci_low=_optional(getattr(row, "cut_ci_low", None)),
        cut_ci_high=_optional(getattr(row, "cut_ci_high", None)),
        percentile_ci_low=share(getattr(row, "cut_ci_low", None)),
        percentile_ci_high=share(getattr(row, "cut_ci_high", None)),
        selection_frequency=_optional(getattr(row, "selection_frequency", None)),
    )


def _median_cutpoint(score: np.ndarray, scoring: str) -> float:
    """The discovery median of the score, lowered if nobody would be above it."""
    cut = float(np.quantile(score, 0.5, method="inverted_cdf"))
    if (score > cut).any():
        return cut
    if scoring == "count":
        return cut - 0.5
    below = score[score < cut]
    return float(below.max()) if below.size else cut


def transferred_cutpoints(
    signature: Signature, expression: pd.DataFrame, *, transfer: str = "percentile"
) -> pd.Series:
    """Each signature gene's cutpoint in the units of ``expression``.

    Parameters
    ----------
    signature
        A locked signature.
    expression
        samples × genes of the cohort to score.
    transfer
        ``"percentile"``: the discovery percentile of this cohort's distribution (the
        smallest value whose empirical CDF reaches it); ``"absolute"``: the discovery value.

    Returns
    -------
    pandas.Series
        Cutpoint per signature gene.
    """
    if transfer not in TRANSFERS:
        raise InputError(
            "unknown cutpoint transfer",
            seen=repr(transfer),
            expected=" | ".join(TRANSFERS),
            fix="set validation.transfer",
        )
    missing = [gene for gene in signature.gene_ids if gene not in expression.columns]
    if missing:
        raise InputError(
            "the cohort lacks signature genes",
            column=first_items(missing),
            seen=f"{len(missing)} of {len(signature.genes)} signature genes missing",
            fix="use a cohort that measures the signature genes",
        )
    if transfer == "absolute":
        return pd.Series({entry.gene: entry.cutpoint for entry in signature.genes})
    return pd.Series(
        {
            entry.gene: float(
                np.quantile(
                    expression[entry.gene].to_numpy(dtype=np.float64),
                    entry.percentile,
                    method="inverted_cdf",
                )
            )
            for entry in signature.genes
        }
    )


def risk_states(
    signature: Signature, expression: pd.DataFrame, *, transfer: str = "percentile"
) -> pd.DataFrame:
    """Whether each signature gene is risk-activated in each sample (samples × genes, bool)."""
    cutpoints = transferred_cutpoints(signature, expression, transfer=transfer)
    states = {}
    for entry in signature.genes:
        values = expression[entry.gene].to_numpy(dtype=np.float64)
        above = values > cutpoints[entry.gene]
        states[entry.gene] = above if entry.direction == "high_risk_above" else ~above
    return pd.DataFrame(states, index=expression.index)


def score_signature(
    signature: Signature, expression: pd.DataFrame, *, transfer: str = "percentile"
) -> np.ndarray:
    """The signature score of every sample.

    ``count``: the number of risk-activated genes; ``cox``: the weighted sum of the risk
    activations (the penalised Cox linear predictor).
    """
    states = risk_states(signature, expression, transfer=transfer).to_numpy(dtype=np.float64)
    if signature.scoring == "cox":
        return states @ signature.weights
    return states.sum(axis=1)

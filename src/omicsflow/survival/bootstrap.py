"""Bootstrap stability of the cutpoint scan: cutpoint intervals and selection frequencies.

Each resample draws the discovery patients with replacement and reruns the whole scan (every
gene, every cutpoint, Lausen–Schumacher 1994 p, Benjamini–Hochberg q) and the selection rule
(:class:`SelectionRule`). Per gene this gives the cutpoint's percentile interval in expression
units and, through the discovery distribution, in percentiles, and the *selection
frequency*: the share of resamples in which the gene passes the selection rule. The genes
picked in each resample, with their cutpoints, are kept so that the signature's C-index can be
corrected for optimism by refitting the whole pipeline in each resample (Harrell's bootstrap).

The resamples are drawn by :func:`resample_indices` from ``config["seed"]``: the signature
step regenerates exactly the same resamples from the same seed.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from omicsflow.errors import InputError
from omicsflow.survival.cutpoint import benjamini_hochberg, fixed_statistics, p_lausen94
from omicsflow.survival.logrank import genes_by_row, logrank_scores, maxstat_scan_rows
from omicsflow.survival.metrics import as_survival

__all__ = [
    "PICK_COLUMNS",
    "SelectionRule",
    "Stability",
    "bootstrap_stability",
    "resample_indices",
]

logger = logging.getLogger(__name__)

# Independent random streams derived from config["seed"].
BOOTSTRAP_STREAM = 2
REFERENCE_STREAM = 5

PICK_COLUMNS = ("resample", "rank", "gene", "cutpoint", "direction", "p_value")


@dataclass(frozen=True)
class SelectionRule:
    """Which genes a scan selects: the ``size`` best by corrected p with ``q <= max_q``.

    Attributes
    ----------
    size
        Number of genes selected.
    max_q
        Largest Benjamini–Hochberg q-value admitted.
    """

    size: int = 10
    max_q: float = 1.0

    def __post_init__(self) -> None:
        if self.size < 1:
            raise InputError(
                "signature size must be at least 1",
                seen=self.size,
                fix="set biomarkers.signature_size",
            )

    def pick(self, p_value: np.ndarray, q_value: np.ndarray, statistic: np.ndarray) -> np.ndarray:
        """Indices of the selected genes, best first (ties in p: larger statistic first)."""
        eligible = np.flatnonzero(np.isfinite(p_value) & (q_value <= self.max_q))
        order = np.lexsort((-statistic[eligible], p_value[eligible]))
        return eligible[order[: self.size]]


@dataclass(frozen=True)
class Stability:
    """Bootstrap stability of every gene's cutpoint and selection.

    Attributes
    ----------
    genes
        Gene ids, in the expression's column order.
    n_resamples
        Resamples used (resamples without events are skipped).
    selection_frequency
        Share of resamples in which each gene passed the selection rule.
    cut_ci_low, cut_ci_high
        Percentile interval of the bootstrap cutpoints (expression units).
    percentile_ci_low, percentile_ci_high
        The same bounds as shares of discovery samples at or below them.
    picks
        Genes selected in each resample (:data:`PICK_COLUMNS`).
    """

    genes: np.ndarray
    n_resamples: int
    selection_frequency: np.ndarray
    cut_ci_low: np.ndarray
    cut_ci_high: np.ndarray
    percentile_ci_low: np.ndarray
    percentile_ci_high: np.ndarray
    picks: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """Per-gene stability as a table (gene first)."""
        return pd.DataFrame(
            {
                "gene": self.genes,
                "selection_frequency": self.selection_frequency,
                "cut_ci_low": self.cut_ci_low,
                "cut_ci_high": self.cut_ci_high,
                "percentile_ci_low": self.percentile_ci_low,
                "percentile_ci_high": self.percentile_ci_high,
            }
        )


def resample_indices(n_samples: int, n_resamples: int, seed: int) -> np.ndarray:
    """Bootstrap resamples (rows of sample indices, with replacement) from ``seed``.

    Parameters
    ----------
    n_samples
        Samples in the discovery cohort.
    n_resamples
        Number of resamples.
    seed
        ``config["seed"]``; the bootstrap uses its own stream of it.

    Returns
    -------
    numpy.ndarray
        ``n_resamples × n_samples`` integer indices.
    """
    rng = np.random.default_rng([seed, BOOTSTRAP_STREAM])
    return rng.integers(0, n_samples, size=(n_resamples, n_samples))


def bootstrap_stability(
    expression: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    n_resamples: int = 200,
    seed: int = 0,
    rule: SelectionRule | None = None,
    min_prop: float = 0.1,
    max_prop: float = 0.9,
    level: float = 0.95,
    reference: pd.DataFrame | None = None,
    n_sd: float = 2.0,
) -> Stability:
    """Rerun the scan and the selection on bootstrap resamples of the patients.

    Parameters
    ----------
    expression
        samples × genes, complete.
    time, event
        Survival outcome.
    n_resamples
        Number of resamples (each reruns the whole scan).
    seed
        ``config["seed"]``.
    rule
        The selection rule (default :class:`SelectionRule`).
    min_prop, max_prop
        Candidate range, as in the scan.
    level
        Coverage of the cutpoint intervals.
    reference, n_sd
        Reference-threshold mode: samples × genes of the reference samples; each resample
        also resamples them and cuts every gene at their mean + ``n_sd`` SD (no search, plain
        normal p-value) instead of scanning.

    Returns
    -------
    Stability
        Per-gene intervals and selection frequencies, and each resample's picks.
    """
    if n_resamples < 1:
        raise InputError(
            "the number of bootstrap resamples must be at least 1",
            seen=n_resamples,
            fix="set biomarkers.bootstrap",
        )
    rule = rule or SelectionRule()
    time, event = as_survival(time, event)
    genes = expression.columns.astype(str).to_numpy()
    rows = genes_by_row(expression.to_numpy())
    n_genes, n = rows.shape
    cutpoints = np.full((n_resamples, n_genes), np.nan)
    selected = np.zeros(n_genes)
    picks: list[pd.DataFrame] = []
    used = 0
    indices = resample_indices(n, n_resamples, seed)
    if reference is not None:
        reference_values = reference.loc[:, expression.columns].to_numpy(dtype=np.float64)
        reference_rng = np.random.default_rng([seed, REFERENCE_STREAM])
    for resample, index in enumerate(indices):
        if reference is not None:
            drawn = reference_values[
                reference_rng.integers(0, len(reference_values), len(reference_values))
            ]
            cut = drawn.mean(axis=0) + n_sd * drawn.std(axis=0, ddof=1)
        if not event[index].any():
            logger.warning("bootstrap resample %d has no events; skipped", resample)
            continue
        scores = logrank_scores(time[index], event[index])
        if reference is None:
            scan = maxstat_scan_rows(rows[:, index], scores, min_prop=min_prop, max_prop=max_prop)
            statistic, cut, deviation = scan.statistic, scan.cutpoint, scan.deviation
            p = p_lausen94(statistic, scan.t_sum, scan.t3_sum)
        else:
            statistic, _, deviation = fixed_statistics(rows[:, index], scores, cut)
            p = 2.0 * stats.norm.sf(statistic)
        chosen = rule.pick(p, benjamini_hochberg(p), statistic)
        selected[chosen] += 1
        cutpoints[resample] = cut
        used += 1
        picks.append(
            pd.DataFrame(
                {
                    "resample": resample,
                    "rank": np.arange(1, chosen.size + 1),
                    "gene": genes[chosen],
                    "cutpoint": cut[chosen],
                    "direction": np.where(
                        deviation[chosen] > 0, "high_risk_below", "high_risk_above"
                    ),
                    "p_value": p[chosen],
                }
            )
        )
        if (resample + 1) % max(1, n_resamples // 10) == 0 or resample + 1 == n_resamples:
            logger.info("bootstrap: %d/%d resamples", resample + 1, n_resamples)
    if used == 0:
        raise InputError(
            "no bootstrap resample has an event",
            seen=f"{int(event.sum())} events in {n} samples",
            fix="check the event coding of the discovery cohort",
        )
    tail = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # genes never cut in any resample
        low, high = np.nanquantile(cutpoints, [tail, 1.0 - tail], axis=0)
    return Stability(
        genes=genes,
        n_resamples=used,
        selection_frequency=selected / used,
        cut_ci_low=low,
        cut_ci_high=high,
        percentile_ci_low=_share_at_or_below(rows, low),
        percentile_ci_high=_share_at_or_below(rows, high),
        picks=pd.concat(picks, ignore_index=True).loc[:, list(PICK_COLUMNS)],
    )


def _share_at_or_below(rows: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Share of each row's values at or below its bound (exact in the rows' dtype)."""
    cast = bound.astype(rows.dtype)
    # Round the bound down into the rows' precision so that ``x <= cast`` iff ``x <= bound``.
    cast = np.where(cast > bound, np.nextafter(cast, -np.inf), cast)
    share = (rows <= cast[:, None]).mean(axis=1)
    return np.where(np.isnan(bound), np.nan, share)

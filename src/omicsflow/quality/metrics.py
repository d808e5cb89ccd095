"""The quality checks of one cohort, each giving metrics, a component score and a reason.

Every check returns a :class:`Check`: its metrics, a component score in [0, 1] (1 = no
concern), a reason with the fix when the score is below 1, hard failures (which fail the cohort
whatever its score) and the samples or genes it flags. Scores that depend on how many samples a
check flags fall linearly from 1 (none flagged) to 0 at ``qc.max_flagged_share`` of the samples;
more than that is a hard failure, because removing so many samples would change the cohort.

A few fixed factors are part of the method rather than tuning knobs: a cohort that needs a log
transform, whose outcome has no censored sample, or whose times are implausible for their unit
has that component multiplied by :data:`SUSPECT_FACTOR` (0.5): each is fixable or may be
legitimate, but a reader must look.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from omicsflow.quality.geometry import SampleGeometry
from omicsflow.survival.metrics import kaplan_meier

__all__ = [
    "PROFILE_QUANTILES",
    "SUSPECT_FACTOR",
    "Check",
    "ScaleProfile",
    "check_batch",
    "check_dimensionality",
    "check_duplicates",
    "check_missingness",
    "check_outcome",
    "check_outliers",
    "check_scale",
    "check_variance",
    "scale_profile",
]

logger = logging.getLogger(__name__)

SUSPECT_FACTOR = 0.5
"""Factor applied to a component for a finding that is fixable or may be legitimate."""

PROFILE_QUANTILES: dict[str, float] = {
    "min": 0.0,
    "q00_5": 0.005,
    "q02_5": 0.025,
    "q25": 0.25,
    "median": 0.5,
    "q75": 0.75,
    "q97_5": 0.975,
    "q99": 0.99,
    "q99_5": 0.995,
    "max": 1.0,
}
"""Per-sample quantiles kept by :func:`scale_profile` (label → probability)."""
_YEARS_PER_UNIT = {"day": 1 / 365.25, "week": 7 / 365.25, "month": 1 / 12, "year": 1.0}
_MAX_PLAUSIBLE_YEARS = 100.0
_BATCH_NOTICE = 0.95  # batch component below which the batch effect is reported


@dataclass(frozen=True)
class Check:
    """Result of one quality check.

    Attributes
    ----------
    name
        Component name (a key of ``qc.weights``).
    score
        Component score in [0, 1]; 1 = no concern.
    metrics
        Every number the check computed (JSON-ready).
    problems
        What is not fine, one phrase each (empty when the score is 1).
    fixes
        What to do about each problem.
    hard
        Findings that fail the cohort whatever its score, each with its fix.
    flagged_samples
        Sample ids flagged, by kind (e.g. ``"outliers"``).
    flagged_genes
        Gene ids flagged, by kind (e.g. ``"constant"``).
    removable
        Samples that ``qc.remove_outliers`` removes.
    """

    name: str
    score: float
    metrics: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()
    hard: tuple[tuple[str, str], ...] = ()
    flagged_samples: dict[str, list[str]] = field(default_factory=dict)
    flagged_genes: dict[str, list[str]] = field(default_factory=dict)
    removable: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """``"<problems>; fix: <fixes>"``, or ``None`` when there is nothing to say."""
        problems = [*self.problems, *(finding for finding, _ in self.hard)]
        if not problems:
            return None
        fixes = self.all_fixes
        return "; ".join(problems) + (f"; fix: {fixes}" if fixes else "")

    @property
    def all_fixes(self) -> str:
        """Every fix, hard failures' first, without repeats."""
        return "; ".join(dict.fromkeys([*(fix for _, fix in self.hard), *self.fixes]))


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _share_term(count: int, total: int, limit: float) -> float:
    """1 when nothing is flagged, falling linearly to 0 at ``limit`` (a share of ``total``)."""
    if total <= 0:
        return 0.0
    return _clip01(1.0 - (count / total) / limit)


def _ids(names: np.ndarray, mask: np.ndarray) -> list[str]:
    return [str(name) for name in names[mask]]


def _pct(value: float) -> str:
    if 0 < value < 0.0005:
        return "<0.1%"
    return f"{100.0 * value:.1f}%"


# ---------------------------------------------------------------------------- missingness
def check_missingness(
    observed: np.ndarray, samples: np.ndarray, genes: np.ndarray, opts: dict[str, Any]
) -> Check:
    """Missing values overall, per sample and per gene.

    Score: ``(1 - missing / max_missing) × sample term × (1 - share of genes over
    max_gene_missing)``, the sample term counting samples over ``max_sample_missing``. Hard
    failures: overall missing share above ``max_missing``; too many incomplete samples.
    """
    n, p = observed.shape
    missing = 1.0 - float(observed.mean()) if observed.size else 1.0
    per_sample = 1.0 - observed.mean(axis=1)
    per_gene = 1.0 - observed.mean(axis=0)
    heavy = per_sample > opts["max_sample_missing"]
    bad_genes = per_gene > opts["max_gene_missing"]
    score = (
        _clip01(1.0 - missing / opts["max_missing"])
        * _share_term(int(heavy.sum()), n, opts["max_flagged_share"])
        * (1.0 - float(bad_genes.mean()) if p else 0.0)
    )
    problems, fixes, hard = [], [], []
    if missing > 0:
        problems.append(f"{_pct(missing)} of expression values are missing")
        fixes.append("missing values are imputed in the preprocess stage")
    if heavy.any():
        problems.append(
            f"{int(heavy.sum())} samples miss more than {_pct(opts['max_sample_missing'])} of "
            f"their values (worst {_pct(float(per_sample.max()))})"
        )
        fixes.append("remove them (qc.remove_outliers: true) or re-process those arrays/libraries")
    if bad_genes.any():
        problems.append(
            f"{int(bad_genes.sum())} genes miss more than {_pct(opts['max_gene_missing'])} of "
            "their values"
        )
        fixes.append("filter genes measured in too few samples before analysis")
    if missing > opts["max_missing"]:
        hard.append(
            (
                f"{_pct(missing)} missing values (limit {_pct(opts['max_missing'])})",
                "too much is missing to impute honestly: check the file, the probe annotation "
                "or the platform",
            )
        )
    if n and heavy.mean() > opts["max_flagged_share"]:
        hard.append(
            (
                f"{_pct(float(heavy.mean()))} of samples miss more than "
                f"{_pct(opts['max_sample_missing'])} of their values "
                f"(limit {_pct(opts['max_flagged_share'])} of samples)",
                "re-process the incomplete arrays/libraries or check how the file was exported",
            )
        )
    return Check(
        name="missingness",
        score=float(score),
        metrics={
            "missing_fraction": missing,
            "sample_missing_median": float(np.median(per_sample)) if n else None,
            "sample_missing_max": float(per_sample.max()) if n else None,
            "gene_missing_median": float(np.median(per_gene)) if p else None,
            "gene_missing_max": float(per_gene.max()) if p else None,
            "n_samples_over_limit": int(heavy.sum()),
            "n_genes_over_limit": int(bad_genes.sum()),
            "n_genes_all_missing": int((per_gene == 1.0).sum()),
        },
        problems=tuple(problems),
        fixes=tuple(fixes),
        hard=tuple(hard),
        flagged_samples={"heavy_missing": _ids(samples, heavy)},
        flagged_genes={"missing": _ids(genes, bad_genes)},
        removable=tuple(_ids(samples, heavy)),
    )


# ---------------------------------------------------------------------------- scale
@dataclass(frozen=True)
class ScaleProfile:
    """Per-sample and pooled distribution summaries on the values as given.

    Attributes
    ----------
    quantiles
        Samples × :data:`PROFILE_QUANTILES` (order statistics; NaN for an empty sample).
    skewness, integer_share
        Per sample.
    unlogged
        Per sample: the values look un-logged (see :func:`check_scale`).
    pooled
        Quantiles, skewness, integer share, negative share of all observed values.
    """

    quantiles: np.ndarray
    skewness: np.ndarray
    integer_share: np.ndarray
    unlogged: np.ndarray
    pooled: dict[str, float]


def _order_statistics(values: np.ndarray, counts: np.ndarray, probs: tuple[float, ...]):
    """Quantiles (lower order statistic) of each row of a row-sorted matrix, NaNs last."""
    out = np.full((values.shape[0], len(probs)), np.nan)
    has = counts > 0
    for j, prob in enumerate(probs):
        position = np.floor(prob * np.maximum(counts - 1, 0)).astype(int)
        out[has, j] = values[np.flatnonzero(has), position[has]]
    return out


def _moment_skewness(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Moment skewness ``m3 / m2^1.5`` (as ``scipy.stats.skew``) from power sums.

    ``sums`` holds, per row, the sums of ``x``, ``x²`` and ``x³`` over ``counts`` values (any
    common shift of ``x`` leaves the result unchanged); 0 where the values are constant.
    """
    mean = sums[:, 0] / counts
    second = sums[:, 1] / counts
    third = sums[:, 2] / counts
    m2 = second - mean**2
    m3 = third - 3.0 * mean * second + 2.0 * mean**3
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m2 > 1e-12 * np.maximum(second, 1e-300), m3 / m2**1.5, 0.0)


def scale_profile(values: np.ndarray, observed: np.ndarray, opts: dict[str, Any]) -> ScaleProfile:
    """Distribution summaries that tell log-scale from raw-scale data.

    A sample looks un-logged (raw counts or intensities) by the GEO2R rule: its 99th
    percentile exceeds ``unlogged_q99``, or its range exceeds ``unlogged_range`` with a positive
    lower quartile (the range taken between the 0.5th and 99.5th percentiles, so that a stray
    column such as age among the genes does not make a log-scale sample look raw); or it is
    integer-valued (> 99% integers) and right-skewed (skewness above ``unlogged_skew``), as
    counts are.
    """
    counts = observed.sum(axis=1)
    ordered = np.sort(values, axis=1)
    quantiles = _order_statistics(ordered, counts, tuple(PROFILE_QUANTILES.values()))
    del ordered
    safe = np.maximum(counts, 1)
    # Power sums about one common shift (the median sample median) keep the moments exact
    # enough in double precision and give per-sample and pooled moments in one pass.
    column = {label: j for j, label in enumerate(PROFILE_QUANTILES)}
    shift = float(np.nanmedian(quantiles[:, column["median"]])) if (counts > 0).any() else 0.0
    shifted = np.where(observed, values - shift, 0.0)
    integer = values == np.round(values)  # False for NaN
    square = shifted * shifted
    sums = np.stack(
        [shifted.sum(axis=1), square.sum(axis=1), (square * shifted).sum(axis=1)], axis=1
    )
    del shifted, square
    skewness = _moment_skewness(sums, safe)
    integer_share = integer.sum(axis=1) / safe
    q25, q99 = quantiles[:, column["q25"]], quantiles[:, column["q99"]]
    low, high = quantiles[:, column["q00_5"]], quantiles[:, column["q99_5"]]
    unlogged = (
        (q99 > opts["unlogged_q99"])
        | ((high - low > opts["unlogged_range"]) & (q25 > 0))
        | ((integer_share > 0.99) & (skewness > opts["unlogged_skew"]))
    ) & (counts > 0)
    total = int(counts.sum())
    if total:
        flat = values[observed]
        negative_share = float((flat < 0).mean())
        pooled_q = np.quantile(flat, [0.0, 0.25, 0.5, 0.75, 0.99, 1.0], overwrite_input=True)
        del flat
        pooled = {
            "min": float(pooled_q[0]),
            "q25": float(pooled_q[1]),
            "median": float(pooled_q[2]),
            "q75": float(pooled_q[3]),
            "q99": float(pooled_q[4]),
            "max": float(pooled_q[5]),
            "skewness": float(_moment_skewness(sums.sum(axis=0)[None, :], np.array([total]))[0]),
            "integer_share": float(integer.sum() / total),
            "negative_share": negative_share,
        }
    else:
        pooled = dict.fromkeys(
            (
                "min",
                "q25",
                "median",
                "q75",
                "q99",
                "max",
                "skewness",
                "integer_share",
                "negative_share",
            ),
            float("nan"),
        )
    return ScaleProfile(quantiles, skewness, integer_share, unlogged, pooled)


def check_scale(
    values: np.ndarray,
    observed: np.ndarray,
    samples: np.ndarray,
    profile: ScaleProfile,
    *,
    platform: str,
    opts: dict[str, Any],
) -> tuple[Check, bool]:
    """Un-logged data, samples on another scale than the rest, forbidden negative values.

    The cohort needs a log transform when most samples look un-logged
    (:func:`scale_profile`); the minority on the other scale are flagged ``mixed_scale`` (and
    removed by ``qc.remove_outliers``). Negative values are forbidden when the values are on a
    raw scale (counts, intensities, TPM are never negative, whatever the platform) or are
    integer counts; on a log scale (log intensities, log ratios, log-CPM) they are legitimate.

    Score: ``(SUSPECT_FACTOR if a log transform is needed) × mixed-scale term × (1 - share of
    samples with forbidden negatives)``.

    Returns
    -------
    tuple
        The check and ``needs_log_transform``.
    """
    n = values.shape[0]
    needs_log = bool(n and profile.unlogged.mean() > 0.5)
    mixed = profile.unlogged != needs_log
    pooled = profile.pooled
    count_like = pooled["integer_share"] > 0.99
    negatives_forbidden = needs_log or bool(count_like)
    negative_rows = (np.where(observed, values, 0.0) < 0).any(axis=1) if n else np.zeros(0, bool)
    negative = negative_rows & negatives_forbidden & ~mixed
    score = (
        (SUSPECT_FACTOR if needs_log else 1.0)
        * _share_term(int(mixed.sum()), n, opts["max_flagged_share"])
        * (1.0 - float(negative.mean()) if n else 0.0)
    )
    evidence = (
        f"99th percentile {pooled['q99']:.4g}, max {pooled['max']:.4g}, range "
        f"{pooled['max'] - pooled['min']:.4g}, skewness {pooled['skewness']:.2f}, "
        f"{_pct(pooled['integer_share'])} integer values"
    )
    problems, fixes, hard = [], [], []
    if needs_log:
        problems.append(f"values look un-logged (raw counts or intensities: {evidence})")
        fixes.append(
            "log-transform, log2(x + 1) (the preprocess stage does it when "
            "needs_log_transform is true)"
        )
    if mixed.any():
        other = "log" if needs_log else "raw (un-logged)"
        problems.append(f"{int(mixed.sum())} samples are on a {other} scale unlike the rest")
        fixes.append("bring every sample to one scale, or remove those samples")
    if negative.any():
        problems.append(
            f"{int(negative.sum())} samples hold negative values, impossible on a raw "
            f"{platform} scale"
        )
        fixes.append("check the file: raw counts and intensities cannot be negative")
    if n and mixed.mean() > opts["max_flagged_share"]:
        hard.append(
            (
                f"{_pct(float(mixed.mean()))} of samples are on another scale than the rest",
                "bring every sample to one scale (log2 everything, or nothing) before QC",
            )
        )
    check = Check(
        name="scale",
        score=float(score),
        metrics={
            **{f"pooled_{key}": value for key, value in pooled.items()},
            "platform": platform,
            "n_unlogged_samples": int(profile.unlogged.sum()),
            "negatives_forbidden": negatives_forbidden,
        },
        problems=tuple(problems),
        fixes=tuple(fixes),
        hard=tuple(hard),
        flagged_samples={
            "mixed_scale": _ids(samples, mixed),
            "negative_values": _ids(samples, negative),
        },
        removable=tuple(_ids(samples, mixed)),
    )
    return check, needs_log


# ---------------------------------------------------------------------------- variance
def check_variance(
    ordered: np.ndarray, counts: np.ndarray, genes: np.ndarray, opts: dict[str, Any]
) -> Check:
    """Constant and near-constant genes (caret's ``nearZeroVar`` rule).

    A gene is constant when it takes at most one value over the observed samples; near-constant
    when its distinct values are at most ``near_constant_unique_share`` of its observations and
    its most common value is more than ``near_constant_freq_ratio`` times as frequent as the
    second. Score: ``1 - share of such genes``.

    Parameters
    ----------
    ordered
        The samples × genes values sorted within each gene (``np.sort(values, axis=0)``, NaN
        last).
    counts
        Observed values per gene.
    genes
        Gene ids.
    opts
        Resolved qc options.
    """
    n, p = ordered.shape
    row = np.arange(n)[:, None]
    inside = row[1:] < counts[None, :]
    new_value = (ordered[1:] != ordered[:-1]) & inside
    n_unique = (counts > 0).astype(int) + new_value.sum(axis=0)
    constant = n_unique <= 1
    unique_share = np.divide(n_unique, counts, out=np.zeros(p), where=counts > 0)
    near = np.zeros(p, dtype=bool)
    for gene in np.flatnonzero(~constant & (unique_share <= opts["near_constant_unique_share"])):
        _, freq = np.unique(ordered[: counts[gene], gene], return_counts=True)
        top = np.sort(freq)[::-1]
        near[gene] = top[0] / top[1] > opts["near_constant_freq_ratio"]
    low = constant | near
    filled = np.where(row < counts[None, :], ordered, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = filled.sum(axis=0) / counts
        deviations = np.where(row < counts[None, :], filled - means, 0.0)
        sd = np.sqrt((deviations * deviations).sum(axis=0) / (counts - 1))
    del filled, deviations
    sd[counts < 2] = np.nan
    problems, fixes = [], []
    if low.any():
        problems.append(
            f"{int(constant.sum())} constant and {int(near.sum())} near-constant genes "
            f"({_pct(float(low.mean()))} of genes) carry no information"
        )
        fixes.append("filter them out before analysis (unexpressed or saturated probes)")
    return Check(
        name="variance",
        score=float(1.0 - low.mean()) if p else 0.0,
        metrics={
            "n_constant_genes": int(constant.sum()),
            "n_near_constant_genes": int(near.sum()),
            "gene_sd_median": float(np.nanmedian(sd)) if np.isfinite(sd).any() else None,
        },
        problems=tuple(problems),
        fixes=tuple(fixes),
        flagged_genes={
            "constant": _ids(genes, constant),
            "near_constant": _ids(genes, near),
        },
    )


# ---------------------------------------------------------------------------- outliers
@dataclass(frozen=True)
class OutlierStatistics:
    """Per-sample outlier statistics and their cut-offs.

    Attributes
    ----------
    distance, distance_fence
        Distance to others and its boxplot fence ``Q3 + outlier_iqr × IQR``.
    robust_distance, robust_cutoff
        Robust (MCD) Mahalanobis distance in the top components and its Hotelling cut-off.
    orthogonal, orthogonal_cutoff
        Distance to the component space and its Wilson–Hilferty cut-off.
    by_distance, by_pca, outlier
        Flags: boxplot rule, robust PCA rule (score or orthogonal distance), both.
    """

    distance: np.ndarray
    distance_fence: float
    robust_distance: np.ndarray
    robust_cutoff: float
    orthogonal: np.ndarray
    orthogonal_cutoff: float
    by_distance: np.ndarray
    by_pca: np.ndarray
    outlier: np.ndarray


def outlier_statistics(
    geometry: SampleGeometry, *, opts: dict[str, Any], seed: int
) -> OutlierStatistics:
    """Two outlier criteria that must agree.

    1. arrayQualityMetrics: a sample's mean distance to the others above the boxplot fence
       ``Q3 + outlier_iqr × IQR``.
    2. Robust PCA (Hubert, Rousseeuw & Vanden Branden 2005): in the top ``k = n_pcs``
       components, the squared robust Mahalanobis distance (minimum covariance determinant,
       seeded) above Hotelling's T² quantile for a new observation,
       ``k(n+1)(n-1) / (n(n-k)) · F_{k, n-k}(1 - outlier_alpha / n)``; or the orthogonal
       distance above ``(median + MAD·z(1 - outlier_alpha / n))^{3/2}`` of its ``2/3`` power
       (Wilson–Hilferty). The Bonferroni level aims at a chance ``outlier_alpha`` of flagging
       any sample of a clean cohort; the F quantile, unlike the asymptotic χ², holds at
       n ≈ 100.

    The boxplot rule alone flags ~0.35% of the samples of a clean Gaussian cohort. Requiring
    both keeps clean cohorts nearly clean: on 90 simulated clean toy cohorts of 120–200
    samples (20 gene modules, so the residual is far from Gaussian), 4 lost one sample with the
    default ``outlier_alpha = 0.001``; a sample far from the rest fails both rules.
    """
    from sklearn.covariance import MinCovDet

    n = geometry.distance.size
    nan = np.full(n, np.nan)
    if n < 10:
        none = np.zeros(n, dtype=bool)
        return OutlierStatistics(
            geometry.distance, np.nan, nan, np.nan, geometry.orthogonal, np.nan, none, none, none
        )
    distance = geometry.distance
    q1, q3 = np.nanpercentile(distance, [25, 75])
    fence = float(q3 + opts["outlier_iqr"] * (q3 - q1))
    by_distance = distance > fence
    level = 1.0 - opts["outlier_alpha"] / n
    k = min(geometry.scores.shape[1], max(1, n // 5))
    scores = geometry.scores[:, :k]
    if k and np.all(geometry.eigenvalues[:k] > 0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (RuntimeWarning, UserWarning))
            mcd = MinCovDet(random_state=seed).fit(scores)
        robust = np.sqrt(mcd.mahalanobis(scores))
        hotelling = k * (n + 1) * (n - 1) / (n * (n - k)) * stats.f.ppf(level, k, n - k)
        robust_cutoff = float(np.sqrt(hotelling))
    else:
        robust, robust_cutoff = nan, np.inf
    power = geometry.orthogonal ** (2.0 / 3.0)
    centre = float(np.median(power))
    spread = float(stats.median_abs_deviation(power, scale="normal"))
    orthogonal_cutoff = (
        float((centre + spread * stats.norm.ppf(level)) ** 1.5) if spread > 0 else np.inf
    )
    by_pca = (robust > robust_cutoff) | (geometry.orthogonal > orthogonal_cutoff)
    return OutlierStatistics(
        distance=distance,
        distance_fence=fence,
        robust_distance=robust,
        robust_cutoff=robust_cutoff,
        orthogonal=geometry.orthogonal,
        orthogonal_cutoff=orthogonal_cutoff,
        by_distance=by_distance,
        by_pca=by_pca,
        outlier=by_distance & by_pca,
    )


def check_outliers(
    statistics: OutlierStatistics, samples: np.ndarray, *, opts: dict[str, Any]
) -> Check:
    """Outlier samples (see :func:`outlier_statistics`); score by the share flagged."""
    n = samples.size
    outlier = statistics.outlier
    problems, fixes, hard = [], [], []
    if n < 10:
        problems.append(f"{n} samples are too few to detect outliers")
    if outlier.any():
        problems.append(
            f"{int(outlier.sum())} outlier samples: {', '.join(_ids(samples, outlier)[:10])}"
            + (" …" if outlier.sum() > 10 else "")
        )
        fixes.append(
            "remove them (qc.remove_outliers: true) after checking the lab records "
            "(degraded RNA, failed hybridisation, swapped samples)"
        )
    if n and outlier.mean() > opts["max_flagged_share"]:
        hard.append(
            (
                f"{_pct(float(outlier.mean()))} of samples are outliers: the cohort may hold "
                "several populations or platforms",
                "split the cohort by platform/population or check the processing",
            )
        )

    def finite(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    return Check(
        name="outliers",
        score=_share_term(int(outlier.sum()), n, opts["max_flagged_share"]) if n >= 10 else 0.5,
        metrics={
            "distance_fence": finite(statistics.distance_fence),
            "robust_cutoff": finite(statistics.robust_cutoff),
            "orthogonal_cutoff": finite(statistics.orthogonal_cutoff),
            "n_outliers_distance": int(statistics.by_distance.sum()),
            "n_outliers_pca": int(statistics.by_pca.sum()),
            "n_outliers": int(outlier.sum()),
        },
        problems=tuple(problems),
        fixes=tuple(fixes),
        hard=tuple(hard),
        flagged_samples={
            "outliers_distance": _ids(samples, statistics.by_distance),
            "outliers_pca": _ids(samples, statistics.by_pca),
            "outliers": _ids(samples, outlier),
        },
        removable=tuple(_ids(samples, outlier)),
    )


# ---------------------------------------------------------------------------- duplicates
def duplicate_pairs(
    correlation: np.ndarray, samples: np.ndarray, *, limit: float
) -> list[tuple[str, str, float]]:
    """Sample pairs whose gene-centred profiles correlate above ``limit``, in sample order."""
    first, second = np.triu_indices(correlation.shape[0], k=1)
    values = correlation[first, second]
    hit = np.flatnonzero(values > limit)
    return [(str(samples[first[i]]), str(samples[second[i]]), float(values[i])) for i in hit]


def check_duplicates(
    correlation: np.ndarray,
    samples: np.ndarray,
    sample_missing: np.ndarray,
    *,
    opts: dict[str, Any],
) -> tuple[Check, list[tuple[str, str, float]]]:
    """Duplicated or near-identical samples.

    Pairs correlating above ``duplicate_correlation`` (pairwise-complete Pearson of the
    gene-centred profiles) are listed; connected pairs form a group, of which the sample with
    the fewest missing values (then the first) is kept and the others are removable.
    Score: share term of the removable copies.

    Returns
    -------
    tuple
        The check and the pairs ``(sample_a, sample_b, correlation)``.
    """
    n = samples.size
    pairs = duplicate_pairs(correlation, samples, limit=opts["duplicate_correlation"])
    position = {name: i for i, name in enumerate(samples.astype(str))}
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, _ in pairs:
        parent[root(position[b])] = root(position[a])
    groups: dict[int, list[int]] = {}
    for a, b, _ in pairs:
        for i in (position[a], position[b]):
            members = groups.setdefault(root(i), [])
            if i not in members:
                members.append(i)
    copies: list[int] = []
    for members in groups.values():
        keep = min(members, key=lambda i: (sample_missing[i], i))
        copies.extend(i for i in members if i != keep)
    copies.sort()
    involved = sorted({position[name] for pair in pairs for name in pair[:2]})
    problems, fixes, hard = [], [], []
    if pairs:
        shown = ", ".join(f"{a}~{b} (r={r:.3f})" for a, b, r in pairs[:10])
        problems.append(f"{len(pairs)} near-identical sample pairs: {shown}")
        fixes.append(
            "keep one sample per patient: remove the extra copies (qc.remove_outliers: true) "
            "or check for swapped or re-run samples"
        )
    if n and len(copies) / n > opts["max_flagged_share"]:
        hard.append(
            (
                f"{_pct(len(copies) / n)} of samples duplicate another",
                "check the sample sheet and the expression file: samples are repeated",
            )
        )
    return (
        Check(
            name="duplicates",
            score=_share_term(len(copies), n, opts["max_flagged_share"]),
            metrics={
                "n_pairs": len(pairs),
                "n_copies": len(copies),
                "max_correlation": (
                    float(np.nanmax(correlation - np.eye(n) * 2.0)) if n > 1 else None
                ),
            },
            problems=tuple(problems),
            fixes=tuple(fixes),
            hard=tuple(hard),
            flagged_samples={"duplicates": [str(samples[i]) for i in involved]},
            removable=tuple(str(samples[i]) for i in copies),
        ),
        pairs,
    )


# ---------------------------------------------------------------------------- batch
def check_batch(
    geometry: SampleGeometry, batch: pd.Series | None, *, opts: dict[str, Any]
) -> Check:
    """Batch effects in the top principal components.

    ``batch_variance_share``: the variance of the top ``n_pcs`` components explained by batch
    (one-way ANOVA R² of each component, adjusted for the number of batches, weighted by the
    component's variance). ``batch_silhouette``: mean silhouette of the batch labels in the
    component space (scikit-learn). Score: ``(1 - share / max_batch_share) × (1 - max(0,
    silhouette))``, both clipped to [0, 1]; a reason is given below 0.95 (e.g. batch explaining
    more than 2.5% of the variance with the default ``max_batch_share``). Without a batch
    column (or fewer than two batches of two samples) the score is 1 and nothing is computed.
    """
    from sklearn.metrics import silhouette_score

    empty = Check(name="batch", score=1.0, metrics={"n_batches": 0})
    if batch is None:
        return empty
    labels = batch.astype(str).str.strip().to_numpy()
    valid = ~pd.isna(batch.to_numpy()) & (labels != "") & (labels != "nan")
    names, counts = np.unique(labels[valid], return_counts=True)
    usable = set(names[counts >= 2])
    valid &= np.isin(labels, list(usable))
    n_valid, n_groups = int(valid.sum()), len(usable)
    scores = geometry.scores[valid]
    if n_groups < 2 or n_valid <= n_groups or scores.shape[1] == 0:
        return Check(name="batch", score=1.0, metrics={"n_batches": n_groups})
    groups = labels[valid]
    centred = scores - scores.mean(axis=0)
    total = (centred**2).sum(axis=0)
    between = np.zeros(scores.shape[1])
    for name in usable:
        members = groups == name
        between += members.sum() * centred[members].mean(axis=0) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, between / total, 0.0)
    adjusted = np.clip(1.0 - (1.0 - r2) * (n_valid - 1) / (n_valid - n_groups), 0.0, 1.0)
    weights = geometry.eigenvalues
    share = float((weights * adjusted).sum() / weights.sum()) if weights.sum() > 0 else 0.0
    silhouette = float(silhouette_score(scores, groups)) if n_groups < n_valid else float("nan")
    score = _clip01(1.0 - share / opts["max_batch_share"]) * _clip01(
        1.0 - max(0.0, silhouette if np.isfinite(silhouette) else 0.0)
    )
    problems, fixes = [], []
    if score < _BATCH_NOTICE:
        problems.append(
            f"batch explains {_pct(share)} of the variance of the top {scores.shape[1]} "
            f"principal components (silhouette by batch {silhouette:.2f}, {n_groups} batches)"
        )
        fixes.append(
            "correct for batch (e.g. ComBat, limma removeBatchEffect) or adjust for it in "
            "every model; check that batch is not confounded with outcome"
        )
    return Check(
        name="batch",
        score=float(score),
        metrics={
            "n_batches": n_groups,
            "batch_variance_share": share,
            "batch_silhouette": silhouette,
            "batch_r2_per_pc": [float(value) for value in adjusted],
        },
        problems=tuple(problems),
        fixes=tuple(fixes),
    )


# ---------------------------------------------------------------------------- dimensionality
def check_dimensionality(
    n_samples: int,
    n_genes: int,
    *,
    n_removed: int,
    events: int | None,
    role: str,
    candidate_variables: int | None,
    opts: dict[str, Any],
) -> Check:
    """Samples, genes, genes per sample (HDLSS) and events per candidate variable.

    Score: ``min(1, kept samples / (2 × min_samples))`` × (discovery cohorts with a known
    number of candidate variables) ``min(1, EPV / min_epv)``. Hard failure: fewer than
    ``min_samples`` samples, before or after removing flagged samples.
    """
    kept = n_samples - n_removed
    genes_per_sample = n_genes / n_samples if n_samples else float("inf")
    epv = (
        events / candidate_variables
        if events is not None and role == "discovery" and candidate_variables
        else None
    )
    score = _clip01(kept / (2.0 * opts["min_samples"]))
    problems, fixes, hard = [], [], []
    if kept < 2 * opts["min_samples"]:
        problems.append(
            f"{kept} samples{' after removing flagged ones' if n_removed else ''}; fewer than "
            f"{2 * opts['min_samples']} make estimates unstable"
        )
        fixes.append("add samples or pool cohorts from the same platform")
    if epv is not None:
        score *= _clip01(epv / opts["min_epv"])
        if epv < opts["min_epv"]:
            problems.append(
                f"{epv:.1f} events per candidate variable ({events} events, "
                f"{candidate_variables} variables; at least {opts['min_epv']:g} are advised)"
            )
            fixes.append("use fewer signature genes, or a larger cohort with longer follow-up")
    if problems:
        problems.append(f"{genes_per_sample:.1f} genes per sample (high-dimensional)")
    if n_samples < opts["min_samples"]:
        hard.append(
            (
                f"{n_samples} samples (at least {opts['min_samples']} needed)",
                "add samples or pool cohorts from the same platform",
            )
        )
    elif kept < opts["min_samples"]:
        hard.append(
            (
                f"{kept} samples left after removing {n_removed} flagged ones "
                f"(at least {opts['min_samples']} needed)",
                "keep flagged samples (qc.remove_outliers: false) or add samples",
            )
        )
    return Check(
        name="dimensionality",
        score=float(score),
        metrics={
            "n_samples": n_samples,
            "n_genes": n_genes,
            "n_samples_kept": kept,
            "genes_per_sample": genes_per_sample,
            "candidate_variables": candidate_variables,
            "events_per_variable": epv,
        },
        problems=tuple(problems),
        fixes=tuple(fixes),
        hard=tuple(hard),
    )


# ---------------------------------------------------------------------------- outcome
def _unit_years(unit: str | None) -> float | None:
    if not unit:
        return None
    text = unit.strip().lower()
    for stem, years in _YEARS_PER_UNIT.items():
        if text.startswith(stem):
            return years
    return None


def check_outcome(
    time: np.ndarray,
    event: np.ndarray,
    *,
    time_unit: str | None,
    opts: dict[str, Any],
) -> Check:
    """Outcome sanity: events, event rate, median follow-up, zero times, units, event coding.

    Median follow-up is the reverse Kaplan–Meier median (censoring treated as the event), the
    standard estimate that does not shrink when patients die early. Score: ``min(1, events /
    (2 × min_events))`` × zero-time term (falls linearly to 0 at ``max_zero_time_share``) ×
    ``SUSPECT_FACTOR`` when no sample is censored × ``SUSPECT_FACTOR`` when the largest time
    exceeds 100 years in the stated unit. Hard failures: event codes other than 0/1, negative
    or non-finite times, every time zero, fewer than ``min_events`` events (none at all: every
    sample censored).
    """
    time = np.asarray(time, dtype=np.float64)
    event_raw = np.asarray(event)
    n = time.size
    problems, fixes, hard = [], [], []
    coded = np.isin(event_raw, (0, 1))
    valid_times = np.isfinite(time) & (time >= 0)
    metrics: dict[str, Any] = {"time_unit": time_unit or None}
    if not coded.all():
        hard.append(
            (
                f"{int((~coded).sum())} event values are not 0/1 "
                f"(seen {np.unique(event_raw[~coded])[:5].tolist()})",
                "recode events as 1 = event (death, relapse), 0 = censored",
            )
        )
    if not valid_times.all():
        hard.append(
            (
                f"{int((~valid_times).sum())} times are negative or not finite",
                "correct the time origin or remove those samples",
            )
        )
    event_flag = np.where(coded, event_raw, 0).astype(int)
    events = int(event_flag.sum())
    censored = n - events
    zero = valid_times & (time == 0)
    metrics.update(
        events=events,
        censored=censored,
        event_rate=events / n if n else None,
        n_zero_times=int(zero.sum()),
        max_time=float(np.nanmax(time)) if n else None,
    )
    score = _clip01(events / (2.0 * opts["min_events"]))
    if events < 2 * opts["min_events"]:
        problems.append(
            f"{events} events; survival estimates need at least {2 * opts['min_events']} "
            "for stability"
        )
        fixes.append("longer follow-up or a larger cohort")
    if events == 0:
        hard.append(
            (
                "no events: every sample is censored",
                "check the event coding (1 = event); survival analysis needs events",
            )
        )
    elif events < opts["min_events"]:
        hard.append(
            (
                f"{events} events (at least {opts['min_events']} needed)",
                "use a cohort with more events (longer follow-up, more patients)",
            )
        )
    if n and censored == 0:
        score *= SUSPECT_FACTOR
        problems.append("no sample is censored")
        fixes.append("check the event coding (1 = event, 0 = censored): it may be inverted")
    if n:
        zero_share = float(zero.mean())
        score *= _clip01(1.0 - zero_share / opts["max_zero_time_share"])
        if zero.any():
            problems.append(f"{int(zero.sum())} samples have time 0 ({_pct(zero_share)})")
            fixes.append(
                "check the time origin; a time of 0 means no follow-up at all (often a "
                "missing value written as 0)"
            )
        if zero.all():
            hard.append(
                (
                    "every time is 0: there is no follow-up",
                    "check the time column named in the cohort sheet",
                )
            )
    ok = valid_times & coded
    if ok.sum() >= 2:
        follow_up = kaplan_meier(time[ok], 1 - event_flag[ok])
        survival = kaplan_meier(time[ok], event_flag[ok])
        metrics["median_follow_up"] = follow_up.median() if censored else None
        metrics["median_survival"] = survival.median()
    years = _unit_years(time_unit)
    if n and valid_times.any():
        largest = float(time[valid_times].max())
        if years is not None and largest * years > _MAX_PLAUSIBLE_YEARS:
            score *= SUSPECT_FACTOR
            problems.append(
                f"the largest time is {largest:.4g} {time_unit} = {largest * years:.0f} years: "
                "implausible for that unit"
            )
            fixes.append("check the unit (days recorded as months?) and the time_unit column")
        elif years is None and largest > 1200:
            problems.append(f"no time unit given and the largest time is {largest:.4g}: days?")
            fixes.append("give the time_unit column in the cohort sheet")
    return Check(
        name="outcome",
        score=float(score),
        metrics=metrics,
        problems=tuple(problems),
        fixes=tuple(fixes),
        hard=tuple(hard),
    )

"""Survival metrics: Kaplan–Meier, log-rank tests, Cox model, Harrell's and Uno's C, td-AUC.

Conventions: survival is passed as ``(time, event)`` with ``event`` 1 for an observed event
and 0 for censoring; a *risk score* is larger for patients expected to fail sooner. The
results agree with lifelines (``KaplanMeierFitter``, ``logrank_test``,
``multivariate_logrank_test``, ``CoxPHFitter`` with Efron ties, ``concordance_index``),
scikit-survival (``concordance_index_ipcw``, ``cumulative_dynamic_auc``) and R's ``survival``
package; the unit tests check this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats

from omicsflow.errors import InputError

__all__ = [
    "CoxResult",
    "GroupLogrankResult",
    "KaplanMeier",
    "LogrankResult",
    "as_survival",
    "censoring_survival",
    "concordance_index",
    "concordance_index_many",
    "concordance_index_uno",
    "cox_fit",
    "kaplan_meier",
    "logrank_test",
    "logrank_test_groups",
    "numbers_at_risk",
    "survival_at_horizons",
    "time_dependent_auc",
]

logger = logging.getLogger(__name__)

Z_975 = float(stats.norm.ppf(0.975))


def as_survival(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert a survival outcome.

    Parameters
    ----------
    time
        Follow-up times, finite and non-negative.
    event
        1/True for an event, 0/False for censoring.

    Returns
    -------
    tuple of numpy.ndarray
        ``(time as float64, event as bool)``.
    """
    time = np.asarray(time, dtype=np.float64).ravel()
    event_values = np.asarray(event).ravel()
    if time.shape != event_values.shape:
        raise InputError(
            "time and event have different lengths",
            seen=f"{time.size} times, {event_values.size} events",
            fix="pass one time and one event indicator per sample",
        )
    if not np.all(np.isfinite(time)) or np.any(time < 0):
        raise InputError(
            "survival times must be finite and non-negative",
            seen=f"min {np.nanmin(time) if time.size else 'n/a'}, "
            f"{int((~np.isfinite(time)).sum())} non-finite",
            fix="remove or correct the offending samples",
        )
    if not np.isin(event_values, (0, 1)).all():
        raise InputError(
            "event indicators must be 0/1",
            seen=f"values {np.unique(event_values)[:5].tolist()}",
            fix="code events as 1 and censoring as 0",
        )
    return time, event_values.astype(bool)


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan–Meier estimate at the distinct observed times.

    Attributes
    ----------
    time
        Distinct observed times (events or censorings), ascending.
    survival
        S(t) just after each time.
    at_risk, events, censored
        Counts at each time.
    ci_low, ci_high
        Pointwise 95% interval (log(-log) transform, as lifelines and R's ``conf.type="log-log"``).
    """

    time: np.ndarray
    survival: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray

    def survival_at(self, when: float | np.ndarray) -> np.ndarray:
        """S(t) at arbitrary times (right-continuous step function; 1 before the first time)."""
        when = np.atleast_1d(np.asarray(when, dtype=np.float64))
        position = np.searchsorted(self.time, when, side="right") - 1
        return np.where(position >= 0, self.survival[np.maximum(position, 0)], 1.0)

    def interval_at(self, when: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise 95% interval of S(t) at arbitrary times (1 before the first time)."""
        when = np.atleast_1d(np.asarray(when, dtype=np.float64))
        position = np.searchsorted(self.time, when, side="right") - 1
        safe = np.maximum(position, 0)
        return (
            np.where(position >= 0, self.ci_low[safe], 1.0),
            np.where(position >= 0, self.ci_high[safe], 1.0),
        )

    def median(self) -> float:
        """Median survival time: the first time with S(t) <= 0.5, or inf if never reached."""
        below = np.flatnonzero(self.survival <= 0.5)
        return float(self.time[below[0]]) if below.size else float("inf")


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> KaplanMeier:
    """Kaplan–Meier product-limit estimate with Greenwood log(-log) confidence limits.

    Parameters
    ----------
    time, event
        Survival outcome.

    Returns
    -------
    KaplanMeier
        The estimate at every distinct observed time.
    """
    time, event = as_survival(time, event)
    distinct, inverse = np.unique(time, return_inverse=True)
    events = np.bincount(inverse, weights=event, minlength=distinct.size)
    removed = np.bincount(inverse, minlength=distinct.size).astype(np.float64)
    at_risk = time.size - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - events / at_risk
        survival = np.cumprod(factor)
        greenwood = np.cumsum(events / (at_risk * (at_risk - events)))
        log_survival = np.log(survival)
        se_loglog = np.sqrt(greenwood) / np.abs(log_survival)
        ci_low = np.exp(-np.exp(np.log(-log_survival) + Z_975 * se_loglog))
        ci_high = np.exp(-np.exp(np.log(-log_survival) - Z_975 * se_loglog))
    undefined = ~np.isfinite(se_loglog)
    ci_low = np.where(undefined, survival, ci_low)
    ci_high = np.where(undefined, survival, ci_high)
    return KaplanMeier(
        time=distinct,
        survival=survival,
        at_risk=at_risk,
        events=events,
        censored=removed - events,
        ci_low=ci_low,
        ci_high=ci_high,
    )


def numbers_at_risk(time: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Number of samples still under observation (time >= t) at each ``when``."""
    sorted_time = np.sort(np.asarray(time, dtype=np.float64))
    return sorted_time.size - np.searchsorted(sorted_time, np.asarray(when), side="left")


@dataclass(frozen=True)
class LogrankResult:
    """Classical two-group log-rank test (R ``survdiff``, lifelines ``logrank_test``).

    Attributes
    ----------
    chi2, p_value
        Test statistic (1 df) and its p-value.
    observed, expected
        Observed and expected events in group 1.
    variance
        Hypergeometric variance of ``observed - expected``.
    """

    chi2: float
    p_value: float
    observed: float
    expected: float
    variance: float


def logrank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> LogrankResult:
    """Compare two survival curves with the log-rank test.

    Parameters
    ----------
    time, event
        Survival outcome.
    group
        Boolean (or 0/1) group membership; group ``True`` is group 1.

    Returns
    -------
    LogrankResult
        χ² (1 df), p-value, and the observed/expected events of group 1.
    """
    time, event = as_survival(time, event)
    group = np.asarray(group).astype(bool).ravel()
    distinct, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event, minlength=distinct.size)
    deaths_1 = np.bincount(inverse, weights=event & group, minlength=distinct.size)
    leaving = np.bincount(inverse, minlength=distinct.size).astype(np.float64)
    leaving_1 = np.bincount(inverse, weights=group, minlength=distinct.size)
    at_risk = time.size - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    at_risk_1 = group.sum() - np.concatenate([[0.0], np.cumsum(leaving_1)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_1 = deaths * at_risk_1 / at_risk
        variance = (
            deaths
            * (at_risk_1 / at_risk)
            * (1 - at_risk_1 / at_risk)
            * (at_risk - deaths)
            / (at_risk - 1)
        )
    variance = np.nan_to_num(variance)
    observed, expected, var = float(deaths_1.sum()), float(expected_1.sum()), float(variance.sum())
    chi2 = (observed - expected) ** 2 / var if var > 0 else 0.0
    return LogrankResult(
        chi2=chi2,
        p_value=float(stats.chi2.sf(chi2, 1)),
        observed=observed,
        expected=expected,
        variance=var,
    )


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox proportional-hazards model.

    Attributes
    ----------
    coef, se
        Log hazard ratios and their standard errors (inverse observed information).
    hazard_ratio, ci_low, ci_high
        exp(coef) with its 95% Wald interval.
    p_value
        Two-sided Wald p-values.
    log_likelihood
        Partial log-likelihood at the estimate.
    converged
        Whether Newton–Raphson met the tolerance.
    """

    coef: np.ndarray
    se: np.ndarray
    hazard_ratio: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    log_likelihood: float
    converged: bool


def _cox_terms(
    X: np.ndarray, time: np.ndarray, event: np.ndarray, ties: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-event rows of the Efron/Breslow risk-set sums (precomputed layout)."""
    order = np.argsort(-time, kind="stable")
    time_desc, event_desc, X_desc = time[order], event[order], X[order]
    # Positions, in descending-time order, of the last member of each time's tie group: the
    # risk set of time t is everything up to and including that position.
    event_positions = np.flatnonzero(event_desc)
    event_times = time_desc[event_positions]
    last_of_tie = np.searchsorted(-time_desc, -event_times, side="right") - 1
    # Efron fraction l/d within each group of tied event times.
    group_start = np.r_[True, event_times[1:] != event_times[:-1]]
    group_id = np.cumsum(group_start) - 1
    group_size = np.bincount(group_id)
    rank_in_group = np.arange(event_times.size) - np.flatnonzero(group_start)[group_id]
    fraction = (
        rank_in_group / group_size[group_id] if ties == "efron" else np.zeros(event_times.size)
    )
    return X_desc, event_positions, last_of_tie, np.c_[group_id, fraction]


def _cox_loglik(
    beta: np.ndarray,
    X_desc: np.ndarray,
    event_positions: np.ndarray,
    last_of_tie: np.ndarray,
    groups: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    group_id = groups[:, 0].astype(int)
    fraction = groups[:, 1]
    eta = X_desc @ beta
    shift = eta.max()
    w = np.exp(eta - shift)
    wx = w[:, None] * X_desc
    wxx = wx[:, :, None] * X_desc[:, None, :]
    s0 = np.cumsum(w)[last_of_tie]
    s1 = np.cumsum(wx, axis=0)[last_of_tie]
    s2 = np.cumsum(wxx, axis=0)[last_of_tie]
    # Sums over the tied events of each group.
    n_groups = group_id.max() + 1 if group_id.size else 0
    d0 = _group_sum(w[event_positions], group_id, n_groups)[group_id]
    d1 = _group_sum(wx[event_positions], group_id, n_groups)[group_id]
    d2 = _group_sum(wxx[event_positions], group_id, n_groups)[group_id]
    denom = s0 - fraction * d0
    num1 = s1 - fraction[:, None] * d1
    num2 = s2 - fraction[:, None, None] * d2
    mean1 = num1 / denom[:, None]
    loglik = float(eta[event_positions].sum() - (np.log(denom) + shift).sum())
    gradient = X_desc[event_positions].sum(axis=0) - mean1.sum(axis=0)
    hessian = -(num2 / denom[:, None, None]).sum(axis=0) + np.einsum("ij,ik->jk", mean1, mean1)
    return loglik, gradient, hessian


def _group_sum(values: np.ndarray, group_id: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, *values.shape[1:]))
    np.add.at(out, group_id, values)
    return out


def cox_fit(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    ties: str = "efron",
    max_iter: int = 50,
    tol: float = 1e-10,
    penalizer: float = 0.0,
) -> CoxResult:
    """Fit a Cox proportional-hazards model by Newton–Raphson.

    Parameters
    ----------
    X
        Covariates, samples × p (a 1-D array is one covariate).
    time, event
        Survival outcome.
    ties
        ``"efron"`` (default; as lifelines and R's ``coxph``) or ``"breslow"``.
    max_iter, tol
        Newton–Raphson limits; stops when the log-likelihood improves by less than ``tol``.
    penalizer
        Ridge penalty ``penalizer · n/2 · ||β||²`` subtracted from the log partial likelihood
        (lifelines' ``CoxPHFitter(penalizer=..., l1_ratio=0)`` on covariates it does not
        rescale); 0 for the plain model. Standard errors then come from the penalised
        information.

    Returns
    -------
    CoxResult
        Coefficients, standard errors, hazard ratios with 95% CI, Wald p-values.
    """
    time, event = as_survival(time, event)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    if not event.any():
        raise InputError(
            "a Cox model needs at least one event", seen="0 events", fix="check the event coding"
        )
    terms = _cox_terms(X, time, event, ties)
    ridge = penalizer * time.size

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        loglik, gradient, hessian = _cox_loglik(beta, *terms)
        if ridge:
            loglik -= 0.5 * ridge * float(beta @ beta)
            gradient = gradient - ridge * beta
            hessian = hessian - ridge * np.eye(beta.size)
        return loglik, gradient, hessian

    beta = np.zeros(X.shape[1])
    loglik, gradient, hessian = objective(beta)
    converged = False
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(-hessian, gradient)
        except np.linalg.LinAlgError:
            break
        new_beta = beta + step
        new_loglik, new_gradient, new_hessian = objective(new_beta)
        halvings = 0
        while (not np.isfinite(new_loglik) or new_loglik < loglik - 1e-12) and halvings < 30:
            step /= 2
            new_beta = beta + step
            new_loglik, new_gradient, new_hessian = objective(new_beta)
            halvings += 1
        improvement = new_loglik - loglik
        beta, loglik, gradient, hessian = new_beta, new_loglik, new_gradient, new_hessian
        if abs(improvement) < tol:
            converged = True
            break
    try:
        covariance = np.linalg.inv(-hessian)
        se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    except np.linalg.LinAlgError:
        se = np.full_like(beta, np.inf)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        z = beta / se
        return CoxResult(
            coef=beta,
            se=se,
            hazard_ratio=np.exp(beta),
            ci_low=np.exp(beta - Z_975 * se),
            ci_high=np.exp(beta + Z_975 * se),
            p_value=2 * stats.norm.sf(np.abs(z)),
            log_likelihood=loglik,
            converged=converged,
        )


def concordance_index(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C-index of a risk score (higher risk = earlier event).

    A pair is comparable when the shorter time is an event (a censoring at the same time as an
    event counts as the longer); tied risks count one half. Equals lifelines'
    ``concordance_index(time, -risk, event)``.

    Parameters
    ----------
    time, event
        Survival outcome.
    risk
        Risk score, one per sample.

    Returns
    -------
    float
        The C-index in [0, 1]; 0.5 is chance. NaN if no pair is comparable.
    """
    time, event = as_survival(time, event)
    risk = np.asarray(risk, dtype=np.float64).ravel()
    concordant, comparable = _pair_counts(time, event, risk, np.flatnonzero(event))
    total = comparable.sum()
    return float(concordant.sum() / total) if total else float("nan")


def _pair_counts(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, event_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Concordant (ties ½) and comparable pair counts of each event row (Harrell's pairs).

    Row ``i`` is comparable with every ``j`` whose time is longer, or equal and censored.
    Blocks of 512 event rows keep memory at O(512 × n).
    """
    concordant = np.empty(event_rows.size)
    comparable = np.empty(event_rows.size)
    for start in range(0, event_rows.size, 512):
        rows = event_rows[start : start + 512]
        t_i = time[rows][:, None]
        longer = (time[None, :] > t_i) | ((time[None, :] == t_i) & ~event[None, :])
        r_i = risk[rows][:, None]
        block = slice(start, start + rows.size)
        comparable[block] = longer.sum(axis=1)
        concordant[block] = ((risk[None, :] < r_i) & longer).sum(axis=1) + 0.5 * (
            (risk[None, :] == r_i) & longer
        ).sum(axis=1)
    return concordant, comparable


def concordance_index_many(time: np.ndarray, event: np.ndarray, risks: np.ndarray) -> np.ndarray:
    """Harrell's C-index of many risk scores at once (columns of ``risks``).

    The same comparable pairs and tie rule as :func:`concordance_index`, evaluated for every
    column in one vectorised pass (for random-signature controls: 1,000 scores of one cohort).

    Parameters
    ----------
    time, event
        Survival outcome, n samples.
    risks
        n × m risk scores, one column per score.

    Returns
    -------
    numpy.ndarray
        m C-indices (NaN where no pair is comparable).
    """
    time, event = as_survival(time, event)
    risks = np.asarray(risks, dtype=np.float64)
    if risks.ndim == 1:
        risks = risks[:, None]
    if risks.shape[0] != time.size:
        raise InputError(
            "risk scores and survival have different lengths",
            seen=f"{risks.shape[0]} scores, {time.size} samples",
            fix="pass one row of scores per sample",
        )
    event_index = np.flatnonzero(event)
    t_i = time[event_index][:, None]
    longer = (time[None, :] > t_i) | ((time[None, :] == t_i) & ~event[None, :])
    rows, cols = np.nonzero(longer)
    first, second = event_index[rows], cols
    if first.size == 0:
        return np.full(risks.shape[1], np.nan)
    out = np.empty(risks.shape[1])
    # Chunks of scores keep memory at about 2e7 pair comparisons.
    step = max(1, int(2e7 // first.size))
    for start in range(0, risks.shape[1], step):
        block = risks[:, start : start + step]
        r_first, r_second = block[first], block[second]
        concordant = (r_second < r_first).sum(axis=0) + 0.5 * (r_second == r_first).sum(axis=0)
        out[start : start + step] = concordant / first.size
    return out


def censoring_survival(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate G(t) of the censoring distribution (for IPCW weights).

    Censorings are the "events"; at a tied time, events are taken to occur before
    censorings (so a patient who fails at t is not at risk of being censored at t), as in
    scikit-survival's ``CensoringDistributionEstimator`` and R's ``survC1``/``timeROC``.

    Parameters
    ----------
    time, event
        Survival outcome.

    Returns
    -------
    tuple of numpy.ndarray
        ``(distinct times, G just after each time)``.
    """
    time, event = as_survival(time, event)
    distinct, inverse = np.unique(time, return_inverse=True)
    events = np.bincount(inverse, weights=event, minlength=distinct.size)
    removed = np.bincount(inverse, minlength=distinct.size).astype(np.float64)
    at_risk = time.size - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    censored = removed - events
    at_risk_of_censoring = at_risk - events
    factor = np.ones_like(censored)
    positive = censored > 0
    factor[positive] = 1.0 - censored[positive] / at_risk_of_censoring[positive]
    return distinct, np.cumprod(factor)


def _censoring_at(time: np.ndarray, event: np.ndarray, when: np.ndarray) -> np.ndarray:
    """G(t) at ``when`` (right-continuous; 1 before the first time)."""
    distinct, survival = censoring_survival(time, event)
    position = np.searchsorted(distinct, when, side="right") - 1
    return np.where(position >= 0, survival[np.maximum(position, 0)], 1.0)


def concordance_index_uno(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, *, tau: float | None = None
) -> float:
    """Uno's C-index: Harrell's pairs weighted by the inverse squared censoring survival.

    ``C = Σ_i w_i Σ_j [r_i > r_j + ½ (r_i = r_j)] / Σ_i w_i |{j comparable to i}|`` over events
    ``i`` with ``t_i < tau``, ``w_i = 1 / G(t_i)²`` (:func:`censoring_survival` of the same
    cohort), comparable pairs as in :func:`concordance_index`. Equals scikit-survival's
    ``concordance_index_ipcw(y, y, risk, tau)``; R's ``survC1::Est.Cval`` evaluates G just
    before ``t_i``, which differs (by ~1e-5..1e-4) when censorings tie with events.

    Parameters
    ----------
    time, event
        Survival outcome.
    risk
        Risk score, one per sample.
    tau
        Truncation time: only events before ``tau`` count (``None``: no truncation).

    Returns
    -------
    float
        Uno's C in [0, 1]; NaN if no pair is comparable or G reaches 0 before an event.
    """
    time, event = as_survival(time, event)
    risk = np.asarray(risk, dtype=np.float64).ravel()
    used = event if tau is None else event & (time < tau)
    censoring = _censoring_at(time, event, time)
    if np.any(censoring[used] <= 0):
        logger.warning(
            "Uno's C is undefined: the censoring survival reaches 0 before an event; "
            "set a truncation time (validation.uno_tau) below the last follow-up"
        )
        return float("nan")
    event_rows = np.flatnonzero(used)
    concordant, comparable = _pair_counts(time, event, risk, event_rows)
    weight = 1.0 / censoring[event_rows] ** 2
    denominator = float(weight @ comparable)
    return float(weight @ concordant) / denominator if denominator else float("nan")


def time_dependent_auc(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizons: np.ndarray
) -> np.ndarray:
    """Cumulative/dynamic time-dependent AUC with inverse-probability-of-censoring weights.

    At horizon ``h``, cases are events with ``t_i <= h`` (weight ``1 / G(t_i)``), controls
    are patients with ``t_j > h``; ``AUC(h)`` is the weighted share of case–control pairs in
    which the case has the higher risk (ties count one half). Equals scikit-survival's
    ``cumulative_dynamic_auc(y, y, risk, h)`` (Uno et al. 2007; Hung & Chiang 2010).

    Parameters
    ----------
    time, event
        Survival outcome.
    risk
        Risk score, one per sample.
    horizons
        Times at which to evaluate, in the units of ``time``.

    Returns
    -------
    numpy.ndarray
        AUC per horizon; NaN where a horizon lies outside ``[min(time), max(time))``, or
        there is no case or no control.
    """
    time, event = as_survival(time, event)
    risk = np.asarray(risk, dtype=np.float64).ravel()
    horizons = np.atleast_1d(np.asarray(horizons, dtype=np.float64))
    censoring = _censoring_at(time, event, time)
    out = np.full(horizons.size, np.nan)
    for k, horizon in enumerate(horizons):
        if not time.min() <= horizon < time.max():
            continue
        case = event & (time <= horizon)
        control = time > horizon
        if not case.any() or not control.any() or np.any(censoring[case] <= 0):
            continue
        weight = 1.0 / censoring[case]
        controls = np.sort(risk[control])
        below = np.searchsorted(controls, risk[case], side="left")
        tied = np.searchsorted(controls, risk[case], side="right") - below
        out[k] = float(weight @ (below + 0.5 * tied)) / (weight.sum() * controls.size)
    return out


@dataclass(frozen=True)
class GroupLogrankResult:
    """Log-rank test of k groups (R ``survdiff``, lifelines ``multivariate_logrank_test``).

    Attributes
    ----------
    chi2, df, p_value
        Test statistic, its degrees of freedom (k − 1) and p-value.
    groups
        Group labels, in the order of ``observed`` and ``expected``.
    observed, expected
        Observed and expected events per group.
    """

    chi2: float
    df: int
    p_value: float
    groups: tuple[str, ...]
    observed: np.ndarray
    expected: np.ndarray


def logrank_test_groups(
    time: np.ndarray, event: np.ndarray, labels: np.ndarray
) -> GroupLogrankResult:
    """Compare the survival of k groups with the k-sample log-rank test.

    Parameters
    ----------
    time, event
        Survival outcome.
    labels
        Group label per sample (any hashable values; at least two distinct).

    Returns
    -------
    GroupLogrankResult
        χ² with k − 1 degrees of freedom; with two groups it equals :func:`logrank_test`.
    """
    time, event = as_survival(time, event)
    labels = np.asarray(labels).ravel()
    groups, group_index = np.unique(labels, return_inverse=True)
    k = groups.size
    if k < 2:
        return GroupLogrankResult(
            chi2=0.0,
            df=0,
            p_value=float("nan"),
            groups=tuple(str(g) for g in groups),
            observed=np.array([float(event.sum())] * k),
            expected=np.array([float(event.sum())] * k),
        )
    distinct, inverse = np.unique(time, return_inverse=True)
    cell = inverse * k + group_index
    size = distinct.size * k
    deaths_g = np.bincount(cell, weights=event, minlength=size).reshape(distinct.size, k)
    leaving_g = np.bincount(cell, minlength=size).reshape(distinct.size, k).astype(np.float64)
    at_risk_g = leaving_g.sum(axis=0) - np.vstack(
        [np.zeros((1, k)), np.cumsum(leaving_g, axis=0)[:-1]]
    )
    at_risk = at_risk_g.sum(axis=1)
    deaths = deaths_g.sum(axis=1)
    share = at_risk_g / at_risk[:, None]
    expected_g = deaths[:, None] * share
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 1, deaths * (at_risk - deaths) / (at_risk - 1), 0.0)
    covariance = np.einsum("t,tg,th->gh", factor, share, -share) + np.diag(factor @ share)
    observed, expected = deaths_g.sum(axis=0), expected_g.sum(axis=0)
    difference = (observed - expected)[:-1]
    chi2 = float(difference @ np.linalg.pinv(covariance[:-1, :-1]) @ difference)
    return GroupLogrankResult(
        chi2=chi2,
        df=k - 1,
        p_value=float(stats.chi2.sf(chi2, k - 1)),
        groups=tuple(str(g) for g in groups),
        observed=observed,
        expected=expected,
    )


def survival_at_horizons(
    time: np.ndarray, event: np.ndarray, horizons: np.ndarray
) -> dict[str, np.ndarray]:
    """Kaplan–Meier survival, its 95% interval and the numbers at risk at given horizons.

    Parameters
    ----------
    time, event
        Survival outcome.
    horizons
        Times at which to read the curve.

    Returns
    -------
    dict
        ``survival, ci_low, ci_high, at_risk`` arrays (one value per horizon); survival is
        NaN beyond the last observed time (the curve is not estimated there).
    """
    horizons = np.atleast_1d(np.asarray(horizons, dtype=np.float64))
    km = kaplan_meier(time, event)
    survival = km.survival_at(horizons)
    low, high = km.interval_at(horizons)
    beyond = horizons > km.time[-1]
    return {
        "survival": np.where(beyond, np.nan, survival),
        "ci_low": np.where(beyond, np.nan, low),
        "ci_high": np.where(beyond, np.nan, high),
        "at_risk": numbers_at_risk(time, horizons).astype(np.float64),
    }

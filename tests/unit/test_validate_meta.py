"""DerSimonian–Laird meta-analysis against a hand-computed example, meta_analyse, forest plot."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omicsflow.errors import InputError
from omicsflow.plots.validation import forest_figure
from omicsflow.validate import dersimonian_laird, meta_analyse

# Hand computation (three cohorts):
#   y = (0.5, 0.1, 0.9), s = (0.2, 0.3, 0.25)
#   w = 1/s² = (25, 100/9, 16);  Σw = 469/9 = 52.1111
#   Σw·y = 12.5 + 10/9 + 14.4 = 252.1/9;  fixed ȳ = 252.1/469 = 0.5375267
#   Q = Σw(y − ȳ)² = 25·0.0014083 + 11.1111·0.1914307 + 16·0.1313868 = 4.2643923
#   C = Σw − Σw²/Σw = 469/9 − (625 + 10000/81 + 256)/(469/9) = 32.8358209
#   τ² = (Q − 2)/C = 0.0689610;  I² = (Q − 2)/Q = 53.1%
#   w* = 1/(s² + τ²) = (9.1775924, 6.2908497, 7.6068165);  Σw* = 23.0752586
#   pooled = Σw*·y / Σw* = 0.5228117;  SE = 1/√Σw* = 0.2081741
HAND = {
    "fixed": 252.1 / 469,
    "q": 4.2643923,
    "tau2": 0.0689610,
    "i2": 53.1,
    "estimate": 0.5228117,
    "se": 0.2081741,
}


def test_dersimonian_laird_matches_hand_computation():
    result = dersimonian_laird(np.array([0.5, 0.1, 0.9]), np.array([0.2, 0.3, 0.25]))
    assert result.k == 3 and result.q_df == 2
    assert result.fixed_estimate == pytest.approx(HAND["fixed"], abs=1e-7)
    assert result.q == pytest.approx(HAND["q"], abs=1e-6)
    assert result.tau2 == pytest.approx(HAND["tau2"], abs=1e-6)
    assert result.i2 == pytest.approx(HAND["i2"], abs=1e-4)
    assert result.estimate == pytest.approx(HAND["estimate"], abs=1e-6)
    assert result.se == pytest.approx(HAND["se"], abs=1e-6)
    assert result.ci_low == pytest.approx(HAND["estimate"] - 1.959964 * HAND["se"], abs=1e-5)
    assert result.p_value == pytest.approx(math.erfc(HAND["estimate"] / HAND["se"] / 2**0.5))
    assert sum(result.weights) == pytest.approx(1.0)


def test_homogeneous_cohorts_give_zero_tau2_and_the_fixed_effect():
    result = dersimonian_laird(np.array([0.4, 0.42, 0.41]), np.array([0.2, 0.25, 0.3]))
    assert result.tau2 == 0.0 and result.i2 == 0.0
    assert result.estimate == pytest.approx(result.fixed_estimate)


def test_single_cohort_is_its_own_estimate():
    result = dersimonian_laird(np.array([0.7]), np.array([0.2]))
    assert result.estimate == pytest.approx(0.7) and result.se == pytest.approx(0.2)
    assert math.isnan(result.i2) and result.tau2 == 0.0


def test_bad_inputs_are_errors():
    with pytest.raises(InputError, match="finite with positive standard errors"):
        dersimonian_laird(np.array([0.1, np.nan]), np.array([0.2, 0.2]))
    with pytest.raises(InputError, match="one standard error per estimate"):
        dersimonian_laird(np.array([0.1, 0.2]), np.array([0.2]))


def test_meta_analyse_leaves_out_excluded_and_undefined_cohorts():
    records = [
        {"cohort": "a", "log_hr": 0.5, "log_hr_se": 0.2, "n": 100, "events": 50},
        {"cohort": "b", "log_hr": 0.1, "log_hr_se": 0.3, "n": 80, "events": 40},
        {"cohort": "c", "log_hr": 0.9, "log_hr_se": 0.25, "n": 90, "events": 45},
        {"cohort": "d", "excluded": True, "exclusion_reason": "too few events"},
        {"cohort": "e", "log_hr": None, "log_hr_se": None},
    ]
    result = meta_analyse(records)
    assert result["k"] == 3
    assert set(result["left_out"]) == {"d", "e"}
    assert "too few events" in result["left_out"]["d"]
    assert result["hazard_ratio"] == pytest.approx(math.exp(HAND["estimate"]), rel=1e-6)
    assert result["i2"] == pytest.approx(HAND["i2"], abs=1e-4)


def test_meta_analyse_of_the_model_block():
    records = [
        {"cohort": "a", "model": {"log_hr": 0.2, "log_hr_se": 0.1, "n": 10, "events": 5}},
        {"cohort": "b", "model": {"log_hr": 0.2, "log_hr_se": 0.1, "n": 10, "events": 5}},
    ]
    result = meta_analyse(records, score="model")
    assert result["hazard_ratio"] == pytest.approx(math.exp(0.2))
    assert result["log_hr_se"] == pytest.approx(0.1 / math.sqrt(2))


def test_meta_analyse_with_nothing_to_pool():
    result = meta_analyse([{"cohort": "d", "excluded": True, "exclusion_reason": "qc"}])
    assert result["k"] == 0 and "hazard_ratio" not in result


def test_forest_figure_draws_inputs_and_pooled_estimate():
    y, s = (0.5, 0.1, 0.9), (0.2, 0.3, 0.25)
    records = [
        {"cohort": name, "log_hr": est, "log_hr_se": se, "n": 100, "events": 50}
        for name, est, se in zip("abc", y, s, strict=True)
    ]
    records.append({"cohort": "d", "excluded": True, "exclusion_reason": "too few events"})
    figure = forest_figure([meta_analyse(records)], title="signature")
    ax = figure.axes[0]
    z = 1.959963984540054
    # Per cohort, top to bottom: a square at exp(y) and a segment exp(y ± z s).
    squares = sorted(
        (line for line in ax.lines if line.get_marker() == "s"),
        key=lambda line: -line.get_ydata()[0],
    )
    segments = sorted(
        (
            line
            for line in ax.lines
            if line.get_marker() in ("None", None, "")
            and len(line.get_xdata()) == 2
            and line.get_xdata()[0] != line.get_xdata()[1]
        ),
        key=lambda line: -line.get_ydata()[0],
    )
    assert len(squares) == len(segments) == 3
    for est, se, square, segment in zip(y, s, squares, segments, strict=True):
        assert square.get_xdata()[0] == pytest.approx(math.exp(est), rel=1e-12)
        np.testing.assert_allclose(
            segment.get_xdata(), [math.exp(est - z * se), math.exp(est + z * se)], rtol=1e-9
        )
        assert segment.get_ydata()[0] == square.get_ydata()[0]
    # The diamond spans the hand-computed pooled random-effects estimate and its 95% CI.
    (diamond,) = ax.patches
    x = diamond.get_xy()[:, 0]
    pooled = [
        math.exp(HAND["estimate"] - z * HAND["se"]),
        math.exp(HAND["estimate"]),
        math.exp(HAND["estimate"] + z * HAND["se"]),
    ]
    low, centre, high = pooled
    np.testing.assert_allclose(x[:4], [low, centre, high, centre], rtol=1e-5)
    labels = [text.get_text() for text in ax.get_yticklabels()]
    assert "d: left out (excluded: too few events)" in labels
    assert any(f"k=3  HR {centre:.2f} [{low:.2f}, {high:.2f}]" in text for text in labels)

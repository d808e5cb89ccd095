"""Kaplan–Meier figure: curves, numbers at risk and annotation, read back from the Figure."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from omicsflow.plots.km import km_figure


def test_numbers_at_risk_match_lifelines_event_table_at_tied_ticks():
    rng = np.random.default_rng(8)
    n = 150
    time = rng.integers(1, 101, size=n).astype(float)  # integers: many times equal a tick
    time[:7] = [20, 20, 40, 40, 60, 80, 100]
    event = (rng.uniform(size=n) < 0.7).astype(int)
    high = rng.uniform(size=n) < 0.4
    masks = {"low": ~high, "high": high}
    figure = km_figure(time, event, masks, title="t", annotation="log-rank p = 0.01")
    curves, table = figure.axes
    assert [text.get_text() for text in curves.texts] == ["log-rank p = 0.01"]
    ticks = np.asarray(table.get_xticks())
    np.testing.assert_array_equal(ticks, [0, 20, 40, 60, 80, 100])
    rows = dict(
        zip(
            table.get_yticks(), [label.get_text() for label in table.get_yticklabels()], strict=True
        )
    )
    cells = {}
    for text in table.texts:
        x, y = text.get_position()
        cells[(rows[y], float(x))] = int(text.get_text())
    assert len(cells) == len(table.texts) == 2 * ticks.size
    for label, mask in masks.items():
        fitter = KaplanMeierFitter().fit(time[mask], event[mask])
        at_risk = fitter.event_table["at_risk"]
        for tick in ticks:
            # lifelines counts T >= t at each observed t; a tick between observed times takes
            # the count at the next observed time (none left after the last one).
            later = at_risk.index[at_risk.index >= tick]
            expected = int(at_risk.loc[later[0]]) if later.size else 0
            assert cells[(label, float(tick))] == expected, (label, tick)
        # The tie matters: a sample observed exactly at 20 is still at risk at 20.
        assert cells[(label, 20.0)] > int(np.sum(time[mask] > 20))
        # The step curve is lifelines' estimate.
        (line,) = [line for line in curves.lines if line.get_label().startswith(f"{label} (n=")]
        np.testing.assert_allclose(
            line.get_ydata(),
            fitter.survival_function_at_times(line.get_xdata()).to_numpy(),
            atol=1e-12,
        )
        assert line.get_label() == f"{label} (n={mask.sum()}, events={event[mask].sum()})"
    assert cells[("low", 0.0)] + cells[("high", 0.0)] == pytest.approx(n)

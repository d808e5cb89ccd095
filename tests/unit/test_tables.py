"""Searchable HTML tables: every row present, values exact, escaping."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from omicsflow.tables import searchable_table_html, write_searchable_table


def test_every_row_and_full_precision_value_is_kept(tmp_path):
    table = pd.DataFrame(
        {
            "gene": [f"G{i}" for i in range(300)],
            "p_value": np.linspace(1e-9, 1, 300),
            "n": np.arange(300),
        }
    )
    source = tmp_path / "t.tsv"
    table.to_csv(source, sep="\t", index=False)
    write_searchable_table(source, tmp_path / "t.html", title="T")
    page = (tmp_path / "t.html").read_text()
    assert page.count("<tr>") == 301  # header + rows
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', page)]
    np.testing.assert_array_equal(values, table["p_value"].to_numpy())
    assert 'id="search"' in page and "300 rows; full precision in t.tsv." in page


def test_text_is_escaped_and_missing_is_blank():
    page = searchable_table_html(pd.DataFrame({"a": ["<b>x</b>"], "b": [np.nan]}), title="<T>")
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert '<td class="num" data-value=""></td>' in page
    assert "<title>&lt;T&gt;</title>" in page

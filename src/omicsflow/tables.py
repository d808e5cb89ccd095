"""Result tables as self-contained, searchable HTML pages for the report.

Snakemake's report shows images and HTML inline but offers TSV files only as downloads. Each
key table is therefore also written as one HTML page: the whole table, a search box that
filters rows as one types (every cell is searched, case-insensitive), and columns that sort
on a click. No network, no external script: the page works inside the report and on its own.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from omicsflow.io import write_text

__all__ = ["searchable_table_html", "write_searchable_table"]

_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 12px; color: #1f2933; }
h1 { font-size: 16px; margin: 0 0 4px 0; }
p.note { margin: 0 0 8px 0; color: #52606d; }
input { width: 320px; padding: 4px 8px; margin-bottom: 8px; font-size: 13px; }
span.count { margin-left: 10px; color: #52606d; }
table { border-collapse: collapse; }
th { position: sticky; top: 0; background: #e4e7eb; cursor: pointer; text-align: left; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 3px 8px; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:hover td { background: #f5f7fa; }
"""

_SCRIPT = """
const input = document.getElementById("search");
const body = document.querySelector("tbody");
const rows = Array.from(body.rows);
const count = document.getElementById("count");
function filter() {
  const needle = input.value.trim().toLowerCase();
  let shown = 0;
  for (const row of rows) {
    const hit = !needle || row.textContent.toLowerCase().includes(needle);
    row.style.display = hit ? "" : "none";
    if (hit) shown += 1;
  }
  count.textContent = shown + " of " + rows.length + " rows";
}
input.addEventListener("input", filter);
document.querySelectorAll("th").forEach((header, column) => {
  let ascending = true;
  header.addEventListener("click", () => {
    const key = row => row.cells[column].dataset.value ?? row.cells[column].textContent;
    const numeric = rows.every(row => key(row) === "" || !isNaN(Number(key(row))));
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    ascending = !ascending;
    rows.forEach(row => body.appendChild(row));
  });
});
filter();
"""


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return '<td class="num" data-value=""></td>'
        shown = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.4e}"
        return f'<td class="num" data-value="{value!r}">{shown}</td>'
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def searchable_table_html(table: pd.DataFrame, *, title: str, note: str = "") -> str:
    """One self-contained HTML page holding ``table`` with a search box and sortable columns.

    Parameters
    ----------
    table
        The table (every row is shown; numbers are displayed with 4 significant digits and
        sorted by their full value).
    title
        Page heading.
    note
        One line under the heading (e.g. where the full-precision TSV is).

    Returns
    -------
    str
        The HTML document.
    """
    header = "".join(f"<th>{html.escape(str(column))}</th>" for column in table.columns)
    rows = "\n".join(
        "<tr>" + "".join(_cell(value) for value in record) + "</tr>"
        for record in table.itertuples(index=False, name=None)
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        + (f'<p class="note">{html.escape(note)}</p>\n' if note else "")
        + '<input id="search" type="search" placeholder="Search every column…">'
        '<span class="count" id="count"></span>\n'
        f"<table><thead><tr>{header}</tr></thead><tbody>\n{rows}\n</tbody></table>\n"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_searchable_table(source: str | Path, destination: str | Path, *, title: str) -> None:
    """Read a TSV result table and write its searchable HTML page (atomically)."""
    table = pd.read_csv(
        source, sep="\t", keep_default_na=False, na_values=[""], float_precision="round_trip"
    )
    note = f"{len(table)} rows; full precision in {Path(source).name}."
    write_text(destination, searchable_table_html(table, title=title, note=note))

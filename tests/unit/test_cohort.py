"""Input contract: the cohort sheet and one cohort's files; one test per error case."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsflow.cohort import CohortEntry, load_cohort, read_cohort_sheet
from omicsflow.errors import CohortSheetError, InputError, OmicsflowError
from tests.conftest import write_cohort_files

SHEET_COLUMNS = ["cohort", "role", "platform", "expression", "clinical", "time", "event", "batch"]


def make_tables(n_samples: int = 6, n_genes: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    samples = [f"S{i}" for i in range(1, n_samples + 1)]
    expression = pd.DataFrame(
        rng.normal(size=(n_genes, n_samples)),
        index=pd.Index([f"G{i}" for i in range(1, n_genes + 1)], name="gene"),
        columns=samples,
    )
    clinical = pd.DataFrame(
        {
            "sample": samples,
            "os": np.arange(1, n_samples + 1, dtype=float),
            "dead": [1, 0] * (n_samples // 2),
            "site": ["a", "b"] * (n_samples // 2),
        }
    )
    return expression, clinical


def entry_for(expression_path: Path, clinical_path: Path | None, role: str = "discovery"):
    return CohortEntry(
        cohort="c1",
        role=role,
        platform="microarray",
        expression=expression_path,
        clinical=clinical_path,
        time="os",
        event="dead",
    )


def write_sheet(folder: Path, rows: list[dict[str, str]]) -> Path:
    sheet = folder / "cohorts.tsv"
    pd.DataFrame(rows).reindex(columns=SHEET_COLUMNS).fillna("").to_csv(
        sheet, sep="\t", index=False
    )
    return sheet


@pytest.fixture
def valid_sheet_rows(tmp_path: Path) -> list[dict[str, str]]:
    expression, clinical = make_tables()
    rows = []
    for name, role in (("disc", "discovery"), ("val", "validation"), ("src", "source")):
        write_cohort_files(tmp_path / "data", expression=expression, clinical=clinical, name=name)
        rows.append(
            {
                "cohort": name,
                "role": role,
                "platform": "microarray",
                "expression": f"data/{name}_expression.tsv",
                "clinical": f"data/{name}_clinical.tsv" if role != "source" else "",
                "time": "os" if role != "source" else "",
                "event": "dead" if role != "source" else "",
            }
        )
    return rows


# ------------------------------------------------------------------------- the sheet


def test_sheet_resolves_relative_paths_against_its_folder(tmp_path, valid_sheet_rows):
    sheet = read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))
    assert sheet.discovery == "disc"
    assert sheet.with_role("validation") == ["val"]
    assert sheet["disc"].expression == (tmp_path / "data" / "disc_expression.tsv").resolve()
    assert sheet["src"].clinical is None
    assert not sheet["src"].has_outcome


def test_missing_file_is_named(tmp_path, valid_sheet_rows):
    valid_sheet_rows[1]["expression"] = "data/nope.tsv"
    with pytest.raises(CohortSheetError, match=r"expression file not found") as info:
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))
    message = str(info.value)
    assert "cohort: val" in message and "row: 3" in message and "nope.tsv" in message


@pytest.mark.parametrize(("column", "value"), [("role", "training"), ("platform", "nanopore")])
def test_unknown_role_or_platform(tmp_path, valid_sheet_rows, column, value):
    valid_sheet_rows[0][column] = value
    with pytest.raises(CohortSheetError, match=f"unknown {column}") as info:
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))
    assert f"column: {column}" in str(info.value) and value in str(info.value)


def test_duplicate_cohort_ids(tmp_path, valid_sheet_rows):
    valid_sheet_rows[2]["cohort"] = "val"
    with pytest.raises(CohortSheetError, match=r"duplicate cohort ids(.|\n)*'val'"):
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))


def test_invalid_cohort_id(tmp_path, valid_sheet_rows):
    valid_sheet_rows[0]["cohort"] = "disc one"
    with pytest.raises(CohortSheetError, match="invalid cohort id"):
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))


def test_exactly_one_discovery(tmp_path, valid_sheet_rows):
    valid_sheet_rows[1]["role"] = "discovery"
    with pytest.raises(CohortSheetError, match="exactly one discovery"):
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))


def test_at_least_one_validation(tmp_path, valid_sheet_rows):
    with pytest.raises(CohortSheetError, match="no validation cohort"):
        read_cohort_sheet(write_sheet(tmp_path, [valid_sheet_rows[0], valid_sheet_rows[2]]))


def test_source_cannot_also_be_validation(tmp_path, valid_sheet_rows):
    valid_sheet_rows[2]["expression"] = valid_sheet_rows[1]["expression"]
    with pytest.raises(CohortSheetError, match="both source and validation"):
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))


def test_unknown_sheet_column(tmp_path, valid_sheet_rows):
    sheet = write_sheet(tmp_path, valid_sheet_rows)
    table = pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False)
    table["colour"] = "red"
    table.to_csv(sheet, sep="\t", index=False)
    with pytest.raises(CohortSheetError, match=r"unknown column(.|\n)*column: colour"):
        read_cohort_sheet(sheet)


def test_outcome_columns_required_for_discovery(tmp_path, valid_sheet_rows):
    valid_sheet_rows[0]["time"] = ""
    with pytest.raises(CohortSheetError, match="missing time column name"):
        read_cohort_sheet(write_sheet(tmp_path, valid_sheet_rows))


# ------------------------------------------------------------------------- one cohort


def test_load_cohort_builds_anndata(tmp_path):
    expression, clinical = make_tables()
    expression.iloc[1, 2] = np.nan
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    adata = load_cohort(entry_for(*paths))
    assert adata.shape == (6, 4)
    assert adata.X.dtype == np.float32
    assert np.isnan(adata.X[2, 1])
    np.testing.assert_allclose(adata.X[:, 0], expression.iloc[0].to_numpy(), rtol=1e-6)
    assert list(adata.obs["event"]) == [1, 0, 1, 0, 1, 0]
    assert list(adata.obs["site"]) == ["a", "b"] * 3
    assert adata.uns["cohort"]["role"] == "discovery"


def test_gzip_csv_and_parquet_are_read(tmp_path):
    expression, clinical = make_tables()
    gz = tmp_path / "e.csv.gz"
    expression.to_csv(gz)
    parquet = tmp_path / "e.parquet"
    expression.reset_index().to_parquet(parquet)
    clinical_path = tmp_path / "clin.tsv"
    clinical.to_csv(clinical_path, sep="\t", index=False)
    for path in (gz, parquet):
        adata = load_cohort(entry_for(path, clinical_path))
        np.testing.assert_allclose(adata.X, expression.T.to_numpy(), rtol=1e-6)


def test_duplicate_gene_ids(tmp_path):
    expression, clinical = make_tables()
    expression.index = ["G1", "G2", "G1", "G4"]
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="duplicate gene ids") as info:
        load_cohort(entry_for(*paths))
    assert "'G1'" in str(info.value) and "cohort: c1" in str(info.value)


def test_duplicate_sample_ids_in_expression_header(tmp_path):
    expression, clinical = make_tables()
    expression.columns = ["S1", "S2", "S3", "S3", "S5", "S6"]
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="duplicate sample ids in the header") as info:
        load_cohort(entry_for(*paths))
    assert "'S3' ×2" in str(info.value)


def test_duplicate_sample_ids_in_clinical(tmp_path):
    expression, clinical = make_tables()
    clinical.loc[3, "sample"] = "S1"
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="duplicate sample ids") as info:
        load_cohort(entry_for(*paths))
    assert "column: sample" in str(info.value)


def test_mismatched_samples_error_then_intersection_with_warning(tmp_path, caplog):
    expression, clinical = make_tables()
    clinical = clinical.iloc[:5].copy()  # S6 has no clinical row
    clinical.loc[len(clinical)] = ["X9", 3.0, 1, "a"]  # X9 has no expression
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="do not match") as info:
        load_cohort(entry_for(*paths))
    message = str(info.value)
    assert "1 expression samples have no clinical row ('S6')" in message
    assert "1 clinical rows have no expression column ('X9')" in message
    assert "allow_sample_intersection" in message
    with caplog.at_level(logging.WARNING):
        adata = load_cohort(entry_for(*paths), allow_sample_intersection=True)
    assert adata.n_obs == 5
    assert "dropping 2 of 7 samples" in caplog.text


def test_non_numeric_expression_value_is_located(tmp_path):
    expression, clinical = make_tables()
    expression = expression.astype(object)
    expression.loc["G3", "S4"] = "1,5"
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="non-numeric value") as info:
        load_cohort(entry_for(*paths))
    message = str(info.value)
    assert "row: 'G3' (line 4)" in message and "column: S4" in message and "'1,5'" in message


def test_missing_values_tokens_are_accepted(tmp_path):
    expression, clinical = make_tables()
    path = tmp_path / "e.tsv"
    text = expression.to_csv(sep="\t")
    lines = text.splitlines()
    fields = lines[1].split("\t")
    fields[1], fields[2] = "NA", ""
    lines[1] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    clinical_path = tmp_path / "c.tsv"
    clinical.to_csv(clinical_path, sep="\t", index=False)
    adata = load_cohort(entry_for(path, clinical_path))
    assert np.isnan(adata.X[0, 0]) and np.isnan(adata.X[1, 0])


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (-1.0, "negative survival times"),
        ("", "missing survival times"),
        ("soon", "non-numeric survival times"),
    ],
)
def test_bad_survival_times(tmp_path, value, pattern):
    expression, clinical = make_tables()
    clinical["os"] = clinical["os"].astype(object)
    clinical.loc[2, "os"] = value
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match=pattern) as info:
        load_cohort(entry_for(*paths))
    assert "column: os" in str(info.value) and "'S3'" in str(info.value)


def test_bad_event_values(tmp_path):
    expression, clinical = make_tables()
    clinical["dead"] = ["1", "0", "2", "yes", "True", "false"]
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="event values must be 0/1") as info:
        load_cohort(entry_for(*paths))
    assert "'S3', 'S4'" in str(info.value)


def test_true_false_events_are_accepted(tmp_path):
    expression, clinical = make_tables()
    clinical["dead"] = ["TRUE", "false", "True", "0", "1", "FALSE"]
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    assert list(load_cohort(entry_for(*paths)).obs["event"]) == [1, 0, 1, 0, 1, 0]


def test_cohort_without_events(tmp_path):
    expression, clinical = make_tables()
    clinical["dead"] = 0
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="no events"):
        load_cohort(entry_for(*paths))


def test_missing_outcome_column(tmp_path):
    expression, clinical = make_tables()
    clinical = clinical.rename(columns={"os": "overall"})
    paths = write_cohort_files(tmp_path, expression=expression, clinical=clinical)
    with pytest.raises(InputError, match="time column is not in the clinical table") as info:
        load_cohort(entry_for(*paths))
    assert "overall" in str(info.value)


def test_source_cohort_without_clinical(tmp_path):
    expression, _ = make_tables()
    path, _ = write_cohort_files(tmp_path, expression=expression, clinical=None)
    adata = load_cohort(CohortEntry("src", "source", "rnaseq", path, None, None, None))
    assert adata.shape == (6, 4) and adata.obs.shape[1] == 0


def test_errors_are_value_errors():
    assert issubclass(InputError, OmicsflowError) and issubclass(OmicsflowError, ValueError)

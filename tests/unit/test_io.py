"""Atomic writes and table reading."""

from __future__ import annotations

import pandas as pd
import pytest

from omicsflow.errors import InputError
from omicsflow.io import atomic_path, read_matrix, write_json, write_tsv


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out" / "result.tsv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_failed_write_keeps_previous_result(tmp_path):
    target = tmp_path / "result.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("{broken")
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "a": 1\n}\n'


def test_json_writes_nan_as_null(tmp_path):
    write_json(tmp_path / "x.json", {"v": float("nan")})
    assert '"v": null' in (tmp_path / "x.json").read_text()


def test_tsv_is_byte_stable(tmp_path):
    table = pd.DataFrame({"a": [0.1 + 0.2, 1 / 3]})
    write_tsv(tmp_path / "a.tsv", table)
    assert (tmp_path / "a.tsv").read_text() == "a\n0.3\n0.3333333333\n"


def test_unsupported_format(tmp_path):
    path = tmp_path / "m.xlsx"
    path.write_text("x")
    with pytest.raises(InputError, match="unsupported table format"):
        read_matrix(path)


def test_wrong_delimiter_is_explained(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("gene,s1,s2\ng1,1,2\n")
    with pytest.raises(InputError, match="fewer than two columns") as info:
        read_matrix(path)
    assert "delimiter" in str(info.value)

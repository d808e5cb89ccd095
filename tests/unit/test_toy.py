"""Toy cohorts: the input format, seeded, with planted genes."""

from __future__ import annotations

import hashlib

import pandas as pd

from omicsflow.cohort import load_cohort, read_cohort_sheet
from omicsflow.toy import ToyDesign, main, write_toy_cohorts


def test_toy_sheet_loads_and_has_planted_genes(toy_dir):
    sheet = read_cohort_sheet(toy_dir / "cohorts.tsv")
    assert sheet.with_role("source") == ["source"]
    assert sheet.with_role("validation") == ["validation_a", "validation_b"]
    planted = pd.read_csv(toy_dir / "planted_genes.tsv", sep="\t")
    assert next(iter(planted.columns)) == "gene"
    assert set(planted["direction"]) == {"high_risk_above", "high_risk_below"}
    discovery = load_cohort(sheet["discovery"])
    assert discovery.n_obs == ToyDesign().n_discovery
    missing = float(pd.isna(discovery.X).mean())
    assert 0.04 < missing < 0.06
    assert set(planted["gene"]) <= set(discovery.var_names)


def test_other_platform_is_scaled(toy_dir):
    sheet = read_cohort_sheet(toy_dir / "cohorts.tsv")
    a = load_cohort(sheet["validation_a"])
    b = load_cohort(sheet["validation_b"])
    a_values, b_values = pd.DataFrame(a.X).stack(), pd.DataFrame(b.X).stack()
    assert b_values.median() - a_values.median() > 1.5
    assert 0.4 < b_values.std() / a_values.std() < 0.6


def test_same_seed_same_bytes(tmp_path):
    design = ToyDesign(n_genes=50, n_source=20, n_discovery=30, n_validation=20)

    def digest(folder):
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
        }

    write_toy_cohorts(tmp_path / "a", design, seed=3)
    write_toy_cohorts(tmp_path / "b", design, seed=3)
    write_toy_cohorts(tmp_path / "c", design, seed=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert (
        digest(tmp_path / "a")["discovery_clinical.tsv"]
        != digest(tmp_path / "c")["discovery_clinical.tsv"]
    )


def test_command_line(tmp_path):
    main(
        [
            str(tmp_path / "cli"),
            "--seed",
            "2",
            "--genes",
            "40",
            "--source-samples",
            "10",
            "--discovery-samples",
            "30",
            "--validation-samples",
            "20",
        ]
    )
    assert (tmp_path / "cli" / "cohorts.tsv").exists()
    assert (tmp_path / "cli" / "planted_genes.tsv").exists()

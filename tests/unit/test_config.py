"""Configuration errors name the key path, the file, what is allowed there and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from omicsflow.config import check_config, config_errors, load_schema
from omicsflow.errors import ConfigError, OmicsflowError

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = REPO / "config" / "config.yaml"


@pytest.fixture
def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_shipped_config_is_valid(config):
    check_config(config, SCHEMA, files=[CONFIG])
    assert config_errors(config, load_schema(SCHEMA)) == []


def test_unknown_top_level_key(config, tmp_path):
    config["sede"] = 1
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError, match=r"unknown config key 'sede'") as info:
        check_config(config, SCHEMA, files=[path])
    message = str(info.value)
    assert f"file: {path}" in message
    allowed = sorted(load_schema(SCHEMA)["properties"])
    assert f"expected: a key allowed under the top level: {', '.join(allowed)}" in message
    assert "fix: rename it to 'seed' (closest allowed key), or remove it" in message
    assert isinstance(info.value, OmicsflowError) and isinstance(info.value, ValueError)


def test_unknown_nested_key_names_its_path_and_the_keys_allowed_there(config, tmp_path):
    config["qc"]["weightz"] = {"scale": 2.0}
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError, match=r"unknown config key 'qc\.weightz'") as info:
        check_config(config, SCHEMA, files=[path])
    message = str(info.value)
    qc_keys = sorted(load_schema(SCHEMA)["properties"]["qc"]["properties"])
    assert f"expected: a key allowed under 'qc': {', '.join(qc_keys)}" in message
    assert "rename it to 'qc.weights'" in message
    assert info.value.file == str(path)


def test_deeper_unknown_key_without_a_close_match(config):
    config["qc"]["weights"]["sharpness"] = 1.0
    with pytest.raises(ConfigError, match=r"unknown config key 'qc\.weights\.sharpness'") as info:
        check_config(config, SCHEMA)
    assert "under 'qc.weights': batch, dimensionality, duplicates" in str(info.value)
    assert "fix: remove it" in str(info.value)


def test_key_given_on_the_command_line_is_said_so(config, tmp_path):
    path = write_config(tmp_path, config)
    config["train"]["epochz"] = 3  # as `--config` would merge it: not in any file
    with pytest.raises(ConfigError, match=r"'train\.epochz'") as info:
        check_config(config, SCHEMA, files=[path])
    assert info.value.file == "--config on the command line"


def test_value_overridden_on_the_command_line_is_said_so(config, tmp_path):
    path = write_config(tmp_path, config)
    config["qc"]["on_fail_validation"] = "skip"  # the file says "exclude"
    with pytest.raises(ConfigError, match=r"'qc\.on_fail_validation'") as info:
        check_config(config, SCHEMA, files=[path])
    assert info.value.file == "--config on the command line"


def test_later_config_file_is_named(config, tmp_path):
    first = write_config(tmp_path, config)
    (tmp_path / "override").mkdir()
    second = write_config(tmp_path / "override", {"biomarkers": {"bootstrapp": 5}})
    config["biomarkers"]["bootstrapp"] = 5
    with pytest.raises(ConfigError, match=r"'biomarkers\.bootstrapp'") as info:
        check_config(config, SCHEMA, files=[first, second])
    assert info.value.file == str(second)


def test_bad_enum_value(config, tmp_path):
    config["preprocess"]["impute"] = "knnn"
    path = write_config(tmp_path, config)
    with pytest.raises(
        ConfigError, match=r"config key 'preprocess\.impute' has a value that is not allowed"
    ) as info:
        check_config(config, SCHEMA, files=[path])
    message = str(info.value)
    assert "seen: 'knnn'" in message
    assert "one of 'knn', 'iterative', 'mean', 'median', 'auto'" in message
    assert "(did you mean 'knn'?)" in message
    assert info.value.file == str(path)


def test_bad_enum_value_inside_a_list(config):
    config["preprocess"]["auto"]["candidates"] = ["mean", "foo"]
    with pytest.raises(ConfigError, match=r"'preprocess\.auto\.candidates\[1\]'.*not allowed"):
        check_config(config, SCHEMA)


def test_wrong_type(config):
    config["qc"]["pass_score"] = "high"
    with pytest.raises(
        ConfigError, match=r"config key 'qc\.pass_score' has the wrong type"
    ) as info:
        check_config(config, SCHEMA)
    assert "seen: 'high' (str)" in str(info.value)
    assert "expected: number" in str(info.value)


def test_out_of_range_value(config):
    config["qc"]["pass_score"] = 2
    with pytest.raises(ConfigError, match=r"'qc\.pass_score' is invalid: 2 is greater than"):
        check_config(config, SCHEMA)


def test_missing_required_key(config):
    del config["cohorts"]
    with pytest.raises(ConfigError, match=r"missing config key 'cohorts' at the top level"):
        check_config(config, SCHEMA)


def test_several_problems_first_raised_others_counted(config):
    config["zzz"] = 1
    config["qc"]["weightz"] = 1
    config["train"]["device"] = 3
    problems = config_errors(config, load_schema(SCHEMA))
    assert [problem.what for problem in problems] == [
        "unknown config key 'zzz'",
        "unknown config key 'qc.weightz'",
        "config key 'train.device' has the wrong type",
    ]
    with pytest.raises(ConfigError, match=r"'zzz'(.|\n)*also: unknown config key 'qc\.weightz'"):
        check_config(config, SCHEMA)


def test_check_does_not_fill_defaults():
    config = {"cohorts": "config/cohorts.tsv"}
    check_config(config, SCHEMA)
    assert config == {"cohorts": "config/cohorts.tsv"}

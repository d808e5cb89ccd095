"""Pinned conda environments: they parse, every rule names one, pins satisfy pyproject's ranges."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.workflow.helpers import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
# conda-forge package names that differ from the PyPI distribution names in pyproject.toml
CONDA_TO_PYPI = {"pytorch": "torch", "matplotlib-base": "matplotlib"}


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += [Requirement(text) for text in extra if not text.startswith("omicsflow")]
    return {req.name.lower(): req for req in requirements}


def conda_pins(env: dict) -> dict[str, str]:
    pins = {}
    for item in env["dependencies"]:
        if isinstance(item, str) and "=" in item:
            name, version = re.split(r"=+", item, maxsplit=1)
            pins[CONDA_TO_PYPI.get(name, name).lower()] = version
        elif isinstance(item, dict):
            for line in item.get("pip", []):
                if "==" in line:
                    name, version = line.split("==")
                    pins[name.lower()] = version
    return pins


def test_there_is_one_env_per_stage():
    stages = {path.stem for path in (REPO / "workflow" / "rules").glob("*.smk")} - {"common"}
    assert {path.stem for path in ENVS} == stages


@pytest.mark.parametrize("path", ENVS, ids=[path.stem for path in ENVS])
def test_env_parses_pins_exactly_and_agrees_with_pyproject(path):
    env = yaml.safe_load(path.read_text())
    assert env["channels"][0] == "conda-forge"
    requirements = pyproject_requirements()
    pins = conda_pins(env)
    assert pins, "no pinned packages"
    for item in env["dependencies"]:
        if isinstance(item, str) and item not in ("pip",):
            assert re.fullmatch(r"[\w.-]+=[\w.]+", item), f"not an exact pin: {item}"
    for name, version in pins.items():
        if name in requirements:
            assert Version(version) in requirements[name].specifier, (
                f"{path.name}: {name}={version} is outside pyproject's {requirements[name]}"
            )
    core = {
        req.name.lower()
        for req in map(
            Requirement,
            tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"],
        )
    }
    assert core <= set(pins), f"unpinned dependencies: {core - set(pins)}"
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert ".." in pip, "the env must install the omicsflow package from the repository"


def test_every_rule_names_an_existing_env():
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:    .*\n|\n)*)", text, flags=re.MULTILINE):
            rule, body = match.group(1), match.group(2)
            if "script:" not in body and "shell:" not in body:
                continue
            env = re.search(r'conda:\n\s+"([^"]+)"', body)
            assert env, f"rule {rule} in {smk.name} names no conda env"
            assert (smk.parent / env.group(1)).resolve().is_file(), (rule, env.group(1))

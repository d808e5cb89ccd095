"""Workflow configuration checked against its JSON Schema, with errors a user can act on.

jsonschema's own messages (``Additional properties are not allowed ('weightz' was
unexpected)``) name neither the key's full path nor the file it came from nor what would be
accepted. :func:`check_config` validates the configuration with the same schema and raises a
:class:`~omicsflow.errors.ConfigError` that says which key (``qc.weightz``), in which file,
what was seen, what is allowed at that level, and how to fix it::

    ConfigError: unknown config key 'qc.weightz'
      file: config/config.yaml
      seen: 'weightz'
      expected: a key allowed under 'qc': duplicate_correlation, max_batch_share, …
      fix: rename it to 'qc.weights' (closest allowed key), or remove it

It checks only; default values are filled in by Snakemake's ``validate`` (called after it in
``workflow/rules/common.smk``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from omicsflow.errors import ConfigError

__all__ = ["check_config", "config_errors", "load_schema"]

_COMMAND_LINE = "--config on the command line"


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read a JSON Schema written in YAML (or JSON).

    Parameters
    ----------
    path
        The schema file, e.g. ``workflow/schemas/config.schema.yaml``.

    Returns
    -------
    dict
        The schema.
    """
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _key_path(parts: Iterable[Any]) -> str:
    """``['qc', 'weights', 'scale']`` → ``qc.weights.scale``; list items as ``[i]``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


_ANY = object()


def _lookup(data: Any, parts: Sequence[Any], value: Any = _ANY) -> bool:
    """Whether ``parts`` is a key path in ``data`` (holding ``value``, when given)."""
    for part in parts:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return value is _ANY or data == value


def _source(parts: Sequence[Any], files: Sequence[str | Path], value: Any = _ANY) -> str:
    """A config file that sets the key path (to ``value``, when given); the last listed first.

    A key or value found in none of them came from ``--config`` on the command line.
    """
    for file in reversed(files):
        try:
            data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if _lookup(data, parts, value):
            return str(file)
    return _COMMAND_LINE if files else "the configuration"


def _allowed_keys(schema: Mapping[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


def _closest(name: str, allowed: list[str]) -> str | None:
    matches = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _describe(schema: Mapping[str, Any]) -> str:
    description = schema.get("description")
    return f" ({description.rstrip('.')})" if description else ""


def _expected_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    names = kind if isinstance(kind, list) else [kind]
    text = " or ".join(str(name) for name in names)
    if "enum" in schema:
        text += f", one of {', '.join(repr(value) for value in schema['enum'])}"
    return text


def _unknown_keys(error: ValidationError, files: Sequence[str | Path]) -> list[ConfigError]:
    parent = list(error.absolute_path)
    allowed = _allowed_keys(error.schema)
    where = f"'{_key_path(parent)}'" if parent else "the top level"
    extra = sorted(str(key) for key in error.instance if key not in allowed)
    errors = []
    for key in extra:
        parts = [*parent, key]
        closest = _closest(key, allowed)
        fix = (
            f"rename it to '{_key_path([*parent, closest])}' (closest allowed key), or remove it"
            if closest
            else "remove it (it is not a setting of omicsflow)"
        )
        errors.append(
            ConfigError(
                f"unknown config key '{_key_path(parts)}'",
                file=_source(parts, files),
                seen=repr(key),
                expected=f"a key allowed under {where}: {', '.join(allowed)}",
                fix=fix + "; every key is documented in workflow/schemas/config.schema.yaml",
            )
        )
    return errors


def _translate(error: ValidationError, files: Sequence[str | Path]) -> list[ConfigError]:
    """One or more :class:`ConfigError` for one jsonschema error."""
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        return _unknown_keys(error, files)
    parts = list(error.absolute_path)
    key = _key_path(parts)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        where = f"under '{key}'" if key else "at the top level"
        return [
            ConfigError(
                f"missing config key {', '.join(repr(name) for name in missing)} {where}",
                file=_source(parts, files) if parts else None,
                expected=", ".join(
                    f"{name}{_describe(error.schema.get('properties', {}).get(name, {}))}"
                    for name in missing
                ),
                fix="add the key to config/config.yaml",
            )
        ]
    file = _source(parts, files, error.instance)
    if error.validator == "enum":
        allowed = ", ".join(repr(value) for value in error.validator_value)
        closest = _closest(str(error.instance), [str(value) for value in error.validator_value])
        hint = f" (did you mean {closest!r}?)" if closest else ""
        return [
            ConfigError(
                f"config key '{key}' has a value that is not allowed",
                file=file,
                seen=repr(error.instance),
                expected=f"one of {allowed}{_describe(error.schema)}",
                fix=f"set '{key}' to one of {allowed}{hint}",
            )
        ]
    if error.validator == "type":
        expected = _expected_type(error.schema)
        return [
            ConfigError(
                f"config key '{key}' has the wrong type",
                file=file,
                seen=f"{error.instance!r} ({type(error.instance).__name__})",
                expected=f"{expected}{_describe(error.schema)}",
                fix=f"give '{key}' a value of type {expected}",
            )
        ]
    return [
        ConfigError(
            f"config key '{key or '(top level)'}' is invalid: {error.message}",
            file=file,
            seen=repr(error.instance),
            expected=f"{error.validator}: {error.validator_value!r}{_describe(error.schema)}",
            fix=f"change '{key}' to satisfy the constraint above",
        )
    ]


def config_errors(
    config: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    files: Sequence[str | Path] = (),
) -> list[ConfigError]:
    """Every problem of ``config`` against ``schema``, in document order.

    Parameters
    ----------
    config
        The configuration as Snakemake loaded it (before defaults are filled in).
    schema
        The JSON Schema (draft 2020-12).
    files
        The config files the configuration was read from (``workflow.configfiles``); each
        error names one that sets the offending key to the offending value, or ``--config``.

    Returns
    -------
    list of ConfigError
        Empty when the configuration is valid.
    """
    validator = Draft202012Validator(schema)
    raw = sorted(
        validator.iter_errors(dict(config)),
        key=lambda error: [str(part) for part in error.absolute_path],
    )
    return [problem for error in raw for problem in _translate(error, files)]


def check_config(
    config: Mapping[str, Any],
    schema: str | Path | Mapping[str, Any],
    *,
    files: Sequence[str | Path] = (),
) -> None:
    """Validate the workflow configuration; raise the first problem as a :class:`ConfigError`.

    Parameters
    ----------
    config
        The configuration (``config`` in the Snakefile).
    schema
        Path of the schema file, or the schema itself.
    files
        The config files, in the order applied (``workflow.configfiles``).

    Raises
    ------
    ConfigError
        On an unknown key (the message lists the keys allowed at that level), a wrong type, a
        value outside an ``enum``, a missing required key or any other schema violation. When
        there are several problems the first is raised and its ``fix`` counts the others.
    """
    if not isinstance(schema, Mapping):
        schema = load_schema(schema)
    problems = config_errors(config, schema, files=files)
    if not problems:
        return
    first = problems[0]
    if len(problems) == 1:
        raise first
    others = ", ".join(problem.what for problem in problems[1:4])
    more = f" … (+{len(problems) - 4} more)" if len(problems) > 4 else ""
    raise ConfigError(
        first.what,
        file=first.file,
        seen=first.seen,
        expected=first.expected,
        fix=f"{first.fix}\n  also: {others}{more}",
    )

"""Logging for workflow steps: to the rule's log file and to stderr, errors included."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omicsflow.provenance import stamping

__all__ = ["rule_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def rule_logging(
    log_file: str | Path | None, *, rule: str, config: dict[str, Any] | None = None
) -> Iterator[logging.Logger]:
    """Send every ``omicsflow`` log record to ``log_file`` and stderr for one step.

    An exception raised inside the block is written to the log (message and traceback) before
    it propagates, so the Snakemake log of a failed job says what went wrong.

    Parameters
    ----------
    log_file
        The rule's ``log:`` file (created with its folder); ``None`` logs to stderr only.
    rule
        Rule name, used as the logger name.
    config
        The workflow configuration: results written inside the block are stamped with the
        omicsflow version and its hash (:func:`omicsflow.provenance.stamping`).

    Yields
    ------
    logging.Logger
        A logger for the step itself.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    formatter = logging.Formatter(_FORMAT)
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    for noisy in ("matplotlib", "PIL", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logger = logging.getLogger(f"omicsflow.rule.{rule}")
    started = time.perf_counter()
    stamp = stamping(config) if config is not None else contextlib.nullcontext()
    try:
        with stamp:
            yield logger
    except Exception as exc:
        logger.error("%s failed: %s", rule, exc, exc_info=True)
        raise
    else:
        logger.info("%s finished in %.1f s", rule, time.perf_counter() - started)
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)

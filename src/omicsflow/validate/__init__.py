"""Independent-cohort validation of the locked signature and the trained network.

Modules, one job each:

* :mod:`~omicsflow.validate.cohort`: one cohort — missing signature genes, exclusion by QC,
  signature and network evaluation;
* :mod:`~omicsflow.validate.transfer`: cutpoint transfer per cohort, checked against the
  platform (also at workflow parse time);
* :mod:`~omicsflow.validate.groups`: risk groups as labels (any number), KM/log-rank/Cox
  metrics, multivariable Cox with clinical covariates;
* :mod:`~omicsflow.validate.calibration`: observed vs discovery-predicted survival by group;
* :mod:`~omicsflow.validate.replication`: per signature gene, does it replicate;
* :mod:`~omicsflow.validate.random_signatures`: size-matched random-signature control;
* :mod:`~omicsflow.validate.meta`: DerSimonian–Laird meta-analysis of log hazard ratios;
* :mod:`~omicsflow.validate.output`, :mod:`~omicsflow.validate.summary`: files and figures;
* :mod:`~omicsflow.validate.checklist`: the REMARK / TRIPOD+AI reporting checklist.

Names are imported on first use, so the workflow can check its configuration at parse time
(:func:`check_transfer_config`) without loading PyTorch and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CohortValidation": "cohort",
    "ValidationResult": "cohort",
    "signature_for_cohort": "cohort",
    "validate_cohort": "cohort",
    "validate_signature": "cohort",
    "check_transfer_config": "transfer",
    "cohort_transfer": "transfer",
    "RiskEvaluation": "groups",
    "RiskGroups": "groups",
    "evaluate_groups": "groups",
    "evaluate_risk": "groups",
    "signature_risk_groups": "groups",
    "MetaAnalysis": "meta",
    "dersimonian_laird": "meta",
    "meta_analyse": "meta",
    "random_signature_control": "random_signatures",
    "reporting_checklist": "checklist",
    "write_cohort_validation": "output",
    "summarise_validation": "summary",
    "write_validation_summary": "summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

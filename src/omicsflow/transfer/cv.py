"""Measuring the gain of transfer: three models on identical cross-validation splits.

In every fold of a repeated stratified K-fold split of the discovery cohort, on the same
training and test samples:

* ``pretrained``: the network fine-tuned from the pretrained encoder;
* ``random_init``: the same network, same seed (same head initialisation, same early-stopping
  split, same dropout draws), from a randomly initialised encoder;
* ``coxnet``: an elastic-net penalised Cox model
  (:class:`~omicsflow.transfer.baseline.PenalisedCox`).

The encoder is pretrained once on the ``source`` cohorts and reused by every fold: it never
sees a discovery or validation sample. Without a source cohort, pretraining would use the
discovery expression; a fold then pretrains on its own training samples only, so no test
sample's expression reaches the encoder (see :func:`run_fold`).

Paired differences across folds are summarised with the corrected resampled t-interval of
Nadeau & Bengio (2003) (variance inflated by ``1/J + n_test/n_train``), because fold results
share training samples and are not independent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from omicsflow.survival.metrics import concordance_index
from omicsflow.transfer.baseline import PenalisedCox
from omicsflow.transfer.pretrain import pretrain
from omicsflow.transfer.runtime import resolve_device, set_seed
from omicsflow.transfer.train import finetune, predict_risk

__all__ = [
    "CV_COLUMNS",
    "MODELS",
    "compare_models",
    "derive_seed",
    "pretraining_record",
    "run_fold",
]

logger = logging.getLogger(__name__)

MODELS = ("pretrained", "random_init", "coxnet")
CV_COLUMNS = [
    "model",
    "repeat",
    "fold",
    "c_index",
    "n_train",
    "n_test",
    "events_test",
    "best_epoch",
    "genes_in_use",
]
COMPARISONS = (("pretrained", "random_init"), ("pretrained", "coxnet"))


def derive_seed(seed: int, *labels: int) -> int:
    """A seed for one sub-task (e.g. repeat, fold), derived from the config seed."""
    return int(np.random.SeedSequence([seed, *labels]).generate_state(1)[0])


def run_fold(
    expression: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    train_index: np.ndarray,
    test_index: np.ndarray,
    *,
    options: dict[str, Any],
    seed: int,
    repeat: int,
    fold: int,
    encoder_state: dict[str, torch.Tensor] | None,
    checkpoint_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Fit the three models on one fold's training samples and score its test samples.

    Parameters
    ----------
    expression, time, event
        The whole discovery cohort (preprocessed).
    train_index, test_index
        Rows of the fold.
    options
        The ``train`` config section.
    seed
        The config seed (the fold's own seed is derived from it, the repeat and the fold).
    repeat, fold
        Which fold (1-based).
    encoder_state
        Encoder pretrained on source cohorts. ``None``: there is no source cohort, and the
        encoder is pretrained here on the fold's training samples only (never the test ones).
    checkpoint_dir
        Folder for this fold's epoch checkpoints.

    Returns
    -------
    pandas.DataFrame
        One row per model with :data:`CV_COLUMNS`.
    """
    device = resolve_device(options["device"])
    fold_seed = derive_seed(seed, repeat, fold)
    set_seed(fold_seed, deterministic=options["deterministic"])
    x_train, x_test = expression[train_index], expression[test_index]
    t_train, t_test = time[train_index], time[test_index]
    e_train, e_test = event[train_index], event[test_index]
    logger.info(
        "repeat %d fold %d: %d training samples (%d events), %d test samples (%d events)",
        repeat,
        fold,
        len(train_index),
        int(e_train.sum()),
        len(test_index),
        int(e_test.sum()),
    )
    if encoder_state is None:
        logger.info(
            "no source cohort: pretraining on this fold's %d training samples only",
            len(train_index),
        )
        encoder_state, _ = pretrain(
            x_train,
            architecture=options["architecture"],
            options=options["pretrain"],
            seed=fold_seed,
            device=device,
            checkpoint_dir=checkpoint_dir,
            mixed_precision=options["mixed_precision"],
        )
    rows = []
    for model_name, state in (("pretrained", encoder_state), ("random_init", None)):
        result = finetune(
            x_train,
            t_train,
            e_train,
            architecture=options["architecture"],
            options=options["finetune"],
            seed=fold_seed,
            device=device,
            encoder_state=state,
            checkpoint_dir=checkpoint_dir,
            name=f"finetune_{model_name}",
            mixed_precision=options["mixed_precision"],
        )
        risk = predict_risk(result.model, x_test)
        rows.append(
            {
                "model": model_name,
                "c_index": concordance_index(t_test, e_test, risk),
                "best_epoch": result.best_epoch,
                "genes_in_use": result.summary["genes_in_use"],
            }
        )
    cv = options["cv"]
    coxnet = PenalisedCox(
        cv["coxnet_l1_ratio"], inner_folds=cv["coxnet_inner_folds"], seed=fold_seed
    ).fit(x_train, t_train, e_train)
    rows.append(
        {
            "model": "coxnet",
            "c_index": concordance_index(t_test, e_test, coxnet.predict(x_test)),
            "best_epoch": 0,
            "genes_in_use": int(np.count_nonzero(coxnet.coef_)),
        }
    )
    table = pd.DataFrame(rows).assign(
        repeat=repeat,
        fold=fold,
        n_train=len(train_index),
        n_test=len(test_index),
        events_test=int(e_test.sum()),
    )
    for row in table.itertuples():
        logger.info("repeat %d fold %d: %s C-index %.3f", repeat, fold, row.model, row.c_index)
    return table.loc[:, CV_COLUMNS]


def _paired(cv: pd.DataFrame, first: str, second: str) -> dict[str, Any]:
    wide = cv.pivot_table(index=["repeat", "fold"], columns="model", values="c_index")
    difference = (wide[first] - wide[second]).dropna().to_numpy()
    n_folds = difference.size
    sizes = cv.drop_duplicates(["repeat", "fold"])
    test_train = float((sizes["n_test"] / sizes["n_train"]).mean())
    mean = float(difference.mean())
    sd = float(difference.std(ddof=1)) if n_folds > 1 else float("nan")
    # Nadeau & Bengio (2003) corrected resampled t: folds overlap in their training samples.
    se = float(np.sqrt((1.0 / n_folds + test_train) * sd**2)) if n_folds > 1 else float("nan")
    quantile = float(stats.t.ppf(0.975, n_folds - 1)) if n_folds > 1 else float("nan")
    t_value = mean / se if se > 0 else float("nan")
    return {
        "mean": mean,
        "sd": sd,
        "ci_low": mean - quantile * se,
        "ci_high": mean + quantile * se,
        "p_value": float(2 * stats.t.sf(abs(t_value), n_folds - 1)) if se > 0 else float("nan"),
        "wins": int((difference > 0).sum()),
        "losses": int((difference < 0).sum()),
        "n_folds": n_folds,
    }


def compare_models(cv: pd.DataFrame, *, pretraining: dict[str, Any]) -> dict[str, Any]:
    """Summarise the fold table: mean and SD per model, paired differences with 95% CIs.

    Parameters
    ----------
    cv
        Rows of :func:`run_fold` for every repeat and fold.
    pretraining
        What the encoder was pretrained on (recorded as given), e.g.
        ``{"cohorts": ["source"], "per_fold": False, "note": "..."}``.

    Returns
    -------
    dict
        The ``comparison.json`` record.
    """
    models = {}
    for name in MODELS:
        values = cv.loc[cv["model"] == name, "c_index"].to_numpy(dtype=np.float64)
        models[name] = {
            "mean": float(values.mean()) if values.size else float("nan"),
            "sd": float(values.std(ddof=1)) if values.size > 1 else float("nan"),
            "n_folds": int(values.size),
        }
    return {
        "metric": "Harrell's C-index on the held-out fold",
        "folds": int(cv["fold"].nunique()),
        "repeats": int(cv["repeat"].nunique()),
        "models": models,
        "differences": {
            f"{first}_vs_{second}": _paired(cv, first, second) for first, second in COMPARISONS
        },
        "ci_method": "corrected resampled t (Nadeau & Bengio 2003), 95%",
        "pretraining": pretraining,
    }


def pretraining_record(sources: list[str], discovery: str) -> dict[str, Any]:
    """What the encoder of the comparison was pretrained on, for ``comparison.json``.

    Parameters
    ----------
    sources
        Source cohort ids (may be empty).
    discovery
        The discovery cohort id.
    """
    if sources:
        return {
            "cohorts": list(sources),
            "per_fold": False,
            "short": f"encoder pretrained once on {', '.join(sources)}, shared by all folds",
            "note": "the encoder was pretrained once on the source cohorts and reused by every "
            "fold; it never saw a discovery or validation sample",
        }
    return {
        "cohorts": [discovery],
        "per_fold": True,
        "short": "no source cohort: each fold pretrains on its own training samples",
        "note": "no source cohort: pretraining uses the discovery expression alone. In "
        "cross-validation each fold pretrains on its own training samples, so no test "
        "sample's expression reaches the encoder; the final model's encoder is pretrained on "
        "the whole discovery cohort (never on validation cohorts)",
    }

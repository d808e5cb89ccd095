"""Cox fine-tuning of the survival network, from a pretrained encoder or from scratch.

The network is trained full-batch on the training samples with the Cox partial likelihood
(SGD with momentum by default: Adam's per-weight step normalisation moves the ~1,000 noise genes
as far as the few informative ones); an event-stratified share of the samples
(``validation_fraction``) is held out for early stopping: the weights of the epoch with the
lowest held-out loss are kept, and the learning rate halves when that loss stalls.

A group-lasso penalty over genes (``gene_penalty``, applied as an exact proximal step after each
update, separately on the first layer and on the optional linear skip path) switches off genes
that do not help. With ~1,000 genes and ~200 patients this is what lets the network learn at
all. The linear skip path (``architecture.linear_skip``) keeps the optimisation stable: without
it the penalty can switch every gene off in the first epochs, leaving a constant network.

Fine-tuning strategies for a pretrained encoder:

* ``full``: every layer trains from the first epoch, the encoder at ``encoder_learning_rate``;
* ``gradual``: the encoder is frozen for ``freeze_epochs`` epochs (only the Cox head and the
  skip path train), then its blocks are unfrozen one at a time from the top, every
  ``freeze_epochs`` epochs (Howard & Ruder 2018), each at ``encoder_learning_rate``.

A randomly initialised network (the no-transfer comparison) trains every layer from the first
epoch at ``learning_rate``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from omicsflow.survival.metrics import concordance_index
from omicsflow.transfer.checkpoint import (
    CHECKPOINT_INTERVAL,
    EpochCheckpoint,
    TrainingLoop,
    fingerprint,
)
from omicsflow.transfer.data import SurvivalTensors, inner_split
from omicsflow.transfer.model import SurvivalNet, cox_loss, group_lasso_prox_
from omicsflow.transfer.runtime import autocast, resolve_device, set_seed

__all__ = [
    "DEFAULT_TRAIN",
    "STRATEGIES",
    "FitResult",
    "finetune",
    "fit_final_model",
    "predict_risk",
    "pretraining_title",
    "resolve_device",
    "set_seed",
]

logger = logging.getLogger(__name__)

STRATEGIES = ("full", "gradual")

#: Defaults of the ``train`` config section (the schema holds the same values).
DEFAULT_TRAIN: dict[str, Any] = {
    "device": "auto",
    "mixed_precision": True,
    "deterministic": False,
    "architecture": {
        "widths": [16],
        "dropout": 0.2,
        "norm": "none",
        "input_dropout": 0.0,
        "linear_skip": True,
    },
    "pretrain": {
        "objective": "vime",
        "epochs": 30,
        "batch_size": 128,
        "learning_rate": 0.001,
        "mask_probability": 0.3,
        "reconstruction_weight": 2.0,
        "noise": 0.5,
    },
    "finetune": {
        "strategy": "full",
        "epochs": 500,
        "optimizer": "sgd",
        "learning_rate": 0.03,
        "encoder_learning_rate": 0.03,
        "freeze_epochs": 20,
        "weight_decay": 0.0001,
        "gene_penalty": 1.0,
        "ties": "efron",
        "patience": 100,
        "validation_fraction": 0.2,
    },
    "cv": {"folds": 5, "repeats": 3, "coxnet_l1_ratio": 0.5, "coxnet_inner_folds": 5},
}

#: Momentum of the SGD optimiser (a fixed design choice, not a config setting).
MOMENTUM = 0.9


@dataclass(frozen=True)
class FitResult:
    """A trained survival network and its training history.

    Attributes
    ----------
    model
        The network at its best epoch (eval mode).
    history
        One row per epoch: ``epoch, train_loss, val_loss, val_c_index, genes_in_use,
        learning_rate``.
    best_epoch
        Epoch whose weights were kept.
    summary
        ``held_out_c_index`` and ``genes_in_use`` at the best epoch, ``epochs_run``,
        ``strategy``, ``pretrained``.
    """

    model: SurvivalNet
    history: pd.DataFrame
    best_epoch: int
    summary: dict[str, Any] = field(default_factory=dict)


HISTORY_COLUMNS = [
    "epoch",
    "train_loss",
    "val_loss",
    "val_c_index",
    "genes_in_use",
    "learning_rate",
]


def _param_groups(
    model: SurvivalNet, options: dict[str, Any], pretrained: bool
) -> list[dict[str, Any]]:
    """One group per encoder block (index order), then the head (and linear skip path)."""
    encoder_lr = options["encoder_learning_rate"] if pretrained else options["learning_rate"]
    groups = [
        {"params": list(block.parameters()), "lr": encoder_lr, "name": f"encoder.{index}"}
        for index, block in enumerate(model.encoder.blocks)
    ]
    head = list(model.head.parameters())
    if model.skip is not None:
        head += list(model.skip.parameters())
    groups.append({"params": head, "lr": options["learning_rate"], "name": "head"})
    return groups


def _trainable_blocks(n_blocks: int, epoch: int, options: dict[str, Any], pretrained: bool) -> int:
    """How many encoder blocks (counted from the top) train in ``epoch``."""
    if not pretrained or options["strategy"] == "full":
        return n_blocks
    return min(n_blocks, (epoch - 1) // options["freeze_epochs"])


def _make_optimiser(groups: list[dict[str, Any]], options: dict[str, Any]) -> torch.optim.Optimizer:
    name = options["optimizer"]
    if name == "sgd":
        return torch.optim.SGD(groups, momentum=MOMENTUM, weight_decay=options["weight_decay"])
    if name == "adamw":
        return torch.optim.AdamW(groups, weight_decay=options["weight_decay"])
    raise ValueError(f"optimizer must be 'sgd' or 'adamw', not {name!r}")


def finetune(
    expression: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    architecture: dict[str, Any],
    options: dict[str, Any],
    seed: int,
    device: torch.device,
    encoder_state: dict[str, torch.Tensor] | None = None,
    checkpoint_dir: str | Path | None = None,
    name: str = "finetune",
    mixed_precision: bool = True,
    on_epoch_end: Callable[[int], None] | None = None,
    checkpoint_interval: float = CHECKPOINT_INTERVAL,
) -> FitResult:
    """Train a Cox network, starting from a pretrained encoder when one is given.

    Parameters
    ----------
    expression, time, event
        Training samples (preprocessed expression, samples × genes) and their outcome.
    architecture
        :class:`~omicsflow.transfer.model.Encoder` keyword arguments.
    options
        The ``train.finetune`` config section.
    seed
        Seeds the initialisation, the early-stopping split and dropout. Two calls with the
        same seed differ only in ``encoder_state``: a paired comparison.
    device
        Torch device (bf16 autocast on CUDA when ``mixed_precision``).
    encoder_state
        Pretrained encoder weights; ``None`` trains from random initialisation.
    checkpoint_dir
        Folder for the epoch checkpoint ``<name>.pt`` (resumed from if present).
    name
        Name of this fit in logs and of its checkpoint file.
    mixed_precision
        bf16 autocast on CUDA (ignored on the CPU).
    on_epoch_end
        Optional callable ``f(epoch)`` run at the end of each epoch (after its checkpoint).
    checkpoint_interval
        Seconds between epoch checkpoints (0: every epoch); the last epoch is always written.

    Returns
    -------
    FitResult
        Model (best epoch, eval mode, on ``device``), history and summary.
    """
    if options["strategy"] not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {options['strategy']!r}")
    set_seed(seed)
    data = SurvivalTensors(expression, time, event, device=device)
    train_index, held_index = inner_split(np.asarray(event), options["validation_fraction"], seed)
    train, held = data.subset(train_index), data.subset(held_index)
    held_time, held_event = held.time.cpu().numpy(), held.event.cpu().numpy()
    model = SurvivalNet(data.x.shape[1], architecture).to(device)
    pretrained = encoder_state is not None
    if pretrained:
        model.encoder.load_state_dict(encoder_state)
    groups = _param_groups(model, options, pretrained)
    optimiser = _make_optimiser(groups, options)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=max(1, options["patience"] // 3)
    )
    progress: dict[str, Any] = {"rows": [], "best_loss": float("inf"), "best_epoch": 0}
    key = fingerprint(
        name,
        architecture,
        options,
        seed,
        arrays=(
            np.asarray(expression, dtype=np.float32),
            np.asarray(time, dtype=np.float64),
            np.asarray(event, dtype=np.float64),
            *([value.cpu().numpy() for value in encoder_state.values()] if pretrained else []),
        ),
    )
    loop = TrainingLoop(
        name,
        options["epochs"],
        EpochCheckpoint(checkpoint_dir, name, key=key),
        stateful={"model": model, "optimiser": optimiser, "scheduler": scheduler},
        progress=progress,
        interval=checkpoint_interval,
    )
    n_blocks = len(model.encoder.blocks)
    gene_weights = model.gene_weights()
    ties = options["ties"]
    epoch = 0
    for epoch in range(loop.start(), options["epochs"] + 1):
        trainable = _trainable_blocks(n_blocks, epoch, options, pretrained)
        for index, block in enumerate(model.encoder.blocks):
            block.requires_grad_(index >= n_blocks - trainable)
        model.train()
        with autocast(device, enabled=mixed_precision):
            risk = model(train.x)
        loss = cox_loss(risk, train.time, train.event, ties=ties)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        # The gene penalty acts on the trainable gene-facing weights (while a gradual
        # fine-tune keeps the first block frozen, on the linear skip path alone).
        first_trainable = trainable == n_blocks
        penalised = gene_weights if first_trainable else gene_weights[1:]
        if penalised and options["gene_penalty"] > 0:
            rate = optimiser.param_groups[0 if first_trainable else -1]["lr"]
            for weight in penalised:  # each path has its own gene groups
                group_lasso_prox_([weight], rate * options["gene_penalty"])
        genes_in_use = int((torch.cat(gene_weights).detach().abs().sum(0) > 0).sum())
        model.eval()
        with torch.no_grad(), autocast(device, enabled=mixed_precision):
            held_risk = model(held.x)
        held_loss = float(cox_loss(held_risk, held.time, held.event, ties=ties))
        held_c = concordance_index(held_time, held_event, held_risk.float().cpu().numpy())
        progress["rows"].append(
            {
                "epoch": epoch,
                "train_loss": float(loss.detach()),
                "val_loss": held_loss,
                "val_c_index": held_c,
                "genes_in_use": genes_in_use,
                "learning_rate": float(optimiser.param_groups[-1]["lr"]),
            }
        )
        logger.info(
            "%s epoch %d/%d: train loss %.4f, held-out loss %.4f, held-out C %.3f, %d genes",
            name,
            epoch,
            options["epochs"],
            float(loss.detach()),
            held_loss,
            held_c,
            genes_in_use,
        )
        if held_loss < progress["best_loss"] - 1e-6:
            progress["best_loss"], progress["best_epoch"] = held_loss, epoch
            progress["best_state"] = {
                key: value.detach().cpu().clone() for key, value in model.state_dict().items()
            }
        scheduler.step(held_loss)
        stop = epoch - progress["best_epoch"] >= options["patience"]
        loop.end_epoch(epoch, finished=stop or epoch == options["epochs"])
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        if stop:
            logger.info("%s: early stop at epoch %d (best %d)", name, epoch, progress["best_epoch"])
            break
    if "best_state" in progress:
        model.load_state_dict(progress["best_state"])
    model.eval()
    history = pd.DataFrame(progress["rows"], columns=HISTORY_COLUMNS)
    best_epoch = int(progress["best_epoch"])
    best = history.loc[history["epoch"] == best_epoch]
    summary = {
        "strategy": options["strategy"] if pretrained else "random_init",
        "pretrained": pretrained,
        "epochs_run": len(history),
        "held_out_c_index": float(best["val_c_index"].iloc[0]) if len(best) else float("nan"),
        "genes_in_use": int(best["genes_in_use"].iloc[0]) if len(best) else 0,
    }
    logger.info(
        "%s: kept epoch %d of %d (held-out C %.3f, %d genes in use), %.1f s",
        name,
        best_epoch,
        len(history),
        summary["held_out_c_index"],
        summary["genes_in_use"],
        loop.elapsed(),
    )
    return FitResult(model=model, history=history, best_epoch=best_epoch, summary=summary)


def predict_risk(
    model: SurvivalNet, expression: np.ndarray, *, device: torch.device | None = None
) -> np.ndarray:
    """Log-risk of each sample (higher = earlier event), in float64."""
    device = device or next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(expression, dtype=np.float32), device=device)
        return model(x).float().cpu().numpy().astype(np.float64)


def fit_final_model(
    expression: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    options: dict[str, Any],
    seed: int,
    encoder_state: dict[str, torch.Tensor] | None,
    pretrained_on: list[str],
    checkpoint_dir: str | Path | None = None,
) -> tuple[FitResult, dict[str, Any]]:
    """Fine-tune the final network on the whole discovery cohort and summarise it.

    Parameters
    ----------
    expression, time, event
        Preprocessed discovery expression and its outcome.
    options
        The ``train`` config section.
    seed
        Random seed.
    encoder_state
        Pretrained encoder weights (``None``: random initialisation).
    pretrained_on
        Cohorts the encoder was pretrained on (recorded in the metrics).
    checkpoint_dir
        Folder for the epoch checkpoint.

    Returns
    -------
    tuple
        ``(FitResult with the model on the CPU, metrics dict for metrics.json)``.
    """
    device = resolve_device(options["device"])
    set_seed(seed, deterministic=options["deterministic"])
    result = finetune(
        expression,
        time,
        event,
        architecture=options["architecture"],
        options=options["finetune"],
        seed=seed,
        device=device,
        encoder_state=encoder_state,
        checkpoint_dir=checkpoint_dir,
        name="finetune",
        mixed_precision=options["mixed_precision"],
    )
    result.model.cpu()
    risk = predict_risk(result.model, expression)
    metrics = {
        "device": str(device),
        "n": len(time),
        "events": int(np.sum(event)),
        "n_genes": int(expression.shape[1]),
        "pretrained_on": list(pretrained_on),
        "best_epoch": int(result.best_epoch),
        "apparent_c_index": concordance_index(time, event, risk),
        **result.summary,
        "seed": int(seed),
    }
    return result, metrics


def pretraining_title(pretrained_on: list[str], discovery: str) -> str:
    """One line saying what the final model's encoder was pretrained on."""
    if list(pretrained_on) == [discovery]:
        return (
            "Final model: encoder pretrained on the discovery expression alone (no source cohort)"
        )
    return f"Final model: encoder pretrained on {', '.join(pretrained_on)}"

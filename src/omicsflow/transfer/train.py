"""Pretraining (denoising autoencoder) and Cox fine-tuning loops."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from omicsflow.survival.metrics import concordance_index
from omicsflow.transfer.data import SurvivalTensors, inner_split
from omicsflow.transfer.model import Autoencoder, Encoder, SurvivalNet, cox_loss

__all__ = [
    "DEFAULT_TRAIN",
    "FitResult",
    "finetune",
    "fit_final_model",
    "predict_risk",
    "pretrain",
    "resolve_device",
    "set_seed",
]

logger = logging.getLogger(__name__)

DEFAULT_TRAIN: dict[str, Any] = {
    "device": "auto",
    "architecture": {"widths": [64, 16], "dropout": 0.2, "norm": "layer"},
    "pretrain": {"epochs": 20, "batch_size": 128, "learning_rate": 1e-3, "noise": 0.2},
    "finetune": {
        "epochs": 100,
        "learning_rate": 1e-3,
        "encoder_learning_rate": 1e-4,
        "weight_decay": 1e-4,
        "patience": 15,
        "validation_fraction": 0.2,
    },
}


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); optionally force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may use the legacy global state
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; any other value is used as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class FitResult:
    """A trained survival network and its training history.

    Attributes
    ----------
    model
        The network at its best epoch (eval mode).
    history
        One row per epoch: ``epoch, train_loss, val_loss, val_c_index``.
    best_epoch
        Epoch whose weights were kept.
    """

    model: SurvivalNet
    history: pd.DataFrame
    best_epoch: int
    summary: dict[str, Any] = field(default_factory=dict)


def pretrain(
    expression: np.ndarray,
    *,
    architecture: dict[str, Any],
    options: dict[str, Any],
    seed: int,
    device: torch.device,
) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Pretrain an encoder as a denoising autoencoder on unlabelled expression.

    Parameters
    ----------
    expression
        samples × genes (preprocessed, complete).
    architecture
        :class:`~omicsflow.transfer.model.Encoder` keyword arguments.
    options
        ``epochs``, ``batch_size``, ``learning_rate``, ``noise`` (Gaussian noise SD).
    seed
        Random seed.
    device
        Torch device.

    Returns
    -------
    tuple
        ``(encoder state dict on CPU, history with epoch and reconstruction loss)``.
    """
    set_seed(seed)
    data = SurvivalTensors(expression, device=device)
    model = Autoencoder(Encoder(data.x.shape[1], **architecture), data.x.shape[1]).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=options["learning_rate"])
    generator = torch.Generator(device="cpu").manual_seed(seed)
    rows = []
    for epoch in range(1, options["epochs"] + 1):
        model.train()
        permutation = torch.randperm(len(data), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(data), options["batch_size"]):
            batch = data.x[permutation[start : start + options["batch_size"]]]
            noisy = batch + options["noise"] * torch.randn_like(batch)
            loss = torch.nn.functional.mse_loss(model(noisy), batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss) * batch.shape[0]
        rows.append({"epoch": epoch, "reconstruction_loss": total / len(data)})
        logger.info(
            "pretrain epoch %d/%d: reconstruction loss %.4f",
            epoch,
            options["epochs"],
            rows[-1]["reconstruction_loss"],
        )
    state = {key: value.detach().cpu() for key, value in model.encoder.state_dict().items()}
    return state, pd.DataFrame(rows)


def predict_risk(
    model: SurvivalNet, expression: np.ndarray, *, device: torch.device | None = None
) -> np.ndarray:
    """Log-risk of each sample (higher = earlier event)."""
    device = device or next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        x = torch.as_tensor(np.asarray(expression, dtype=np.float32), device=device)
        return model(x).float().cpu().numpy().astype(np.float64)


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
) -> FitResult:
    """Train a Cox network, starting from a pretrained encoder when one is given.

    The encoder (if pretrained) learns at ``encoder_learning_rate``, the head at
    ``learning_rate``. Full-batch Adam; the weights of the epoch with the best Cox loss on an
    event-stratified held-out split (``validation_fraction``) are kept; training stops after
    ``patience`` epochs without improvement.

    Returns
    -------
    FitResult
        Model, history and best epoch.
    """
    set_seed(seed)
    data = SurvivalTensors(expression, time, event, device=device)
    train_index, held_index = inner_split(np.asarray(event), options["validation_fraction"], seed)
    train, held = data.subset(train_index), data.subset(held_index)
    model = SurvivalNet(data.x.shape[1], architecture).to(device)
    encoder_lr = options["learning_rate"]
    if encoder_state is not None:
        model.encoder.load_state_dict(encoder_state)
        encoder_lr = options["encoder_learning_rate"]
    optimiser = torch.optim.Adam(
        [
            {"params": model.encoder.parameters(), "lr": encoder_lr},
            {"params": model.head.parameters(), "lr": options["learning_rate"]},
        ],
        weight_decay=options["weight_decay"],
    )
    best_loss, best_epoch, best_state, rows = np.inf, 0, None, []
    for epoch in range(1, options["epochs"] + 1):
        model.train()
        loss = cox_loss(model(train.x), train.time, train.event)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        model.eval()
        with torch.no_grad():
            held_risk = model(held.x)
            held_loss = float(cox_loss(held_risk, held.time, held.event))
        held_c = concordance_index(
            held.time.cpu().numpy(), held.event.cpu().numpy(), held_risk.cpu().numpy()
        )
        rows.append(
            {
                "epoch": epoch,
                "train_loss": float(loss.detach()),
                "val_loss": held_loss,
                "val_c_index": held_c,
            }
        )
        logger.info(
            "finetune epoch %d/%d: train loss %.4f, held-out loss %.4f, C %.3f",
            epoch,
            options["epochs"],
            float(loss),
            held_loss,
            held_c,
        )
        if held_loss < best_loss - 1e-6:
            best_loss, best_epoch = held_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= options["patience"]:
            logger.info("early stop at epoch %d (best %d)", epoch, best_epoch)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model=model, history=pd.DataFrame(rows), best_epoch=best_epoch)


def fit_final_model(
    expression: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    *,
    options: dict[str, Any],
    seed: int,
    encoder_state: dict[str, torch.Tensor] | None,
    pretrained_on: list[str],
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

    Returns
    -------
    tuple
        ``(FitResult, metrics dict for metrics.json)``.
    """
    device = resolve_device(options["device"])
    result = finetune(
        expression,
        time,
        event,
        architecture=options["architecture"],
        options=options["finetune"],
        seed=seed,
        device=device,
        encoder_state=encoder_state,
    )
    risk = predict_risk(result.model, expression)
    best = result.history.loc[result.history["epoch"] == result.best_epoch]
    metrics = {
        "device": str(device),
        "n": len(time),
        "events": int(np.sum(event)),
        "n_genes": int(expression.shape[1]),
        "pretrained_on": list(pretrained_on),
        "best_epoch": int(result.best_epoch),
        "epochs_run": len(result.history),
        "apparent_c_index": concordance_index(time, event, risk),
        "held_out_c_index": float(best["val_c_index"].iloc[0]) if len(best) else float("nan"),
        "seed": int(seed),
    }
    result.model.cpu()
    return result, metrics

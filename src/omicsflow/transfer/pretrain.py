"""Self-supervised pretraining of the encoder on unlabelled expression.

Two objectives:

* ``vime`` (Yoon et al., NeurIPS 2020): each gene of a sample is masked with probability
  ``mask_probability`` and replaced by the same gene of another sample of the batch (so the
  corrupted value is plausible); the encoder must let two heads predict which genes were masked
  (binary cross-entropy) and the original values (mean squared error, weighted by
  ``reconstruction_weight``).
* ``denoising``: Gaussian noise of SD ``noise`` is added and the clean input reconstructed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from omicsflow.transfer.checkpoint import (
    CHECKPOINT_INTERVAL,
    EpochCheckpoint,
    TrainingLoop,
    fingerprint,
)
from omicsflow.transfer.data import minibatches
from omicsflow.transfer.model import DenoisingAutoencoder, Encoder, VimeNet, encoder_options
from omicsflow.transfer.runtime import autocast, set_seed

__all__ = ["OBJECTIVES", "pretrain", "vime_corrupt"]

logger = logging.getLogger(__name__)

OBJECTIVES = ("vime", "denoising")


def vime_corrupt(batch: torch.Tensor, probability: float) -> tuple[torch.Tensor, torch.Tensor]:
    """VIME corruption: mask genes at random, fill them from other samples of the batch.

    Parameters
    ----------
    batch
        samples × genes.
    probability
        Chance that each entry is masked.

    Returns
    -------
    tuple of torch.Tensor
        ``(corrupted batch, mask)`` where ``mask`` is 1.0 where a value was replaced.
    """
    mask = (torch.rand_like(batch) < probability).to(batch.dtype)
    # Each masked entry takes the same gene's value in a random sample of the batch, so every
    # gene keeps its own marginal distribution (VIME permutes columns; drawing rows with
    # replacement gives the same marginals without a per-column sort).
    donors = torch.randint(0, batch.shape[0], batch.shape, device=batch.device)
    shuffled = torch.gather(batch, 0, donors)
    return batch * (1.0 - mask) + shuffled * mask, mask


def _pretrain_loss(
    model: torch.nn.Module,
    batch: torch.Tensor,
    objective: str,
    options: dict[str, Any],
    mixed_precision: bool,
) -> tuple[torch.Tensor, dict[str, float]]:
    if objective == "vime":
        corrupted, mask = vime_corrupt(batch, options["mask_probability"])
        with autocast(batch.device, enabled=mixed_precision):
            reconstruction, mask_logits = model(corrupted)
        feature_loss = torch.nn.functional.mse_loss(reconstruction.float(), batch)
        mask_loss = torch.nn.functional.binary_cross_entropy_with_logits(mask_logits.float(), mask)
        loss = mask_loss + options["reconstruction_weight"] * feature_loss
        return loss, {
            "reconstruction_loss": float(feature_loss.detach()),
            "mask_loss": float(mask_loss.detach()),
        }
    noisy = batch + options["noise"] * torch.randn_like(batch)
    with autocast(batch.device, enabled=mixed_precision):
        reconstruction = model(noisy)
    loss = torch.nn.functional.mse_loss(reconstruction.float(), batch)
    return loss, {"reconstruction_loss": float(loss.detach()), "mask_loss": float("nan")}


def pretrain(
    expression: np.ndarray,
    *,
    architecture: dict[str, Any],
    options: dict[str, Any],
    seed: int,
    device: torch.device,
    checkpoint_dir: str | Path | None = None,
    mixed_precision: bool = True,
    on_epoch_end: Callable[[int], None] | None = None,
    checkpoint_interval: float = CHECKPOINT_INTERVAL,
) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Pretrain an encoder on unlabelled expression (minibatch Adam).

    Parameters
    ----------
    expression
        samples × genes (preprocessed, complete).
    architecture
        :class:`~omicsflow.transfer.model.Encoder` keyword arguments.
    options
        The ``train.pretrain`` config section: ``objective`` (``vime`` or ``denoising``),
        ``epochs``, ``batch_size``, ``learning_rate``, ``mask_probability``,
        ``reconstruction_weight``, ``noise``.
    seed
        Random seed.
    device
        Torch device.
    checkpoint_dir
        Folder for the epoch checkpoint (resumed from if present); ``None``: no checkpoint.
    mixed_precision
        bf16 autocast on CUDA (ignored on the CPU).
    on_epoch_end
        Optional callable ``f(epoch)`` run at the end of each epoch (after its checkpoint).
    checkpoint_interval
        Seconds between epoch checkpoints (0: every epoch); the last epoch is always written.

    Returns
    -------
    tuple
        ``(encoder state dict on CPU, history: epoch, loss, reconstruction_loss, mask_loss)``.
    """
    objective = options["objective"]
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
    set_seed(seed)
    host = torch.from_numpy(np.ascontiguousarray(expression, dtype=np.float32))
    if device.type == "cuda":
        host = host.pin_memory()
    n_samples, n_genes = host.shape
    encoder = Encoder(n_genes, **encoder_options(architecture))
    network = VimeNet if objective == "vime" else DenoisingAutoencoder
    model = network(encoder, n_genes).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=options["learning_rate"])
    generator = torch.Generator(device="cpu").manual_seed(seed)
    progress: dict[str, Any] = {"rows": []}
    key = fingerprint("pretrain", architecture, options, seed, arrays=(host.numpy(),))
    loop = TrainingLoop(
        "pretrain",
        options["epochs"],
        EpochCheckpoint(checkpoint_dir, "pretrain", key=key),
        stateful={"model": model, "optimiser": optimiser},
        progress=progress,
        generator=generator,
        interval=checkpoint_interval,
    )
    logger.info(
        "pretraining (%s) on %d samples × %d genes, %d epochs, on %s",
        objective,
        n_samples,
        n_genes,
        options["epochs"],
        device,
    )
    for epoch in range(loop.start(), options["epochs"] + 1):
        model.train()
        totals = {"loss": 0.0, "reconstruction_loss": 0.0, "mask_loss": 0.0}
        for batch in minibatches(host, options["batch_size"], generator, device=device):
            loss, parts = _pretrain_loss(model, batch, objective, options, mixed_precision)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            size = batch.shape[0]
            totals["loss"] += float(loss.detach()) * size
            for name, value in parts.items():
                totals[name] += value * size
        row = {"epoch": epoch, **{name: value / n_samples for name, value in totals.items()}}
        progress["rows"].append(row)
        logger.info(
            "pretrain epoch %d/%d: loss %.4f (reconstruction %.4f, mask %.4f), %.1f s",
            epoch,
            options["epochs"],
            row["loss"],
            row["reconstruction_loss"],
            row["mask_loss"],
            loop.elapsed(),
        )
        loop.end_epoch(epoch, finished=epoch == options["epochs"])
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    state = {key: value.detach().cpu() for key, value in model.encoder.state_dict().items()}
    history = pd.DataFrame(
        progress["rows"],
        columns=["epoch", "loss", "reconstruction_loss", "mask_loss"],
    )
    return state, history

"""Saving and loading trained models: tensors and plain dicts only, ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from omicsflow.errors import InputError, first_items
from omicsflow.io import atomic_path
from omicsflow.transfer.model import SurvivalNet

__all__ = ["load_encoder", "load_model", "save_encoder", "save_model"]

FORMAT = "omicsflow.survivalnet/1"


def save_model(
    path: str | Path, model: SurvivalNet, *, architecture: dict[str, Any], genes: list[str]
) -> None:
    """Write a model with the architecture and gene list needed to rebuild and check it.

    Parameters
    ----------
    path
        Destination (``.pt``), written atomically.
    model
        The trained network.
    architecture
        :class:`~omicsflow.transfer.model.Encoder` keyword arguments.
    genes
        Input genes, in column order.
    """
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "state_dict": state,
        "architecture": dict(architecture),
        "genes": list(genes),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(
    path: str | Path, *, genes: list[str] | None = None
) -> tuple[SurvivalNet, list[str]]:
    """Load a model saved by :func:`save_model` (``weights_only=True``).

    Parameters
    ----------
    path
        The ``.pt`` file.
    genes
        If given, the genes the caller will feed, in order; they must equal the model's.

    Returns
    -------
    tuple
        ``(model in eval mode on CPU, its gene list)``.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        raise InputError(
            "not an omicsflow model file",
            file=str(path),
            seen=repr(payload.get("format")),
            expected=FORMAT,
            fix="pass results/train/model.pt",
        )
    model_genes = list(payload["genes"])
    if genes is not None and list(genes) != model_genes:
        missing = [gene for gene in model_genes if gene not in set(genes)]
        raise InputError(
            "the input genes do not match the model's genes",
            file=str(path),
            seen=f"{len(genes)} genes given, {len(model_genes)} expected; missing "
            f"{first_items(missing)}"
            if missing
            else "same genes in a different order",
            fix="apply the discovery-fitted preprocessing, which aligns genes to the model",
        )
    model = SurvivalNet(len(model_genes), payload["architecture"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, model_genes


ENCODER_FORMAT = "omicsflow.encoder/1"


def save_encoder(
    path: str | Path,
    state: dict[str, torch.Tensor],
    *,
    architecture: dict[str, Any],
    genes: list[str],
    pretrained_on: list[str],
) -> None:
    """Write a pretrained encoder's weights with its architecture, genes and source cohorts."""
    payload = {
        "format": ENCODER_FORMAT,
        "state_dict": state,
        "architecture": dict(architecture),
        "genes": list(genes),
        "pretrained_on": list(pretrained_on),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_encoder(path: str | Path, *, genes: list[str]) -> tuple[dict[str, torch.Tensor], dict]:
    """Load a pretrained encoder (``weights_only=True``) and check its genes.

    Returns
    -------
    tuple
        ``(state dict, {"architecture": ..., "pretrained_on": [...]})``.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != ENCODER_FORMAT:
        raise InputError(
            "not an omicsflow encoder file",
            file=str(path),
            seen=repr(payload.get("format")),
            expected=ENCODER_FORMAT,
            fix="pass results/train/encoder.pt",
        )
    if list(payload["genes"]) != list(genes):
        raise InputError(
            "the encoder was pretrained on other genes",
            file=str(path),
            seen=f"{len(payload['genes'])} encoder genes vs {len(genes)} given",
            fix="rerun train_pretrain after preprocessing changed",
        )
    return payload["state_dict"], {
        "architecture": payload["architecture"],
        "pretrained_on": payload["pretrained_on"],
    }

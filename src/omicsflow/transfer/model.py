"""Networks and the Cox partial-likelihood loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["Autoencoder", "Encoder", "SurvivalNet", "cox_loss"]


class Encoder(nn.Module):
    """An MLP from genes to a low-dimensional representation.

    Parameters
    ----------
    n_genes
        Input width.
    widths
        Hidden layer widths; the last is the representation size.
    dropout
        Dropout after each hidden layer.
    norm
        ``"layer"``, ``"batch"`` or ``"none"``: normalisation after each linear layer.
    """

    def __init__(
        self, n_genes: int, widths: list[int], dropout: float = 0.1, norm: str = "layer"
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = n_genes
        for width in widths:
            layers.append(nn.Linear(previous, width))
            if norm == "layer":
                layers.append(nn.LayerNorm(width))
            elif norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif norm != "none":
                raise ValueError(f"norm must be 'layer', 'batch' or 'none', not {norm!r}")
            layers.extend([nn.ReLU(), nn.Dropout(dropout)])
            previous = width
        self.layers = nn.Sequential(*layers)
        self.out_features = previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of samples × genes."""
        return self.layers(x)


class Autoencoder(nn.Module):
    """Encoder plus a linear decoder back to the genes (for pretraining)."""

    def __init__(self, encoder: Encoder, n_genes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = nn.Linear(encoder.out_features, n_genes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct the input."""
        return self.decoder(self.encoder(x))


class SurvivalNet(nn.Module):
    """Encoder plus a linear Cox head giving one log-risk per sample.

    Parameters
    ----------
    n_genes
        Input width.
    architecture
        Keyword arguments of :class:`Encoder` (``widths``, ``dropout``, ``norm``).
    """

    def __init__(self, n_genes: int, architecture: dict[str, Any]) -> None:
        super().__init__()
        self.encoder = Encoder(n_genes, **architecture)
        self.head = nn.Linear(self.encoder.out_features, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-risk per sample (higher = earlier event)."""
        return self.head(self.encoder(x)).squeeze(-1)


def cox_loss(risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative Cox partial log-likelihood (Breslow ties), divided by the number of events.

    Parameters
    ----------
    risk
        Log-risk per sample.
    time, event
        Survival outcome (event 1/0).

    Returns
    -------
    torch.Tensor
        Scalar loss; zero when the batch has no event.
    """
    order = torch.argsort(time, descending=True, stable=True)
    risk, time, event = risk[order], time[order], event[order].to(risk.dtype)
    log_cumsum = torch.logcumsumexp(risk, dim=0)
    # With tied times every member of the tie belongs to each other's risk set (Breslow):
    # use the cumulative sum at the last position of each tie group.
    _, inverse, counts = torch.unique_consecutive(time, return_inverse=True, return_counts=True)
    last = torch.cumsum(counts, dim=0) - 1
    log_risk_set = log_cumsum[last[inverse]]
    n_events = event.sum()
    if n_events == 0:
        return risk.sum() * 0.0
    return -((risk - log_risk_set) * event).sum() / n_events

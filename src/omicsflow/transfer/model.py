"""Networks, the Cox partial-likelihood loss and the gene-sparsity penalty."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = [
    "NORMS",
    "DenoisingAutoencoder",
    "Encoder",
    "SurvivalNet",
    "VimeNet",
    "cox_loss",
    "encoder_options",
    "group_lasso_penalty",
    "group_lasso_prox_",
]

NORMS = ("layer", "batch", "none")


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
        ``"layer"``, ``"batch"`` or ``"none"``: normalisation after each linear layer. With a
        gene-sparsity penalty on the first layer use ``"none"``: a normalisation right after
        the first layer undoes the penalty's shrinkage.
    input_dropout
        Dropout on the genes themselves (each gene zeroed with this probability in training).
    """

    def __init__(
        self,
        n_genes: int,
        widths: list[int],
        dropout: float = 0.1,
        norm: str = "layer",
        input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
        self.input_dropout = nn.Dropout(input_dropout)
        blocks: list[nn.Module] = []
        previous = n_genes
        for width in widths:
            layers: list[nn.Module] = [nn.Linear(previous, width)]
            if norm == "layer":
                layers.append(nn.LayerNorm(width))
            elif norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            layers.extend([nn.ReLU(), nn.Dropout(dropout)])
            blocks.append(nn.Sequential(*layers))
            previous = width
        self.blocks = nn.ModuleList(blocks)
        self.out_features = previous

    @property
    def first_linear(self) -> nn.Linear:
        """The gene-facing linear layer (one weight column per gene)."""
        return self.blocks[0][0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of samples × genes."""
        x = self.input_dropout(x)
        for block in self.blocks:
            x = block(x)
        return x


def encoder_options(architecture: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Encoder` keyword arguments of an architecture dict (without ``linear_skip``)."""
    return {key: value for key, value in architecture.items() if key != "linear_skip"}


class DenoisingAutoencoder(nn.Module):
    """Encoder plus a linear decoder back to the genes (denoising-autoencoder pretraining)."""

    def __init__(self, encoder: Encoder, n_genes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = nn.Linear(encoder.out_features, n_genes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct the (clean) input from a corrupted one."""
        return self.decoder(self.encoder(x))


class VimeNet(nn.Module):
    """Encoder with VIME's two pretext heads: feature reconstruction and mask estimation.

    Yoon et al. (NeurIPS 2020): features are masked (replaced by values drawn from other
    samples) and the network predicts both the original features and which ones were masked.
    """

    def __init__(self, encoder: Encoder, n_genes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.feature_decoder = nn.Linear(encoder.out_features, n_genes)
        self.mask_estimator = nn.Linear(encoder.out_features, n_genes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstructed features, mask logits)``."""
        hidden = self.encoder(x)
        return self.feature_decoder(hidden), self.mask_estimator(hidden)


class SurvivalNet(nn.Module):
    """Encoder plus a linear Cox head giving one log-risk per sample.

    Parameters
    ----------
    n_genes
        Input width.
    architecture
        Keyword arguments of :class:`Encoder` (``widths``, ``dropout``, ``norm``,
        ``input_dropout``), plus ``linear_skip`` (default ``False``): add a linear path from
        the genes straight to the log-risk (LassoNet-style, Lemhadri et al. 2021), so the model
        is a linear Cox model plus a non-linear correction. The skip weights start at zero.
    """

    def __init__(self, n_genes: int, architecture: dict[str, Any]) -> None:
        super().__init__()
        self.encoder = Encoder(n_genes, **encoder_options(architecture))
        self.head = nn.Linear(self.encoder.out_features, 1, bias=False)
        self.skip = None
        if architecture.get("linear_skip", False):
            self.skip = nn.Linear(n_genes, 1, bias=False)
            nn.init.zeros_(self.skip.weight)

    def gene_weights(self) -> list[torch.Tensor]:
        """The weights acting directly on the genes (one column per gene): the gene groups."""
        weights = [self.encoder.first_linear.weight]
        if self.skip is not None:
            weights.append(self.skip.weight)
        return weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-risk per sample (higher = earlier event)."""
        risk = self.head(self.encoder(x)).squeeze(-1)
        if self.skip is not None:
            risk = risk + self.skip(x).squeeze(-1)
        return risk


def cox_loss(
    risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor, *, ties: str = "efron"
) -> torch.Tensor:
    """Negative Cox partial log-likelihood, divided by the number of events.

    Parameters
    ----------
    risk
        Log-risk per sample (computed in at least float32 whatever its dtype).
    time, event
        Survival outcome (event 1/0).
    ties
        ``"efron"`` (as lifelines and R's ``coxph``) or ``"breslow"`` handling of tied event
        times. Without ties both give the same value.

    Returns
    -------
    torch.Tensor
        Scalar loss; zero (with a gradient) when the batch has no event.
    """
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    if risk.dtype in (torch.float16, torch.bfloat16):
        risk = risk.float()
    order = torch.argsort(time, descending=True, stable=True)
    risk, time, event = risk[order], time[order], event[order].to(risk.dtype)
    n_events = event.sum()
    if n_events == 0:
        return risk.sum() * 0.0
    log_cumsum = torch.logcumsumexp(risk, dim=0)
    # Tied times share one risk set: everyone whose time is >= t, i.e. up to the last member
    # of the tie group in descending order.
    _, inverse, counts = torch.unique_consecutive(time, return_inverse=True, return_counts=True)
    last = torch.cumsum(counts, dim=0) - 1
    log_risk_set = log_cumsum[last[inverse]]
    is_event = event > 0
    if ties == "breslow":
        return -(risk - log_risk_set)[is_event].sum() / n_events
    # Efron: the l-th of d tied events (l = 0..d-1) sees the risk set minus l/d of the tied
    # events' total risk.
    n_groups = counts.numel()
    deaths = torch.zeros(n_groups, dtype=risk.dtype, device=risk.device).index_add_(
        0, inverse, event
    )
    masked = torch.where(is_event, risk, torch.full_like(risk, -torch.inf))
    group_max = torch.full((n_groups,), -torch.inf, dtype=risk.dtype, device=risk.device)
    group_max = group_max.scatter_reduce(0, inverse, masked.detach(), reduce="amax")
    shift = torch.where(torch.isfinite(group_max), group_max, torch.zeros_like(group_max))
    tied_sum = torch.zeros(n_groups, dtype=risk.dtype, device=risk.device).index_add_(
        0, inverse, torch.exp(masked - shift[inverse])
    )
    log_tied = torch.log(torch.where(deaths > 0, tied_sum, torch.ones_like(tied_sum))) + shift
    events_before = torch.cumsum(event, dim=0) - event
    first = last - counts + 1
    rank_in_group = events_before - events_before[first[inverse]]
    fraction = (rank_in_group / deaths[inverse].clamp_min(1.0))[is_event]
    log_set = log_risk_set[is_event]
    ratio = torch.exp(log_tied[inverse][is_event] - log_set)
    log_denominator = log_set + torch.log1p(-fraction * ratio)
    return -(risk[is_event] - log_denominator).sum() / n_events


def group_lasso_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """Sum over genes of the L2 norm of each gene's weights (column ``j`` of every matrix)."""
    return torch.cat(list(weights), dim=0).norm(dim=0).sum()


@torch.no_grad()
def group_lasso_prox_(weights: list[torch.Tensor], threshold: float) -> int:
    """Proximal step of the group lasso over genes, in place.

    Gene ``j``'s group is column ``j`` of every matrix in ``weights`` (e.g. the first layer and
    the linear skip path); the group ``w`` becomes ``w * max(0, 1 - threshold / ||w||)``: genes
    whose weights are small are switched off exactly, the others shrunk (block
    soft-thresholding).

    Parameters
    ----------
    weights
        Matrices with one column per gene (``SurvivalNet.gene_weights()``).
    threshold
        ``learning rate × penalty``.

    Returns
    -------
    int
        Genes still in use (non-zero groups).
    """
    norms = torch.cat([weight.detach() for weight in weights], dim=0).norm(dim=0, keepdim=True)
    scale = torch.clamp(1.0 - threshold / norms.clamp_min(1e-12), min=0.0)
    for weight in weights:
        weight.mul_(scale)
    return int((scale > 0).sum())

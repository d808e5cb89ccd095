"""Tensors for training: expression (float32) and survival outcomes."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["SurvivalTensors", "inner_split"]


class SurvivalTensors:
    """Expression and outcome of one cohort as tensors on a device.

    Parameters
    ----------
    expression
        samples × genes, complete.
    time, event
        Survival outcome (``None`` for unlabelled data).
    device
        Torch device.
    """

    def __init__(
        self,
        expression: np.ndarray,
        time: np.ndarray | None = None,
        event: np.ndarray | None = None,
        *,
        device: torch.device | str = "cpu",
    ) -> None:
        self.x = torch.as_tensor(np.asarray(expression, dtype=np.float32), device=device)
        self.time = (
            None
            if time is None
            else torch.as_tensor(np.asarray(time, dtype=np.float32), device=device)
        )
        self.event = (
            None
            if event is None
            else torch.as_tensor(np.asarray(event, dtype=np.float32), device=device)
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: np.ndarray) -> SurvivalTensors:
        """Rows ``index`` as a new object on the same device."""
        out = SurvivalTensors.__new__(SurvivalTensors)
        rows = torch.as_tensor(index, device=self.x.device, dtype=torch.long)
        out.x = self.x[rows]
        out.time = None if self.time is None else self.time[rows]
        out.event = None if self.event is None else self.event[rows]
        return out


def inner_split(event: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into train / early-stopping sets, stratified by event.

    Parameters
    ----------
    event
        Event indicators.
    fraction
        Share of samples held out for early stopping.
    seed
        Random seed.

    Returns
    -------
    tuple of numpy.ndarray
        ``(train indices, held-out indices)``, each sorted.
    """
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for value in (0, 1):
        members = np.flatnonzero(np.asarray(event) == value)
        rng.shuffle(members)
        held.append(members[: round(fraction * members.size)])
    held_out = np.sort(np.concatenate(held))
    train = np.setdiff1d(np.arange(len(event)), held_out)
    return train, held_out

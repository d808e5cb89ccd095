"""Tensors for training, minibatches with pinned-memory transfer, and data splits."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from omicsflow.errors import InputError

__all__ = ["SurvivalTensors", "cv_splits", "fold_indices", "inner_split", "minibatches"]


def _to_device(values: np.ndarray, device: torch.device) -> torch.Tensor:
    """float32 tensor on ``device``; staged through pinned memory when it is a CUDA device."""
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


class SurvivalTensors:
    """Expression and outcome of one cohort as float32 tensors on a device.

    Parameters
    ----------
    expression
        samples × genes, complete.
    time, event
        Survival outcome (``None`` for unlabelled data).
    device
        Torch device; on CUDA the host copies go through pinned memory.
    """

    def __init__(
        self,
        expression: np.ndarray,
        time: np.ndarray | None = None,
        event: np.ndarray | None = None,
        *,
        device: torch.device | str = "cpu",
    ) -> None:
        device = torch.device(device)
        self.x = _to_device(expression, device)
        self.time = None if time is None else _to_device(time, device)
        self.event = None if event is None else _to_device(event, device)

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


def minibatches(
    expression: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    *,
    device: torch.device,
) -> Iterator[torch.Tensor]:
    """Shuffled minibatches of a host tensor, moved to ``device``.

    On CUDA the host tensor should be pinned (:meth:`torch.Tensor.pin_memory`), so each batch is
    copied asynchronously (``non_blocking``) while the previous one computes.

    Parameters
    ----------
    expression
        samples × genes on the CPU.
    batch_size
        Rows per batch (the last batch may be smaller).
    generator
        CPU generator drawing the permutation (its state is part of a resumable checkpoint).
    device
        Where the batches go.
    """
    permutation = torch.randperm(expression.shape[0], generator=generator)
    for start in range(0, expression.shape[0], batch_size):
        batch = expression[permutation[start : start + batch_size]]
        if device.type == "cuda":
            batch = batch.pin_memory().to(device, non_blocking=True)
        yield batch


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


def cv_splits(
    samples: list[str] | np.ndarray,
    event: np.ndarray,
    *,
    folds: int,
    repeats: int,
    seed: int,
    cohort: str = "",
) -> pd.DataFrame:
    """Repeated stratified K-fold assignment of samples (stratified by event).

    Parameters
    ----------
    samples
        Sample ids, in cohort order.
    event
        Event indicators (the stratification variable).
    folds, repeats
        K and the number of repetitions (each repetition is a new random partition).
    seed
        Seed of the partitions.
    cohort
        Cohort id, for error messages.

    Returns
    -------
    pandas.DataFrame
        ``repeat, fold, sample`` (1-based repeat and fold): one row per sample and repeat, the
        fold in which the sample is a test sample.
    """
    from sklearn.model_selection import RepeatedStratifiedKFold

    event = np.asarray(event).astype(int)
    smallest = int(min((event == 1).sum(), (event == 0).sum()))
    if folds < 2 or folds > smallest:
        raise InputError(
            "too many cross-validation folds for the events and censorings available",
            cohort=cohort or None,
            seen=f"folds={folds}; {int(event.sum())} events, {int((event == 0).sum())} censored",
            expected=f"2 <= folds <= {smallest}",
            fix="lower train.cv.folds in the config",
        )
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    rows = []
    samples = np.asarray(samples)
    for index, (_, test) in enumerate(splitter.split(np.zeros(event.size), event)):
        repeat, fold = divmod(index, folds)
        rows.append(
            pd.DataFrame({"repeat": repeat + 1, "fold": fold + 1, "sample": samples[np.sort(test)]})
        )
    order = {sample: i for i, sample in enumerate(samples)}
    table = pd.concat(rows, ignore_index=True)
    table["_order"] = table["sample"].map(order)
    return (
        table.sort_values(["repeat", "_order"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def fold_indices(
    splits: pd.DataFrame, samples: list[str] | np.ndarray, *, repeat: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the training and test samples of one fold.

    Parameters
    ----------
    splits
        Output of :func:`cv_splits` (or the ``cv_splits.tsv`` file).
    samples
        The cohort's sample ids, in the order of its expression matrix.
    repeat, fold
        Which fold (1-based).

    Returns
    -------
    tuple of numpy.ndarray
        ``(train indices, test indices)`` into ``samples``, each sorted.
    """
    samples = np.asarray(samples).astype(str)
    in_repeat = splits.loc[splits["repeat"] == repeat]
    if in_repeat.empty or fold not in set(in_repeat["fold"]):
        raise InputError(
            "no such cross-validation fold",
            seen=f"repeat {repeat}, fold {fold}",
            expected=f"repeats {sorted(set(splits['repeat']))}, folds "
            f"{sorted(set(splits['fold']))}",
            fix="regenerate results/train/cv_splits.tsv with the current config",
        )
    missing = set(in_repeat["sample"].astype(str)) ^ set(samples)
    if missing:
        raise InputError(
            "the cross-validation splits name other samples than the discovery cohort",
            seen=f"{len(missing)} samples differ",
            fix="regenerate results/train/cv_splits.tsv from the current discovery cohort",
        )
    test_samples = set(in_repeat.loc[in_repeat["fold"] == fold, "sample"].astype(str))
    is_test = np.array([sample in test_samples for sample in samples])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)

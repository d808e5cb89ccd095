"""Saving and loading models and epoch checkpoints: tensors and plain dicts only.

Everything here is read back with ``torch.load(..., weights_only=True)``: no pickled objects.

* :func:`save_model` / :func:`load_model`: the final network (``results/train/model.pt``).
* :func:`save_encoder` / :func:`load_encoder`: a pretrained encoder (``results/train/encoder.pt``).
* :class:`EpochCheckpoint`: the state of a training loop after each epoch (model, optimiser,
  scheduler, epoch, RNG states of torch/NumPy/Python, history), written atomically to a folder
  outside the rule's declared outputs so that a preempted and restarted job resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from omicsflow.errors import ConfigError, InputError, first_items
from omicsflow.io import atomic_path
from omicsflow.transfer.model import SurvivalNet

__all__ = [
    "CHECKPOINT_INTERVAL",
    "EPOCH_DELAY_VARIABLE",
    "EpochCheckpoint",
    "TrainingLoop",
    "capture_rng",
    "clear_checkpoints",
    "epoch_delay",
    "fingerprint",
    "load_encoder",
    "load_model",
    "restore_rng",
    "save_encoder",
    "save_model",
]

logger = logging.getLogger(__name__)

FORMAT = "omicsflow.survivalnet/1"
ENCODER_FORMAT = "omicsflow.encoder/1"
CHECKPOINT_FORMAT = "omicsflow.epoch-checkpoint/1"


def save_atomic(payload: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically, with reproducible bytes.

    The payload goes through an open handle: torch then names the archive's inner folder
    ``archive`` instead of after the (random) temporary file, so the same tensors always give
    the same file.
    """
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        torch.save(payload, handle)


def save_model(
    path: str | Path,
    model: SurvivalNet,
    *,
    architecture: dict[str, Any],
    genes: list[str],
    info: dict[str, Any] | None = None,
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
    info
        Optional plain-dict facts stored alongside (e.g. ``pretrained_on``, ``best_epoch``).
    """
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "state_dict": state,
        "architecture": dict(architecture),
        "genes": list(genes),
        "info": dict(info or {}),
    }
    save_atomic(payload, path)


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
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise InputError(
            "the model's weights do not fit its recorded architecture",
            file=str(path),
            seen=str(exc).splitlines()[0],
            fix="retrain: rerun train_finetune",
        ) from exc
    model.eval()
    return model, model_genes


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
        "state_dict": {key: value.detach().cpu() for key, value in state.items()},
        "architecture": dict(architecture),
        "genes": list(genes),
        "pretrained_on": list(pretrained_on),
    }
    save_atomic(payload, path)


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


# ---------------------------------------------------------------- epoch checkpoints
def capture_rng(generator: torch.Generator | None = None) -> dict[str, Any]:
    """RNG states of torch (CPU and every CUDA device), NumPy's global state and Python's.

    Parameters
    ----------
    generator
        An extra CPU generator owned by the training loop (batch order), saved too.

    Returns
    -------
    dict
        Tensors and plain values only.
    """
    kind, keys, position, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    version, python_state, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "state": list(python_state), "gauss": gauss},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Put back the RNG states saved by :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["state"]), python_state["gauss"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


def fingerprint(*parts: Any, arrays: tuple[np.ndarray, ...] = ()) -> str:
    """A short hash of settings (JSON-able parts) and data arrays.

    An epoch checkpoint records it, so a checkpoint left by a run with other settings or other
    data is never resumed.
    """
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8"))
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(str(contiguous.dtype).encode() + str(contiguous.shape).encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()[:16]


class EpochCheckpoint:
    """The resumable state of one training loop, in ``folder/name.pt``.

    Parameters
    ----------
    folder
        A folder outside the rule's declared outputs, e.g.
        ``results/.checkpoints/<rule>/<wildcards>``; ``None`` disables checkpointing.
    name
        The loop's name within the job (e.g. ``pretrain``, ``finetune_pretrained``).
    key
        :func:`fingerprint` of the settings and data; a stored checkpoint with another key is
        ignored (with a warning) and overwritten.
    """

    def __init__(self, folder: str | Path | None, name: str, *, key: str) -> None:
        self.path = None if folder is None else Path(folder) / f"{name}.pt"
        self.key = key

    def load(self) -> dict[str, Any] | None:
        """The stored state, or ``None`` when there is none (or it belongs to another run)."""
        if self.path is None or not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated file cannot happen (atomic), but be safe
            logger.warning("ignoring unreadable checkpoint %s: %s", self.path, exc)
            return None
        if payload.get("format") != CHECKPOINT_FORMAT or payload.get("key") != self.key:
            logger.warning(
                "ignoring checkpoint %s: it was written with other settings or data", self.path
            )
            return None
        return payload["state"]

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` (tensors and plain values) atomically; no-op when disabled."""
        if self.path is None:
            return
        save_atomic({"format": CHECKPOINT_FORMAT, "key": self.key, "state": state}, self.path)


def clear_checkpoints(folder: str | Path | None) -> None:
    """Remove a job's checkpoint folder (call once its final outputs are written)."""
    if folder is None:
        return
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
        logger.info("removed epoch checkpoints %s", folder)


EPOCH_DELAY_VARIABLE = "OMICSFLOW_EPOCH_DELAY"

#: Seconds between two epoch checkpoints of a loop (the last epoch is always written; with
#: ``$OMICSFLOW_EPOCH_DELAY`` set, every epoch is). Writing one per epoch would cost more than
#: the epoch itself for the small networks of expression cohorts.
CHECKPOINT_INTERVAL = 20.0


def epoch_delay() -> float:
    """Seconds to pause after every training epoch, from ``$OMICSFLOW_EPOCH_DELAY`` (default 0).

    Not a scientific setting (the results are unchanged), so it is not in the config: it makes
    training on the toy data slow enough to cancel a job mid-run in a preemption drill.
    """
    value = os.environ.get(EPOCH_DELAY_VARIABLE, "").strip()
    if not value:
        return 0.0
    try:
        delay = float(value)
    except ValueError as exc:
        raise ConfigError(
            f"${EPOCH_DELAY_VARIABLE} is not a number of seconds",
            seen=repr(value),
            expected="a non-negative number, e.g. 0.5",
            fix=f"unset {EPOCH_DELAY_VARIABLE} or set it to seconds per epoch",
        ) from exc
    if delay < 0 or not np.isfinite(delay):
        raise ConfigError(
            f"${EPOCH_DELAY_VARIABLE} must be a non-negative number of seconds",
            seen=repr(value),
            fix=f"unset {EPOCH_DELAY_VARIABLE} or set it to seconds per epoch",
        )
    return delay


class TrainingLoop:
    """Epoch bookkeeping shared by pretraining and fine-tuning: resume, checkpoint, pause.

    Parameters
    ----------
    phase
        Name used in log lines (``pretrain``, ``finetune``...).
    epochs
        Planned number of epochs.
    checkpoint
        Where the loop's state goes after each epoch.
    stateful
        Objects with ``state_dict``/``load_state_dict`` (model, optimiser, scheduler).
    progress
        The loop's own plain-dict state (history rows, best epoch...); updated in place on
        resume and saved with every checkpoint.
    generator
        The loop's CPU generator, if any (saved with the RNG states).
    interval
        Seconds between checkpoints (0: after every epoch). The last epoch is always written,
        and every epoch is when ``$OMICSFLOW_EPOCH_DELAY`` is set.

    Notes
    -----
    On resume it logs ``resuming from epoch K of N (checkpoint PATH)``; operators and the
    SLURM failure drill look for that exact wording.
    """

    def __init__(
        self,
        phase: str,
        epochs: int,
        checkpoint: EpochCheckpoint,
        *,
        stateful: dict[str, Any],
        progress: dict[str, Any],
        generator: torch.Generator | None = None,
        interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        self.phase = phase
        self.epochs = epochs
        self.checkpoint = checkpoint
        self.stateful = stateful
        self.progress = progress
        self.generator = generator
        self.delay = epoch_delay()
        self.interval = 0.0 if self.delay else interval
        self._started = 0.0
        self._last_save = 0.0

    def start(self) -> int:
        """Restore the last checkpoint if there is one; return the first epoch to run."""
        if self.delay:
            logger.info(
                "%s: pausing %.2f s after each epoch (%s)",
                self.phase,
                self.delay,
                EPOCH_DELAY_VARIABLE,
            )
        saved = self.checkpoint.load()
        self._started = self._last_save = time.perf_counter()
        if saved is None:
            return 1
        for name, obj in self.stateful.items():
            obj.load_state_dict(saved["stateful"][name])
        self.progress.clear()
        self.progress.update(saved["progress"])
        restore_rng(saved["rng"], self.generator)
        epoch = int(saved["epoch"])
        if self.progress.get("finished"):
            logger.info(
                "%s already finished at epoch %d of %d (checkpoint %s)",
                self.phase,
                epoch,
                self.epochs,
                self.checkpoint.path,
            )
            return self.epochs + 1
        logger.info(
            "resuming from epoch %d of %d (checkpoint %s)", epoch, self.epochs, self.checkpoint.path
        )
        return epoch + 1

    def end_epoch(self, epoch: int, *, finished: bool = False) -> None:
        """Checkpoint a completed epoch when due (always the last one); pause if asked to."""
        if finished:
            self.progress["finished"] = True
        now = time.perf_counter()
        if not finished and now - self._last_save < self.interval:
            return
        self._last_save = now
        self.checkpoint.save(
            {
                "epoch": epoch,
                "stateful": {name: obj.state_dict() for name, obj in self.stateful.items()},
                "progress": self.progress,
                "rng": capture_rng(self.generator),
            }
        )
        if self.delay and not finished:
            time.sleep(self.delay)

    def elapsed(self) -> float:
        """Seconds since :meth:`start`."""
        return time.perf_counter() - self._started

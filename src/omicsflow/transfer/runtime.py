"""Device choice, seeding and mixed precision: the one place that knows about CUDA."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["autocast", "resolve_device", "set_seed"]


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); optionally force deterministic kernels.

    Parameters
    ----------
    seed
        The seed.
    deterministic
        Also call ``torch.use_deterministic_algorithms(True)`` (an error is raised by any
        operation without a deterministic implementation) and, on CUDA, fix the cuBLAS
        workspace and turn off cuDNN autotuning. CPU training in this package is deterministic
        for a fixed number of threads either way.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may use the legacy global state
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; any other value is used as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def autocast(device: torch.device, *, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA (when ``enabled``); a no-op on the CPU."""
    if device.type == "cuda" and enabled:
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield

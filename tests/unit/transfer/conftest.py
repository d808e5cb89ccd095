"""Fixtures shared by the transfer tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from omicsflow.transfer.runtime import set_seed


@pytest.fixture
def restore_determinism(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo, after the test, what ``set_seed(..., deterministic=True)`` switches on globally."""
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # restored (removed) afterwards
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(before[0])
    torch.backends.cudnn.benchmark = before[1]


@pytest.fixture(params=[False, True], ids=["default-mode", "deterministic-mode"])
def torch_mode(request: pytest.FixtureRequest, restore_determinism: None) -> bool:
    """Run the test as is and again with deterministic algorithms on (via ``set_seed``)."""
    set_seed(0, deterministic=request.param)
    assert torch.are_deterministic_algorithms_enabled() is request.param
    return request.param

"""The CUDA path: bf16 autocast, pinned-memory transfers, same answers as the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omicsflow.survival.metrics import concordance_index
from omicsflow.transfer.data import SurvivalTensors, minibatches
from omicsflow.transfer.pretrain import pretrain
from omicsflow.transfer.runtime import resolve_device
from omicsflow.transfer.train import DEFAULT_TRAIN, finetune, predict_risk

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def planted(n, rng):
    x = rng.normal(size=(n, 200)).astype(np.float32)
    time = rng.exponential(np.exp(-1.2 * x[:, 0] + 0.8 * x[:, 1]))
    return x, time, (rng.uniform(size=n) < 0.8).astype(float)


def test_auto_device_is_cuda_and_data_moves_through_pinned_memory():
    assert resolve_device("auto").type == "cuda"
    data = SurvivalTensors(np.ones((5, 3)), np.arange(5.0), np.ones(5), device="cuda")
    assert data.x.is_cuda and data.x.dtype == torch.float32
    host = torch.arange(20.0).reshape(10, 2).pin_memory()
    batches = list(
        minibatches(host, 4, torch.Generator().manual_seed(0), device=torch.device("cuda"))
    )
    assert all(batch.is_cuda for batch in batches)
    assert sorted(torch.cat(batches)[:, 0].cpu().tolist()) == list(range(0, 20, 2))


def test_cuda_training_with_bf16_matches_the_cpu_in_quality():
    rng = np.random.default_rng(0)
    x, time, event = planted(400, rng)
    test_x, test_time, test_event = planted(400, rng)
    encoder, history = pretrain(
        x,
        architecture=DEFAULT_TRAIN["architecture"],
        options={**DEFAULT_TRAIN["pretrain"], "epochs": 3},
        seed=1,
        device=torch.device("cuda"),
    )
    assert np.isfinite(history["loss"]).all()
    scores = {}
    for device in ("cpu", "cuda"):
        result = finetune(
            x,
            time,
            event,
            architecture=DEFAULT_TRAIN["architecture"],
            options={**DEFAULT_TRAIN["finetune"], "epochs": 150},
            seed=1,
            device=torch.device(device),
            encoder_state=encoder,
            mixed_precision=True,
        )
        assert next(result.model.parameters()).device.type == device
        risk = predict_risk(result.model, test_x)
        scores[device] = concordance_index(test_time, test_event, risk)
    assert scores["cuda"] > 0.7
    assert abs(scores["cuda"] - scores["cpu"]) < 0.03, scores

"""Pretraining objectives: VIME corruption, and encoders that learn planted gene modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression

from omicsflow.transfer.model import Encoder
from omicsflow.transfer.pretrain import pretrain, vime_corrupt
from omicsflow.transfer.train import DEFAULT_TRAIN

ARCH = {"widths": [8], "dropout": 0.0, "norm": "none", "input_dropout": 0.0}


def test_vime_corruption_masks_and_keeps_gene_marginals():
    torch.manual_seed(0)
    batch = torch.arange(64 * 50, dtype=torch.float32).reshape(64, 50)  # unique values
    corrupted, mask = vime_corrupt(batch, 0.3)
    assert 0.27 < float(mask.mean()) < 0.33
    kept = mask == 0
    assert torch.equal(corrupted[kept], batch[kept])
    # A masked entry holds a value of the same gene (column) from some sample of the batch.
    for row, column in mask.nonzero()[:200].tolist():
        assert corrupted[row, column] in batch[:, column]
    assert float((corrupted != batch).float().mean()) > 0.25


def modular_expression(n, rng):
    """Three latent factors, 20 genes each, plus 20 noise genes (z-scored scale)."""
    factors = rng.normal(size=(n, 3))
    genes = np.repeat(factors, 20, axis=1) * 0.8 + 0.6 * rng.normal(size=(n, 60))
    noise = rng.normal(size=(n, 20))
    return np.hstack([genes, noise]).astype(np.float32), factors


def representation_r2(state, x, factors):
    encoder = Encoder(x.shape[1], **ARCH)
    if state is not None:
        encoder.load_state_dict(state)
    encoder.eval()
    with torch.no_grad():
        hidden = encoder(torch.as_tensor(x)).numpy()
    return LinearRegression().fit(hidden, factors).score(hidden, factors)


@pytest.mark.parametrize("objective", ["vime", "denoising"])
def test_pretraining_learns_the_planted_modules(objective):
    rng = np.random.default_rng(0)
    x, _ = modular_expression(600, rng)
    test_x, test_factors = modular_expression(300, rng)
    options = {**DEFAULT_TRAIN["pretrain"], "objective": objective, "epochs": 40, "batch_size": 64}
    state, history = pretrain(
        x, architecture=ARCH, options=options, seed=1, device=torch.device("cpu")
    )
    assert list(history.columns) == ["epoch", "loss", "reconstruction_loss", "mask_loss"]
    assert history["loss"].iloc[-1] < 0.8 * history["loss"].iloc[0]
    assert history["mask_loss"].notna().all() == (objective == "vime")
    torch.manual_seed(1)
    random_r2 = representation_r2(None, test_x, test_factors)
    learned_r2 = representation_r2(state, test_x, test_factors)
    assert learned_r2 > 0.85, learned_r2
    assert learned_r2 > random_r2 + 0.2, (learned_r2, random_r2)


def test_unknown_objective_is_rejected():
    options = {**DEFAULT_TRAIN["pretrain"], "objective": "contrastive"}
    with pytest.raises(ValueError, match="objective must be one of"):
        pretrain(
            np.zeros((4, 3)), architecture=ARCH, options=options, seed=1, device=torch.device("cpu")
        )

"""Cox loss against lifelines; training step; model save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter
from scipy import stats

from omicsflow.errors import InputError
from omicsflow.transfer.checkpoint import load_model, save_model
from omicsflow.transfer.model import SurvivalNet, cox_loss
from omicsflow.transfer.train import finetune, predict_risk

ARCH = {"widths": [8, 4], "dropout": 0.0, "norm": "layer"}


def test_cox_loss_equals_lifelines_partial_likelihood():
    rng = np.random.default_rng(1)
    n = 80
    x = rng.normal(size=(n, 2))
    time = rng.exponential(5, n)  # distinct times: Breslow = Efron
    event = (rng.uniform(size=n) < 0.7).astype(float)
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(t=time, e=event)
    fitted = CoxPHFitter().fit(frame, "t", "e")
    risk = torch.tensor(x @ fitted.params_.to_numpy())
    loss = cox_loss(risk, torch.tensor(time), torch.tensor(event))
    assert float(loss) == pytest.approx(-fitted.log_likelihood_ / event.sum(), rel=1e-9)


def test_cox_loss_handles_ties_breslow():
    time = torch.tensor([1.0, 2.0, 2.0, 3.0])
    event = torch.tensor([1.0, 1.0, 1.0, 0.0])
    risk = torch.tensor([0.1, 0.5, -0.2, 0.3])
    # Breslow: each tied event's risk set is everyone with time >= 2.
    e = torch.exp(risk)
    expected = (
        -(
            (risk[0] - torch.log(e.sum()))
            + (risk[1] - torch.log(e[1:].sum()))
            + (risk[2] - torch.log(e[1:].sum()))
        )
        / 3
    )
    assert float(cox_loss(risk, time, event)) == pytest.approx(float(expected), rel=1e-12)


def test_one_step_lowers_the_loss():
    torch.manual_seed(0)
    x = torch.randn(64, 10)
    time = torch.rand(64) * 10
    event = (torch.rand(64) < 0.7).float()
    model = SurvivalNet(10, ARCH)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    before = cox_loss(model(x), time, event)
    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        assert float(cox_loss(model(x), time, event)) < float(before.detach())


def test_save_load_roundtrip_and_gene_check(tmp_path):
    torch.manual_seed(0)
    model = SurvivalNet(5, ARCH).eval()
    genes = [f"g{i}" for i in range(5)]
    save_model(tmp_path / "model.pt", model, architecture=ARCH, genes=genes)
    loaded, loaded_genes = load_model(tmp_path / "model.pt", genes=genes)
    x = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_array_equal(predict_risk(model, x), predict_risk(loaded, x))
    assert loaded_genes == genes
    with pytest.raises(InputError, match="do not match the model's genes") as info:
        load_model(tmp_path / "model.pt", genes=[*genes[:4], "other"])
    assert "'g4'" in str(info.value)


def test_finetune_learns_a_planted_signal():
    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=(n, 20))
    time = rng.exponential(np.exp(-1.2 * x[:, 0]))
    event = np.ones(n)
    options = {
        "epochs": 150,
        "learning_rate": 0.01,
        "encoder_learning_rate": 0.01,
        "weight_decay": 0.0,
        "patience": 150,
        "validation_fraction": 0.2,
    }
    result = finetune(
        x, time, event, architecture=ARCH, options=options, seed=1, device=torch.device("cpu")
    )
    risk = predict_risk(result.model, x)
    assert stats.spearmanr(risk, x[:, 0]).statistic > 0.7
    assert result.history["val_c_index"].max() > 0.7

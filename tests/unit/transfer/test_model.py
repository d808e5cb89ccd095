"""Cox loss against lifelines and direct formulas; training step; gene penalty; save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines import CoxPHFitter
from scipy import stats

from omicsflow.errors import InputError
from omicsflow.transfer.checkpoint import load_model, save_model
from omicsflow.transfer.model import (
    Encoder,
    SurvivalNet,
    cox_loss,
    group_lasso_penalty,
    group_lasso_prox_,
)
from omicsflow.transfer.train import DEFAULT_TRAIN, finetune, predict_risk

ARCH = {"widths": [8, 4], "dropout": 0.0, "norm": "layer"}


def direct_cox_nll(risk, time, event, ties):
    """Negative partial log-likelihood per event by the textbook formula, one time at a time."""
    risk, time, event = map(np.asarray, (risk, time, event))
    total = 0.0
    for t in np.unique(time[event == 1]):
        dying = (time == t) & (event == 1)
        at_risk = time >= t
        d = dying.sum()
        risk_set = np.exp(risk[at_risk]).sum()
        tied = np.exp(risk[dying]).sum()
        total += risk[dying].sum()
        for ell in range(d):
            fraction = ell / d if ties == "efron" else 0.0
            total -= np.log(risk_set - fraction * tied)
    return -total / event.sum()


def lifelines_fit(x, time, event):
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(t=time, e=event)
    fitted = CoxPHFitter().fit(frame, "t", "e")
    return fitted, x @ fitted.params_.to_numpy()


def test_cox_loss_equals_lifelines_partial_likelihood_distinct_times():
    rng = np.random.default_rng(1)
    n = 80
    x = rng.normal(size=(n, 2))
    time = rng.exponential(5, n)  # distinct times: Breslow = Efron
    event = (rng.uniform(size=n) < 0.7).astype(float)
    fitted, risk = lifelines_fit(x, time, event)
    for ties in ("efron", "breslow"):
        loss = cox_loss(torch.tensor(risk), torch.tensor(time), torch.tensor(event), ties=ties)
        assert float(loss) == pytest.approx(-fitted.log_likelihood_ / event.sum(), rel=1e-9)


def test_cox_loss_efron_equals_lifelines_with_heavy_ties():
    rng = np.random.default_rng(2)
    n = 150
    x = rng.normal(size=(n, 3))
    time = np.round(rng.exponential(4, n))  # ~15 distinct times: many ties
    event = (rng.uniform(size=n) < 0.6).astype(float)
    assert np.unique(time).size < 30
    fitted, risk = lifelines_fit(x, time, event)  # lifelines uses Efron's method
    loss = cox_loss(torch.tensor(risk), torch.tensor(time), torch.tensor(event), ties="efron")
    assert float(loss) == pytest.approx(-fitted.log_likelihood_ / event.sum(), rel=1e-9)
    breslow = cox_loss(torch.tensor(risk), torch.tensor(time), torch.tensor(event), ties="breslow")
    assert float(breslow) > float(loss) + 1e-3  # Breslow's denominator is never smaller


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_loss_matches_the_direct_formula_with_ties(ties, survival_data):
    time, event, x = survival_data
    risk = x @ np.array([0.7, -0.3, 0.1])
    expected = direct_cox_nll(risk, time, event, ties)
    loss = cox_loss(torch.tensor(risk), torch.tensor(time), torch.tensor(event * 1.0), ties=ties)
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_cox_loss_gradient_matches_finite_differences_efron(survival_data):
    time, event, x = survival_data
    risk = torch.tensor(x @ np.array([0.5, 0.2, -0.4]), requires_grad=True)
    t, e = torch.tensor(time), torch.tensor(event * 1.0)
    cox_loss(risk, t, e).backward()
    base = risk.detach().numpy()
    for i in (0, 7, 42):
        step = np.zeros_like(base)
        step[i] = 1e-6
        numeric = (
            direct_cox_nll(base + step, time, event, "efron")
            - direct_cox_nll(base - step, time, event, "efron")
        ) / 2e-6
        assert float(risk.grad[i]) == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_cox_loss_edge_cases():
    risk = torch.tensor([0.1, 0.2], requires_grad=True)
    no_events = cox_loss(risk, torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]))
    assert float(no_events.detach()) == 0.0
    no_events.backward()
    assert torch.equal(risk.grad, torch.zeros(2))
    bf16 = cox_loss(risk.detach().bfloat16(), torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
    assert bf16.dtype == torch.float32
    with pytest.raises(ValueError, match="ties must be 'efron' or 'breslow'"):
        cox_loss(risk, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]), ties="exact")


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


def test_group_lasso_prox_is_block_soft_thresholding():
    layer = torch.nn.Linear(3, 2, bias=False)
    skip = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.1, 0.0], [4.0, 0.1, 0.0]]))
        skip.weight.copy_(torch.tensor([[0.0, 0.0, 2.0]]))
    weights = [layer.weight, skip.weight]
    penalty = float(group_lasso_penalty(weights).detach())
    assert penalty == pytest.approx(5.0 + np.sqrt(0.02) + 2.0)
    in_use = group_lasso_prox_(weights, 1.0)
    # Gene 0: norm 5 -> scaled by 0.8; gene 1: norm 0.14 < 1 -> off; gene 2 (skip only): 0.5.
    assert torch.allclose(layer.weight, torch.tensor([[2.4, 0.0, 0.0], [3.2, 0.0, 0.0]]))
    assert torch.allclose(skip.weight, torch.tensor([[0.0, 0.0, 1.0]]))
    assert in_use == 2


def test_linear_skip_path_starts_at_zero_and_round_trips(tmp_path):
    torch.manual_seed(0)
    architecture = {**ARCH, "linear_skip": True}
    model = SurvivalNet(5, architecture)
    plain = SurvivalNet(5, ARCH)
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k != "skip.weight"})
    x = torch.randn(4, 5)
    assert torch.equal(model(x), plain(x))  # zero skip: same function as without it
    assert len(model.gene_weights()) == 2 and len(plain.gene_weights()) == 1
    with torch.no_grad():
        model.skip.weight.fill_(0.5)
    genes = list("abcde")
    save_model(tmp_path / "m.pt", model, architecture=architecture, genes=genes)
    loaded, _ = load_model(tmp_path / "m.pt", genes=genes)
    assert torch.equal(loaded.skip.weight, model.skip.weight)
    np.testing.assert_array_equal(predict_risk(model, x.numpy()), predict_risk(loaded, x.numpy()))


def test_encoder_options():
    encoder = Encoder(10, [6, 3], dropout=0.0, norm="batch", input_dropout=0.5)
    assert encoder.out_features == 3 and encoder.first_linear.in_features == 10
    assert isinstance(encoder.blocks[0][1], torch.nn.BatchNorm1d)
    encoder.train()
    torch.manual_seed(0)
    x = torch.ones(200, 10)
    dropped = encoder.input_dropout(x)
    assert 0.4 < float((dropped == 0).float().mean()) < 0.6
    with pytest.raises(ValueError, match="norm must be one of"):
        Encoder(10, [4], norm="group")


def test_save_load_roundtrip_and_gene_check(tmp_path):
    torch.manual_seed(0)
    model = SurvivalNet(5, ARCH).eval()
    genes = [f"g{i}" for i in range(5)]
    save_model(tmp_path / "model.pt", model, architecture=ARCH, genes=genes, info={"a": 1})
    loaded, loaded_genes = load_model(tmp_path / "model.pt", genes=genes)
    x = np.random.default_rng(0).normal(size=(7, 5))
    np.testing.assert_array_equal(predict_risk(model, x), predict_risk(loaded, x))
    assert loaded_genes == genes
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert payload["info"] == {"a": 1} and payload["architecture"] == ARCH
    with pytest.raises(InputError, match="do not match the model's genes") as info:
        load_model(tmp_path / "model.pt", genes=[*genes[:4], "other"])
    assert "'g4'" in str(info.value)
    with pytest.raises(InputError, match="same genes in a different order"):
        load_model(tmp_path / "model.pt", genes=genes[::-1])


def test_load_rejects_weights_that_do_not_fit_the_architecture(tmp_path):
    model = SurvivalNet(5, ARCH)
    save_model(
        tmp_path / "model.pt", model, architecture={**ARCH, "widths": [8, 3]}, genes=list("abcde")
    )
    with pytest.raises(InputError, match="do not fit its recorded architecture"):
        load_model(tmp_path / "model.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not an omicsflow model file"):
        load_model(tmp_path / "other.pt")


def test_finetune_learns_a_planted_signal_and_selects_its_genes():
    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=(n, 60))
    time = rng.exponential(np.exp(-1.2 * x[:, 0] + 0.8 * x[:, 1]))
    event = (rng.uniform(size=n) < 0.8).astype(float)
    options = {**DEFAULT_TRAIN["finetune"], "epochs": 200, "patience": 200}
    result = finetune(
        x,
        time,
        event,
        architecture=DEFAULT_TRAIN["architecture"],
        options=options,
        seed=1,
        device=torch.device("cpu"),
    )
    risk = predict_risk(result.model, x)
    assert stats.spearmanr(risk, 1.2 * x[:, 0] - 0.8 * x[:, 1]).statistic > 0.8
    assert result.history["val_c_index"].max() > 0.7
    # The gene penalty switches most noise genes off but keeps the two planted ones.
    weights = torch.cat(result.model.gene_weights()).detach().norm(dim=0).numpy()
    assert weights[0] > 0 and weights[1] > 0
    assert result.summary["genes_in_use"] < 30
    assert set(np.argsort(-weights)[:2]) == {0, 1}

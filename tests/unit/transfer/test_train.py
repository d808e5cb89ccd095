"""Fine-tuning: strategies (what trains when, at which rate), early stopping, determinism."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from lifelines.utils import concordance_index as lifelines_concordance

from omicsflow.transfer import train as train_module
from omicsflow.transfer.data import inner_split
from omicsflow.transfer.model import Encoder
from omicsflow.transfer.pretrain import pretrain
from omicsflow.transfer.runtime import set_seed
from omicsflow.transfer.train import (
    DEFAULT_TRAIN,
    finetune,
    fit_final_model,
    predict_risk,
    pretraining_title,
)

CPU = torch.device("cpu")
ARCH = {
    "widths": [12, 6],
    "dropout": 0.1,
    "norm": "none",
    "input_dropout": 0.0,
    "linear_skip": True,
}


@pytest.fixture
def cohort():
    rng = np.random.default_rng(4)
    n = 80
    x = rng.normal(size=(n, 40)).astype(np.float32)
    time = rng.exponential(np.exp(-0.8 * x[:, 0]))  # continuous: no tied times
    event = (rng.uniform(size=n) < 0.8).astype(float)
    return x, time, event


@pytest.fixture
def encoder_state():
    """A 'pretrained' encoder for ARCH on 40 genes (any weights other than a fresh init)."""
    torch.manual_seed(21)
    return {
        key: value + 0.05 * torch.randn_like(value)
        for key, value in Encoder(40, **{k: v for k, v in ARCH.items() if k != "linear_skip"})
        .state_dict()
        .items()
    }


class Spy:
    """Records the network and optimiser ``finetune`` builds, and the weights after each epoch.

    ``snapshots[0]`` holds the weights the optimiser starts from (pretrained encoder loaded),
    ``snapshots[k]`` those at the end of epoch ``k`` (before any best-epoch restore).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.models: list[torch.nn.Module] = []
        self.groups: list[dict] = []
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        spy = self

        class RecordingNet(train_module.SurvivalNet):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                spy.models.append(self)

        real_make = train_module._make_optimiser

        def make_optimiser(groups, options):
            optimiser = real_make(groups, options)
            spy.groups = [
                {"name": g["name"], "lr": g["lr"], "params": list(g["params"])}
                for g in optimiser.param_groups
            ]
            spy.snapshots[0] = spy.weights()
            return optimiser

        monkeypatch.setattr(train_module, "SurvivalNet", RecordingNet)
        monkeypatch.setattr(train_module, "_make_optimiser", make_optimiser)

    @property
    def model(self) -> torch.nn.Module:
        return self.models[-1]

    def weights(self) -> dict[str, torch.Tensor]:
        return {key: value.detach().clone() for key, value in self.model.named_parameters()}

    def on_epoch_end(self, epoch: int) -> None:
        self.snapshots[epoch] = self.weights()

    def same(self, prefix: str, first: int, second: int) -> bool:
        """Whether every parameter under ``prefix`` is identical at the two epochs."""
        keys = [key for key in self.snapshots[first] if key.startswith(prefix)]
        assert keys, prefix
        return all(torch.equal(self.snapshots[first][k], self.snapshots[second][k]) for k in keys)


def test_gradual_keeps_the_encoder_frozen_then_unfreezes_blocks_from_the_top(
    cohort, encoder_state, monkeypatch
):
    x, time, event = cohort
    spy = Spy(monkeypatch)
    options = {
        **DEFAULT_TRAIN["finetune"],
        "strategy": "gradual",
        "epochs": 9,
        "patience": 9,
        "freeze_epochs": 3,
        "learning_rate": 0.02,
        "encoder_learning_rate": 0.005,
    }
    finetune(
        x,
        time,
        event,
        architecture=ARCH,
        options=options,
        seed=1,
        device=CPU,
        encoder_state=encoder_state,
        on_epoch_end=spy.on_epoch_end,
    )
    # The optimiser starts from the pretrained weights.
    for key, value in encoder_state.items():
        assert torch.equal(spy.snapshots[0][f"encoder.{key}"], value), key
    # Epochs 1-3: the whole encoder frozen; the head trains from the first epoch.
    for epoch in (1, 2, 3):
        assert spy.same("encoder.blocks.0.", 0, epoch), epoch
        assert spy.same("encoder.blocks.1.", 0, epoch), epoch
        assert not spy.same("head.", epoch - 1, epoch), epoch
    # Epochs 4-6: the top block (next to the head) trains, the gene-facing block stays frozen.
    for epoch in (4, 5, 6):
        assert not spy.same("encoder.blocks.1.", epoch - 1, epoch), epoch
        assert spy.same("encoder.blocks.0.", 0, epoch), epoch
    # From epoch 7 every block trains.
    for epoch in (7, 8, 9):
        assert not spy.same("encoder.blocks.0.", epoch - 1, epoch), epoch
        assert not spy.same("encoder.blocks.1.", epoch - 1, epoch), epoch
    # Unfrozen blocks train at the encoder learning rate, the head at the learning rate.
    assert [(g["name"], g["lr"]) for g in spy.groups] == [
        ("encoder.0", 0.005),
        ("encoder.1", 0.005),
        ("head", 0.02),
    ]


def test_gradual_without_a_pretrained_encoder_trains_everything_from_the_start(cohort, monkeypatch):
    x, time, event = cohort
    spy = Spy(monkeypatch)
    options = {
        **DEFAULT_TRAIN["finetune"],
        "strategy": "gradual",
        "epochs": 2,
        "patience": 2,
        "freeze_epochs": 5,
        "learning_rate": 0.02,
        "encoder_learning_rate": 0.005,
    }
    result = finetune(
        x,
        time,
        event,
        architecture=ARCH,
        options=options,
        seed=1,
        device=CPU,
        on_epoch_end=spy.on_epoch_end,
    )
    assert not spy.same("encoder.blocks.0.", 0, 1)
    assert not spy.same("encoder.blocks.1.", 0, 1)
    assert {g["lr"] for g in spy.groups} == {0.02}  # random init: no separate encoder rate
    assert result.summary["strategy"] == "random_init"


def test_full_puts_the_encoder_in_groups_at_the_encoder_learning_rate(
    cohort, encoder_state, monkeypatch
):
    x, time, event = cohort
    spy = Spy(monkeypatch)
    options = {
        **DEFAULT_TRAIN["finetune"],
        "strategy": "full",
        "epochs": 2,
        "patience": 2,
        "learning_rate": 0.02,
        "encoder_learning_rate": 0.004,
    }
    kwargs = dict(architecture=ARCH, seed=1, device=CPU, encoder_state=encoder_state)
    finetune(x, time, event, options=options, on_epoch_end=spy.on_epoch_end, **kwargs)
    model = spy.model
    assert [(g["name"], g["lr"]) for g in spy.groups] == [
        ("encoder.0", 0.004),
        ("encoder.1", 0.004),
        ("head", 0.02),
    ]
    as_ids = lambda params: {id(p) for p in params}  # noqa: E731
    for index, block in enumerate(model.encoder.blocks):
        assert as_ids(spy.groups[index]["params"]) == as_ids(block.parameters())
    assert as_ids(spy.groups[2]["params"]) == as_ids(
        [*model.head.parameters(), *model.skip.parameters()]
    )
    # Every layer trains from the first epoch.
    for prefix in ("encoder.blocks.0.", "encoder.blocks.1.", "head."):
        assert not spy.same(prefix, 0, 1), prefix


def test_full_encoder_steps_scale_with_the_encoder_learning_rate(
    cohort, encoder_state, monkeypatch
):
    """First SGD step: delta = -lr * (grad + weight_decay * w), so it is linear in the rate."""
    x, time, event = cohort
    base = {
        **DEFAULT_TRAIN["finetune"],
        "strategy": "full",
        "epochs": 1,
        "patience": 1,
        "learning_rate": 0.02,
        "gene_penalty": 0.0,  # its proximal step is not linear in the rate
    }
    kwargs = dict(architecture=ARCH, seed=1, device=CPU, encoder_state=encoder_state)
    deltas = {}
    for rate in (0.0, 0.004, 0.008):
        spy = Spy(monkeypatch)
        options = {**base, "encoder_learning_rate": rate}
        finetune(x, time, event, options=options, on_epoch_end=spy.on_epoch_end, **kwargs)
        deltas[rate] = {
            key: spy.snapshots[1][key] - spy.snapshots[0][key] for key in spy.snapshots[0]
        }
    encoder_keys = [key for key in deltas[0.0] if key.startswith("encoder.")]
    head_keys = [key for key in deltas[0.0] if not key.startswith("encoder.")]
    assert len(encoder_keys) == 4 and head_keys
    for key in encoder_keys:
        assert torch.count_nonzero(deltas[0.0][key]) == 0, key  # rate 0: the encoder stays put
        assert torch.count_nonzero(deltas[0.004][key]) > 0, key
        # float32 weights: each delta carries a rounding error of ~1e-8 (weights of ~0.1).
        error = (deltas[0.008][key] - 2 * deltas[0.004][key]).norm() / deltas[0.004][key].norm()
        assert error < 1e-3, (key, float(error))
    for key in head_keys:  # the head's rate is unchanged: same step in all three runs
        assert torch.count_nonzero(deltas[0.004][key]) > 0, key
        torch.testing.assert_close(deltas[0.0][key], deltas[0.004][key])
        torch.testing.assert_close(deltas[0.008][key], deltas[0.004][key])


def breslow_nll(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> float:
    """Negative partial log-likelihood per event, textbook formula (distinct times)."""
    total = 0.0
    for i in np.flatnonzero(event == 1):
        total += risk[i] - np.log(np.exp(risk[time >= time[i]]).sum())
    return -total / event.sum()


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(cohort, monkeypatch):
    x, time, event = cohort
    spy = Spy(monkeypatch)
    # A high learning rate on 40 noise-dominated genes: the held-out loss improves for a few
    # epochs, then the network overfits and it worsens.
    options = {
        **DEFAULT_TRAIN["finetune"],
        "epochs": 200,
        "patience": 12,
        "learning_rate": 0.1,
        "gene_penalty": 0.0,
        "validation_fraction": 0.2,
    }
    architecture = {**ARCH, "widths": [16], "dropout": 0.0}
    result = finetune(
        x,
        time,
        event,
        architecture=architecture,
        options=options,
        seed=2,
        device=CPU,
        on_epoch_end=spy.on_epoch_end,
    )
    history = result.history
    best = result.best_epoch
    assert best > 1
    # Stopped exactly `patience` epochs after the best one, long before the epoch limit.
    assert len(history) == best + options["patience"] < options["epochs"]
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))
    assert max(spy.snapshots) == len(history)
    assert result.summary["epochs_run"] == len(history)
    # The best epoch is the held-out minimum and nothing after it improved on it.
    assert history["epoch"][history["val_loss"].idxmin()] == best
    best_loss = history.loc[history["epoch"] == best, "val_loss"].item()
    assert (history.loc[history["epoch"] > best, "val_loss"] > best_loss).all()
    # The returned weights are those at the end of the best epoch, not of the last one.
    final = dict(result.model.named_parameters())
    assert final.keys() == spy.snapshots[best].keys()
    for key, value in final.items():
        assert torch.equal(value.detach(), spy.snapshots[best][key]), key
    assert not all(torch.equal(final[k].detach(), spy.snapshots[len(history)][k]) for k in final)
    # The loss being watched is the Cox loss on the inner validation split.
    _, held = inner_split(event, options["validation_fraction"], 2)
    assert len(held) == round(0.2 * (event == 1).sum()) + round(0.2 * (event == 0).sum())
    risk = predict_risk(result.model, x[held])
    assert breslow_nll(risk, time[held], event[held]) == pytest.approx(best_loss, rel=1e-5)
    assert result.summary["held_out_c_index"] == pytest.approx(
        lifelines_concordance(time[held], -risk, event[held])
    )


def stir_random_states() -> None:
    """Draw from every global RNG, as unrelated work in between two runs would."""
    random.random()
    np.random.random()  # noqa: NPY002
    torch.rand(3)


def test_a_short_run_is_reproducible_in_deterministic_mode(cohort, restore_determinism):
    x, time, event = cohort
    options = {
        **DEFAULT_TRAIN,
        "device": "cpu",
        "deterministic": True,
        "architecture": ARCH,
        "pretrain": {**DEFAULT_TRAIN["pretrain"], "epochs": 3, "batch_size": 32},
        "finetune": {
            **DEFAULT_TRAIN["finetune"],
            "strategy": "gradual",
            "epochs": 12,
            "patience": 12,
            "freeze_epochs": 3,
        },
    }

    def run(seed):
        """The two rules, each a fresh process: deterministic mode off until set_seed."""
        torch.use_deterministic_algorithms(False)
        stir_random_states()
        set_seed(seed, deterministic=options["deterministic"])  # as train_pretrain does
        encoder, _ = pretrain(
            x, architecture=ARCH, options=options["pretrain"], seed=seed, device=CPU
        )
        torch.use_deterministic_algorithms(False)
        stir_random_states()
        result, metrics = fit_final_model(
            x,
            time,
            event,
            options=options,
            seed=seed,
            encoder_state=encoder,
            pretrained_on=["disc"],
        )
        assert torch.are_deterministic_algorithms_enabled()  # the config turned it on
        return encoder, result, metrics

    (first_encoder, first, first_metrics) = run(7)
    (second_encoder, second, second_metrics) = run(7)
    for key in first_encoder:
        assert torch.equal(first_encoder[key], second_encoder[key]), key
    a, b = first.model.state_dict(), second.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert first.history.equals(second.history)
    assert first_metrics == second_metrics
    # Another seed gives other weights: the comparison above can tell runs apart.
    _, other, _ = run(8)
    assert not all(torch.equal(a[key], other.model.state_dict()[key]) for key in a)


def test_pretraining_title_says_when_there_is_no_source_cohort(tmp_path, monkeypatch):
    assert pretraining_title(["disc"], "disc") == (
        "Final model: encoder pretrained on the discovery expression alone (no source cohort)"
    )
    assert pretraining_title(["gtex", "tcga"], "disc") == (
        "Final model: encoder pretrained on gtex, tcga"
    )
    assert "no source cohort" not in pretraining_title(["gtex"], "disc")
    # The title reaches the training-curve figure of the report.
    import omicsflow.plots.train as plots

    titles = []
    real_save = plots.save_png

    def record(fig, path, **kwargs):
        titles.append(fig._suptitle.get_text())
        real_save(fig, path, **kwargs)

    monkeypatch.setattr(plots, "save_png", record)
    history = pd.DataFrame(
        {
            "epoch": [1, 2],
            "train_loss": [2.0, 1.9],
            "val_loss": [2.1, 2.0],
            "val_c_index": [0.6, 0.62],
            "genes_in_use": [40, 38],
            "learning_rate": [0.03, 0.03],
        }
    )
    plots.training_curve_plot(
        tmp_path / "curve.png", history, best_epoch=2, title=pretraining_title(["disc"], "disc")
    )
    assert titles == [
        "Final model: encoder pretrained on the discovery expression alone (no source cohort)"
    ]
    assert (tmp_path / "curve.png").stat().st_size > 0

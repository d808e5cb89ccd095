"""Preemption: interrupt after epoch k, resume, and get exactly the uninterrupted weights."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

from omicsflow.errors import ConfigError, InputError
from omicsflow.transfer.checkpoint import (
    EPOCH_DELAY_VARIABLE,
    EpochCheckpoint,
    capture_rng,
    clear_checkpoints,
    epoch_delay,
    fingerprint,
    load_encoder,
    restore_rng,
    save_encoder,
)
from omicsflow.transfer.pretrain import pretrain
from omicsflow.transfer.train import DEFAULT_TRAIN, finetune

CPU = torch.device("cpu")
ARCH = {"widths": [12, 6], "dropout": 0.3, "norm": "none", "input_dropout": 0.1}


class PreemptedError(Exception):
    pass


def stop_after(k):
    def callback(epoch):
        if epoch == k:
            raise PreemptedError(f"killed after epoch {k}")

    return callback


@pytest.fixture
def cohort():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(90, 25)).astype(np.float32)
    time = np.round(rng.exponential(np.exp(-x[:, 0])) * 10) + 1
    event = (rng.uniform(size=90) < 0.75).astype(float)
    return x, time, event


def assert_same_weights(first, second):
    a, b = first.state_dict(), second.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("strategy", ["full", "gradual"])
def test_finetune_resumes_to_exactly_the_uninterrupted_weights(
    strategy, torch_mode, cohort, tmp_path, caplog
):
    """Both strategies, with and without deterministic algorithms (``torch_mode``)."""
    x, time, event = cohort
    torch.manual_seed(5)
    encoder = {
        key: value + 0.1 * torch.randn_like(value)
        for key, value in finetune(
            x,
            time,
            event,
            architecture=ARCH,
            options={**DEFAULT_TRAIN["finetune"], "epochs": 1},
            seed=0,
            device=CPU,
        )
        .model.encoder.state_dict()
        .items()
    }
    options = {
        **DEFAULT_TRAIN["finetune"],
        "strategy": strategy,
        "epochs": 40,
        "patience": 40,
        "freeze_epochs": 8,
    }
    kwargs = dict(architecture=ARCH, options=options, seed=3, device=CPU, encoder_state=encoder)
    reference = finetune(x, time, event, **kwargs)
    folder = tmp_path / "ck"
    with pytest.raises(PreemptedError):
        finetune(
            x,
            time,
            event,
            **kwargs,
            checkpoint_dir=folder,
            checkpoint_interval=0,
            on_epoch_end=stop_after(13),
        )
    assert (folder / "finetune.pt").exists()
    draw_everywhere(torch.Generator())  # a restarted process starts with other RNG states
    with caplog.at_level(logging.INFO, logger="omicsflow"):
        resumed = finetune(x, time, event, **kwargs, checkpoint_dir=folder, checkpoint_interval=0)
    assert f"resuming from epoch 13 of 40 (checkpoint {folder / 'finetune.pt'})" in caplog.text
    assert_same_weights(reference.model, resumed.model)
    assert resumed.best_epoch == reference.best_epoch
    assert resumed.history.equals(reference.history)
    assert len(resumed.history) == 40
    # The checkpoint is tensors and plain values only.
    payload = torch.load(folder / "finetune.pt", weights_only=True)
    assert payload["state"]["progress"]["finished"] is True
    assert {"model", "optimiser", "scheduler"} <= set(payload["state"]["stateful"])
    assert {"torch", "numpy", "python", "cuda"} <= set(payload["state"]["rng"])
    assert torch.are_deterministic_algorithms_enabled() is torch_mode


def test_pretraining_resumes_to_exactly_the_uninterrupted_weights(
    torch_mode, cohort, tmp_path, caplog
):
    x, _, _ = cohort
    options = {**DEFAULT_TRAIN["pretrain"], "epochs": 6, "batch_size": 16}
    kwargs = dict(architecture=ARCH, options=options, seed=9, device=CPU)
    reference, reference_history = pretrain(x, **kwargs)
    folder = tmp_path / "ck"
    with pytest.raises(PreemptedError):
        pretrain(
            x, **kwargs, checkpoint_dir=folder, checkpoint_interval=0, on_epoch_end=stop_after(2)
        )
    torch.rand(5)
    with caplog.at_level(logging.INFO, logger="omicsflow"):
        resumed, history = pretrain(x, **kwargs, checkpoint_dir=folder, checkpoint_interval=0)
    assert "resuming from epoch 2 of 6" in caplog.text
    for key in reference:
        assert torch.equal(reference[key], resumed[key]), key
    assert history.equals(reference_history)
    assert torch.are_deterministic_algorithms_enabled() is torch_mode


def test_a_finished_checkpoint_returns_the_result_without_training(cohort, tmp_path, caplog):
    x, time, event = cohort
    options = {**DEFAULT_TRAIN["finetune"], "epochs": 15, "patience": 15}
    kwargs = dict(architecture=ARCH, options=options, seed=3, device=CPU, checkpoint_dir=tmp_path)
    first = finetune(x, time, event, **kwargs)
    with caplog.at_level(logging.INFO, logger="omicsflow"):
        again = finetune(x, time, event, **kwargs)
    assert "finetune already finished at epoch 15 of 15" in caplog.text
    assert "finetune epoch" not in caplog.text
    assert_same_weights(first.model, again.model)


def test_a_checkpoint_from_other_settings_is_ignored(cohort, tmp_path, caplog):
    x, time, event = cohort
    options = {**DEFAULT_TRAIN["finetune"], "epochs": 10, "patience": 10}
    kwargs = dict(
        architecture=ARCH, seed=3, device=CPU, checkpoint_dir=tmp_path, checkpoint_interval=0
    )
    with pytest.raises(PreemptedError):
        finetune(x, time, event, options=options, **kwargs, on_epoch_end=stop_after(4))
    changed = {**options, "learning_rate": 0.01}
    reference = finetune(x, time, event, options=changed, architecture=ARCH, seed=3, device=CPU)
    with caplog.at_level(logging.INFO, logger="omicsflow"):
        fresh = finetune(x, time, event, options=changed, **kwargs)
    assert "written with other settings or data" in caplog.text
    assert "resuming" not in caplog.text
    assert_same_weights(reference.model, fresh.model)


def draw_everywhere(generator):
    """One draw from each RNG a training loop may use (NumPy's legacy global state too)."""
    legacy = np.random.random()  # noqa: NPY002
    return random.random(), legacy, torch.rand(2), torch.rand(2, generator=generator)


def test_rng_states_round_trip():
    generator = torch.Generator().manual_seed(1)
    state = capture_rng(generator)
    first = draw_everywhere(generator)
    restore_rng(state, generator)
    second = draw_everywhere(generator)
    assert first[:2] == second[:2]
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])


def test_checkpoint_io_and_clearing(tmp_path):
    key = fingerprint({"a": 1}, arrays=(np.arange(3),))
    assert key != fingerprint({"a": 1}, arrays=(np.arange(4),))
    assert key != fingerprint({"a": 2}, arrays=(np.arange(3),))
    checkpoint = EpochCheckpoint(tmp_path / "job", "loop", key=key)
    assert checkpoint.load() is None
    checkpoint.save({"epoch": 3, "w": torch.ones(2)})
    assert checkpoint.load()["epoch"] == 3
    assert [p.name for p in (tmp_path / "job").iterdir()] == ["loop.pt"]  # no temporary left
    assert EpochCheckpoint(None, "loop", key=key).load() is None
    clear_checkpoints(tmp_path / "job")
    assert not (tmp_path / "job").exists()
    clear_checkpoints(tmp_path / "job")  # already gone: fine


def test_epoch_delay_variable(monkeypatch):
    monkeypatch.delenv(EPOCH_DELAY_VARIABLE, raising=False)
    assert epoch_delay() == 0.0
    monkeypatch.setenv(EPOCH_DELAY_VARIABLE, "0.25")
    assert epoch_delay() == 0.25
    monkeypatch.setenv(EPOCH_DELAY_VARIABLE, "slow")
    with pytest.raises(ConfigError, match="OMICSFLOW_EPOCH_DELAY is not a number"):
        epoch_delay()
    monkeypatch.setenv(EPOCH_DELAY_VARIABLE, "-1")
    with pytest.raises(ConfigError, match="must be a non-negative number"):
        epoch_delay()


def test_epoch_delay_slows_training_and_checkpoints_every_epoch(cohort, tmp_path, monkeypatch):
    x, time, event = cohort
    monkeypatch.setenv(EPOCH_DELAY_VARIABLE, "0.05")
    saved = []
    options = {**DEFAULT_TRAIN["finetune"], "epochs": 6, "patience": 6}

    def record(epoch):
        saved.append(torch.load(tmp_path / "finetune.pt", weights_only=True)["state"]["epoch"])

    import time as clock

    started = clock.perf_counter()
    finetune(
        x,
        time,
        event,
        architecture=ARCH,
        options=options,
        seed=3,
        device=CPU,
        checkpoint_dir=tmp_path,
        on_epoch_end=record,
    )
    assert clock.perf_counter() - started >= 5 * 0.05
    assert saved == [1, 2, 3, 4, 5, 6]


def test_encoder_round_trip_and_gene_check(tmp_path):
    state = {"blocks.0.0.weight": torch.ones(2, 3)}
    save_encoder(
        tmp_path / "e.pt", state, architecture=ARCH, genes=["a", "b", "c"], pretrained_on=["s"]
    )
    loaded, info = load_encoder(tmp_path / "e.pt", genes=["a", "b", "c"])
    assert torch.equal(loaded["blocks.0.0.weight"], torch.ones(2, 3))
    assert info == {"architecture": ARCH, "pretrained_on": ["s"]}
    with pytest.raises(InputError, match="pretrained on other genes"):
        load_encoder(tmp_path / "e.pt", genes=["a", "b"])
    torch.save({"format": "x"}, tmp_path / "x.pt")
    with pytest.raises(InputError, match="not an omicsflow encoder file"):
        load_encoder(tmp_path / "x.pt", genes=["a"])

"""Training throughput on a 20,000-gene input: samples per second on CPU, and GPU if present.

For pretraining (VIME, minibatches of 128) and Cox fine-tuning (full batch) it times the
package's loops (``pretrain``, ``finetune``: corruption, autocast, gene penalty, held-out
evaluation and bookkeeping included) and a bare PyTorch loop on the same network and loss, and
prints the ratio package / bare (1.0 = no overhead).

Usage: ``python bench/bench_train_speed.py [--genes 20000] [--samples 1024]``
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from omicsflow.transfer.model import Encoder, SurvivalNet, VimeNet, cox_loss, encoder_options
from omicsflow.transfer.pretrain import pretrain, vime_corrupt
from omicsflow.transfer.runtime import autocast
from omicsflow.transfer.train import DEFAULT_TRAIN, finetune, predict_risk


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_pretrain(
    x: torch.Tensor, architecture: dict, options: dict, device: torch.device
) -> float:
    """Seconds for the same VIME epochs written as a plain loop (data already on the device)."""
    n_genes = x.shape[1]
    model = VimeNet(Encoder(n_genes, **encoder_options(architecture)), n_genes).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=options["learning_rate"])
    data = x.to(device)
    _sync(device)
    started = time.perf_counter()
    for _ in range(options["epochs"]):
        for start in range(0, data.shape[0], options["batch_size"]):
            batch = data[start : start + options["batch_size"]]
            corrupted, mask = vime_corrupt(batch, options["mask_probability"])
            with autocast(device):
                reconstruction, logits = model(corrupted)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), mask)
            loss = loss + options["reconstruction_weight"] * torch.nn.functional.mse_loss(
                reconstruction.float(), batch
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    _sync(device)
    return time.perf_counter() - started


def bare_finetune(
    x: torch.Tensor, t: torch.Tensor, e: torch.Tensor, architecture: dict, epochs: int, device
) -> float:
    """Seconds for the same full-batch Cox epochs as a plain loop (no evaluation, no penalty)."""
    model = SurvivalNet(x.shape[1], architecture).to(device)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, t, e = x.to(device), t.to(device), e.to(device)
    _sync(device)
    started = time.perf_counter()
    for _ in range(epochs):
        with autocast(device):
            risk = model(x)
        loss = cox_loss(risk, t, e)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    _sync(device)
    return time.perf_counter() - started


def run(device: torch.device, n_samples: int, n_genes: int, architecture: dict) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_samples, n_genes)).astype(np.float32)
    time_ = rng.exponential(1.0, n_samples)
    event = (rng.uniform(size=n_samples) < 0.7).astype(float)
    label = f"{device.type}, widths {architecture['widths']}"
    pre = {**DEFAULT_TRAIN["pretrain"], "epochs": 3}
    warm_up = {**pre, "epochs": 1}
    pretrain(x[:256], architecture=architecture, options=warm_up, seed=0, device=device)
    _sync(device)
    started = time.perf_counter()
    pretrain(x, architecture=architecture, options=pre, seed=0, device=device)
    _sync(device)
    ours = time.perf_counter() - started
    bare = bare_pretrain(torch.from_numpy(x), architecture, pre, device)
    rate = n_samples * pre["epochs"] / ours
    print(
        f"[{label}] pretrain (VIME, batch {pre['batch_size']}): {rate:,.0f} samples/s; "
        f"bare loop {n_samples * pre['epochs'] / bare:,.0f}; package/bare time {ours / bare:.2f}"
    )
    epochs = 20
    fine = {**DEFAULT_TRAIN["finetune"], "epochs": epochs, "patience": epochs}
    started = time.perf_counter()
    result = finetune(
        x, time_, event, architecture=architecture, options=fine, seed=0, device=device
    )
    _sync(device)
    ours = time.perf_counter() - started
    n_train = n_samples - round(n_samples * fine["validation_fraction"])
    bare = bare_finetune(
        torch.from_numpy(x[:n_train]),
        torch.from_numpy(time_[:n_train]).float(),
        torch.from_numpy(event[:n_train]).float(),
        architecture,
        epochs,
        device,
    )
    print(
        f"[{label}] fine-tune (Cox, full batch of {n_train}): "
        f"{n_train * epochs / ours:,.0f} samples/s; bare loop {n_train * epochs / bare:,.0f}; "
        f"package/bare time {ours / bare:.2f} (package includes held-out C-index each epoch)"
    )
    started = time.perf_counter()
    for _ in range(5):
        predict_risk(result.model, x, device=device)
    _sync(device)
    print(f"[{label}] inference: {5 * n_samples / (time.perf_counter() - started):,.0f} samples/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=1024)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    architectures = [
        DEFAULT_TRAIN["architecture"],
        {**DEFAULT_TRAIN["architecture"], "widths": [256, 64]},
    ]
    for architecture in architectures:
        run(torch.device("cpu"), args.samples, args.genes, architecture)
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}")
        for architecture in architectures:
            run(torch.device("cuda"), args.samples, args.genes, architecture)
    else:
        print("GPU: skipped (no CUDA device)")


if __name__ == "__main__":
    main()

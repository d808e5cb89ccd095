"""Does pretraining help, and when? C-index of (a) pretrained + fine-tuned, (b) random init,
(c) elastic-net Cox, for discovery cohorts of 30, 60 and 120 patients.

Toy data whose survival is driven by shared gene modules (``ToyDesign(prognostic_modules=...)``):
the unlabelled source cohort (2,000 samples) carries the module structure, so a pretrained
encoder has something to transfer. Every model is trained on the same discovery draw with the
default ``train`` settings (DEFAULT_TRAIN) and scored on one large independent test cohort
(1,000 patients), so differences are not CV noise. Expression is z-scored with the source
cohort's gene means and SDs (label-free and disjoint from discovery and test), so the encoder is
pretrained once and every model sees the same inputs.

Usage: ``python bench/bench_train_transfer.py [--replicates 10] [--sizes 30 60 120]``
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import pandas as pd
import torch
from scipy import stats

from omicsflow.survival.metrics import concordance_index
from omicsflow.toy import ToyDesign, make_toy_cohorts
from omicsflow.transfer.baseline import PenalisedCox
from omicsflow.transfer.cv import derive_seed
from omicsflow.transfer.pretrain import pretrain
from omicsflow.transfer.train import DEFAULT_TRAIN, finetune, predict_risk

DESIGN = ToyDesign(
    n_genes=1000,
    n_source=2000,
    n_discovery=600,  # the pool the discovery cohorts are drawn from
    n_validation=1000,
    planted_log_hr=float(np.log(1.5)),
    prognostic_modules=3,
    module_log_hr=0.5,
    missing_rate=0.0,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 60, 120])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    options = DEFAULT_TRAIN
    device = torch.device("cpu")
    cohorts, _ = make_toy_cohorts(DESIGN, seed=args.seed)
    source = cohorts["source"][0].T.to_numpy()
    mean, sd = source.mean(axis=0), source.std(axis=0)

    def standardised(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        expression, clinical, _, _ = cohorts[name]
        x = ((expression.T.to_numpy() - mean) / sd).astype(np.float32)
        return x, clinical["os_months"].to_numpy(), clinical["os_event"].to_numpy()

    pool_x, pool_t, pool_e = standardised("discovery")
    test_x, test_t, test_e = standardised("validation_a")
    started = time.perf_counter()
    encoder, _ = pretrain(
        (source - mean) / sd,
        architecture=options["architecture"],
        options=options["pretrain"],
        seed=args.seed,
        device=device,
    )
    print(f"pretraining on {source.shape[0]} source samples: {time.perf_counter() - started:.1f} s")
    rows = []
    for size in args.sizes:
        for replicate in range(1, args.replicates + 1):
            seed = derive_seed(args.seed, size, replicate)
            rng = np.random.default_rng(seed)
            pick = np.sort(rng.choice(pool_x.shape[0], size, replace=False))
            x, t, e = pool_x[pick], pool_t[pick], pool_e[pick]
            scores = {}
            for name, state in (("a_pretrained", encoder), ("b_random_init", None)):
                result = finetune(
                    x,
                    t,
                    e,
                    architecture=options["architecture"],
                    options=options["finetune"],
                    seed=seed,
                    device=device,
                    encoder_state=state,
                )
                scores[name] = concordance_index(test_t, test_e, predict_risk(result.model, test_x))
            folds = min(options["cv"]["coxnet_inner_folds"], int(e.sum()), int((e == 0).sum()))
            coxnet = PenalisedCox(
                options["cv"]["coxnet_l1_ratio"], inner_folds=folds, seed=seed
            ).fit(x, t, e)
            scores["c_coxnet"] = concordance_index(test_t, test_e, coxnet.predict(test_x))
            rows.append({"n": size, "replicate": replicate, "events": int(e.sum()), **scores})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("n")[["a_pretrained", "b_random_init", "c_coxnet"]].agg(["mean", "std"])
    print("\nC-index on 1,000 independent test patients (mean, SD over replicates)")
    print(summary.round(3).to_string())
    for other in ("b_random_init", "c_coxnet"):
        difference = (table["a_pretrained"] - table[other]).groupby(table["n"])
        gain = difference.agg(["mean", "std", "count"])
        half = stats.t.ppf(0.975, gain["count"] - 1) * gain["std"] / np.sqrt(gain["count"])
        gain["ci_low"], gain["ci_high"] = gain["mean"] - half, gain["mean"] + half
        print(f"\n(a) - ({other[0]}), paired by replicate (95% t-interval over replicates)")
        print(gain.round(3).to_string())
    oracle = cohorts["validation_a"][1]
    print(f"\ntest cohort: {len(oracle)} patients, {int(oracle['os_event'].sum())} events")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Validation stage speed against reference implementations (run by hand: make bench).

1. Random-signature control, 1,000 size-matched signatures on a toy validation cohort:
   vectorised (risk states once, sums over index sets, batch C-index) vs the direct way
   (a Signature per random set through score_signature and concordance_index).
2. Uno's C and time-dependent AUC vs scikit-survival on a larger synthetic cohort.
3. Batch Harrell's C (concordance_index_many) vs concordance_index in a loop.

Every comparison also checks that both sides give the same numbers.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from sksurv.metrics import concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.util import Surv

from omicsflow.preprocess import Preprocessor
from omicsflow.survival.cutpoint import scan_cutpoints
from omicsflow.survival.metrics import (
    concordance_index,
    concordance_index_many,
    concordance_index_uno,
    time_dependent_auc,
)
from omicsflow.survival.signature import lock_signature, score_signature
from omicsflow.toy import ToyDesign, make_toy_cohorts
from omicsflow.validate import random_signature_control
from omicsflow.validate.random_signatures import candidate_genes


def _timed(function, repeat: int = 3):
    best, value = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return best, value


def _toy():
    cohorts, _ = make_toy_cohorts(ToyDesign(n_source=10), seed=1)
    frames = {}
    for name in ("discovery", "validation_b"):
        expression, clinical, _, _ = cohorts[name]
        frames[name] = (expression.T, clinical)
    discovery, clinical = frames["discovery"]
    fitted = Preprocessor(list(discovery.columns)).fit(discovery)
    disc = fitted.transform(discovery)
    cut = scan_cutpoints(disc, clinical["os_months"].to_numpy(), clinical["os_event"].to_numpy())
    signature = lock_signature(cut, disc, size=6)
    validation, vclinical = frames["validation_b"]
    return (
        signature,
        cut,
        fitted.transform(validation),
        vclinical["os_months"].to_numpy(),
        vclinical["os_event"].to_numpy(),
    )


def bench_random_signatures() -> None:
    signature, cut, expression, time_, event = _toy()
    observed = concordance_index(time_, event, score_signature(signature, expression))

    def vectorised():
        return random_signature_control(
            signature,
            cut,
            expression,
            time_,
            event,
            observed=observed,
            transfer="percentile",
            n_signatures=1000,
            seed=1,
        )

    fast_s, control = _timed(vectorised)
    pool = {g.gene: g for g in candidate_genes(cut, expression, exclude=signature.gene_ids)}

    def direct():
        out = []
        for row in control.genes:
            random_set = dataclasses.replace(signature, genes=tuple(pool[g] for g in row))
            score = score_signature(random_set, expression, transfer="percentile")
            out.append(concordance_index(time_, event, score))
        return np.array(out)

    slow_s, reference = _timed(direct, repeat=1)
    assert np.allclose(control.c_index, reference, atol=1e-12)
    print(
        f"random-signature control, 1000 signatures x {len(signature.genes)} genes, "
        f"n={time_.size}: vectorised {fast_s:.3f} s, direct {slow_s:.2f} s, "
        f"speed-up x{slow_s / fast_s:.0f} (identical C-indices)"
    )


def bench_uno_and_auc(n: int = 3000) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=n)
    time_ = np.round(rng.exponential(10 * np.exp(-0.5 * x)), 1) + 0.1
    event = (rng.uniform(size=n) < 0.6).astype(int)
    y = Surv.from_arrays(event.astype(bool), time_)
    tau = float(np.quantile(time_, 0.8))
    ours_s, ours = _timed(lambda: concordance_index_uno(time_, event, x, tau=tau))
    ref_s, ref = _timed(lambda: concordance_index_ipcw(y, y, x, tau=tau)[0])
    assert abs(ours - ref) < 1e-9
    print(
        f"Uno's C, n={n}: omicsflow {ours_s * 1e3:.1f} ms, scikit-survival {ref_s * 1e3:.1f} ms, "
        f"ratio {ref_s / ours_s:.1f}x (|diff| {abs(ours - ref):.1e})"
    )
    horizons = np.quantile(time_, [0.2, 0.4, 0.6])
    ours_s, ours = _timed(lambda: time_dependent_auc(time_, event, x, horizons))
    ref_s, ref = _timed(lambda: cumulative_dynamic_auc(y, y, x, horizons)[0])
    assert np.allclose(ours, ref, atol=1e-9)
    print(
        f"td-AUC at 3 horizons, n={n}: omicsflow {ours_s * 1e3:.1f} ms, scikit-survival "
        f"{ref_s * 1e3:.1f} ms, ratio {ref_s / ours_s:.1f}x"
    )


def bench_batch_cindex(n: int = 300, m: int = 1000) -> None:
    rng = np.random.default_rng(3)
    time_ = rng.exponential(10, n)
    event = (rng.uniform(size=n) < 0.6).astype(int)
    risks = rng.integers(0, 7, (n, m)).astype(float)
    fast_s, fast = _timed(lambda: concordance_index_many(time_, event, risks))
    slow_s, slow = _timed(
        lambda: np.array([concordance_index(time_, event, risks[:, j]) for j in range(m)]),
        repeat=1,
    )
    assert np.allclose(fast, slow, atol=1e-12)
    print(
        f"Harrell's C of {m} scores, n={n}: batch {fast_s:.3f} s, loop {slow_s:.2f} s, "
        f"speed-up x{slow_s / fast_s:.1f}"
    )


if __name__ == "__main__":
    bench_random_signatures()
    bench_uno_and_auc()
    bench_batch_cindex()

"""Seeded synthetic cohorts with planted prognostic genes, in the workflow's input format.

The generator draws one gene-expression "biology" (gene means, spreads and correlated gene
modules) shared by every cohort, then cohorts from it:

* ``source``: many samples, expression only (for pretraining);
* ``discovery``: ~200 samples with overall survival;
* ``validation_a``: same platform and scale as discovery;
* ``validation_b``: another platform: every value is ``scale * x + shift``.

Survival follows a proportional-hazards model in which each planted gene contributes a hazard
ratio when it is above (``high_risk_above``) or below (``high_risk_below``) its own threshold.
The planted genes are independent of the modules, so they, and only they, carry the signal.
Opt-in (``ToyDesign.prognostic_modules``): some modules' latent factors act on the hazard too,
so that pretraining on ``source`` expression can help (the transfer-learning experiment).

Command line::

    python -m omicsflow.toy OUTDIR --seed 1

writes ``OUTDIR/cohorts.tsv`` (ready for ``--config cohorts=OUTDIR/cohorts.tsv``), one
expression matrix (genes × samples, gzipped TSV) and one clinical table per cohort, and
``planted_genes.tsv``.
"""

from __future__ import annotations

import argparse
import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from omicsflow.io import atomic_path, write_tsv

__all__ = ["ToyDesign", "main", "make_toy_cohorts", "simulate_cohort", "write_toy_cohorts"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToyDesign:
    """Parameters of the synthetic cohorts.

    Attributes
    ----------
    n_genes
        Genes in every cohort.
    n_source, n_discovery, n_validation
        Samples per cohort (``n_validation`` for each of the two validation cohorts).
    n_planted
        Prognostic genes (half high-is-bad, half low-is-bad).
    planted_log_hr
        Log hazard ratio of each planted gene's risk state.
    module_size, n_modules
        Correlated gene modules (shared latent factors) among the non-planted genes.
    missing_rate
        Share of expression cells set missing completely at random.
    platform_scale, platform_shift
        ``validation_b`` values are ``scale * x + shift``.
    prognostic_modules
        Opt-in (default 0: survival depends on the planted genes only). The first
        ``prognostic_modules`` gene modules also act on the hazard through their latent factor,
        ``module_log_hr`` per SD of the factor, so unlabelled ``source`` expression, which shares
        the module structure, carries information a pretrained encoder can transfer.
    module_log_hr
        Log hazard ratio per SD of each prognostic module's latent factor.
    """

    n_genes: int = 1000
    n_source: int = 2000
    n_discovery: int = 200
    n_validation: int = 120
    n_planted: int = 6
    planted_log_hr: float = float(np.log(5.0))
    module_size: int = 25
    n_modules: int = 20
    missing_rate: float = 0.05
    platform_scale: float = 0.5
    platform_shift: float = 6.0
    prognostic_modules: int = 0
    module_log_hr: float = 0.0


@dataclass(frozen=True)
class _Biology:
    genes: np.ndarray
    means: np.ndarray
    sds: np.ndarray
    modules: np.ndarray  # module index per gene, -1 = none
    loadings: np.ndarray
    planted: pd.DataFrame


def _draw_biology(design: ToyDesign, rng: np.random.Generator) -> _Biology:
    n = design.n_genes
    genes = np.array([f"G{i:05d}" for i in range(1, n + 1)])
    means = rng.uniform(4.0, 11.0, n)
    sds = rng.uniform(0.5, 1.5, n)
    modules = np.full(n, -1)
    order = rng.permutation(n)
    planted_idx = np.sort(order[: design.n_planted])
    module_pool = order[design.n_planted :]
    for module in range(design.n_modules):
        members = module_pool[module * design.module_size : (module + 1) * design.module_size]
        modules[members] = module
    loadings = np.where(modules >= 0, rng.uniform(0.6, 0.9, n), 0.0)
    half = design.n_planted // 2
    directions = np.array(
        ["high_risk_above"] * half + ["high_risk_below"] * (design.n_planted - half)
    )
    quantiles = rng.uniform(0.35, 0.65, design.n_planted)
    planted = pd.DataFrame(
        {
            "gene": genes[planted_idx],
            "direction": directions,
            "log_hr": design.planted_log_hr,
            "threshold_quantile": np.round(quantiles, 4),
        }
    )
    return _Biology(genes, means, sds, modules, loadings, planted)


def _draw_expression(
    biology: _Biology, n_samples: int, rng: np.random.Generator, n_modules: int
) -> tuple[np.ndarray, np.ndarray]:
    """Samples × genes on the log2 scale (module factor plus noise), and the module factors."""
    factors = rng.standard_normal((n_samples, n_modules))
    noise = rng.standard_normal((n_samples, biology.genes.size))
    loading = biology.loadings
    shared = np.zeros_like(noise)
    in_module = biology.modules >= 0
    shared[:, in_module] = factors[:, biology.modules[in_module]]
    standardised = loading * shared + np.sqrt(1.0 - loading**2) * noise
    return biology.means + biology.sds * standardised, factors


def _draw_survival(
    expression_z: np.ndarray,
    biology: _Biology,
    rng: np.random.Generator,
    module_effect: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weibull proportional hazards on the planted genes' risk states, with censoring.

    ``module_effect`` (per-sample log-hazard from prognostic modules) is added when given.
    """
    from scipy.stats import norm

    gene_index = {gene: i for i, gene in enumerate(biology.genes)}
    linear_predictor = np.zeros(expression_z.shape[0])
    for row in biology.planted.itertuples(index=False):
        z = expression_z[:, gene_index[row.gene]]
        threshold = norm.ppf(row.threshold_quantile)
        at_risk = z > threshold if row.direction == "high_risk_above" else z <= threshold
        linear_predictor += row.log_hr * at_risk
    if module_effect is not None:
        linear_predictor = linear_predictor + module_effect
    shape, scale = 1.3, 60.0  # months
    uniform = rng.uniform(size=linear_predictor.size)
    event_time = scale * (
        -np.log(uniform) / np.exp(linear_predictor - linear_predictor.mean())
    ) ** (1.0 / shape)
    censor_time = rng.uniform(24.0, 120.0, linear_predictor.size)
    time = np.minimum(event_time, censor_time)
    event = (event_time <= censor_time).astype(int)
    return np.round(time, 2), event


def simulate_cohort(
    biology: _Biology,
    design: ToyDesign,
    n_samples: int,
    rng: np.random.Generator,
    *,
    prefix: str,
    with_outcome: bool,
    scale: float = 1.0,
    shift: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Draw one cohort.

    Returns
    -------
    expression : pandas.DataFrame
        genes × samples, with ``design.missing_rate`` of cells missing.
    clinical : pandas.DataFrame or None
        ``sample, os_months, os_event, age, batch`` when ``with_outcome``.
    """
    values, factors = _draw_expression(biology, n_samples, rng, design.n_modules)
    z = (values - biology.means) / biology.sds
    samples = [f"{prefix}_S{i:04d}" for i in range(1, n_samples + 1)]
    observed = scale * values + shift
    observed[rng.uniform(size=observed.shape) < design.missing_rate] = np.nan
    expression = pd.DataFrame(
        observed.T, index=pd.Index(biology.genes, name="gene"), columns=samples
    )
    clinical = None
    if with_outcome:
        module_effect = None
        if design.prognostic_modules > 0:
            module_effect = design.module_log_hr * factors[:, : design.prognostic_modules].sum(1)
        time, event = _draw_survival(z, biology, rng, module_effect)
        clinical = pd.DataFrame(
            {
                "sample": samples,
                "os_months": time,
                "os_event": event,
                "age": np.round(rng.normal(60, 10, n_samples)).astype(int),
                "batch": rng.choice(["b1", "b2"], n_samples),
            }
        )
    return expression, clinical


def make_toy_cohorts(
    design: ToyDesign | None = None, *, seed: int = 1
) -> tuple[dict[str, tuple[pd.DataFrame, pd.DataFrame | None, str, str]], pd.DataFrame]:
    """Simulate all toy cohorts in memory.

    Parameters
    ----------
    design
        Sizes and effects; defaults to :class:`ToyDesign`.
    seed
        Seed of the one random generator used for everything.

    Returns
    -------
    cohorts : dict
        ``{cohort_id: (expression genes × samples, clinical or None, role, platform)}``.
    planted : pandas.DataFrame
        ``gene, direction, log_hr, threshold_quantile`` of the planted prognostic genes.
    """
    design = design or ToyDesign()
    rng = np.random.default_rng(seed)
    biology = _draw_biology(design, rng)
    plan = [
        ("source", "source", "microarray", design.n_source, False, 1.0, 0.0),
        ("discovery", "discovery", "microarray", design.n_discovery, True, 1.0, 0.0),
        ("validation_a", "validation", "microarray", design.n_validation, True, 1.0, 0.0),
        (
            "validation_b",
            "validation",
            "rnaseq",
            design.n_validation,
            True,
            design.platform_scale,
            design.platform_shift,
        ),
    ]
    cohorts = {}
    for cohort, role, platform, n, with_outcome, scale, shift in plan:
        expression, clinical = simulate_cohort(
            biology,
            design,
            n,
            rng,
            prefix=cohort,
            with_outcome=with_outcome,
            scale=scale,
            shift=shift,
        )
        cohorts[cohort] = (expression, clinical, role, platform)
    return cohorts, biology.planted


def write_toy_cohorts(
    outdir: str | Path, design: ToyDesign | None = None, *, seed: int = 1
) -> Path:
    """Write the toy cohorts, their cohort sheet and the planted genes to ``outdir``.

    Parameters
    ----------
    outdir
        Folder to create or fill.
    design
        Sizes and effects; defaults to :class:`ToyDesign`.
    seed
        Random seed.

    Returns
    -------
    pathlib.Path
        Path of the written ``cohorts.tsv``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cohorts, planted = make_toy_cohorts(design, seed=seed)
    rows = []
    for cohort, (expression, clinical, role, platform) in cohorts.items():
        expression_file = f"{cohort}_expression.tsv.gz"
        text = expression.to_csv(sep="\t", float_format="%.4f", na_rep="NA", lineterminator="\n")
        with atomic_path(outdir / expression_file) as tmp, tmp.open("wb") as raw:
            # No file name and a zero timestamp in the gzip header: same seed, same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
                handle.write(text.encode("utf-8"))
        clinical_file = ""
        if clinical is not None:
            clinical_file = f"{cohort}_clinical.tsv"
            write_tsv(outdir / clinical_file, clinical)
        rows.append(
            {
                "cohort": cohort,
                "role": role,
                "platform": platform,
                "expression": expression_file,
                "clinical": clinical_file,
                "time": "os_months" if clinical is not None else "",
                "event": "os_event" if clinical is not None else "",
                "batch": "batch" if clinical is not None else "",
                "endpoint": "overall survival (simulated)" if clinical is not None else "",
                "time_unit": "months" if clinical is not None else "",
            }
        )
        logger.info("wrote toy cohort %s (%s): %d samples", cohort, role, expression.shape[1])
    write_tsv(outdir / "planted_genes.tsv", planted)
    sheet = outdir / "cohorts.tsv"
    write_tsv(sheet, pd.DataFrame(rows))
    return sheet


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m omicsflow.toy OUTDIR --seed N``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="folder to write the cohorts into")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--genes", type=int, default=ToyDesign.n_genes)
    parser.add_argument("--source-samples", type=int, default=ToyDesign.n_source)
    parser.add_argument("--discovery-samples", type=int, default=ToyDesign.n_discovery)
    parser.add_argument("--validation-samples", type=int, default=ToyDesign.n_validation)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    design = ToyDesign(
        n_genes=args.genes,
        n_source=args.source_samples,
        n_discovery=args.discovery_samples,
        n_validation=args.validation_samples,
    )
    sheet = write_toy_cohorts(args.outdir, design, seed=args.seed)
    logger.info("cohort sheet: %s", sheet)


if __name__ == "__main__":
    main()

"""The no-network baseline: an elastic-net penalised Cox model with a cross-validated penalty.

The fit is scikit-survival's :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis` (coordinate
descent along a regularisation path, Breslow ties). The penalty strength is chosen by inner
K-fold cross-validation of the partial likelihood (Verweij & van Houwelingen 1993, the
``deviance`` criterion of R's ``cv.glmnet``): for each inner fold, the model fitted without it
is scored by ``l(beta; all samples) - l(beta; samples without the fold)``.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold

from omicsflow.survival.metrics import as_survival
from omicsflow.transfer.model import cox_loss

__all__ = ["PenalisedCox", "partial_log_likelihood"]

logger = logging.getLogger(__name__)


def partial_log_likelihood(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> float:
    """Cox partial log-likelihood (Breslow ties) of a linear predictor, summed over events."""
    event = np.asarray(event, dtype=np.float64)
    if event.sum() == 0:
        return 0.0
    loss = cox_loss(
        torch.as_tensor(np.asarray(risk, dtype=np.float64)),
        torch.as_tensor(np.asarray(time, dtype=np.float64)),
        torch.as_tensor(event),
        ties="breslow",
    )
    return -float(loss) * float(event.sum())


class PenalisedCox(BaseEstimator):
    """Elastic-net Cox regression with the penalty chosen by inner cross-validation.

    Parameters
    ----------
    l1_ratio
        Mix of L1 (1.0: lasso) and L2 (towards 0: ridge) penalties.
    n_alphas
        Penalty values along the path.
    alpha_min_ratio
        Smallest penalty as a share of the largest (the one that zeroes every coefficient).
    inner_folds
        Folds of the inner cross-validation that picks the penalty.
    seed
        Seed of the inner folds.

    Attributes
    ----------
    coef_
        Coefficients at the chosen penalty (one per gene).
    alpha_
        The chosen penalty.
    alphas_
        The path's penalties.
    cv_log_likelihood_
        Cross-validated partial log-likelihood per penalty (higher is better).
    """

    def __init__(
        self,
        l1_ratio: float = 0.5,
        *,
        n_alphas: int = 40,
        alpha_min_ratio: float = 0.01,
        inner_folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.inner_folds = inner_folds
        self.seed = seed

    def _coxnet(self, **kwargs: object) -> object:
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        return CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, max_iter=100_000, **kwargs)

    def fit(self, X: np.ndarray, time: np.ndarray, event: np.ndarray) -> PenalisedCox:
        """Fit the path on all samples and choose the penalty by inner cross-validation.

        Parameters
        ----------
        X
            samples × genes (preprocessed).
        time, event
            Survival outcome.

        Returns
        -------
        PenalisedCox
            ``self``.
        """
        from sksurv.util import Surv

        time, event_bool = as_survival(time, event)
        X = np.asarray(X, dtype=np.float64)
        y = Surv.from_arrays(event_bool, time)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter at the smallest penalties
            path = self._coxnet(n_alphas=self.n_alphas, alpha_min_ratio=self.alpha_min_ratio)
            path.fit(X, y)
            alphas = np.asarray(path.alphas_)
            score = np.zeros(alphas.size)
            splitter = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed)
            for train, _ in splitter.split(X, event_bool):
                inner = self._coxnet(alphas=alphas).fit(X[train], y[train])
                eta = X @ np.asarray(inner.coef_)
                for j in range(alphas.size):
                    score[j] += partial_log_likelihood(
                        eta[:, j], time, event_bool
                    ) - partial_log_likelihood(eta[train, j], time[train], event_bool[train])
        best = int(np.argmax(score))
        self.alphas_ = alphas
        self.cv_log_likelihood_ = score
        self.alpha_ = float(alphas[best])
        self.coef_ = np.asarray(path.coef_)[:, best].astype(np.float64)
        logger.info(
            "penalised Cox: alpha %.4g (l1_ratio %.2f), %d non-zero coefficients",
            self.alpha_,
            self.l1_ratio,
            int(np.count_nonzero(self.coef_)),
        )
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Linear predictor (log relative risk) of each sample."""
        return np.asarray(X, dtype=np.float64) @ self.coef_

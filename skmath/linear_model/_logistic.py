"""Logistic regression (binary and multinomial): objective in torch, scipy's L-BFGS-B."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._engine import TorchEstimatorMixin, as_tensor, minimize_lbfgs, to_numpy, torch_threads

# scipy's L-BFGS-B ``ftol`` as sklearn sets it: relative change of the objective.
_FTOL = 64 * np.finfo(float).eps
# Curvature pairs kept by L-BFGS-B (scipy's default ``maxcor`` is 10).
_HISTORY = 20


def logistic_objective(coef, X, Y, sample_weight, l2_reg, fit_intercept, multinomial):
    """Mean weighted log-loss plus L2 penalty, and its gradient.

    The objective is sklearn's scaled form of
    ``C * sum_i w_i * loss_i + 1/2 * ||W||^2``:

    .. math::
        f(W, b) = \\frac{1}{\\sum_i w_i} \\sum_i w_i \\ell(y_i, X_i W^T + b)
                  + \\frac{\\lambda}{2} \\|W\\|_F^2, \\quad
        \\lambda = \\frac{1}{C \\sum_i w_i},

    with the binary logistic loss ``softplus(z) - y z`` (one row of ``coef``)
    or the multinomial loss ``logsumexp(z) - z_y`` (one row per class). The
    intercept (last column when ``fit_intercept``) is not penalised.

    Parameters
    ----------
    coef : Tensor, shape (k, d + fit_intercept)
    X : Tensor, shape (n, d)
    Y : Tensor, shape (n, k)
        0/1 targets (one column for binary, one-hot for multinomial).
    sample_weight : Tensor, shape (n,)
        Normalised to sum to one.
    l2_reg : float
    fit_intercept : bool
    multinomial : bool

    Returns
    -------
    loss : Tensor, scalar
    grad : Tensor, shape of ``coef``
    """
    d = X.shape[1]
    W = coef[:, :d]
    Z = X @ W.T
    if fit_intercept:
        Z = Z + coef[:, d]
    if multinomial:
        log_norm = torch.logsumexp(Z, dim=1)
        loss = sample_weight @ (log_norm - (Z * Y).sum(dim=1))
        residual = torch.exp(Z - log_norm[:, None]) - Y
    else:
        loss = sample_weight @ (torch.nn.functional.softplus(Z) - Z * Y).squeeze(1)
        residual = torch.sigmoid(Z) - Y
    residual = residual * sample_weight[:, None]
    grad = torch.empty_like(coef)
    grad[:, :d] = residual.T @ X + l2_reg * W
    if fit_intercept:
        grad[:, d] = residual.sum(dim=0)
    loss = loss + 0.5 * l2_reg * (W * W).sum()
    return loss, grad


def lbfgs(fun, x0, *, max_iter, tol):
    """Minimise ``fun`` (returning loss and gradient tensors) with scipy's L-BFGS-B.

    The optimizer sklearn's ``lbfgs`` solver uses, with its options (``gtol``:
    stop when the largest absolute gradient entry is at most ``tol``; ``ftol``:
    relative decrease of the objective; up to 50 line-search steps), fed by
    the objective and gradient computed in torch on ``x0``'s device. The
    iterate itself (``k x d`` numbers) lives in NumPy: the work is in ``fun``.

    Returns
    -------
    x : Tensor
        The minimiser found.
    result : scipy.optimize.OptimizeResult
        scipy's report (``nit``, ``status``: 0 when converged, ``message``).
    """
    shape, device, dtype = x0.shape, x0.device, x0.dtype

    def value_and_grad(x):
        loss, grad = fun(torch.from_numpy(x).view(shape).to(device=device, dtype=dtype))
        return float(loss), to_numpy(grad).astype(np.float64, copy=False).ravel()

    result = minimize_lbfgs(
        value_and_grad,
        to_numpy(x0),
        maxiter=max_iter,
        maxls=50,
        gtol=tol,
        ftol=_FTOL,
        maxcor=_HISTORY,
    )
    x = torch.from_numpy(result.x.reshape(shape)).to(device=device, dtype=dtype)
    return x, result


class LogisticRegression(TorchEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary and multinomial), its objective computed in PyTorch.

    Drop-in for :class:`sklearn.linear_model.LogisticRegression` with its
    current (1.8+) API: ``C`` (``np.inf`` for no penalty), ``l1_ratio`` (only
    ``0.0``, the L2 penalty, is supported), the same objective, fitted
    attributes, stopping rule and :class:`~sklearn.exceptions.ConvergenceWarning`;
    float32 input gives float32 coefficients and predictions (the objective is
    still computed in float64).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength; ``np.inf`` means no penalty.
    l1_ratio : float, default=0.0
        Elastic-net mixing. Only ``0.0`` (pure L2) is supported; a positive value
        raises ``ValueError`` at fit.
    tol : float, default=1e-4
        Stop when the largest absolute entry of the gradient of the (scaled)
        objective is at most ``tol``.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    class_weight : dict or "balanced", default=None
        Weights multiplied into ``sample_weight`` per class, as in sklearn.
    max_iter : int, default=100
        Maximum number of L-BFGS iterations.
    verbose : int, default=0
        Print the solver's outcome when positive.
    warm_start : bool, default=False
        Start from the previous solution when refitting.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for a binary problem.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Number of L-BFGS iterations run (at most ``max_iter``; 0 when a warm
        start is already optimal).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The scikit-learn original.

    Notes
    -----
    The objective minimised is sklearn's

    .. math::
        \\min_{W, b} \\; C \\sum_i w_i \\, \\ell(y_i, W x_i + b) + \\tfrac12 \\|W\\|_F^2,

    divided by ``C * sum(w)`` so that ``tol`` means what it means in sklearn.
    The objective and its gradient (the two products with ``X`` that are all
    the work) are computed in torch, on ``device``, in float64; the iterates
    are taken by scipy's L-BFGS-B, the optimizer of sklearn's ``lbfgs``
    solver, with its options (20 curvature pairs instead of 10). torch's own
    ``torch.optim.LBFGS`` is not used: its first call in a process imports
    ``torch._dynamo``, about 1.5 s.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmath import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=1000, device="cpu").fit(X, y)
    >>> clf.predict(X[:2, :])
    array([0, 0])
    >>> clf.predict_proba(X[:1, :]).round(3)
    array([[0.982, 0.018, 0.   ]])
    >>> round(clf.score(X, y), 3)
    0.973
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "device": [str],
    }

    def __init__(
        self,
        C=1.0,
        *,
        l1_ratio=0.0,
        tol=1e-4,
        fit_intercept=True,
        class_weight=None,
        max_iter=100,
        verbose=0,
        warm_start=False,
        device="auto",
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target labels (numbers or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if self.l1_ratio > 0:
            raise ValueError(
                f"l1_ratio={self.l1_ratio} asks for an L1/elastic-net penalty, which "
                "skmath's LogisticRegression does not support; use l1_ratio=0.0 "
                "(L2 penalty) or sklearn's LogisticRegression(solver='saga')."
            )
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {classes[0]!r}"
            )
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, copy=True)
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight, classes=classes, y=y, sample_weight=sample_weight
            )
            sample_weight = sample_weight * per_class[y_index]
        sw_sum = sample_weight.sum()
        if not sw_sum > 0:
            raise ValueError("The sum of sample_weight must be positive.")

        n_classes = classes.shape[0]
        multinomial = n_classes > 2
        k = n_classes if multinomial else 1
        d = X.shape[1]
        device = self._resolve_device()
        if self.warm_start and getattr(self, "coef_", None) is not None and (
            self.coef_.shape == (k, d)
        ):
            coef0 = np.hstack([self.coef_, self.intercept_[:, None]]).astype(np.float64)
        else:
            coef0 = np.zeros((k, d + 1))
        if not self.fit_intercept:
            coef0 = coef0[:, :d]

        with torch_threads():
            # The objective is computed in float64 whatever X's dtype.
            Xt = as_tensor(X, device, dtype=np.float64)
            if multinomial:
                Y = torch.nn.functional.one_hot(
                    as_tensor(y_index, device).long(), n_classes
                ).to(torch.float64)
            else:
                Y = as_tensor((y_index == 1).astype(np.float64)[:, None], device)
            wt = as_tensor(sample_weight / sw_sum, device)
            l2_reg = 0.0 if np.isinf(self.C) else 1.0 / (self.C * sw_sum)

            def fun(coef):
                return logistic_objective(
                    coef, Xt, Y, wt, l2_reg, self.fit_intercept, multinomial
                )

            coef, result = lbfgs(
                fun, as_tensor(coef0, device), max_iter=self.max_iter, tol=self.tol
            )
        coef = to_numpy(coef)
        # As sklearn: scipy may count one iteration more than max_iter allows.
        n_iter = min(int(result.nit), self.max_iter)
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {n_iter} iteration(s) "
                f"(status={result.status}: {result.message}). Increase the number of "
                f"iterations (max_iter={self.max_iter}) or scale the data, e.g. with "
                "sklearn.preprocessing.StandardScaler.",
                ConvergenceWarning,
            )
        if self.verbose:
            print(f"[LogisticRegression] lbfgs: {n_iter} iterations, {result.message}")
        self.classes_ = classes
        # float32 input gives float32 coefficients, as in sklearn.
        self.coef_ = np.ascontiguousarray(coef[:, :d], dtype=X.dtype)
        self.intercept_ = (
            coef[:, d].astype(X.dtype) if self.fit_intercept else np.zeros(k, dtype=X.dtype)
        )
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        return self

    def decision_function(self, X):
        """Confidence scores: the signed linear scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column per class; 1-D for a binary problem (score of
            ``classes_[1]``).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class of each sample.
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        return log_softmax(scores, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

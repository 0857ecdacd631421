"""Ordinary least squares in torch: sklearn's minimum-norm solution, faster."""

from numbers import Integral, Real

import numpy as np
import torch
from scipy.optimize import nnls
from sklearn.base import MultiOutputMixin, RegressorMixin, BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._engine import TorchEstimatorMixin, as_tensor, to_numpy, torch_threads



# When the centred second moment of a column is below this fraction of its raw
# second moment, forming the Gram matrix as ``X^T W X - sw * mu mu^T`` would
# lose too many digits to cancellation: centre the data explicitly instead.
_CANCELLATION = 1e-6


def _weighted_center(X, y, sample_weight, fit_intercept):
    """Centre ``X`` and ``y`` on their weighted means and scale rows by sqrt(w).

    Returns ``Xs, ys, X_offset, y_offset`` with
    ``Xs = sqrt(w) * (X - X_offset)`` and ``ys = sqrt(w) * (y - y_offset)``, so
    that ordinary least squares on ``(Xs, ys)`` solves the weighted problem.
    """
    if fit_intercept:
        w_sum = sample_weight.sum()
        X_offset = sample_weight @ X / w_sum
        y_offset = sample_weight @ y / w_sum
        X = X - X_offset
        y = y - y_offset
    else:
        X_offset = X.new_zeros(X.shape[1])
        y_offset = y.new_zeros(y.shape[1])
    root_w = sample_weight.sqrt()[:, None]
    return X * root_w, y * root_w, X_offset, y_offset


def _centered_gram(X, y, sample_weight, fit_intercept):
    """Weighted, centred normal equations ``G = Xc^T W Xc``, ``b = Xc^T W yc``.

    One pass over ``X`` and no centred copy: ``G = X^T W X - sw * mu mu^T``
    (with unit weights the ``W`` product is skipped too). Falls back to explicit
    centring when a column's mean dwarfs its spread (cancellation).

    Returns
    -------
    G : Tensor, shape (d, d)
    b : Tensor, shape (d, k)
    X_offset : Tensor, shape (d,)
    y_offset : Tensor, shape (k,)
    """
    w_sum = sample_weight.sum()
    uniform = bool((sample_weight == sample_weight[0]).all())
    if uniform:
        G = (X.T @ X) * sample_weight[0]
        b = (X.T @ y) * sample_weight[0]
    else:
        Xw = X * sample_weight[:, None]
        G = Xw.T @ X
        b = Xw.T @ y
    if not fit_intercept:
        return G, b, X.new_zeros(X.shape[1]), y.new_zeros(y.shape[1])
    X_offset = sample_weight @ X / w_sum
    y_offset = sample_weight @ y / w_sum
    raw = G.diagonal().clone()
    G = G - w_sum * torch.outer(X_offset, X_offset)
    b = b - w_sum * torch.outer(X_offset, y_offset)
    if bool((G.diagonal() < _CANCELLATION * raw).any()):
        Xs, ys, X_offset, y_offset = _weighted_center(X, y, sample_weight, True)
        G, b = Xs.T @ Xs, Xs.T @ ys
    return G, b, X_offset, y_offset


def _min_norm_lstsq(X, y, sample_weight, fit_intercept, cond):
    """Minimum-norm weighted least-squares solution, singular values below ``cond`` cut.

    The centred Gram matrix ``G`` is diagonalised (cheap: d x d). When it is
    well conditioned and no singular value is near the cutoff, the normal
    equations are solved from that decomposition (error ~ cond(G) * eps, well
    under 1e-6 relative); otherwise the thin SVD of the centred, weighted
    ``X`` gives the minimum-norm solution with LAPACK ``gelsd``'s cutoff
    (singular values ``s_i <= cond * s_max`` are treated as zero), exactly
    what scipy's ``lstsq(X, y, cond=cond)`` (and so sklearn, ``cond=tol``)
    returns for rank-deficient or ill-conditioned ``X``.

    Returns
    -------
    coef : Tensor, shape (d, k)
    X_offset, y_offset : Tensor
    singular_values : Tensor, shape (min(n, d),)
    rank : int
    """
    n, d = X.shape
    eps = torch.finfo(X.dtype).eps
    cutoff = cond
    G, b, X_offset, y_offset = _centered_gram(X, y, sample_weight, fit_intercept)
    eigvals, eigvecs = torch.linalg.eigh(G)
    top = eigvals[-1].clamp_min(0)
    # eigvals are squared singular values; keep a factor 4 (2 in s) away from
    # the cutoff so that rounding in G never decides what the SVD would cut.
    if n >= d and eigvals[0] > top * max(eps**0.5 * 0.1, 4 * cutoff**2):
        coef = eigvecs @ ((eigvecs.T @ b) / eigvals[:, None])
        singular_values = eigvals.clamp_min(0).sqrt().flip(0)
    else:
        Xs, ys, X_offset, y_offset = _weighted_center(X, y, sample_weight, fit_intercept)
        U, S, Vh = torch.linalg.svd(Xs, full_matrices=False)
        keep = S > cutoff * S[0]
        inv = torch.where(keep, 1.0 / torch.where(keep, S, 1.0), 0.0)
        coef = Vh.T @ (inv[:, None] * (U.T @ ys))
        singular_values = S
    rank = int((singular_values > cutoff * singular_values[0]).sum())
    return coef, X_offset, y_offset, singular_values[: min(n, d)], rank


def _nnls(Xs, ys):
    """Non-negative least squares, one target at a time (scipy's NNLS on host)."""
    X_host = to_numpy(Xs)
    coefs = [nnls(X_host, col, maxiter=50 * X_host.shape[1])[0] for col in to_numpy(ys).T]
    return torch.as_tensor(np.stack(coefs, axis=1), dtype=Xs.dtype, device=Xs.device)


class LinearRegression(TorchEstimatorMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Ordinary least squares linear regression, solved in PyTorch.

    Minimises ``sum_i w_i (y_i - x_i @ coef - intercept)^2``. Drop-in for
    :class:`sklearn.linear_model.LinearRegression`: the same parameters and
    fitted attributes, the same minimum-norm solution for rank-deficient ``X``,
    and float32 input is kept in float32.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept (the data are centred on their weighted
        means; the intercept is not penalised since nothing is).
    copy_X : bool, default=True
        Kept for compatibility with scikit-learn; skmath never modifies ``X``.
    tol : float, default=1e-6
        Relative cutoff on the singular values of the (centred, weighted)
        ``X``, as sklearn's ``cond`` of :func:`scipy.linalg.lstsq`: singular
        values ``s_i <= tol * s_max`` are treated as zero (they do not count
        in ``rank_`` and the minimum-norm solution ignores their directions).
        Not used when ``positive=True``.
    n_jobs : int, default=None
        Kept for compatibility with scikit-learn; not used (the work runs in
        torch's threads).
    positive : bool, default=False
        Constrain the coefficients to be non-negative (non-negative least
        squares, solved on the host with :func:`scipy.optimize.nnls`).
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; 0.0 when ``fit_intercept=False``.
    rank_ : int
        Rank of the (centred, weighted) ``X``: the number of singular values
        above ``tol`` times the largest.
    singular_ : ndarray of shape (min(n_samples, n_features),)
        Singular values of the (centred, weighted) ``X``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : The scikit-learn original.

    Notes
    -----
    The solver forms the centred Gram matrix ``X^T W X - sw mu mu^T`` in one
    pass over the data (no centred copy of ``X``) and diagonalises it (one
    ``d x d`` eigendecomposition). When its condition number
    is below about ``0.1 / sqrt(eps)`` and ``1 / (4 tol^2)`` the normal
    equations are solved from it; otherwise the thin SVD of ``X`` gives the
    minimum-norm solution, with LAPACK ``gelsd``'s rank cutoff ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmath import LinearRegression
    >>> X = np.array([[1, 1], [1, 2], [2, 2], [2, 3]])
    >>> y = np.dot(X, np.array([1, 2])) + 3
    >>> reg = LinearRegression(device="cpu").fit(X, y)
    >>> reg.coef_
    array([1., 2.])
    >>> round(float(reg.intercept_), 6)
    3.0
    >>> reg.predict(np.array([[3, 5]]))
    array([16.])
    """

    _parameter_constraints = {
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [None, Integral],
        "positive": ["boolean"],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        fit_intercept=True,
        copy_X=True,
        tol=1e-6,
        n_jobs=None,
        positive=False,
        device="auto",
    ):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Individual non-negative weights for each sample.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        device = self._resolve_device()
        # Cast to X's dtype as sklearn does (y may hold numeric strings).
        y_2d = np.asarray(y.reshape(-1, 1) if y.ndim == 1 else y, dtype=X.dtype)
        with torch_threads():
            Xt = as_tensor(X, device)
            yt = as_tensor(y_2d, device)
            wt = as_tensor(sample_weight, device)
            coef, X_offset, y_offset, singular_values, rank = _min_norm_lstsq(
                Xt, yt, wt, self.fit_intercept, self.tol
            )
            if self.positive:
                Xs, ys, _, _ = _weighted_center(Xt, yt, wt, self.fit_intercept)
                coef = _nnls(Xs, ys)
            intercept = y_offset - X_offset @ coef
        coef = to_numpy(coef.T)
        intercept = to_numpy(intercept)
        if y.ndim == 1:
            coef = coef[0]
            intercept = intercept[0]
        if not self.fit_intercept:
            intercept = 0.0  # as sklearn, whatever the number of targets
        self.coef_ = coef
        self.intercept_ = intercept
        self.rank_ = rank
        self.singular_ = to_numpy(singular_values)
        return self

    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self.coef_.T + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

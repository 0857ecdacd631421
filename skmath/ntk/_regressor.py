"""``NTKRegressor``: infinitely wide networks trained to convergence, in closed form."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._engine import (
    TorchEstimatorMixin,
    as_tensor,
    block_rows,
    column_mean_std,
    constant_columns,
    pow2_exponent,
    to_numpy,
    torch_threads,
    unchanged_on_failure,
)
from ._kernel import ARCHITECTURE_CONSTRAINTS, NTKKernel, architecture
from ._kernels import nngp_ntk, nngp_ntk_diag


def _cholesky(K, alpha, estimator):
    """Cholesky factor of ``K + diag(alpha)``, or a ValueError saying what to do.

    ``K`` (symmetric, row-major) is consumed: the factor is computed in its
    memory. LAPACK and cuSOLVER factor a column-major matrix where it lies,
    and ``K.mT`` is ``K`` read column-major (the same matrix, ``K`` being
    symmetric); a row-major one is first copied (one more ``n x n``: at
    ``n = 5000`` the fit's peak was 4.2 kernel matrices, GPR's 2.2).
    """
    top = K.diagonal().max()  # (before the factorisation overwrites K)
    K.diagonal().add_(alpha)
    K = K.mT
    info = torch.empty((), dtype=torch.int32, device=K.device)
    L, info = torch.linalg.cholesky_ex(K, out=(K, info))
    if int(info) != 0:
        raise ValueError(
            f"The {estimator.kernel.upper()} of {type(estimator).__name__}(depth="
            f"{estimator.depth}, activation={estimator.activation!r}, weight_std="
            f"{estimator.weight_std}, bias_std={estimator.bias_std}) plus alpha on "
            "its diagonal is not positive definite on the training data (Cholesky "
            f"failed at row {int(info)}). Try gradually increasing the 'alpha' "
            "parameter of your NTKRegressor estimator. alpha is absolute: the "
            f"kernel's largest diagonal entry is {float(top):.3g}, and it grows "
            "with x . x, so rows at a large scale make it singular to rounding "
            "whatever a small alpha: rescale X (e.g. with StandardScaler) too."
        )
    return L


def _cho_solve(L, B):
    """``(L L^T)^{-1} B`` by two triangular solves.

    ``torch.cholesky_solve`` copies ``L`` on every call (one more ``n x n``
    at fit and in each block of ``predict``); ``solve_triangular`` reads it
    where it lies.
    """
    solve = torch.linalg.solve_triangular
    return solve(L.mT, solve(L, B, upper=False), upper=True)


def _log_marginal_likelihood(L, y, dual):
    r"""Log marginal likelihood of ``y`` under the prior :math:`\mathcal{N}(0, K + \alpha I)`.

    Rasmussen & Williams (2006), Algorithm 2.1, line 7, summed over the
    targets (each an independent draw from the same prior), as
    ``GaussianProcessRegressor.log_marginal_likelihood`` computes it:

    .. math::

        \log p(y) = \sum_k \Big( -\tfrac12 y_k^\top (K + \alpha I)^{-1} y_k
                     - \sum_i \log L_{ii} - \tfrac{n}{2} \log 2\pi \Big).

    Parameters
    ----------
    L : Tensor, shape (n, n)
        Lower Cholesky factor of :math:`K + \alpha I`.
    y : Tensor, shape (n,) or (n, n_targets)
    dual : Tensor, shape of ``y``
        :math:`(K + \alpha I)^{-1} y`.
    """
    n = L.shape[0]
    y, dual = y.reshape(n, -1), dual.reshape(n, -1)
    n_targets = y.shape[1]
    data_fit = -0.5 * (y * dual).sum()
    log_det = torch.log(torch.diagonal(L)).sum()
    return float(data_fit - n_targets * (log_det + 0.5 * n * math.log(2 * math.pi)))


def _ntk_ensemble_cov(B, nngp_tt, nngp_td, nngp_train):
    r"""Output covariance of the infinite ensemble of NTK-trained networks.

    Lee et al. (2019), eq. (16) at :math:`t = \infty`: with
    :math:`B = (\Theta + \alpha I)^{-1} \Theta_{\mathrm{train,test}}`,

    .. math::

        \Sigma = K_{tt} + B^\top K B - B^\top K_{\mathrm{train,test}}
                 - K_{\mathrm{test,train}} B.

    Parameters
    ----------
    B : Tensor, shape (n_train, n_test)
    nngp_tt : Tensor, shape (n_test, n_test)
    nngp_td : Tensor, shape (n_test, n_train)
    nngp_train : Tensor, shape (n_train, n_train)
    """
    cross = nngp_td @ B
    return nngp_tt + B.T @ (nngp_train @ B) - cross - cross.T


def _ntk_ensemble_var(B, nngp_diag, nngp_td, nngp_train):
    """Diagonal of :func:`_ntk_ensemble_cov` without forming the test x test matrix."""
    return (
        nngp_diag
        + (B * (nngp_train @ B)).sum(dim=0)
        - 2.0 * (nngp_td.T * B).sum(dim=0)
    )


class NTKRegressor(TorchEstimatorMixin, MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Infinitely wide neural network trained to convergence, in closed form.

    With ``kernel="ntk"`` the prediction is that of an infinite ensemble of
    infinitely wide fully connected networks trained by gradient descent on
    the mean squared error until convergence (Lee et al. 2019): the mean is
    kernel regression with the neural tangent kernel :math:`\\Theta`,
    ``Theta(X, X_train) @ inv(Theta_train + alpha I) @ y``, and the covariance
    is that of the trained ensemble over random initialisations, built from
    the NTK and the NNGP kernel. With ``kernel="nngp"`` it is the posterior of
    the Gaussian process with the NNGP kernel (an infinitely wide Bayesian
    network), i.e. ``GaussianProcessRegressor(kernel=NTKKernel(kernel="nngp"),
    alpha=alpha, normalize_y=normalize_y, optimizer=None)`` (whose defaults
    for ``alpha`` and ``normalize_y`` differ from these).

    The numbers are those of neural-tangents'
    ``predict.gradient_descent_mse_ensemble(kernel_fn, x, y, diag_reg=r)`` at
    ``t=None`` (infinite time) when ``alpha = r * trace(K_train) / n_train``
    and ``normalize_y=False`` (neural-tangents does not normalise targets).

    Parameters
    ----------
    depth : int, default=1
        Number of hidden layers (Dense followed by ``activation``) before the
        Dense readout; ``0`` is a linear model.
    activation : {"relu", "erf", "gelu"}, default="relu"
        Nonlinearity of the hidden layers.
    weight_std : float, default=1.0
        Weight standard deviation :math:`\\sigma_w` of every Dense layer (NTK
        parameterisation: a layer computes
        ``weight_std / sqrt(fan_in) * W @ h + bias_std * b``).
    bias_std : float, default=1.0
        Bias standard deviation :math:`\\sigma_b` of every Dense layer. With
        standardised inputs, ``bias_std`` comparable to ``weight_std`` spreads
        the ReLU kinks over the range of the data (neural-tangents' ``Dense``
        has no bias by default, i.e. ``bias_std=0``).
    kernel : {"ntk", "nngp"}, default="ntk"
        ``"ntk"``: networks trained by gradient descent (NTK regression with
        the ensemble's covariance); ``"nngp"``: Bayesian networks (GP
        posterior with the NNGP kernel).
    alpha : float or array-like of shape (n_samples,), default=1e-6
        Value added to the diagonal of the training kernel matrix, as in
        :class:`~sklearn.gaussian_process.GaussianProcessRegressor`: the
        variance of the observation noise (for ``"ntk"``, a ridge penalty;
        ``alpha -> 0`` is gradient descent run to convergence). It is in the
        units of the (normalised, when ``normalize_y``) targets, and keeps the
        Cholesky factorisation stable.
    normalize_y : bool, default=True
        Centre the targets on their mean and scale them to unit variance
        before fitting (undone at prediction). The network output at
        initialisation has mean zero, so without centring the predictions
        shrink towards 0 away from the training data. Unlike
        ``GaussianProcessRegressor``, whose default is False; and a column
        is left unscaled (scale 1) only where it is constant up to rounding
        (relative to its mean), where ``GaussianProcessRegressor`` also
        leaves a column of ``y`` of std below ``2e-15`` unscaled (its stds
        then ``1e18`` times too large for targets around ``1e-20``).
    n_targets : int, default=None
        Number of targets of the prior, i.e. of ``predict`` and ``sample_y``
        called before ``fit`` (1 when None), as in
        ``GaussianProcessRegressor``. ``fit`` raises ``ValueError`` when it is
        set and ``y`` has another number of targets; once fitted, the
        targets of ``y`` are used.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.

    Attributes
    ----------
    kernel_ : NTKKernel
        The kernel of the fit, with the architecture parameters and
        ``kernel`` it was fitted with: predictions use it, so
        ``set_params`` takes effect at the next fit (as
        ``GaussianProcessRegressor.kernel_``). Its ``device`` is ``"cpu"``
        after a CPU fit and ``"auto"`` after a GPU fit, so that the model
        unpickled on a machine without a GPU computes on the CPU.
    X_train_ : ndarray of shape (n_samples, n_features)
        Copy of the training inputs, in float64 (needed at prediction).
    y_train_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Copy of the training targets, normalised when ``normalize_y``.
    L_ : ndarray of shape (n_samples, n_samples)
        Lower Cholesky factor of the training kernel plus ``alpha``.
    alpha_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Dual coefficients: ``inv(K_train + alpha I) @ y_train_``.
    log_marginal_likelihood_value_ : float
        Log marginal likelihood of ``y_train_`` under the Gaussian process
        prior (NNGP kernel plus ``alpha`` on the diagonal), as in
        ``GaussianProcessRegressor``. Only with ``kernel="nngp"``: the
        ``"ntk"`` model is not the posterior of a Gaussian process.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    NTKKernel : The kernel itself, for scikit-learn's kernel methods.
    sklearn.gaussian_process.GaussianProcessRegressor : GP regression with a
        kernel object.
    sklearn.kernel_ridge.KernelRidge : Kernel ridge regression (the NTK mean
        with ``alpha`` as ridge, without the predictive covariance).

    Notes
    -----
    Kernels are computed in float64 whatever the input dtype, in blocks of
    bounded size. Fitting costs one kernel matrix and one Cholesky
    factorisation, O(n_samples^2 n_features + n_samples^3); predicting a
    mean costs O(n_test n_samples). For ``kernel="ntk"`` the NNGP training
    matrix is kept too, since the ensemble's covariance needs it.

    The "ntk" covariance is not a Bayesian posterior: it is the spread of the
    trained networks' outputs over their random initialisations, and is not
    zero at the training points unless ``alpha`` is.

    References
    ----------
    .. [1] J. Lee, L. Xiao, S. Schoenholz, Y. Bahri, R. Novak,
       J. Sohl-Dickstein, J. Pennington, "Wide Neural Networks of Any Depth
       Evolve as Linear Models Under Gradient Descent", NeurIPS 2019.
    .. [2] A. Jacot, F. Gabriel, C. Hongler, "Neural Tangent Kernel:
       Convergence and Generalization in Neural Networks", NeurIPS 2018.
    .. [3] R. Novak et al., "Neural Tangents: Fast and Easy Infinite Neural
       Networks in Python", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skmath import NTKRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(40, 1))
    >>> y = np.sin(X).ravel() + 5.0
    >>> reg = NTKRegressor(depth=2, alpha=1e-3, device="cpu").fit(X, y)
    >>> mean, std = reg.predict([[0.5], [10.0]], return_std=True)
    >>> mean.round(2)
    array([5.48, ...])
    >>> bool(std[0] < std[1])
    True
    """

    _parameter_constraints = {
        **ARCHITECTURE_CONSTRAINTS,
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "normalize_y": ["boolean"],
        "n_targets": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        depth=1,
        *,
        activation="relu",
        weight_std=1.0,
        bias_std=1.0,
        kernel="ntk",
        alpha=1e-6,
        normalize_y=True,
        n_targets=None,
        device="auto",
    ):
        self.depth = depth
        self.activation = activation
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.kernel = kernel
        self.alpha = alpha
        self.normalize_y = normalize_y
        self.n_targets = n_targets
        self.device = device

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure  # a failed (re)fit leaves the fitted model as it was
    def fit(self, X, y):
        """Fit the infinite-width network (one kernel matrix, one Cholesky).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        # X_train_ and y_train_ are the model's own copies, as with
        # GaussianProcessRegressor's default copy_X_train=True: predictions
        # must not change when the caller later modifies the arrays passed.
        X, y = validate_data(
            self, X, y, dtype=np.float64, multi_output=True, y_numeric=True, copy=True
        )
        y = np.array(y, dtype=np.float64)
        n_targets = y.shape[1] if y.ndim > 1 else 1
        if self.n_targets is not None and n_targets != self.n_targets:
            raise ValueError(  # GaussianProcessRegressor's message
                "The number of targets seen in `y` is different from the parameter "
                f"`n_targets`. Got {n_targets} != {self.n_targets}."
            )
        alpha = np.asarray(self.alpha, dtype=np.float64)
        if alpha.ndim > 1 or (alpha.ndim == 1 and alpha.shape[0] not in (1, X.shape[0])):
            raise ValueError(
                "alpha must be a scalar or an array of shape (n_samples,), got an "
                f"array of shape {alpha.shape} for n_samples={X.shape[0]}."
            )
        if not np.all(np.isfinite(alpha) & (alpha >= 0)):
            raise ValueError("alpha must be non-negative and finite.")
        if self.normalize_y:
            # As GaussianProcessRegressor, without its overflow (|y| > 1e154
            # gave NaN predictions) or underflow (|y| < 1e-154 had std 1); a
            # constant column (std within rounding of its mean, as sklearn's
            # _is_constant_feature) gets scale 1, and no absolute threshold
            # (GPR's replaces a 2-D y's std below 2e-15 by 1: stds 1e18 off).
            self._y_train_mean, std = column_mean_std(y)
            self._y_train_std = np.where(constant_columns(self._y_train_mean, std), 1.0, std)
            y = (y - self._y_train_mean) / self._y_train_std
        else:
            shape = (y.shape[1],) if y.ndim == 2 else 1
            self._y_train_mean = np.zeros(shape)
            self._y_train_std = np.ones(shape)

        # Frozen at fit, as GaussianProcessRegressor's kernel_: predictions
        # use it whatever set_params changes before a refit.
        device = self._resolve_device()
        # After a CUDA fit the kernel says "auto": unpickled on a machine
        # without a GPU it computes on the CPU, as the regressor predicts.
        kernel = NTKKernel(kernel=self.kernel, device="auto" if device.type == "cuda" else "cpu",
                           **architecture(self))
        with torch_threads():
            Xt = as_tensor(X, device)
            nngp, ntk = nngp_ntk(Xt, compute_ntk=self.kernel == "ntk", **architecture(kernel))
            # The kernel matrix becomes its Cholesky factor (the NNGP is kept
            # for the NTK ensemble's covariance).
            L = _cholesky(ntk if self.kernel == "ntk" else nngp, as_tensor(alpha, device), self)
            yt = as_tensor(y, device)
            dual = _cho_solve(L, yt.reshape(len(y), -1)).reshape(yt.shape)
            if self.kernel == "nngp":
                lml = _log_marginal_likelihood(L, yt, dual)
        self.kernel_ = kernel
        self.X_train_ = X
        self.y_train_ = y
        self.L_ = to_numpy(L)
        self.alpha_ = to_numpy(dual)
        if self.kernel == "nngp":
            self.log_marginal_likelihood_value_ = lml
        elif hasattr(self, "log_marginal_likelihood_value_"):
            del self.log_marginal_likelihood_value_  # left by an earlier "nngp" fit
        # The NTK ensemble's covariance needs the NNGP train matrix too.
        self._nngp_train = to_numpy(nngp) if self.kernel == "ntk" else None
        return self

    def predict(self, X, return_std=False, return_cov=False):
        """Predict with the infinite-width network, optionally with its uncertainty.

        Before ``fit``, as ``GaussianProcessRegressor``: the prior, i.e. the
        outputs of the untrained networks (with either ``kernel``: mean 0,
        covariance the NNGP kernel), ``n_targets`` of them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.
        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution.
        return_cov : bool, default=False
            Also return the covariance of the predictive distribution. At most
            one of ``return_std`` and ``return_cov`` may be True. Covariances
            are squares: for targets beyond ~1e154 (below ~1e-154) they leave
            float64's range (inf, or 0), where ``return_std`` stays exact.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Mean of the predictive distribution.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Standard deviation, only when ``return_std`` is True.
        y_cov : ndarray of shape (n_samples, n_samples) or \
                (n_samples, n_samples, n_targets)
            Covariance, only when ``return_cov`` is True.
        """
        if return_std and return_cov:
            raise RuntimeError(
                "At most one of return_std or return_cov can be requested."
            )
        # dtype "numeric" first, as GaussianProcessRegressor's: strings are refused.
        X = validate_data(self, X, reset=False, dtype="numeric").astype(np.float64, copy=False)
        if return_cov:
            y_mean, y_var, y_scale = self._mean_and_cov(X)
            y_cov = np.outer(y_var, y_scale**2).reshape(*y_var.shape, -1)
            return y_mean, np.squeeze(y_cov, axis=2) if y_cov.shape[2] == 1 else y_cov
        if not hasattr(self, "X_train_"):
            return self._predict_prior(X, return_std)
        device = self._predict_device()
        fitted = self._fitted_tensors(device)  # once, not per block of rows
        # Blocks of test rows: memory of a block's test x train matrices, not
        # of all of them (1M rows against 2000 training rows asked for 15 GB
        # at once).
        rows = block_rows(6 * self.X_train_.shape[0], 8, device, large=True)
        parts = [self._posterior(X[i : i + rows], fitted, return_std=return_std)
                 for i in range(0, X.shape[0], rows)]
        y_mean = self._in_target_units(np.concatenate([mean for mean, _ in parts]))
        if not return_std:
            return y_mean
        y_var = np.concatenate([var for _, var in parts])
        negative = y_var < 0
        if np.any(negative):
            warnings.warn(
                "Predicted variances smaller than 0. Setting those variances to 0."
            )
            y_var[negative] = 0.0
        # The std scaled, not the variance: std**2 overflows beyond ~1e154.
        y_std = np.outer(np.sqrt(y_var), self._y_train_std).reshape(*y_var.shape, -1)
        if y_std.shape[1] == 1:
            y_std = np.squeeze(y_std, axis=1)
        return y_mean, y_std

    def _in_target_units(self, y_mean):
        """A fitted model's mean in normalised units -> in the targets' units."""
        y_mean = self._y_train_std * y_mean + self._y_train_mean
        return np.squeeze(y_mean, axis=1) if y_mean.ndim > 1 and y_mean.shape[1] == 1 else y_mean

    def _mean_and_cov(self, X):
        """``(y_mean, y_var, y_scale)`` at validated float64 rows ``X``: the
        mean in the targets' units, the covariance of the normalised targets
        (n x n) and each target's scale, shape (n_targets,): the covariance
        of target ``k`` is ``y_var * y_scale[k]**2``. Test x test: all the
        rows at once."""
        if not hasattr(self, "X_train_"):  # the prior, in the targets' units
            n_targets = 1 if self.n_targets is None else self.n_targets
            prior = NTKKernel(kernel="nngp", device=self.device, **architecture(self))
            return self._predict_prior(X, False), prior(X), np.ones(n_targets)
        fitted = self._fitted_tensors(self._predict_device())
        y_mean, y_var = self._posterior(X, fitted, return_cov=True)
        return self._in_target_units(y_mean), y_var, np.atleast_1d(self._y_train_std)

    def _fitted_tensors(self, device):
        """``(X_train_, alpha_, L_, NNGP train matrix or None)`` as tensors on ``device``."""
        # L_ is column-major since fit computes it in place: read as the
        # transpose of a row-major array, without a copy.
        L_ = self.L_
        L = as_tensor(L_.T, device).mT if L_.flags.f_contiguous else as_tensor(L_, device)
        nngp_train = None if self._nngp_train is None else as_tensor(self._nngp_train, device)
        return as_tensor(self.X_train_, device), as_tensor(self.alpha_, device), L, nngp_train

    def _posterior(self, X, fitted, *, return_std=False, return_cov=False):
        """Mean (normalised units) of validated float64 rows ``X``, and their
        variance or covariance (None when neither is asked); ``fitted`` is
        :meth:`_fitted_tensors`."""
        arch = architecture(self.kernel_)
        use_ntk = self.kernel_.kernel == "ntk"
        Xd, dual, L, nngp_train = fitted
        y_var = None
        with torch_threads():
            Xt = as_tensor(X, Xd.device)
            nngp_td, ntk_td = nngp_ntk(Xt, Xd, compute_ntk=use_ntk, **arch)
            K_td = ntk_td if use_ntk else nngp_td
            y_mean = to_numpy((K_td @ dual.reshape(len(dual), -1)).reshape(-1, *dual.shape[1:]))
            if return_std or return_cov:
                if return_cov:
                    nngp_tt = nngp_ntk(Xt, compute_ntk=False, **arch)[0]
                else:
                    nngp_tt = nngp_ntk_diag(Xt, **arch)[0]
                if use_ntk:
                    B = _cho_solve(L, K_td.T)
                    if return_cov:
                        y_var = _ntk_ensemble_cov(B, nngp_tt, nngp_td, nngp_train)
                    else:
                        y_var = _ntk_ensemble_var(B, nngp_tt, nngp_td, nngp_train)
                else:
                    V = torch.linalg.solve_triangular(L, K_td.T, upper=False)
                    y_var = nngp_tt - (V.T @ V if return_cov else (V * V).sum(dim=0))
                if return_cov:
                    # Rounding leaves products such as V.T @ V slightly
                    # asymmetric, and multivariate_normal (sample_y) then
                    # warns that the covariance is not PSD.
                    y_var = y_var.add(y_var.T).mul_(0.5)
                y_var = to_numpy(y_var)
        return y_mean, y_var

    def _predict_prior(self, X, return_std):
        """``predict`` before ``fit``: the untrained networks' outputs.

        At initialisation, in the NTK parameterisation, an infinitely wide
        network's outputs are the Gaussian process with the NNGP kernel
        (Lee et al. 2018), whichever ``kernel`` the fit will use (the
        ensemble covariance of ``kernel="ntk"`` without training data is
        that kernel). In the targets' own units (``normalize_y`` has nothing
        to undo yet), ``n_targets`` independent outputs, shaped as
        ``GaussianProcessRegressor``'s prior.
        """
        self._validate_params()
        n_targets = 1 if self.n_targets is None else self.n_targets
        shape = (X.shape[0],) if n_targets == 1 else (X.shape[0], n_targets)
        y_mean = np.zeros(shape)
        if not return_std:
            return y_mean
        prior = NTKKernel(kernel="nngp", device=self.device, **architecture(self))
        y_var = prior.diag(X)
        if n_targets > 1:
            y_var = np.repeat(y_var[..., None], n_targets, axis=-1)
        return y_mean, np.sqrt(y_var)

    def sample_y(self, X, n_samples=1, random_state=0):
        """Draw samples from the predictive distribution at ``X``.

        The draws are jointly Gaussian with the mean and full covariance of
        ``predict(X, return_cov=True)``: the Gaussian process posterior for
        ``kernel="nngp"``, the infinite ensemble of trained networks for
        ``kernel="ntk"``; before ``fit``, the prior (see :meth:`predict`).
        The random numbers are drawn as in
        ``GaussianProcessRegressor.sample_y`` (one
        ``multivariate_normal`` call per target, in order), so with
        ``kernel="nngp"`` the samples equal those of the equivalent
        ``GaussianProcessRegressor`` for the same ``random_state``.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Query points.
        n_samples : int, default=1
            Number of samples drawn per query point.
        random_state : int, RandomState instance or None, default=0
            Seed of the NumPy random number generator. Pass an int for
            reproducible results across calls.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or \
                (n_samples_X, n_targets, n_samples)
            Samples of the predictive distribution at ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from skmath import NTKRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-3, 3, size=(20, 1))
        >>> reg = NTKRegressor(depth=2, kernel="nngp", alpha=1e-2, device="cpu")
        >>> reg = reg.fit(X, np.sin(X).ravel())
        >>> samples = reg.sample_y([[0.0], [1.0], [2.0]], n_samples=5, random_state=0)
        >>> samples.shape
        (3, 5)
        >>> bool(np.all(samples == reg.sample_y([[0.0], [1.0], [2.0]], 5, random_state=0)))
        True
        """
        rng = check_random_state(random_state)
        X = validate_data(self, X, reset=False, dtype="numeric").astype(np.float64, copy=False)
        y_mean, y_var, y_scale = self._mean_and_cov(X)
        samples = []
        for k, scale in enumerate(y_scale):
            # Drawn in units of a power of two near the target's scale when
            # its square leaves float64's range (targets beyond ~1e120): the
            # covariance was inf and multivariate_normal's SVD failed. Exact,
            # and the same draws otherwise (unit 1).
            unit = 1.0 if 2.0**-400 < scale < 2.0**400 else math.ldexp(1.0, pow2_exponent(scale))
            mean = (y_mean if y_mean.ndim == 1 else y_mean[:, k]) / unit
            draws = rng.multivariate_normal(mean, y_var * (scale / unit) ** 2, n_samples)
            samples.append(unit * draws.T)
        return samples[0] if y_mean.ndim == 1 else np.stack(samples, axis=1)

    def log_marginal_likelihood(self, theta=None, eval_gradient=False, clone_kernel=True):
        """Log marginal likelihood of the training targets (``kernel="nngp"`` only).

        The log density of ``y_train_`` (normalised when ``normalize_y``)
        under the Gaussian process prior with the NNGP kernel plus ``alpha``
        on the diagonal, summed over targets: the value
        ``GaussianProcessRegressor.log_marginal_likelihood`` gives with the
        equivalent kernel. The NNGP kernel has no hyperparameters (its
        architecture is fixed by the estimator's parameters; tune those by
        cross-validation), so ``theta`` can only be None or empty.

        With ``kernel="ntk"`` the model is an ensemble of trained networks,
        not the posterior of a Gaussian process with one kernel, and has no
        marginal likelihood: a ValueError is raised.

        Parameters
        ----------
        theta : array-like of shape (0,), default=None
            Kernel hyperparameters; must be None or empty.
        eval_gradient : bool, default=False
            Also return the gradient with respect to ``theta`` (empty). As in
            ``GaussianProcessRegressor``, ``theta`` must then not be None.
        clone_kernel : bool, default=True
            Accepted for compatibility with ``GaussianProcessRegressor``;
            has no effect (no kernel object is modified).

        Returns
        -------
        log_likelihood : float
            Log marginal likelihood of the training targets.
        log_likelihood_gradient : ndarray of shape (0,)
            Gradient with respect to ``theta``; only when ``eval_gradient``.

        Raises
        ------
        ValueError
            If ``kernel="ntk"``, if ``theta`` is not empty, or if
            ``eval_gradient`` is True and ``theta`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> from skmath import NTKRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-3, 3, size=(20, 1))
        >>> reg = NTKRegressor(depth=2, kernel="nngp", alpha=1e-2, device="cpu")
        >>> reg = reg.fit(X, np.sin(X).ravel())
        >>> lml = reg.log_marginal_likelihood()
        >>> bool(lml == reg.log_marginal_likelihood_value_)
        True
        >>> reg.log_marginal_likelihood(theta=[], eval_gradient=True)[1]
        array([], dtype=float64)
        """
        check_is_fitted(self, "X_train_")  # requires_fit=False: name what fit sets
        if not hasattr(self, "log_marginal_likelihood_value_"):  # fitted with "ntk"
            raise ValueError(
                "log_marginal_likelihood is only defined for a model fitted with "
                "kernel='nngp', this one was fitted with kernel='ntk': the "
                "trained-ensemble model is not the posterior of a Gaussian process "
                "with one kernel."
            )
        if theta is None:
            if eval_gradient:
                raise ValueError("Gradient can only be evaluated for theta!=None")
            return self.log_marginal_likelihood_value_
        theta = np.asarray(theta, dtype=np.float64)
        if theta.size != 0:
            raise ValueError(
                "The NNGP kernel of NTKRegressor has no hyperparameters: theta "
                f"must be None or empty, got {theta.size} entries. Tune depth, "
                "activation, weight_std, bias_std and alpha by cross-validation."
            )
        if eval_gradient:
            return self.log_marginal_likelihood_value_, np.zeros(0)
        return self.log_marginal_likelihood_value_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.requires_fit = False  # predict gives the prior, as GaussianProcessRegressor's
        return tags

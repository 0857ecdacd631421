"""Monte Carlo dropout (Gal & Ghahramani, 2016): perceptrons with predictive uncertainty.

A network trained with dropout defines a distribution over networks: each
dropout mask on the hidden units is one network. Keeping dropout at prediction
time and averaging ``T`` stochastic passes approximates the posterior
predictive distribution of a Bayesian network (Gal & Ghahramani, 2016, Eq. 8),
and the spread of the passes measures the model's (epistemic) uncertainty.

The pure functions below work on validated tensors:

- :func:`_standardize` and :func:`_fold_standardization` /
  :func:`_unfold_standardization`: the networks train on standardised inputs
  (and targets), and the affine maps are folded into the first and last layers
  afterwards, so ``coefs_`` is a plain network on the original units;
- :func:`_dropout_masks`: the ``T`` networks of a prediction, one Bernoulli
  mask per hidden unit, shared by all rows (so a row's prediction does not
  depend on the other rows) and drawn from a seed fixed at fit time (so
  repeated calls give identical predictions);
- :func:`_mc_forward`: the ``T`` sampled networks on a block of rows;
- :func:`_noise_variance`: the observation noise of the regressor, the
  maximum-likelihood value given the trained network on its training rows;
- :func:`_held_out_noise_variance`: the noise that maximises the predictive
  likelihood of held-out rows (the regressor's default, by cross-fitting).
"""

import functools
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import brentq
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import KFold, check_cv
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from .._engine import (
    as_tensor,
    block_rows,
    column_mean_std,
    constant_columns,
    make_generator,
    row_slice,
    to_numpy,
    torch_threads,
)
from ._base import _OUT_ACTIVATIONS, _BaseMLP, _forward
from ._mlp import MLPClassifier, MLPRegressor, _attributes_doc


# The perceptrons' attributes (no lbfgs); early stopping scores the mean network.
_MC_ATTRIBUTES = _attributes_doc(
    lbfgs=False,
    validated=(
        ", of the\n        network with dropout off (its mean weights), which early"
        "\n        stopping judges, not of the Monte Carlo average that ``predict``"
        "\n        returns"
    ),
)


def _standardize(A, *, target=False):
    """Column centres and scales of ``A``.

    A column is constant when its standard deviation is below ``10 eps |mean|``
    (relative to the column's magnitude, as sklearn's ``_is_constant_feature``).
    A constant input column gets scale ``max(1, |mean|)`` (sklearn's
    ``StandardScaler`` uses 1): the centre is folded into the first layer's
    bias, which then absorbs ``mean / scale`` times the column's weights, and
    with scale 1 a large ``mean`` cancels catastrophically (a constant
    float32 column of 1e10 gave R^2 -2170, and any deviation from the
    training constant at prediction swamped the network); a sparse one,
    not centred, gets scale ``|mean|`` (1 for zeros), so that it becomes
    +-1 at any magnitude; a constant
    ``target`` column gets scale ``sqrt(eps) |mean|`` (``eps``
    for zeros): what the network outputs for its (zero) standardised targets
    comes back multiplied by that scale, so a constant target is predicted
    as itself, to about ``1e-9`` relative in float64, with a std as small,
    in any units (with scale ``|mean|`` a constant ``1e6`` was predicted 3%
    low with std 6e4; with scale 1 a constant ``1e-8`` was swamped by the
    untrained output). Not smaller: the network computes in the targets'
    units (the scales are folded into its last layer), where ``mean`` is
    rounded to ``eps |mean|``, and that rounding, divided by the scale,
    must stay small in standardised units or it steers the other outputs.

    A sparse ``A`` is scaled but not centred (its centre is 0; centring would
    make it dense), as ``StandardScaler(with_mean=False)``: the first layer's
    bias absorbs the offset. The statistics are the engine's
    :func:`column_mean_std` (float64, no overflow or underflow at any
    magnitude; duplicate stored entries count as their sum).
    """
    mean, scale = column_mean_std(A)
    centre = np.zeros_like(mean) if sp.issparse(A) else mean
    magnitude = np.abs(mean)
    eps = np.finfo(A.dtype).eps
    constant = constant_columns(mean, scale)
    if target:
        fallback = np.where(magnitude > 0, np.sqrt(eps) * magnitude, eps)
    elif sp.issparse(A):  # not centred: the column becomes +-1, at any magnitude
        fallback = np.where(magnitude > 0, magnitude, 1.0)
    else:
        fallback = np.maximum(magnitude, 1.0)
    scale[constant] = np.broadcast_to(fallback, scale.shape)[constant]
    return centre, scale


def _apply_standardization(X, centre, scale):
    """``(X - centre) / scale``; for sparse ``X`` (centre 0) a column scaling."""
    if not sp.issparse(X):
        return (X - centre) / scale
    if np.any(centre != 0):
        raise ValueError(
            "This model was first fitted on dense X, whose columns it centres; "
            "refitting it (warm_start) on sparse X would need a dense copy. Pass "
            "dense X, or fit a new model on sparse X."
        )
    return X @ sp.diags((1 / scale).astype(X.dtype))


def _fold_standardization(coefs, intercepts, x_mean, x_scale, y_mean=None, y_scale=None):
    """Network on standardised data -> the same network on original units.

    With ``x_s = (x - x_mean) / x_scale`` and ``y = y_mean + y_scale * z_s``:
    ``W_0 <- W_0 / x_scale[:, None]``, ``b_0 <- b_0 - x_mean @ W_0`` (new
    ``W_0``), then ``W_L <- W_L * y_scale``, ``b_L <- b_L * y_scale + y_mean``.
    Exact because dropout only acts on hidden units.
    """
    coefs, intercepts = list(coefs), list(intercepts)
    coefs[0] = coefs[0] / x_scale[:, None]
    intercepts[0] = intercepts[0] - x_mean @ coefs[0]
    if y_mean is not None:
        coefs[-1] = coefs[-1] * y_scale
        intercepts[-1] = intercepts[-1] * y_scale + y_mean
    return coefs, intercepts


def _unfold_standardization(coefs, intercepts, x_mean, x_scale, y_mean=None, y_scale=None):
    """Inverse of :func:`_fold_standardization`."""
    coefs, intercepts = list(coefs), list(intercepts)
    if y_mean is not None:
        coefs[-1] = coefs[-1] / y_scale
        intercepts[-1] = (intercepts[-1] - y_mean) / y_scale
    intercepts[0] = intercepts[0] + x_mean @ coefs[0]
    coefs[0] = coefs[0] * x_scale[:, None]
    return coefs, intercepts


def _dropout_masks(widths, n_passes, rate, generator, dtype, device):
    """One inverted-dropout mask per hidden unit and pass.

    The masks are drawn on the CPU (``generator`` is a CPU generator) and then
    moved to ``device``: they are small, and a model then predicts with the
    same sampled networks on every device (a GPU-fitted model loaded on a
    CPU-only machine predicts the same).

    Returns
    -------
    masks : list of Tensor, shapes (n_passes, 1, width)
        Entries ``m / (1 - rate)`` with ``m ~ Bernoulli(1 - rate)``: pass ``t``
        is the network whose hidden units with ``m = 0`` are dropped.
    """
    keep = 1.0 - rate
    return [
        torch.empty(n_passes, 1, width, dtype=dtype, device="cpu")
        .bernoulli_(keep, generator=generator)
        .div_(keep)
        .to(device)
        for width in widths
    ]


def _mc_forward(X, coefs, intercepts, activation, masks, n_passes):
    """Raw outputs of the ``T = n_passes`` sampled networks, shape (T, n, n_outputs).

    The first layer is computed once for all passes; the masks of
    :func:`_dropout_masks` then branch the hidden units into ``T`` networks.
    Without hidden layers (no masks) the ``T`` networks are one, repeated.
    """
    z = _forward(X, coefs, intercepts, activation, masks=masks)
    return z if z.dim() == 3 else z.expand(n_passes, *z.shape)


def _noise_variance(blocks):
    """Observation-noise variance that maximises the expected training likelihood.

    For a Gaussian likelihood with precision ``tau`` and the dropout
    distribution ``q`` over networks, ``E_q[sum_i log N(y_i; f(x_i), 1/tau)]``
    is maximal at ``1/tau = (1/n) sum_i E_q[(y_i - f(x_i))^2]``: the squared
    error of the mean plus the spread of the passes, averaged over the
    training rows. ``E_q`` is estimated with the ``T`` prediction passes.

    Parameters
    ----------
    blocks : iterable of (Tensor, Tensor)
        ``(z, y)`` per block of rows: outputs of shape (T, rows, k) and
        targets of shape (rows, k).

    Returns
    -------
    variance : Tensor, shape (k,)
    """
    total, count = 0.0, 0
    for z, y in blocks:
        total = total + (z - y).square().mean(0).sum(0)
        count += y.shape[0]
    return total / count


def _held_out_noise_variance(residuals, spreads):
    """Noise variance ``v >= 0`` maximising the predictive likelihood of held-out rows.

    Each held-out row ``i`` has the residual ``r_i = y_i - mean_t f_t(x_i)``
    of the sampled networks' mean and their variance ``s_i = Var_t f_t(x_i)``;
    its predictive density is ``N(y_i; mean_t f_t(x_i), s_i + v)``. The
    log-likelihood ``-1/2 sum_i [log(s_i + v) + r_i^2 / (s_i + v)]`` is
    maximal where ``sum_i (r_i^2 - s_i - v) / (s_i + v)^2 = 0``, found by
    Brent's method; ``v = mean_i r_i^2`` when every ``s_i`` is 0, and ``v = 0``
    when the spread alone already covers the residuals.

    Parameters
    ----------
    residuals, spreads : ndarray of shape (n,)

    Returns
    -------
    variance : float

    Examples
    --------
    >>> import numpy as np
    >>> r = np.array([1.0, -2.0, 2.0, -1.0])
    >>> round(_held_out_noise_variance(r, np.zeros(4)), 10)  # mean r^2
    2.5
    >>> round(_held_out_noise_variance(r, np.full(4, 1.0)), 10)  # mean r^2 - s
    1.5
    >>> _held_out_noise_variance(r, np.full(4, 3.0))  # the spread covers them
    0.0
    """
    # In float64: float32 residuals of a float32 fit underflowed the
    # search's lower end (1e-77) to 0, and slope() divided by zero.
    residuals, spreads = (np.asarray(a, dtype=np.float64) for a in (residuals, spreads))
    r2 = np.square(residuals)
    scale = r2.mean()
    if not scale > 0:
        return 0.0
    # In units of mean r^2: the root lies in [0, max r^2].
    r2, spreads = r2 / scale, spreads / scale

    def slope(v):
        return np.sum((r2 - spreads - v) / np.square(spreads + v))

    low = np.finfo(np.float64).tiny ** 0.25
    if slope(low) <= 0:
        return 0.0
    return float(brentq(slope, low, r2.max(), xtol=1e-12, rtol=1e-10) * scale)


def _pass_moments(z, scale, noise_std=None):
    """Mean (and predictive std) over the ``T`` passes ``z``, shape (T, rows, k).

    Without overflow: a mean whose sum of finite passes leaves float64 is
    taken in units of the passes' largest magnitude; the std in units of
    ``scale`` (shape (k,), y's) or, where larger, of that magnitude (inputs
    far outside the training data: the variance at x = 1e155 was inf), and
    inf where the passes themselves are (not inf / inf). ``noise_std``
    (shape (k,)): the observation noise, added to the passes' spread.

    Returns
    -------
    (mean,) or (mean, std) : tuple of Tensor, shapes (rows, k)
    """
    mean = z.mean(0)
    if not bool(mean.isfinite().all()):
        largest = z.abs().amax(0).clamp_min(torch.finfo(z.dtype).tiny)
        mean = ((z / largest).mean(0) * largest).where(largest.isfinite(), mean)
    if noise_std is None:
        return (mean,)
    unit = torch.maximum(z.abs().amax(0), scale)
    std = (z / unit).var(0, correction=0).add_((noise_std / unit).square()).sqrt_() * unit
    return mean, std.where(unit.isfinite(), math.inf)


def _per_output(values):
    """A float for one output, else the array of shape (n_outputs,) (as ``noise_std_``)."""
    return float(values[0]) if len(values) == 1 else np.asarray(values)


class _BaseMCDropout(_BaseMLP):
    """Perceptron + dropout kept at prediction time (not for direct use)."""

    _parameter_constraints: dict = {
        **{k: v for k, v in _BaseMLP._parameter_constraints.items() if k != "max_fun"},
        "solver": [StrOptions({"sgd", "adam"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_mc_samples": [Interval(Integral, 1, None, closed="left")],
    }

    # Only the regressor standardises its targets.
    _standardize_y = False
    _accept_sparse = "csr"

    def _network_dropout(self):
        return self.dropout

    def _keeps_optimizer_state(self):
        return False

    def _prepare_fit(self, X, y, first_pass, rng):
        if first_pass:
            self._x_mean, self._x_scale = _standardize(X)
            if self._standardize_y:
                self._y_mean, self._y_scale = _standardize(y, target=True)
            # Seed of the prediction masks: fixed per fitted model.
            self._mc_seed = int(rng.randint(np.iinfo(np.int32).max))
        # The rate the network is trained with is the rate it is sampled
        # with: set_params(dropout=...) after fit does not change predict
        # (nor mix noise_std_, estimated at this rate, with another).
        self._fitted_dropout = self.dropout
        X = _apply_standardization(X, self._x_mean, self._x_scale)
        if self._standardize_y:
            y = (y - self._y_mean) / self._y_scale
        return X, y

    def _scalers(self, dtype):
        """Means and scales of X (and y), as arrays of ``dtype``."""
        scalers = [self._x_mean, self._x_scale]
        if self._standardize_y:
            scalers += [self._y_mean, self._y_scale]
        return [np.asarray(a, dtype=dtype) for a in scalers]

    def _initialize(self, n_outputs, layer_units, dtype, generator, device):
        # The Glorot draw is the network on standardised data; store it folded.
        super()._initialize(n_outputs, layer_units, dtype, generator, device)
        self.coefs_, self.intercepts_ = _fold_standardization(
            self.coefs_, self.intercepts_, *self._scalers(dtype)
        )

    def _scaler_tensors(self, like):
        dtype = np.float32 if like.dtype == torch.float32 else np.float64
        return [as_tensor(a, like.device) for a in self._scalers(dtype)]

    def _to_network_params(self, coefs, intercepts):
        return _unfold_standardization(coefs, intercepts, *self._scaler_tensors(coefs[0]))

    def _from_network_params(self, coefs, intercepts):
        return _fold_standardization(coefs, intercepts, *self._scaler_tensors(coefs[0]))

    def _mc_block_rows(self, n_passes, itemsize, device):
        """Rows per block of ``n_passes`` sampled networks (the engine's ``block_rows``)."""
        width = max(W.shape[1] for W in self.coefs_)
        return block_rows(n_passes * width, itemsize, device)

    def _mc_passes(self, X, *, n_passes, random_state, reduce=None):
        """Raw outputs of ``n_passes`` sampled networks, shape (T, n, n_outputs).

        Returns the outputs and the generator (after drawing the masks), so
        that callers can draw more from the same stream. With ``reduce``, a
        function of one block's outputs (T, rows, n_outputs) returning a
        tuple of tensors with the rows first, returns those tuples joined
        over the blocks instead: memory bounded by a block, not T x n.
        """
        device = self._predict_device()
        rows = self._mc_block_rows(n_passes, X.dtype.itemsize, device)
        work = min(rows, X.shape[0]) * n_passes * self._row_work()
        with torch_threads(work=work), torch.no_grad():
            coefs, intercepts = self._network_tensors(
                device, X.dtype, sparse_input=sp.issparse(X)
            )
            generator = make_generator(random_state, torch.device("cpu"))
            widths = [W.shape[1] for W in coefs[:-1]]
            # The rate trained with (getattr: models pickled before it was kept).
            rate = getattr(self, "_fitted_dropout", self.dropout)
            masks = _dropout_masks(widths, n_passes, rate, generator, coefs[0].dtype, device)
            # Each block's results go into outputs allocated once: small
            # per-block tensors kept alive between the blocks' large
            # temporaries fragment glibc's heap, and the resident memory grew
            # with the rows (7.5 GB for predict on 200k x 100, T = 100).
            outputs = None
            for i in range(0, X.shape[0], rows):
                z = _mc_forward(as_tensor(X[i : i + rows], device), coefs, intercepts,
                                self.activation, masks, n_passes)
                parts = (z.transpose(0, 1),) if reduce is None else reduce(z)
                if outputs is None:
                    outputs = tuple(p.new_empty((X.shape[0], *p.shape[1:])) for p in parts)
                for out, part in zip(outputs, parts):
                    out[i : i + part.shape[0]] = part
        if reduce is None:
            return outputs[0].transpose(0, 1), generator
        return outputs, generator


_MC_PARAMETERS = """hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers.
    dropout : float, default=0.1
        Probability of dropping each hidden unit, in training and in each
        Monte Carlo pass at prediction.
    n_mc_samples : int, default=100
        Number ``T`` of stochastic passes (sampled networks) averaged at
        prediction.
    solver : {"sgd", "adam"}, default="adam"
        Stochastic optimiser, as in :class:`MLPRegressor`.
    alpha : float, default=0.0001
        L2 penalty on the weights (standardised units), divided by the number
        of samples of the batch as in scikit-learn.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule of ``solver="sgd"``.
    learning_rate_init : float, default=0.001
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Whether to draw the minibatches in a new random order each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the training masks and minibatches, the
        early-stopping split and the masks used at prediction (fixed at fit
        time: a fitted model always gives the same predictions).
    tol : float, default=1e-4
        Training stops when the loss (or validation score) has not improved by
        ``tol`` for ``n_iter_no_change`` consecutive epochs.
    verbose : bool, default=False
        Print scikit-learn's MLP progress lines to stdout (``Iteration i,
        loss = ...`` each epoch, the validation score, the stopping message)
        above a ``tqdm`` progress bar (on stderr).
    warm_start : bool, default=False
        Start from the previous solution instead of a fresh initialisation.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum (``solver="sgd"``, ``momentum > 0``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score has
        not improved for ``n_iter_no_change`` epochs and restore the best
        weights (with ``warm_start``, only an epoch that beats the earlier
        fits' best score counts, as in the MLPs).
    validation_fraction : float, default=0.1
        Fraction held out for early stopping.
    beta_1 : float, default=0.9
        Decay rate of Adam's first-moment estimates.
    beta_2 : float, default=0.999
        Decay rate of Adam's second-moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``."""


class MCDropoutRegressor(RegressorMixin, _BaseMCDropout):
    __doc__ = f"""Monte Carlo dropout regressor: a perceptron with predictive uncertainty.

    A :class:`MLPRegressor` network trained with dropout on its hidden units;
    at prediction, dropout stays on and ``n_mc_samples`` sampled networks are
    averaged (Gal & Ghahramani, 2016). ``predict(X, return_std=True)`` adds the
    predictive standard deviation, which combines the spread of the passes
    (epistemic uncertainty) with the observation noise (aleatoric), estimated
    from the training data: no precision ``tau`` to set by hand.

    Inputs and targets are standardised internally (sparse inputs are only
    scaled, so they stay sparse); results are in the original units.

    Parameters
    ----------
    {_MC_PARAMETERS}
    cv : int, cross-validation splitter, iterable of splits or None, default=5
        How the observation noise is estimated. An int ``K``: cross-fitting,
        ``K`` networks (the same parameters) each trained without one of ``K``
        shuffled folds, and the noise chosen to maximise the predictive
        likelihood of the held-out rows (``fit`` then trains ``K + 1``
        networks; the folds' networks always start from scratch, also with
        ``warm_start``). With fewer than ``K`` samples, one fold per sample
        (leave-one-out; with one sample, the training rows' noise, as
        ``None``), so the default fits any data. A splitter (e.g.
        :class:`~sklearn.model_selection.KFold`) or an iterable of
        ``(train, test)`` index arrays gives the folds itself, as sklearn's
        ``cv`` parameters take them (``fit`` takes no ``groups``: give a
        group splitter's folds as a list, ``list(GroupKFold(3).split(X, y,
        groups))``; a list, not a generator, which one fit would use up).
        ``None``: from the training rows of the
        one network (faster; optimistic when the network overfits). See
        Notes. Ctrl-C during the folds' training ends the fit with the
        training rows' noise (and a warning).

    Attributes
    ----------
    noise_std_ : float or ndarray of shape (n_outputs,)
        Estimated standard deviation of the observation noise, in the units
        of ``y``.
    {_MC_ATTRIBUTES}

    See Also
    --------
    MLPRegressor : The same network without uncertainty.
    sklearn.gaussian_process.GaussianProcessRegressor : Exact Bayesian
        regression with a kernel; ``predict(return_std=True)`` and
        ``sample_y`` behave the same way.

    Notes
    -----
    The network is trained like :class:`MLPRegressor` (half squared error plus
    scikit-learn's L2 term, on standardised targets) with dropout on its
    hidden units. With ``T`` sampled networks ``f_t``, the prediction is the
    mean of ``f_t(x)`` and its variance is ``Var_t f_t(x) + 1/tau`` (Gal &
    Ghahramani, 2016, Eq. 8-9), where ``1/tau`` is the observation noise.
    Gal & Ghahramani choose ``tau`` by the log-likelihood of held-out data;
    ``cv`` does this automatically. By default the noise variance ``v`` is
    the one that maximises ``sum_i log N(y_i; m_i, s_i + v)`` over the rows
    ``i`` of each held-out fold, where ``m_i`` and ``s_i`` are the mean and
    variance of the passes of the network trained without that fold: the
    out-of-sample error that the spread of the passes does not already
    explain. On scikit-learn's diabetes data and Friedman's regression
    problems (160 to 4500 training rows) the 95% intervals then cover
    93-97% of test points, where the training-rows estimate below gave
    88-99%.

    With ``cv=None`` the noise is the maximum-likelihood value given the one
    trained network: ``E_q[sum_i log N(y_i; f(x_i), 1/tau)]`` over the
    dropout distribution ``q`` is maximal at
    ``1/tau = mean_i E_q[(y_i - f(x_i))^2]`` on the training rows (estimated
    with the ``T`` prediction passes). It is optimistic when the network
    overfits (few samples for its size), and counts the spread of the passes
    twice (in ``1/tau`` and in the prediction), which widens the intervals
    where that spread is large. Callbacks (:meth:`set_callbacks`) see each
    epoch's network with this estimate; the cross-fitted noise needs the
    whole training and is set at the end of ``fit``.

    Dropout makes each epoch's training loss noisy, so the plateau rule of
    :class:`MLPRegressor` (no ``tol`` improvement for ``n_iter_no_change``
    epochs) can stop the training early: on Friedman's first and third
    problems, a linear one and a sine (160 to 900 training rows),
    ``n_iter_no_change=30, max_iter=500`` lowered the test RMSE by 7-53% and
    raised the test log-likelihood (diabetes: RMSE +2%), for two to seven
    times the fit time. On small nearly noise-free nonlinear data the
    defaults underfit (the cross-fitted noise absorbs the misfit: the 95%
    intervals cover about 91%, the log-likelihood suffers); there
    ``early_stopping=True, learning_rate_init=0.01, n_iter_no_change=20,
    max_iter=500`` raised the test log-likelihood by 0.3-0.4 nats (Friedman
    1 and 3, a sine), for about 0.02 nats less on noisier data (see the
    user guide). The spread of the passes does not shrink with more
    data at a fixed ``dropout``, so on nearly noise-free data the intervals
    are wide. Tune these by predictive likelihood with
    ``GridSearchCV(..., scoring=skmath.metrics.neg_gaussian_nll_scorer)``.

    The ``T`` prediction masks are drawn from a seed fixed at fit time and
    shared by all rows, so predictions are deterministic and a row's
    prediction does not depend on the rest of ``X`` (up to the rounding of
    the products, 1e-16 relative).

    ``fit`` does not take ``sample_weight`` (nor does
    ``GaussianProcessRegressor``): each copy of a repeated sample draws its
    own dropout masks, so a weight would equal repeated rows only on average
    over the masks, not exactly as sklearn's estimator checks require. There
    is no ``partial_fit``: the standardisation of ``X`` and ``y``, the
    cross-fitted noise and the prediction masks' seed are fixed by ``fit``
    on the whole training set.

    References
    ----------
    Gal, Y. and Ghahramani, Z. (2016). Dropout as a Bayesian approximation:
    representing model uncertainty in deep learning. ICML. :arxiv:`1506.02142`

    Examples
    --------
    >>> import numpy as np
    >>> from skmath import MCDropoutRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.randn(200)
    >>> reg = MCDropoutRegressor(max_iter=300, random_state=0, device="cpu")
    >>> reg = reg.fit(X, y)
    >>> mean, std = reg.predict(np.array([[0.0], [1.5]]), return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    >>> bool(np.all(std > 0))
    True
    """

    _standardize_y = True

    _parameter_constraints: dict = {
        **_BaseMCDropout._parameter_constraints,
        "cv": ["cv_object"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        dropout=0.1,
        n_mc_samples=100,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        device="auto",
        cv=5,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.n_mc_samples = n_mc_samples
        self.cv = cv
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.device = device

    _validate_input = MLPRegressor._validate_input
    _warn_on_column_y = False  # as GaussianProcessRegressor
    _targets = MLPRegressor._targets

    def _trained_attributes(self, network, X, y):
        # X, y: standardised training tensors; the network works on them.
        with torch.no_grad():
            coefs, intercepts = list(network.coefs), list(network.intercepts)
            generator = make_generator(self._mc_seed, torch.device("cpu"))
            widths = [W.shape[1] for W in coefs[:-1]]
            masks = _dropout_masks(
                widths, self.n_mc_samples, self.dropout, generator, X.dtype, X.device
            )
            rows = self._mc_block_rows(self.n_mc_samples, X.element_size(), X.device)
            variance = _noise_variance(
                (
                    _mc_forward(
                        row_slice(X, i, i + rows), coefs, intercepts, self.activation, masks,
                        self.n_mc_samples,
                    ),
                    y[i : i + rows],
                )
                for i in range(0, X.shape[0], rows)
            )
        return {"noise_std_": _per_output(np.sqrt(to_numpy(variance)) * self._y_scale)}

    def _after_training(self, X, y, rng, incremental, max_iter):
        # The cross-fitted noise (see Notes) replaces the training-rows one;
        # the folds' networks train as long as the fit's (max_iter: the
        # epochs run, where a callback stopped it).
        if self.cv is None or incremental:
            return
        if isinstance(self.cv, Integral):
            n_splits = min(self.cv, X.shape[0])
            if n_splits < 2:  # one sample: nothing to hold out
                return
            folds = KFold(n_splits, shuffle=True, random_state=rng.randint(2**31 - 1))
        else:
            folds = check_cv(self.cv)  # a splitter, or an iterable of splits
        params = {**self.get_params(deep=False), "cv": None, "warm_start": False,
                  "verbose": False, "max_iter": max_iter}
        residuals, spreads = [], []
        try:
            splits = [self._fold_passes(params, X, y, train, held_out, rng)
                      for train, held_out in folds.split(X, y)]
        except KeyboardInterrupt:
            warnings.warn(
                "Training interrupted by user; the noise is the training rows' "
                "estimate (the cross-fitting networks did not finish).",
                UserWarning, stacklevel=4,
            )
            return
        for held_out, mean, spread in splits:
            residuals.append(y[held_out].reshape(len(held_out), -1) / self._y_scale
                             - to_numpy(mean))
            spreads.append(to_numpy(spread))
        residuals, spreads = np.concatenate(residuals), np.concatenate(spreads)
        variance = [_held_out_noise_variance(residuals[:, j], spreads[:, j])
                    for j in range(residuals.shape[1])]
        self.noise_std_ = _per_output(np.sqrt(variance) * self._y_scale)

    def _fold_passes(self, params, X, y, train, held_out, rng):
        """A network trained without the rows ``held_out``, and the mean and
        variance of its passes on them, in units of y's scale (the variances
        of y * 1e160 would overflow)."""
        fold = type(self)(**{**params, "random_state": rng.randint(2**31 - 1)})
        fold._interruptible = False  # Ctrl-C stops the whole fit
        # The fit's own network has warned already, if it had to (no
        # warnings filter: not thread-safe).
        fold._gives_warnings = False
        try:
            fold.fit(X[train], y[train])
        except ValueError as error:
            raise ValueError(
                f"Cross-fitting the noise (cv={self.cv!r}): the network trained on "
                f"{len(train)} of the {X.shape[0]} rows failed: {error} (cv=None "
                "estimates the noise from the training rows instead)."
            ) from error
        def moments(z):
            z = z / self._tensor_like(self._y_scale, z)
            return z.mean(0), z.var(0, correction=0)

        (mean, spread), _ = fold._mc_passes(X[held_out], n_passes=self.n_mc_samples,
                                            random_state=fold._mc_seed, reduce=moments)
        return held_out, mean, spread

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the network and the noise level.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    def _tensor_like(self, values, like):
        """Per-output ``values`` (``noise_std_``, ``_y_scale``) as a tensor like ``like``."""
        # as_tensor copies a read-only array (a model loaded by joblib with
        # mmap_mode="r"), where torch.as_tensor warned.
        return as_tensor(np.atleast_1d(values), like.device, like.dtype)

    def predict(self, X, return_std=False, return_cov=False):
        """Predictive mean (and spread) from ``n_mc_samples`` passes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        return_std : bool, default=False
            Also return the predictive standard deviation (passes' spread
            and observation noise together).
        return_cov : bool, default=False
            Also return the joint predictive covariance of the rows of ``X``:
            the covariance of the sampled networks' predictions (each pass
            uses one dropout mask for every row, so rows are correlated)
            plus the noise variance on the diagonal, as
            :meth:`~sklearn.gaussian_process.GaussianProcessRegressor.predict`.
            At most one of ``return_std`` and ``return_cov`` may be requested
            (a ``RuntimeError`` otherwise, as there). Covariances are squares:
            for targets beyond ~1e154 (below ~1e-154) they leave float64's
            range (inf, or 0), where ``return_std`` stays exact.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Mean of the sampled networks' predictions.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictive standard deviation; only with ``return_std=True``.
        y_cov : ndarray of shape (n_samples, n_samples) or \
(n_samples, n_samples, n_outputs)
            Predictive covariance; only with ``return_cov=True``.
        """
        if return_std and return_cov:
            raise RuntimeError(
                "At most one of return_std or return_cov can be requested."
            )
        X = self._validate_predict_X(X)
        passes = functools.partial(
            self._mc_passes, X, n_passes=self.n_mc_samples, random_state=self._mc_seed
        )
        if return_cov:  # n x n: the passes are kept (rows first), the mean as below
            (z, mean), _ = passes(reduce=lambda z: (z.transpose(0, 1), *_pass_moments(z, None)))
            z = z.transpose(0, 1)
            centred = z - mean
            # Each output divided by a power of two (exact) near its largest
            # entry, multiplied back twice after the products: products of
            # entries beyond ~1e154 overflowed to +inf and -inf, whose sums
            # were NaN, where the covariance is a signed inf (or 0).
            exponent = torch.frexp(centred.abs().amax(dim=(0, 1))).exponent.sub_(1)
            scale = torch.ldexp(torch.ones_like(mean[0]), exponent)
            centred = centred / scale
            spread = torch.einsum("tik,tjk->ijk", centred, centred) / z.shape[0]
            spread.mul_(scale).mul_(scale)
            noise_variance = self._tensor_like(self.noise_std_, z).square()
            spread.diagonal(dim1=0, dim2=1).add_(noise_variance[:, None])
            extra = to_numpy(spread)
        else:  # reduced block by block: memory of a block, not T x n
            def moments(z):
                if not return_std:
                    return _pass_moments(z, None)
                return _pass_moments(z, self._tensor_like(self._y_scale, z),
                                     self._tensor_like(self.noise_std_, z))

            reduced, _ = passes(reduce=moments)
            mean = reduced[0]
            extra = to_numpy(reduced[1]) if return_std else None
        mean = to_numpy(mean)
        single = mean.shape[1] == 1
        if single:
            mean = mean.ravel()
        if not (return_std or return_cov):
            return mean
        return mean, extra[..., 0] if single else extra

    def sample_y(self, X, n_samples=1, random_state=0):
        """Draw targets from the predictive distribution.

        Each draw is one sampled network (a dropout mask shared by all rows)
        plus Gaussian observation noise, so a draw is a coherent function of
        ``X``, as in
        :meth:`~sklearn.gaussian_process.GaussianProcessRegressor.sample_y`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
            Samples.
        n_samples : int, default=1
            Number of draws (an integer >= 0; else an ``InvalidParameterError``,
            a ``ValueError``).
        random_state : int, RandomState instance or None, default=0
            Seeds the masks and the noise.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or \
(n_samples_X, n_outputs, n_samples)
            Draws, one per column (last axis).
        """
        check_is_fitted(self)
        validate_parameter_constraints(
            {"n_samples": [Interval(Integral, 0, None, closed="left")]},
            {"n_samples": n_samples},
            caller_name="sample_y",
        )
        X = self._validate_predict_X(X)
        z, generator = self._mc_passes(X, n_passes=int(n_samples), random_state=random_state)
        # Drawn on the CPU generator too: the same draws on every device.
        noise = torch.randn(z.shape, dtype=z.dtype, generator=generator, device="cpu").to(z.device)
        scale = self._tensor_like(self.noise_std_, z)
        draws = to_numpy(z + noise * scale).transpose(1, 2, 0)  # (n, k, T)
        return draws[:, 0, :] if draws.shape[1] == 1 else draws

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class MCDropoutClassifier(ClassifierMixin, _BaseMCDropout):
    __doc__ = f"""Monte Carlo dropout classifier: class probabilities with model uncertainty.

    A :class:`MLPClassifier` network trained with dropout on its hidden units;
    at prediction, dropout stays on and the class probabilities of
    ``n_mc_samples`` sampled networks are averaged (Gal & Ghahramani, 2016).
    :meth:`predict_proba` can also return their spread, and
    :meth:`predictive_entropy` / :meth:`mutual_information` give the total and
    the epistemic (model) uncertainty of each prediction. Inputs are
    standardised internally (sparse inputs are only scaled, so they stay
    sparse).

    Parameters
    ----------
    {_MC_PARAMETERS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    {_MC_ATTRIBUTES}

    See Also
    --------
    MLPClassifier : The same network without Monte Carlo averaging.

    Notes
    -----
    With ``T`` sampled networks giving probabilities ``p_t(c | x)``, the
    prediction is ``p(c | x) = mean_t p_t(c | x)``; the predictive entropy is
    ``H[p] = -sum_c p log p`` and the mutual information between the label
    and the network, ``H[p] - mean_t H[p_t]`` (Gal, 2016, Sec. 3.3), is the part
    of it due to the model's uncertainty. Far outside the training data ReLU
    networks saturate and the sampled networks agree, except along the
    continuation of the class boundary, where their boundaries fan out: the
    mutual information flags unusual inputs between the training points, and
    beyond them only near that continuation (on two moons: near 0 on the
    data and far from the boundary, up to 0.6 nats in the wedges).

    Dropout makes each epoch's training loss noisy, so the plateau rule of
    :class:`MLPClassifier` (no ``tol`` improvement for ``n_iter_no_change``
    epochs) can stop the training early: on noisy two moons (420 training
    rows) it stopped after about 106 of 200 epochs, with a test log-loss of
    0.328 against 0.309 when trained for all 200. Raise ``n_iter_no_change``
    (and ``max_iter``) when the loss curve is still falling.

    ``fit`` does not take ``sample_weight`` (nor does
    ``GaussianProcessRegressor``): each copy of a repeated sample draws its
    own dropout masks, so a weight would equal repeated rows only on average
    over the masks, not exactly as sklearn's estimator checks require. There
    is no ``partial_fit``: the standardisation and the prediction masks'
    seed are fixed by ``fit`` on the whole training set. Like
    :class:`MLPClassifier`, ``fit`` refuses a ``y`` with a single class (a
    ``ValueError``), where scikit-learn's ``MLPClassifier`` fits it.

    References
    ----------
    Gal, Y. and Ghahramani, Z. (2016). Dropout as a Bayesian approximation:
    representing model uncertainty in deep learning. ICML. :arxiv:`1506.02142`

    Gal, Y. (2016). Uncertainty in deep learning. PhD thesis, University of
    Cambridge.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skmath import MCDropoutClassifier
    >>> X, y = make_moons(n_samples=200, noise=0.2, random_state=0)
    >>> clf = MCDropoutClassifier(max_iter=300, random_state=0, device="cpu")
    >>> clf = clf.fit(X, y)
    >>> proba, std = clf.predict_proba(X[:3], return_std=True)
    >>> proba.shape, std.shape
    ((3, 2), (3, 2))
    >>> clf.predictive_entropy(X[:3]).shape
    (3,)
    >>> clf.score(X, y) > 0.85
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        dropout=0.1,
        n_mc_samples=100,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        device="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.n_mc_samples = n_mc_samples
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.device = device

    _validate_input = MLPClassifier._validate_input
    _targets = MLPClassifier._targets

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label indicator matrix (multi-label).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, incremental=False)

    def _probability_moments(self, X):
        """Over the sampled networks' class probabilities: their mean and std,
        shapes (n, n_columns), and their mean entropy, shape (n,); reduced
        block by block (memory of a block, not T x n)."""
        X = self._validate_predict_X(X)
        out_activation = _OUT_ACTIVATIONS[self.out_activation_]

        def moments(z):
            p = out_activation(z.reshape(-1, z.shape[2])).reshape(z.shape)
            if p.shape[2] == 1:
                p = torch.cat([1 - p, p], dim=2)
            return p.mean(0), p.std(0, correction=0), -torch.xlogy(p, p).sum(2).mean(0)

        reduced, _ = self._mc_passes(X, n_passes=self.n_mc_samples,
                                     random_state=self._mc_seed, reduce=moments)
        return reduced

    def predict_proba(self, X, return_std=False):
        """Mean of the sampled networks' class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        return_std : bool, default=False
            Also return the standard deviation of each probability over the
            sampled networks.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities in the order of ``classes_`` (for multi-label,
            the probability of each label).
        proba_std : ndarray of shape (n_samples, n_classes)
            Spread over the passes; only with ``return_std=True``.
        """
        mean, std, _ = self._probability_moments(X)
        if not return_std:
            return to_numpy(mean)
        return to_numpy(mean), to_numpy(std)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def predict(self, X):
        """Predict the most probable class under the averaged probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        if self.n_outputs_ == 1:
            proba = proba[:, 1]
        return self._label_binarizer.inverse_transform(proba)

    def _entropies(self, X):
        check_is_fitted(self)
        if self.out_activation_ == "logistic" and self.n_outputs_ > 1:
            raise ValueError(
                "Entropies are defined for single-output (binary or multiclass) targets."
            )
        mean, _, expected = self._probability_moments(X)
        return -torch.xlogy(mean, mean).sum(1), expected

    def predictive_entropy(self, X):
        """Entropy of the averaged class probabilities (total uncertainty).

        ``H[p(. | x)] = -sum_c p(c | x) log p(c | x)``, in nats.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        entropy : ndarray of shape (n_samples,)
            Entropy of ``predict_proba(X)``'s rows, in nats.

        Raises
        ------
        ValueError
            For a multi-label fit (entropies are defined for single-output
            targets).
        """
        total, _ = self._entropies(X)
        return to_numpy(total)

    def mutual_information(self, X):
        """Mutual information between the label and the network (model uncertainty).

        ``H[mean_t p_t] - mean_t H[p_t]``, in nats: zero when all the sampled
        networks agree, large where they disagree (BALD's acquisition score).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        mutual_information : ndarray of shape (n_samples,)
            Predictive entropy minus the passes' mean entropy, in nats (>= 0).

        Raises
        ------
        ValueError
            For a multi-label fit (entropies are defined for single-output
            targets).
        """
        total, expected = self._entropies(X)
        return to_numpy((total - expected).clamp_min(0))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

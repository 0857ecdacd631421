"""Scores of probabilistic regression: Gaussian likelihood, CRPS, interval coverage.

Each score takes the true values and a Gaussian predictive distribution given
by its mean and standard deviation, as returned by
``estimator.predict(X, return_std=True)`` (:class:`~skmath.MCDropoutRegressor`,
:class:`~sklearn.gaussian_process.GaussianProcessRegressor` with a
``WhiteKernel``, :class:`~sklearn.linear_model.BayesianRidge`...). The scorers
wrap them for :class:`~sklearn.model_selection.GridSearchCV` and
``cross_validate``.
"""

import functools
import inspect
import math
from numbers import Real

import numpy as np
from scipy.special import ndtr, ndtri
from sklearn.compose import TransformedTargetRegressor
from sklearn.metrics._scorer import _BaseScorer
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._compat import _check_sample_weight

_LOG_2PI = math.log(2 * math.pi)
_INV_SQRT_PI = 1 / math.sqrt(math.pi)


def _check_gaussian(y_true, y_mean, y_std, sample_weight, *, zero_std=False):
    """Validated ``(y, mu, sigma)`` of shape (n_samples, n_outputs) and weights.

    As sklearn's regression metrics, a 1-D array and a column vector are the
    same single output (``predict(X, return_std=True)`` gives 1-D arrays even
    for a model fitted on a column vector). ``zero_std``: the score has a
    limit at ``sigma = 0`` (a point prediction), which is then allowed.
    """
    arrays = [
        check_array(a, ensure_2d=False, dtype=np.float64, input_name=name)
        for a, name in ((y_true, "y_true"), (y_mean, "y_mean"), (y_std, "y_std"))
    ]
    check_consistent_length(*arrays)
    y, mu, sigma = (a.reshape(len(a), -1) for a in arrays)
    if y.shape != mu.shape or y.shape != sigma.shape:
        raise ValueError(
            "y_true, y_mean and y_std must have the same shape, got "
            f"{arrays[0].shape}, {arrays[1].shape} and {arrays[2].shape}."
        )
    if zero_std and not np.all(sigma >= 0):
        raise ValueError("y_std must be non-negative.")
    if not zero_std and not np.all(sigma > 0):
        raise ValueError(
            "y_std must be positive: the Gaussian log-likelihood has no value at a "
            "zero scale (crps_gaussian and interval_coverage accept y_std = 0)."
        )
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
    return y, mu, sigma, sample_weight


def _half_error_and_z(y, mu, scale):
    """``(y - mu) / 2`` and ``z = (y - mu) / scale``, without intermediate overflow.

    ``y - mu`` itself may leave float64 where the score does not (``y =
    1e308, mu = -1e308, scale = 1e308``: ``z = 2``); halves never do, and
    are taken only there (halving subnormals rounds them: a ``scale`` of
    5e-324 halves to 0). ``z`` is inf only where it is beyond float64 itself.
    """
    with np.errstate(over="ignore"):
        error = y - mu
        half, z = error / 2, error / scale
        overflow = ~np.isfinite(error)
        if overflow.any():
            half[overflow] = y[overflow] / 2 - mu[overflow] / 2
            z[overflow] = half[overflow] / (scale[overflow] / 2)
    return half, z


def _check_multioutput(multioutput, n_outputs):
    """``multioutput`` weights validated as sklearn's regression metrics do
    (its strings are validated by :data:`_METRIC_PARAMETERS`)."""
    if isinstance(multioutput, str):
        return multioutput
    weights = check_array(multioutput, ensure_2d=False, dtype=np.float64,
                          input_name="multioutput")
    if n_outputs == 1:
        raise ValueError("Custom weights are useful only in multi-output cases.")
    if weights.ndim != 1 or weights.shape[0] != n_outputs:
        raise ValueError(
            f"There must be equally many custom weights ({weights.shape[0]}) as outputs "
            f"({n_outputs})."
        )
    return weights


# The metrics' parameters, validated as sklearn's metrics validate theirs.
_METRIC_PARAMETERS = {
    "y_true": ["array-like"],
    "y_mean": ["array-like"],
    "y_std": ["array-like"],
    "sample_weight": ["array-like", None],
    "multioutput": [StrOptions({"raw_values", "uniform_average"}), "array-like"],
}


def _average(per_entry, sample_weight, multioutput="uniform_average"):
    """Mean over samples (weighted) of each output, combined as ``multioutput`` says.

    A zero weight drops its sample, as repeating it zero times would, even
    where its score is infinite (``0 * inf`` would make the mean NaN); the
    weights are divided by their maximum so that huge ones do not overflow.
    ``multioutput`` is ``"raw_values"`` (one score per output, an ndarray),
    ``"uniform_average"`` (their mean) or weights of the outputs (their
    weighted mean), as in sklearn's regression metrics.
    """
    multioutput = _check_multioutput(multioutput, per_entry.shape[1])
    if sample_weight is None:
        per_output = per_entry.mean(axis=0)
    else:
        kept = sample_weight > 0
        weights = sample_weight[kept] / sample_weight.max()
        per_output = np.average(per_entry[kept], axis=0, weights=weights)
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return per_output
        return float(per_output.mean())
    return float(np.average(per_output, weights=multioutput))


@validate_params(_METRIC_PARAMETERS, prefer_skip_nested_validation=True)
def gaussian_nll(y_true, y_mean, y_std, *, sample_weight=None,
                 multioutput="uniform_average"):
    """Mean negative log-likelihood of ``y_true`` under ``N(y_mean, y_std^2)``.

    ``0.5 log(2 pi sigma^2) + (y - mu)^2 / (2 sigma^2)``, averaged over samples
    (and outputs). Lower is better; it rewards sharp *and* calibrated
    predictions, and punishes over-confidence heavily.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True values.
    y_mean : array-like of the same shape
        Predictive means.
    y_std : array-like of the same shape
        Predictive standard deviations, positive.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    multioutput : {"raw_values", "uniform_average"} or array-like of shape \
            (n_outputs,), default="uniform_average"
        How the scores of several outputs are combined, as in sklearn's
        regression metrics: one score per output, their mean, or their
        weighted mean.

    Returns
    -------
    nll : float or ndarray of shape (n_outputs,)
        In nats per sample (and output); one per output with
        ``multioutput="raw_values"``.

    Examples
    --------
    >>> from skmath.metrics import gaussian_nll
    >>> round(gaussian_nll([0.0], [0.0], [1.0]), 4)  # 0.5 * log(2 pi)
    0.9189
    >>> gaussian_nll([[0.0, 1.0]], [[0.0, 0.0]], [[1.0, 1.0]], multioutput="raw_values")
    array([0.9189..., 1.4189...])
    """
    y, mu, sigma, w = _check_gaussian(y_true, y_mean, y_std, sample_weight)
    _, z = _half_error_and_z(y, mu, sigma)
    with np.errstate(over="ignore"):  # z^2 / 2 beyond float64: inf, the limit
        per_entry = 0.5 * (_LOG_2PI + 2 * np.log(sigma)) + z * (0.5 * z)
    return _average(per_entry, w, multioutput)


@validate_params(_METRIC_PARAMETERS, prefer_skip_nested_validation=True)
def crps_gaussian(y_true, y_mean, y_std, *, sample_weight=None,
                  multioutput="uniform_average"):
    """Mean continuous ranked probability score of Gaussian predictions.

    ``CRPS(N(mu, sigma^2), y) = sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]``
    with ``z = (y - mu) / sigma`` (Gneiting & Raftery, 2007, Eq. 21). In the
    units of ``y``; lower is better; it reduces to the absolute error when
    ``sigma -> 0``, and, unlike the log-likelihood, stays finite for a
    confident miss.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True values.
    y_mean : array-like of the same shape
        Predictive means.
    y_std : array-like of the same shape
        Predictive standard deviations, non-negative (0 is a point
        prediction).
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    multioutput : {"raw_values", "uniform_average"} or array-like of shape \
            (n_outputs,), default="uniform_average"
        How the scores of several outputs are combined, as in sklearn's
        regression metrics: one score per output, their mean, or their
        weighted mean.

    Returns
    -------
    crps : float or ndarray of shape (n_outputs,)
        In the units of ``y``; one per output with ``multioutput="raw_values"``.

    References
    ----------
    Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules,
    prediction, and estimation. JASA 102(477), 359-378.

    Examples
    --------
    >>> from skmath.metrics import crps_gaussian
    >>> round(crps_gaussian([0.0], [0.0], [1.0]), 4)  # (sqrt(2) - 1) / sqrt(pi)
    0.2337
    """
    y, mu, sigma, w = _check_gaussian(y_true, y_mean, y_std, sample_weight, zero_std=True)
    point = sigma == 0  # the limit: absolute error of a point prediction
    scale = np.where(point, 1.0, sigma)
    # A confident miss may overflow z (or z^2): Phi(z) = 0 or 1 and pdf 0 then,
    # and sigma * z (2 Phi(z) - 1), written (y - mu) (2 Phi(z) - 1), stays
    # finite; in halves, as y - mu may overflow where the score does not.
    half, z = _half_error_and_z(y, mu, scale)
    with np.errstate(over="ignore"):  # a score beyond float64: inf, the limit
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        half_score = half * (2 * ndtr(z) - 1) + scale / 2 * (2 * pdf - _INV_SQRT_PI)
        per_entry = 2 * np.where(point, np.abs(half), half_score)
    return _average(per_entry, w, multioutput)


@validate_params(
    {**_METRIC_PARAMETERS, "confidence": [Interval(Real, 0, 1, closed="neither")]},
    prefer_skip_nested_validation=True,
)
def interval_coverage(y_true, y_mean, y_std, *, confidence=0.95, sample_weight=None,
                      multioutput="uniform_average"):
    """Fraction of ``y_true`` inside the central Gaussian prediction interval.

    The interval is ``y_mean +- q y_std`` with ``q = Phi^{-1}((1 + confidence) / 2)``
    (1.96 for 95%). A calibrated model covers about ``confidence`` of the
    points; less means over-confident, more under-confident.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True values.
    y_mean : array-like of the same shape
        Predictive means.
    y_std : array-like of the same shape
        Predictive standard deviations, non-negative (0 is a point
        prediction).
    confidence : float, default=0.95
        Nominal probability of the interval, in (0, 1).
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    multioutput : {"raw_values", "uniform_average"} or array-like of shape \
            (n_outputs,), default="uniform_average"
        How the scores of several outputs are combined, as in sklearn's
        regression metrics: one score per output, their mean, or their
        weighted mean.

    Returns
    -------
    coverage : float or ndarray of shape (n_outputs,)
        In [0, 1]; one per output with ``multioutput="raw_values"``.

    Examples
    --------
    >>> from skmath.metrics import interval_coverage
    >>> interval_coverage([0.0, 1.0, 5.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    0.666...
    """
    y, mu, sigma, w = _check_gaussian(y_true, y_mean, y_std, sample_weight, zero_std=True)
    q = ndtri(0.5 + 0.5 * confidence)  # inf when confidence rounds to 1
    # |y - mu| <= q sigma as |z| <= q (y - mu and q sigma may overflow); a
    # point prediction's interval is the point at every level.
    _, z = _half_error_and_z(y, mu, np.where(sigma == 0, 1.0, sigma))
    inside = np.where(sigma == 0, y == mu, np.abs(z) <= q).astype(np.float64)
    return _average(inside, w, multioutput)


# The key of predict(X, return_std=True) in scikit-learn's per-call prediction
# cache (whose other keys are method names).
_CACHE_KEY = "predict(return_std=True)"


def _prediction_cache(method_caller):
    """The cache dict inside scikit-learn's ``method_caller``, or None.

    ``method_caller`` is ``functools.partial(_cached_call, cache)``, with a dict
    in a dict of scorers and None for a scorer called alone; anything else
    (another scikit-learn release) means no cache.
    """
    args = getattr(method_caller, "args", None)
    if isinstance(method_caller, functools.partial) and args and isinstance(args[0], dict):
        return args[0]
    return None


def _check_takes_return_std(estimator):
    """A clear error for an estimator whose ``predict`` has no ``return_std``
    (nor ``**kwargs``, as a Pipeline's, which forwards it to its last step,
    checked in turn), in place of Python's "unexpected keyword argument"."""
    if isinstance(estimator, TransformedTargetRegressor):
        raise ValueError(
            "TransformedTargetRegressor cannot return a std: it passes return_std "
            "to its regressor but then inverse-transforms the (mean, std) pair as "
            "one prediction. Let the regressor scale the targets itself "
            "(MCDropoutRegressor does; GaussianProcessRegressor with a WhiteKernel "
            "and normalize_y=True)."
        )
    if isinstance(estimator, Pipeline):
        return _check_takes_return_std(estimator[-1])
    try:
        parameters = inspect.signature(estimator.predict).parameters.values()
    except (AttributeError, TypeError, ValueError):
        return  # no predict, or no signature to read: let the call say so
    if not any(p.name == "return_std" or p.kind is p.VAR_KEYWORD for p in parameters):
        raise ValueError(
            f"{type(estimator).__name__}.predict does not take return_std: uncertainty "
            "scorers need an estimator whose predict(X, return_std=True) returns "
            "(y_mean, y_std) with the observation noise in y_std, e.g. "
            "MCDropoutRegressor, BayesianRidge, or GaussianProcessRegressor with a "
            "WhiteKernel."
        )


class UncertaintyScorer(_BaseScorer):
    """Scorer calling ``estimator.predict(X, return_std=True)``.

    A scikit-learn scorer, ``scorer(estimator, X, y, sample_weight=None)``,
    that can be passed as ``scoring`` to
    :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and friends, alone or in a
    dict of scorers. As for scikit-learn's scorers, greater is better: losses
    are negated. It is built on scikit-learn's scorer base class, so it takes
    part in sample-weight forwarding and metadata routing as theirs do: from
    scikit-learn 1.9, ``GridSearchCV(...).fit(X, y, sample_weight=w)`` weights
    its scores (earlier releases score unweighted), and with
    ``sklearn.set_config(enable_metadata_routing=True)``,
    ``set_score_request(sample_weight=True)`` requests the weights.

    The ready-made scorers of :mod:`skmath.metrics`
    (:data:`neg_gaussian_nll_scorer`...) are module-level objects shared by
    the whole process, as scikit-learn's own scorer objects; request
    metadata on a copy (``copy.deepcopy(neg_gaussian_nll_scorer)``) or on a
    new scorer from :func:`make_uncertainty_scorer`, not on them.

    The scorer needs a standard deviation of the *predictive* distribution,
    observation noise included: a likelihood score of the noise-free
    function's spread (``GaussianProcessRegressor`` without a
    ``WhiteKernel``, :class:`~skmath.NTKRegressor`) is lowest for the most
    over-regularised model.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, y_mean, y_std, sample_weight=None, **kwargs)``.
    greater_is_better : bool, default=True
        False for losses (the score is then ``-score_func(...)``).
    **kwargs
        Extra arguments of ``score_func``, such as ``confidence``.

    Examples
    --------
    >>> from sklearn.linear_model import BayesianRidge
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.datasets import load_diabetes
    >>> from skmath.metrics import neg_gaussian_nll_scorer
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = GridSearchCV(
    ...     BayesianRidge(), {"alpha_init": [None, 1e-3]},
    ...     scoring=neg_gaussian_nll_scorer).fit(X, y)
    >>> bool(search.best_score_ < 0)
    True
    """

    def __init__(self, score_func, *, greater_is_better=True, **kwargs):
        super().__init__(score_func, 1 if greater_is_better else -1, kwargs, "predict")

    @property
    def score_func(self):
        """The wrapped ``score_func(y_true, y_mean, y_std, ...)``."""
        return self._score_func

    @property
    def greater_is_better(self):
        """False when the score is the negated ``score_func``."""
        return self._sign > 0

    @property
    def kwargs(self):
        """Extra arguments of ``score_func``."""
        return self._kwargs

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        """``sign * score_func(y_true, *estimator.predict(X, return_std=True))``.

        In a dict of scorers scikit-learn hands every scorer one prediction
        cache (``method_caller``, a partial of its ``_cached_call`` holding
        the cache dict), keyed by method name, where ``"predict"`` means
        ``predict(X)``; the ``(mean, std)`` pair is kept there under its own
        key, so several uncertainty scorers predict once.
        """
        self._warn_overlap(
            message=(
                "There is an overlap between set kwargs of this scorer instance and"
                " passed metadata. Please pass them either as kwargs to"
                " `make_uncertainty_scorer` or metadata, but not both."
            ),
            kwargs=kwargs,
        )
        cache = _prediction_cache(method_caller)
        if cache is not None and _CACHE_KEY in cache:
            prediction = cache[_CACHE_KEY]
        else:
            _check_takes_return_std(estimator)
            prediction = estimator.predict(X, return_std=True)
        if not isinstance(prediction, (tuple, list)) or len(prediction) != 2:
            raise ValueError(
                f"{type(estimator).__name__}.predict(X, return_std=True) must return "
                f"a tuple (y_mean, y_std), got {type(prediction).__name__}."
            )
        if cache is not None:
            cache[_CACHE_KEY] = prediction
        y_mean, y_std = prediction
        return self._sign * self._score_func(y_true, y_mean, y_std, **{**self._kwargs, **kwargs})

    def _get_metadata_request(self):
        # sklearn reads the score function's signature for the metadata it
        # may request; here the predictive mean and std are not metadata.
        request = super()._get_metadata_request()
        for name in ("y_mean", "y_std"):
            request.score.requests.pop(name, None)
        return request

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._kwargs.items())
        sign = "" if self.greater_is_better else ", greater_is_better=False"
        name = getattr(self._score_func, "__name__", None) or repr(self._score_func)
        return f"UncertaintyScorer({name}{sign}{extra})"


def make_uncertainty_scorer(score_func, *, greater_is_better=True, **kwargs):
    """Make a scorer from a score of ``(y_true, y_mean, y_std)``.

    The scorer calls ``estimator.predict(X, return_std=True)``; see
    :class:`UncertaintyScorer`.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, y_mean, y_std, sample_weight=None, **kwargs)``.
    greater_is_better : bool, default=True
        False for losses, which are then negated.
    **kwargs
        Extra arguments of ``score_func``.

    Returns
    -------
    scorer : UncertaintyScorer

    Examples
    --------
    >>> from skmath.metrics import interval_coverage, make_uncertainty_scorer
    >>> make_uncertainty_scorer(interval_coverage, confidence=0.9)
    UncertaintyScorer(interval_coverage, confidence=0.9)
    """
    return UncertaintyScorer(score_func, greater_is_better=greater_is_better, **kwargs)


# Shared, as sklearn's scorer objects: request metadata on a copy (see UncertaintyScorer).
#: Negated :func:`gaussian_nll`: tunes a model by its predictive likelihood.
neg_gaussian_nll_scorer = make_uncertainty_scorer(gaussian_nll, greater_is_better=False)
#: Negated :func:`crps_gaussian`.
neg_crps_scorer = make_uncertainty_scorer(crps_gaussian, greater_is_better=False)
#: 95% :func:`interval_coverage` (a diagnostic: closer to 0.95 is better,
#: not larger).
coverage_scorer = make_uncertainty_scorer(interval_coverage)

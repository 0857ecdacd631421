"""Logistic regression (binary and multinomial): objective in torch, scipy's
L-BFGS-B or sklearn's Newton iterations (:mod:`._newton`).

L2, L1 and elastic-net penalties; with an L1 part, OWL-QN
(:func:`~skmath._engine.minimize_owlqn`)."""

import itertools
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import OptimizeResult
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model import _logistic as _sklearn_logistic
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import check_is_fitted, validate_data

from .._callbacks import CallbackSupportMixin, FitTasks
from .._compat import _check_sample_weight, compute_class_weight
from .._engine import (
    STOPPED_BY_CALLBACK,
    TorchEstimatorMixin,
    as_tensor,
    block_rows,
    csr_transpose,
    csr_with_values,
    minimize_lbfgs,
    minimize_owlqn,
    pow2_exponent,
    row_blocks,
    to_numpy,
    torch_threads,
    transpose_for,
    unchanged_on_failure,
)
from ._newton import minimize_newton

# scipy's L-BFGS-B ``ftol`` as sklearn sets it: relative change of the objective.
_FTOL = 64 * np.finfo(float).eps
# The largest penalty factor 1 / (C * sum(w)) the solvers are given: their
# steps and penalties stay finite, and the coefficients it leaves are ~1e-300.
_MAX_REG = 1e300
# L-BFGS-B goes on in column-scaled variables, where it stopped short, when a
# column's scale (see _pow2_column_scales) lies outside [2^-span, 2^span].
_SCALE_SPAN = 10
# The solvers that take Newton steps, and how they solve for them.
_NEWTON = {"newton-cholesky": "cholesky", "newton-cg": "cg"}
# What sklearn's lbfgs adds to its ConvergenceWarning (None if a release drops it).
_SOLVER_HINT = getattr(_sklearn_logistic, "_LOGISTIC_SOLVER_CONVERGENCE_MSG", None)
# Curvature pairs kept by L-BFGS-B (scipy's default ``maxcor`` is 10).
_HISTORY = 20
# sklearn 1.9's deprecation message for ``penalty``, word for word.
_PENALTY_DEPRECATED = (
    "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
    "this warning, leave 'penalty' set to its default value and use 'l1_ratio' or "
    "'C' instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of "
    "penalty='l1', l1_ratio set to a float between 0 and 1 instead of "
    "penalty='elasticnet', and C=np.inf instead of penalty=None."
)


def linear_predictor(coef, X, fit_intercept):
    """``Z = X W^T + b`` for ``coef = [W, b]`` of shape (k, d + fit_intercept)."""
    d = X.shape[1]
    Z = X @ transpose_for(X, coef[:, :d])
    return Z + coef[:, d] if fit_intercept else Z


def linear_backward(R, X, XT, W, l2_reg, fit_intercept):
    """``[R^T X + l2_reg W, R^T 1]``: a gradient (or Hessian product) in
    ``coef``'s layout from its per-sample part ``R`` of shape (n, k); ``XT``
    is ``X`` transposed as a CSR tensor when ``X`` is sparse CSR, else None."""
    d = X.shape[1]
    out = R.new_empty((W.shape[0], d + int(fit_intercept)))
    out[:, :d] = (R.T @ X if XT is None else (XT @ R).T) + l2_reg * W
    if fit_intercept:
        out[:, d] = R.sum(dim=0)
    return out


def logistic_probabilities(Z, multinomial):
    """Predicted probabilities: softmax of each row of ``Z``, or the sigmoid
    of its one column (binary)."""
    return torch.softmax(Z, dim=1) if multinomial else torch.sigmoid(Z)


def _weighted_gram(X, XT, h, fit_intercept):
    """``[X, 1]^T diag(h) [X, 1]`` (without the ones when not
    ``fit_intercept``), dense, for dense or sparse CSR ``X``."""
    if XT is None:
        G = (X * h[:, None]).T @ X
        column = h @ X
    else:
        G = (csr_with_values(XT, XT.values() * h[XT.col_indices()]) @ X).to_dense()
        column = XT @ h
    if not fit_intercept:
        return G
    d = G.shape[0]
    out = G.new_empty((d + 1, d + 1))
    out[:d, :d] = G
    out[:d, d] = out[d, :d] = column
    out[d, d] = h.sum()
    return out


def logistic_hessian(coef, X, sample_weight, l2_reg, fit_intercept, multinomial, XT=None):
    """Hessian of :func:`~skmath.linear_model._logistic.logistic_objective`.

    With ``p`` the predicted probabilities, the Hessian of the loss of a
    sample in its linear predictor ``z`` is ``p (1 - p)`` (binary) or
    ``diag(p) - p p^T`` (multinomial), so the block of classes ``a, b`` is

    .. math::
        H_{ab} = \\tilde X^T \\operatorname{diag}\\big(w \\odot
        (p_a \\delta_{ab} - p_a p_b)\\big) \\tilde X + \\delta_{ab}\\,\\lambda I_W,

    ``X~ = [X, 1]`` when ``fit_intercept``, the penalty ``lambda`` on ``W``
    only.

    Parameters
    ----------
    coef, X, sample_weight, l2_reg, fit_intercept, multinomial, XT
        As for ``logistic_objective``.

    Returns
    -------
    hessian : Tensor, shape (coef.numel(), coef.numel())
        Over ``coef`` flattened row by row (class by class).

    Examples
    --------
    >>> import torch
    >>> X = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    >>> w = torch.tensor([0.5, 0.5], dtype=torch.float64)
    >>> logistic_hessian(torch.zeros(1, 2, dtype=torch.float64), X, w, 0.0, True, False)
    tensor([[0.1250, 0.1250],
            [0.1250, 0.2500]], dtype=torch.float64)
    """
    k, D = coef.shape
    P = logistic_probabilities(linear_predictor(coef, X, fit_intercept), multinomial)
    H = coef.new_empty((k, D, k, D))
    for a in range(k):
        for b in range(a, k):
            if multinomial:
                h = P[:, a] * (float(a == b) - P[:, b])
            else:
                h = P[:, 0] * (1 - P[:, 0])
            H[a, :, b, :] = H[b, :, a, :] = _weighted_gram(X, XT, sample_weight * h, fit_intercept)
    d = X.shape[1]
    for a in range(k):
        H[a, :d, a, :d].diagonal().add_(l2_reg)
    return H.reshape(k * D, k * D)


def logistic_hessian_product(coef, X, sample_weight, l2_reg, fit_intercept, multinomial,
                             XT=None):
    """``V -> H V``, the Hessian of the logistic objective at ``coef`` (see
    :func:`logistic_hessian`) times a direction ``V`` shaped as ``coef``,
    without forming ``H``: two products with ``X`` per call."""
    d = X.shape[1]
    P = logistic_probabilities(linear_predictor(coef, X, fit_intercept), multinomial)
    if not multinomial:
        P = P * (1 - P)

    def product(V):
        Zv = linear_predictor(V, X, fit_intercept)
        R = P * (Zv - (P * Zv).sum(dim=1, keepdim=True)) if multinomial else P * Zv
        return linear_backward(R * sample_weight[:, None], X, XT, V[:, :d], l2_reg, fit_intercept)

    return product


def logistic_objective(coef, X, Y, sample_weight, l2_reg, fit_intercept, multinomial, XT=None):
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
    XT : Tensor or None
        ``X`` transposed, as a sparse CSR tensor, when ``X`` is sparse CSR:
        the gradient's ``X^T r`` is then a CSR-times-dense product.

    Returns
    -------
    loss : Tensor, scalar
    grad : Tensor, shape of ``coef``
    """
    Z = linear_predictor(coef, X, fit_intercept)
    if multinomial:
        log_norm = torch.logsumexp(Z, dim=1)
        loss = sample_weight @ (log_norm - (Z * Y).sum(dim=1))
        residual = torch.exp(Z - log_norm[:, None]) - Y
    else:
        # softplus(z) - y z as relu(z) - y z (exact for y in {0, 1}) plus
        # log1p(exp(-|z|)): no cancellation for well-classified samples
        # (torch's softplus returns z itself above z = 20, so their loss, e.g.
        # exp(-30), was 0, and the objective disagreed with its gradient).
        per_sample = (torch.relu(Z) - Z * Y) + torch.log1p(torch.exp(-Z.abs()))
        loss = sample_weight @ per_sample.squeeze(1)
        residual = torch.sigmoid(Z) - Y
    W = coef[:, : X.shape[1]]
    grad = linear_backward(residual * sample_weight[:, None], X, XT, W, l2_reg, fit_intercept)
    return loss + 0.5 * l2_reg * (W * W).sum(), grad


def _check_solver(solver, penalty, dual):
    """sklearn's rules of which solver takes which penalty, with its messages.

    skmath solves these problems with L-BFGS-B, OWL-QN or Newton steps, but keeps the
    rules so that a setting sklearn refuses is refused here too.
    """
    if solver not in ("liblinear", "saga") and penalty not in ("l2", None):
        raise ValueError(
            f"Solver {solver} supports only 'l2' or None penalties, got {penalty} "
            "penalty. Use solver='saga' for the L1 and elastic-net penalties."
        )
    if solver != "liblinear" and dual:
        raise ValueError(f"Solver {solver} supports only dual=False, got dual={dual}")
    if penalty == "elasticnet" and solver != "saga":
        raise ValueError(
            f"Only 'saga' solver supports elasticnet penalty, got solver={solver}."
        )
    if solver == "liblinear" and penalty is None:
        raise ValueError(
            "C=np.inf as well as penalty=None is not supported for the liblinear solver"
        )
    if solver == "liblinear" and penalty == "l1" and dual:
        raise ValueError(
            "Unsupported set of arguments: The combination of penalty='l1' and "
            "loss='logistic_regression' are not supported when dual=True, "
            "Parameters: penalty='l1', loss='logistic_regression', dual=True"
        )


def _with_constant_column(X, value):
    """``X`` with a last column of ``value`` (dense or CSR, ``X``'s dtype)."""
    column = np.full((X.shape[0], 1), value, dtype=X.dtype)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(column)], format="csr", dtype=X.dtype)
    return np.hstack([X, column])


def _minimize_penalised(X, Y, sample_weight, coef0, *, l1_reg, l2_reg, fit_intercept,
                        multinomial, max_iter, tol, callback=None, newton=None):
    """Minimise :func:`logistic_objective` plus ``l1_reg * ||W||_1``: with L-BFGS-B
    without L1 part, or by Newton's method (``newton``: ``"cholesky"`` or
    ``"cg"``); with an L1 part by OWL-QN
    (:func:`~skmath._engine.minimize_owlqn`), in column-scaled variables.
    ``X`` is a float64 tensor (dense or CSR). ``callback(coef)`` gets each
    iterate as a ``[W, b]`` array, shape of ``coef0``.

    Returns
    -------
    coef : Tensor, shape of ``coef0``
    result : scipy.optimize.OptimizeResult
    """
    XT = csr_transpose(X) if X.layout is torch.sparse_csr else None
    d = X.shape[1]

    def fun(coef):
        return logistic_objective(
            coef, X, Y, sample_weight, l2_reg, fit_intercept, multinomial, XT
        )

    if l1_reg == 0 and newton is not None:
        return _minimize_newton(
            fun, X, XT, sample_weight, coef0, l2_reg=l2_reg, fit_intercept=fit_intercept,
            multinomial=multinomial, max_iter=max_iter, tol=tol, callback=callback,
            inner=newton,
        )
    if l1_reg == 0:
        return _scaled_lbfgs(
            fun, coef0, lambda: _pow2_column_scales(X, sample_weight, XT, l2_reg),
            max_iter=max_iter, tol=tol, callback=callback,
        )
    # Badly scaled columns slow quasi-Newton methods down (wine x 100, C=3,
    # tol=1e-6: L-BFGS-B on the split W = P - M used before OWL-QN stalled 20%
    # above the minimiser). OWL-QN runs in the variables V = W * s instead, s
    # the columns' weighted root mean squares (with the L2 weight: an elastic
    # net on columns of scales 1e-3 to 1e3 ran out of iterations 6x above the
    # minimum without it) rounded to powers of two (exact), where the penalty
    # is sum_j (l1_reg / s_j) |V_j|; the intercept is not scaled. tol bounds
    # the pseudo-gradient in V times the largest scale (at least 1): the test
    # L-BFGS-B ran on the split, no looser.
    scale = _pow2_column_scales(X, sample_weight, XT, l2_reg)
    m = coef0.shape[1] - d
    v_scale = torch.cat([scale, scale.new_ones(m)])
    on_iterate = None
    if callback is not None:

        def on_iterate(coef_v):
            return callback(to_numpy(coef_v / v_scale))

    coef_v, result = minimize_owlqn(
        lambda coef_v: _scaled(fun, coef_v, v_scale), coef0 * v_scale,
        torch.cat([l1_reg / scale, scale.new_zeros(m)]),
        max_iter=max_iter, tol=tol, ftol=_FTOL, history=_HISTORY,
        gradient_scale=max(float(scale.max()), 1.0), callback=on_iterate,
    )
    return coef_v / v_scale, result


def _scaled(fun, coef_v, v_scale):
    """``fun`` (loss and gradient) in the variables ``V = W * v_scale``."""
    loss, grad = fun(coef_v / v_scale)
    return loss, grad / v_scale


def _scaled_lbfgs(fun, coef0, scales, *, max_iter, tol, callback):
    """:func:`lbfgs` on ``fun``, continued in the variables ``V = W * s`` (the
    intercepts not scaled) where it stopped short silently on a badly scaled
    problem.

    L-BFGS-B on ``W`` (sklearn's too) stops on its relative-decrease test with
    the gradient far above ``tol`` when the columns' scales ``s``
    (``scales()``, :func:`_pow2_column_scales`) are far from 1: on features of
    magnitude 1e7, 12% above the minimum (40 x 3); with ``C`` below about
    1e-15 / n, at its first step, the intercept at 0 instead of the
    log-odds. Then, if a scale lies outside ``[2^-_SCALE_SPAN, 2^_SCALE_SPAN]``,
    the remaining iterations go on in ``V`` from where it stopped (so the
    objective only goes down), ``tol`` bounding the gradient in ``V`` times the
    largest scale (at least 1), as for OWL-QN. Starting in ``V`` instead was
    faster on some problems and slower on others (near-separable data with
    columns of scales 1e-6 to 1e8), so the everyday path stays sklearn's.
    """
    coef, result = lbfgs(fun, coef0, max_iter=max_iter, tol=tol, callback=callback)
    if (result.status != 0 or result.nit >= max_iter
            or not np.abs(result.jac).max() > tol):
        return coef, result
    scale = scales()
    if bool(((scale >= 2.0**-_SCALE_SPAN) & (scale <= 2.0**_SCALE_SPAN)).all()):
        return coef, result
    v_scale = torch.cat([scale, scale.new_ones(coef.shape[1] - scale.shape[0])])
    host_scale = to_numpy(v_scale)  # once, not per iteration
    coef_v, more = lbfgs(
        lambda coef_v: _scaled(fun, coef_v, v_scale), coef * v_scale,
        max_iter=max_iter - result.nit, tol=tol / max(float(scale.max()), 1.0),
        callback=None if callback is None else lambda c: callback(c / host_scale),
    )
    if not more.fun < result.fun:  # no step taken (a failed first line search)
        return coef, result
    more.nit += result.nit
    return coef_v / v_scale, more


def _minimize_newton(fun, X, XT, sample_weight, coef0, *, l2_reg, fit_intercept,
                     multinomial, max_iter, tol, callback, inner):
    """sklearn's ``newton-cholesky`` (``inner="cholesky"``) or ``newton-cg``
    (``"cg"``) on :func:`logistic_objective` (``fun``), L-BFGS-B as fallback.

    The multinomial loss does not change when a constant is added to every
    class's intercept (and, without penalty, to every class's coefficient
    of a feature): its Hessian is singular along those shifts. As sklearn's
    ``newton-cholesky``, the Cholesky solve holds the last class's
    intercept (without penalty: its whole row) at 0, and the result is
    centred over the classes (the symmetric parametrisation sklearn
    returns); the conjugate gradients stay orthogonal to those shifts.
    """
    d = X.shape[1]
    shift = torch.zeros_like(coef0, dtype=torch.bool)
    if multinomial and l2_reg == 0:
        shift[:] = True
    elif multinomial and fit_intercept:
        shift[:, d] = True

    def centred(coef):  # the same model, its unpenalised shifts summing to 0
        return torch.where(shift, coef - coef.mean(dim=0), coef)

    fixed = None
    if inner == "cholesky" and multinomial:
        coef0 = torch.where(shift, coef0 - coef0[-1], coef0)
        fixed = torch.zeros_like(shift)
        fixed[-1] = shift[-1]  # the last class's shifted entries
    model = (X, sample_weight, l2_reg, fit_intercept, multinomial, XT)
    hessian = logistic_hessian if inner == "cholesky" else logistic_hessian_product
    on_iterate = None
    if callback is not None:

        def on_iterate(coef):  # a tensor (Newton) or an array (the fallback)
            return callback(to_numpy(centred(torch.as_tensor(coef, device=coef0.device))))

    coef, result = minimize_newton(
        fun, coef0, hessian=lambda coef: hessian(coef, *model), max_iter=max_iter, tol=tol,
        inner=inner, fixed=fixed,
        fallback=lambda coef, iterations: _scaled_lbfgs(
            fun, coef, lambda: _pow2_column_scales(X, sample_weight, XT, l2_reg),
            max_iter=iterations, tol=tol, callback=on_iterate,
        ),
        callback=on_iterate,
    )
    return centred(coef), result


def _warn_not_converged(solver, result, n_iter, max_iter, method):
    """sklearn's ConvergenceWarning for ``solver``, which stopped short of
    ``tol`` after ``n_iter`` iterations (``result``: the report of
    ``method``, the algorithm run).

    Word for word sklearn's, so that filters and ``match=`` written for
    sklearn's catch it, with what differs added for ``sag``, ``saga`` and
    ``liblinear``: which algorithm ran (L-BFGS-B, OWL-QN with an L1 part,
    or Newton-CG for L2 liblinear), whose iterations ``max_iter`` counts.
    """
    if "fallback_nit" in result:  # the Newton solvers' fallback
        fallback = OptimizeResult(result, nit=result.fallback_nit)
        _check_optimize_result("lbfgs", fallback, result.fallback_max_iter)
        return
    if solver == "lbfgs":
        _check_optimize_result("lbfgs", OptimizeResult(result, nit=n_iter), max_iter,
                               extra_warning_msg=_SOLVER_HINT)
        return
    if solver == "newton-cholesky":
        message = f"Newton solver did not converge after {n_iter} iterations."
    elif solver == "newton-cg":
        message = (f"newton-cg failed to converge at loss = {result.fun}. Increase the "
                   "number of iterations.")
    else:
        message = ("Liblinear failed to converge, increase the number of iterations."
                   if solver == "liblinear" else
                   "The max_iter was reached which means the coef_ did not converge")
        message += (f" (skmath's solver={solver!r} runs {method}: {n_iter} iteration(s), "
                    f"status={result.status}: {result.message}; scaling the data helps, "
                    "e.g. with sklearn.preprocessing.StandardScaler)")
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def _pow2_column_scales(X, sample_weight, XT=None, l2_reg=0.0):
    """Weighted root mean square of each column of ``X`` (dense, or CSR with ``XT``
    its transpose), with the L2 weight ``l2_reg`` added to its square (the
    objective's curvature along the column has both parts), rounded to a
    power of two; 1 for a column without weight and penalty.
    Weighted, so that a weight and as many repeated rows give the same scales
    (the same problem, the same iterates). Measured in units of each column's
    largest magnitude among the weighted rows, so that squares neither
    overflow (|x| > 1e154 gave NaN coefficients) nor underflow (nor vanish
    beside a huge value of a row without weight)."""
    w = sample_weight.to(X.dtype)
    weighted = (w != 0).to(X.dtype)
    if XT is None:
        # Over blocks of rows: |X| of all the rows at once was a copy of X
        # (191 MB on a 500k x 50 L1 fit).
        blocks = row_blocks(X.shape[0], block_rows(X.shape[1], X.element_size(), X.device))

        def magnitudes(blk):
            return X[blk].abs().mul_(weighted[blk, None])

        unit = torch.stack([magnitudes(blk).amax(dim=0) for blk in blocks]).amax(dim=0)
        unit = torch.where(unit > 0, unit, 1.0)
        squares = sum(w[blk] @ magnitudes(blk).div_(unit).square_() for blk in blocks)
    else:
        values = XT.values()
        rows = torch.repeat_interleave(
            torch.arange(XT.shape[0], device=values.device), XT.crow_indices().diff()
        )
        magnitudes = values.abs() * weighted[XT.col_indices()]
        unit = values.new_zeros(XT.shape[0]).scatter_reduce_(
            0, rows, magnitudes, "amax", include_self=True
        )
        unit = torch.where(unit > 0, unit, 1.0)
        squares = csr_with_values(XT, (magnitudes / unit[rows]).square()) @ w
    rms = torch.hypot((squares / w.sum()).sqrt() * unit, squares.new_tensor(l2_reg ** 0.5))
    return torch.where(rms > 0, torch.exp2(torch.round(torch.log2(rms))), 1.0)


def lbfgs(fun, x0, *, max_iter, tol, callback=None):
    """Minimise ``fun`` (returning loss and gradient tensors) with scipy's L-BFGS-B.

    The optimizer sklearn's ``lbfgs`` solver uses, with its options (``gtol``:
    stop when the largest absolute gradient entry is at most ``tol``; ``ftol``:
    relative decrease of the objective; up to 50 line-search steps), fed by
    the objective and gradient computed in torch on ``x0``'s device. The
    iterate itself (``k x d`` numbers) lives in NumPy: the work is in ``fun``.
    ``callback(x)`` gets each iterate, an array shaped as ``x0``.

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
        callback=None if callback is None else lambda xk: callback(xk.reshape(shape)),
        maxiter=max_iter,
        maxls=50,
        gtol=tol,
        ftol=_FTOL,
        maxcor=_HISTORY,
    )
    x = torch.from_numpy(result.x.reshape(shape)).to(device=device, dtype=dtype)
    return x, result


class LogisticRegression(
    CallbackSupportMixin, TorchEstimatorMixin, ClassifierMixin, BaseEstimator
):
    """Logistic regression (binary and multinomial), its objective computed in PyTorch.

    Drop-in for :class:`sklearn.linear_model.LogisticRegression` with its
    current (1.8+) API: every sklearn parameter is accepted with sklearn's
    default, ``C`` (``np.inf`` for no penalty), ``l1_ratio`` (L2, L1 and
    elastic-net penalties), every ``solver`` with the problem sklearn's
    solver minimises (liblinear's penalised intercept included) and sklearn's
    rules of which solver takes which penalty, the same fitted attributes,
    stopping rule and :class:`~sklearn.exceptions.ConvergenceWarning`;
    float32 input gives float32 coefficients and predictions (the objective
    is still computed in float64), except with ``solver="liblinear"``,
    float64 as in sklearn. Sparse ``X`` stays sparse, as in sklearn.
    ``"newton-cholesky"`` and ``"newton-cg"`` run sklearn's Newton
    iterations, and ``"liblinear"``'s L2 problem is solved by Newton-CG (as
    liblinear solves it by a trust-region Newton method); problems with an L1
    part by OWL-QN, the others by scipy's L-BFGS-B (see Notes), whose
    iterations ``n_iter_`` then counts. Convergence warnings are sklearn's, word for word for
    ``"lbfgs"`` and the Newton solvers; for ``"sag"``, ``"saga"`` and
    ``"liblinear"``, sklearn's sentence followed by the algorithm that ran. Array
    API dispatch (``sklearn.set_config(array_api_dispatch=True)``) is not
    supported, as for sklearn's liblinear-based estimators: pass NumPy or
    SciPy inputs (the computation runs in torch on ``device`` either way).

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet", None}, default="deprecated"
        Deprecated in sklearn 1.8 (removed in 1.10) and handled as sklearn
        1.9 does: leave it unset and use ``C`` and ``l1_ratio``. Setting it
        gives sklearn's ``FutureWarning``. ``"l2"`` is the L2 penalty whatever
        ``l1_ratio`` (a non-zero ``l1_ratio`` is then ignored, with sklearn's
        warnings); ``"l1"`` is ``l1_ratio=1``; ``"elasticnet"`` uses
        ``l1_ratio``; ``None`` means no penalty, i.e. ``C=np.inf`` (``C`` and
        ``l1_ratio`` are ignored, with sklearn's warning when ``C != 1``).
    C : float, default=1.0
        Inverse regularisation strength; ``np.inf`` means no penalty.
    l1_ratio : float, default=0.0
        Elastic-net mixing ``r`` of the penalty
        ``(1 - r) / 2 ||W||^2 + r ||W||_1``: ``0.0`` is L2, ``1.0`` is L1.
        A positive value needs ``solver="saga"`` (or ``"liblinear"`` for
        ``1.0``), as in sklearn (with ``"lbfgs"`` it raises sklearn's
        ``ValueError``), unless ``C=np.inf`` (no penalty at all;
        ``l1_ratio`` is then ignored). ``None``
        (deprecated in sklearn 1.8) means ``0.0``, with sklearn's
        ``FutureWarning``.
    dual : bool, default=False
        Dual formulation, as in sklearn allowed only with
        ``solver="liblinear"`` and the L2 penalty (otherwise sklearn's
        ``ValueError``). The dual problem has the primal's minimiser, which
        skmath computes in the primal either way.
    tol : float, default=1e-4
        Stop when the largest absolute entry of the gradient of the (scaled)
        objective is at most ``tol`` (of the projected gradient of the split
        problem with an L1 part; see Notes). Not sklearn's ``saga`` test (the
        relative change of the weights over an epoch): at a loose ``tol``
        (1e-3 and above) an L1 or elastic-net fit stops farther from the
        minimiser than ``saga`` does (measured at ``tol=1e-2``: objectives a
        median 0.9% above the minimum against saga's 0.1%, and coefficients
        saga sets to zero left non-zero); keep ``tol <= 1e-4`` for those.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    intercept_scaling : float, default=1
        With ``solver="liblinear"`` (only, as in sklearn): the intercept is the
        weight of a constant feature of this value, penalised with the other
        weights (liblinear's problem), and ``intercept_ = intercept_scaling *
        weight``. The other solvers never penalise the intercept.
    class_weight : dict or "balanced", default=None
        Weights multiplied into ``sample_weight`` per class, as in sklearn.
        ``"balanced"`` with a class whose samples all have zero
        ``sample_weight``, or a dict with an infinite or NaN weight, raises
        ``ValueError`` (sklearn fits on NaN weights and returns zero
        coefficients; its ``"liblinear"`` never returns).
    random_state : int, RandomState instance or None, default=None
        Kept for compatibility with scikit-learn; not used (the solvers are
        deterministic; in sklearn it only affects ``sag``, ``saga`` and
        ``liblinear``).
    solver : {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", \
            "saga"}, default="lbfgs"
        Which of sklearn's problems to solve, with sklearn's rules:
        ``"lbfgs"``, ``"newton-cg"``, ``"newton-cholesky"`` and ``"sag"``
        take the L2 penalty or none; ``"saga"`` any ``l1_ratio``;
        ``"liblinear"`` the L2 or L1 penalty, binary problems only, with a
        penalised intercept (see ``intercept_scaling``).
        ``"newton-cholesky"`` and ``"newton-cg"`` run sklearn's Newton
        iterations: the Hessian formed and factorised by Cholesky, or its
        products fed to conjugate gradients, then sklearn's line searches
        and stopping rules (singular Hessians fall back to L-BFGS-B with
        sklearn's warning), in the same number of iterations as sklearn's.
        ``"liblinear"`` with the L2 penalty runs the same Newton-CG
        iterations on liblinear's problem (liblinear's own solver is a
        trust-region Newton method, whose iterations its ``max_iter``
        counts too), and so passes on the Wolfe line search's
        ``LineSearchWarning`` where it fails, as ``"newton-cg"`` does
        (liblinear has none: on 200 shifted Gaussian rows with
        ``intercept_scaling=1e6``, 30 warnings in 91 iterations, then a
        training accuracy of 0.985, where sklearn's liblinear stopped after
        3 iterations at 0.78); ``X`` beyond 1e30, which
        sklearn's liblinear refuses (its fit would freeze), is fitted.
        skmath solves the others with
        scipy's L-BFGS-B on the full objective (with an L1 part, OWL-QN,
        see Notes), reaching the minimiser sklearn's solver reaches at its
        tolerance (on nearly separable data with a very large ``C`` and a
        tight ``tol``, L-BFGS-B can stop on its relative-decrease test short
        of where a Newton solver gets: measured on standardised iris,
        ``C=1e8, tol=1e-10``, an objective 1.8e-7 (relative) above
        ``newton-cholesky``'s, as sklearn's own ``lbfgs``); for those it
        does not run sklearn's algorithms (no stochastic average gradient,
        no coordinate descent), so the solver names select the problem, and
        code written for any of them runs unchanged.
    max_iter : int, default=100
        Maximum number of solver iterations (L-BFGS-B's or OWL-QN's, or Newton's with
        the Newton solvers and L2 ``"liblinear"``, their fallback's included). With ``max_iter=0`` the
        solvers other than ``"lbfgs"`` return their starting point (zeros, or
        the warm start), as sklearn's do; ``"lbfgs"`` takes scipy's first
        step, as sklearn's.
    verbose : int, default=0
        Print the solver's outcome when positive.
    warm_start : bool, default=False
        Start from the previous solution when refitting. As in sklearn, a
        previous ``coef_`` of another shape (other number of classes or
        features) raises ``ValueError``, and ``solver="liblinear"`` always
        starts from zero.
    n_jobs : int, default=None
        Kept for compatibility with scikit-learn; not used (the work runs in
        torch's threads). Deprecated in sklearn 1.8: a value other than
        ``None`` gives sklearn's ``FutureWarning`` at fit.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for a binary problem.
    intercept_ : ndarray of shape (1,) or (n_classes,), or float
        Intercepts; zeros when ``fit_intercept=False`` (the scalar ``0.0``
        with ``solver="liblinear"``, as in sklearn).
    n_iter_ : ndarray of shape (1,)
        Number of solver iterations run (at most ``max_iter``; 0 when a
        warm start is already optimal, except with ``"newton-cholesky"``,
        which as sklearn's takes at least one step; not comparable to
        sklearn's ``saga`` epochs).
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
        \\min_{W, b} \\; C \\sum_i w_i \\, \\ell(y_i, W x_i + b)
        + \\tfrac{1 - r}{2} \\|W\\|_F^2 + r \\|W\\|_1,

    ``r = l1_ratio``, divided by ``C * sum(w)`` so that ``tol`` means what it
    means in sklearn. With ``r > 0`` the problem is solved by OWL-QN
    (Andrew & Gao 2007: L-BFGS on the minimum-norm subgradient, each step
    kept to an orthant, so that coefficients the penalty removes become
    exact zeros, as in sklearn), in column-scaled variables, in torch on
    ``device``; on wide sparse data (10,000 x 50,000, ``solver="liblinear"``,
    ``C=1``) it takes 0.14 s, sklearn's liblinear 0.10 s, and L-BFGS-B on
    the split ``W = P - M``, ``P, M >= 0`` that skmath used before, 0.87 s.
    Tested against sklearn's ``saga`` at tight tolerance (same
    coefficients to 5e-5 of the largest, same zeros), it takes tens to hundreds of
    iterations where ``saga`` takes thousands of epochs. With
    ``solver="liblinear"`` and ``fit_intercept``, ``X`` gets a constant
    column ``intercept_scaling`` whose weight is penalised with ``W``
    (liblinear's problem), and there is no separate ``b``.
    The objective and its gradient (the two products with ``X`` that are all
    the work) are computed in torch, on ``device``, in float64; the iterates
    are taken by scipy's L-BFGS-B, the optimizer of sklearn's ``lbfgs``
    solver, with its options (20 curvature pairs instead of 10), or, for the
    Newton solvers, by sklearn's Newton iterations on the Hessian (or its
    products) computed in torch. torch's own
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

    An L1 penalty keeps one feature (petal length) of the four:

    >>> sparse = LogisticRegression(solver="saga", l1_ratio=1.0, C=0.1, device="cpu")
    >>> sparse.fit(X, y).coef_.round(1)
    array([[ 0. ,  0. , -1.8,  0. ],
           [ 0. ,  0. ,  0. ,  0. ],
           [ 0. ,  0. ,  1.8,  0. ]])
    """

    _parameter_constraints = {
        "penalty": [
            StrOptions({"l1", "l2", "elasticnet"}),
            None,
            Hidden(StrOptions({"deprecated"})),
        ],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "dual": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "solver": [
            StrOptions({"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"})
        ],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [None, Integral],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        penalty="deprecated",
        *,
        C=1.0,
        l1_ratio=0.0,
        dual=False,
        tol=1e-4,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        verbose=0,
        warm_start=False,
        n_jobs=None,
        device="auto",
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.device = device

    def _check_settings(self):
        """sklearn 1.9's reading of the penalty settings: the ``C`` and ``l1_ratio`` to fit with.

        ``penalty`` (deprecated), ``l1_ratio=None`` and ``n_jobs`` are read as
        sklearn 1.9 reads them, with its warnings, and :func:`_check_solver`
        refuses what sklearn refuses.
        """
        l1_ratio = self.l1_ratio
        if self.penalty == "deprecated":
            if l1_ratio is None:
                warnings.warn(
                    "'l1_ratio=None' was deprecated in version 1.8 and will trigger "
                    "an error in 1.10. Use 0<=l1_ratio<=1 instead.",
                    FutureWarning,
                )
                l1_ratio = 0.0
            penalty = {0: "l2", 1: "l1"}.get(l1_ratio, "elasticnet")
            if np.isinf(self.C):
                penalty = None
        else:
            warnings.warn(_PENALTY_DEPRECATED, FutureWarning)
            penalty = self.penalty
        _check_solver(self.solver, penalty, self.dual)
        # sklearn's warnings when the penalty makes l1_ratio or C irrelevant.
        if penalty != "elasticnet" and l1_ratio is not None and 0 < l1_ratio < 1:
            warnings.warn(
                "l1_ratio parameter is only used when penalty is 'elasticnet'. "
                f"Got (penalty={penalty})"
            )
        if (self.penalty == "l2" and self.l1_ratio != 0) or (
            self.penalty == "l1" and self.l1_ratio != 1
        ):
            warnings.warn(
                f"Inconsistent values: penalty={self.penalty} with "
                f"l1_ratio={self.l1_ratio}. penalty is deprecated. Please use "
                "l1_ratio only."
            )
        if penalty == "elasticnet" and l1_ratio is None:
            raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
        if self.n_jobs is not None:
            warnings.warn(
                "'n_jobs' has no effect since 1.8 and will be removed in 1.10. "
                f"You provided 'n_jobs={self.n_jobs}', please leave it unspecified.",
                FutureWarning,
            )
        if self.penalty is None:
            if self.C != 1.0:
                warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters")
            return np.inf, 0.0
        return self.C, {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}.get(penalty, 0.0)

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure  # a failed (re)fit leaves the fitted model as it was
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        C, l1_ratio = self._check_settings()
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C"
        )
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {classes[0]!r}"
            )
        weighted = sample_weight is not None
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, copy=True)
        # What callbacks are given (the weights before class weights).
        metadata = {"sample_weight": sample_weight} if weighted else None
        # The weights scaled by a power of two, exactly: the objective divides
        # by their sum and balanced class weights are ratios of sums, but a
        # sum near 1e308 overflowed to inf (and every weight became 0).
        w_exp = pow2_exponent(sample_weight)
        sample_weight = np.ldexp(sample_weight, -w_exp)
        if self.class_weight is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                # A class of zero total weight is reported just below.
                per_class = compute_class_weight(
                    self.class_weight, classes=classes, y=y, sample_weight=sample_weight
                )
            if not np.isfinite(per_class).all():
                # sklearn fits on NaN weights (0 * inf) and returns zeros.
                bad = classes[~np.isfinite(per_class)].tolist()
                if isinstance(self.class_weight, dict):
                    raise ValueError(
                        f"class_weight must be finite; got a non-finite weight for "
                        f"class(es) {bad}."
                    )
                raise ValueError(
                    "class_weight='balanced' needs a positive total sample_weight in "
                    f"every class; class(es) {bad} have none. Drop "
                    "those samples or pass class_weight as a dict."
                )
            sample_weight = sample_weight * per_class[y_index]
        sw_sum = sample_weight.sum()
        if not sw_sum > 0:
            raise ValueError("The sum of sample_weight must be positive.")

        n_classes = classes.shape[0]
        multinomial = n_classes > 2
        liblinear = self.solver == "liblinear"
        if liblinear and multinomial:
            raise ValueError(
                "The 'liblinear' solver does not support multiclass classification "
                "(n_classes >= 3). Either use another solver or wrap the estimator in "
                "a OneVsRestClassifier to keep applying a one-versus-rest scheme. "
                "Only binary classification is supported. The type of the target is "
                "multiclass."
            )
        k = n_classes if multinomial else 1
        d = X.shape[1]
        # liblinear's problem: the intercept is the coefficient of a constant
        # feature ``intercept_scaling``, penalised with the others.
        fit_intercept = self.fit_intercept and not liblinear
        X_fit = X
        if liblinear and self.fit_intercept:
            X_fit = _with_constant_column(X, self.intercept_scaling)
        coef0 = np.zeros((k, X_fit.shape[1] + int(fit_intercept)))
        # sklearn's liblinear does not warm start.
        if self.warm_start and not liblinear and getattr(self, "coef_", None) is not None:
            previous = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
            if self.fit_intercept:
                # A liblinear fit without intercept leaves the scalar 0.0.
                intercept = np.broadcast_to(self.intercept_, previous.shape[:1])
                previous = np.hstack([previous, intercept[:, None]])
            if previous.shape != coef0.shape:
                # sklearn's error (its binary coef may also be 1-D).
                expected = coef0.shape
                if not multinomial:
                    expected = f"{coef0.shape[1:]} or {coef0.shape}"
                raise ValueError(
                    f"Initialization coef is of shape {previous.shape}, expected shape "
                    f"{expected}: with warm_start=True the previous fit's coef_ must "
                    "match the new number of classes and features; set "
                    "warm_start=False to start from zero."
                )
            if not np.all(np.isfinite(previous)):
                # The solvers would start from NaN and stop at once (sklearn's
                # sag and saga raise; its lbfgs returns NaN with a warning).
                raise ValueError(
                    "With warm_start=True the fit starts from the previous coef_ and "
                    "intercept_, which contain NaN or infinity; set warm_start=False "
                    "to start from zero."
                )
            coef0 = previous.astype(np.float64)

        # The Newton solvers, and liblinear's L2 problem by Newton-CG (as
        # liblinear's own trust-region Newton, whose iterations max_iter counts).
        newton = ("cg" if liblinear else _NEWTON.get(self.solver)) if l1_ratio == 0 else None
        # Callbacks (scikit-learn >= 1.9): a task per solver iteration, as
        # sklearn's lbfgs solver reports its iterations ("lbfgs-iter"; the
        # Newton solvers' are "newton-iter").
        dtype = np.float64 if liblinear else X.dtype

        def fitted(coef, n_iter=0):
            return lambda: {"classes_": classes, **self._coef_attributes(coef, d, dtype),
                            "n_iter_": np.array([n_iter], dtype=np.int32)}

        iterations = itertools.count(1)

        tasks = FitTasks(
            self, X, y, max_iter=self.max_iter,
            task_name="newton-iter" if newton else "lbfgs-iter",
            metadata=metadata, start=fitted(coef0),
        )
        device = self._resolve_device()
        # One thread for small problems (see PARALLEL_MIN_WORK).
        work = (X_fit.nnz if sp.issparse(X_fit) else X_fit.size) * k
        with torch_threads(work=work):
            # The objective is computed in float64 whatever X's dtype.
            Xt = as_tensor(X_fit, device, dtype=np.float64)
            if multinomial:
                Y = torch.nn.functional.one_hot(
                    as_tensor(y_index, device).long(), n_classes
                ).to(torch.float64)
            else:
                Y = as_tensor((y_index == 1).astype(np.float64)[:, None], device)
            wt = as_tensor(sample_weight / sw_sum, device)
            # C * sum_i w_i l_i + (1 - l1_ratio) / 2 ||W||^2 + l1_ratio ||W||_1,
            # divided by C * sum(w).
            # With C * sum(w) below ~1e-300 the coefficients are 0 to within
            # ~1e-300; an infinite reg (C * sum(w) < 5e-309) gave NaN.
            with np.errstate(over="ignore", divide="ignore"):
                reg = 0.0 if np.isinf(C) else min(np.ldexp(1.0 / (C * sw_sum), -w_exp), _MAX_REG)
            if self.max_iter == 0 and self.solver != "lbfgs":
                # sklearn's other solvers return their starting point (zeros,
                # or the warm start); scipy's L-BFGS-B (its lbfgs, and ours)
                # takes a step even then.
                coef = as_tensor(coef0, device)
                if self.solver in ("sag", "saga"):  # sklearn's count one epoch, silently
                    result = OptimizeResult(nit=1, status=0, message="max_iter=0")
                else:
                    result = OptimizeResult(
                        nit=0, status=1, message="STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
                    )
                if self.solver == "newton-cg":  # its warning gives the loss
                    result.fun = float(logistic_objective(
                        coef, Xt, Y, wt, reg, fit_intercept, multinomial)[0])
            else:
                coef, result = _minimize_penalised(
                    Xt, Y, wt, as_tensor(coef0, device),
                    l1_reg=l1_ratio * reg, l2_reg=(1 - l1_ratio) * reg,
                    fit_intercept=fit_intercept, multinomial=multinomial,
                    max_iter=self.max_iter, tol=self.tol,
                    callback=(lambda c: tasks(fitted(c.copy(), next(iterations))))
                    if tasks.active else None,
                    newton=newton,
                )
        coef = to_numpy(coef)
        # As sklearn: scipy may count one iteration more than max_iter allows;
        # sklearn's sag and saga count one epoch even at max_iter=0.
        limit = max(self.max_iter, 1) if self.solver in ("sag", "saga") else self.max_iter
        n_iter = min(int(result.nit), limit)
        algorithm = {"cg": "Newton-CG", "cholesky": "Newton-Cholesky"}.get(
            newton, "OWL-QN" if l1_ratio * reg > 0 else "L-BFGS-B")
        if result.status not in (0, STOPPED_BY_CALLBACK):  # a stop asked for: no warning
            _warn_not_converged(self.solver, result, n_iter, self.max_iter, algorithm)
        if self.verbose:
            print(f"[LogisticRegression] solver={self.solver!r} ({algorithm}): "
                  f"{n_iter} iterations, {result.message}")
        self.classes_ = classes
        self.__dict__.update(self._coef_attributes(coef, d, dtype))
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        tasks.end()
        return self

    def _coef_attributes(self, coef, d, dtype):
        """``coef_`` and ``intercept_`` from the solver's ``[W, b]``, ``d`` features.

        As sklearn: float32 input gives float32 coefficients, except with
        liblinear (float64 always, and a scalar 0.0 intercept without one).
        """
        liblinear = self.solver == "liblinear"
        if self.fit_intercept:
            scale = self.intercept_scaling if liblinear else 1.0
            intercept = (scale * coef[:, d]).astype(dtype)
        elif liblinear:
            intercept = 0.0
        else:
            intercept = np.zeros(coef.shape[0], dtype=dtype)
        return {"coef_": np.ascontiguousarray(coef[:, :d], dtype=dtype), "intercept_": intercept}

    def decision_function(self, X):
        """Confidence scores: the signed linear scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column per class; 1-D for a binary problem (score of
            ``classes_[1]``).
        """
        check_is_fitted(self)
        # dtype "numeric", as sklearn's: strings are refused at prediction.
        X = self._validate_numeric_X(X, accept_sparse="csr")
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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

    def densify(self):
        """Convert a sparse ``coef_`` (see :meth:`sparsify`) back to a NumPy array.

        The default format of ``coef_``, needed for fitting; a no-op when it
        already is dense.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        check_is_fitted(self)
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    def sparsify(self):
        """Convert ``coef_`` to a SciPy CSR matrix, as sklearn's ``sparsify``.

        Worth it when most coefficients are zero (an L1 penalty): the
        matrix takes less memory and ``decision_function`` a sparse product.
        Predictions are unchanged; a warm-started refit starts from the
        dense equivalent.

        Returns
        -------
        self : object
            Fitted estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.preprocessing import scale
        >>> from skmath import LogisticRegression
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = LogisticRegression(solver="saga", l1_ratio=1.0, C=0.05, device="cpu")
        >>> clf.fit(scale(X), y).sparsify().coef_.nnz
        5
        """
        check_is_fitted(self)
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if self.solver == "liblinear":  # binary only, as sklearn's
            tags.classifier_tags.multi_class = False
        return tags

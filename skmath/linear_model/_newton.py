"""Newton's method with line search, as sklearn's ``newton-cholesky`` and
``newton-cg`` run it, on torch tensors (the logistic objective, its Hessian and
Hessian products are in :mod:`._logistic`).

Both take damped Newton steps ``x <- x + t s`` with ``H s = -g`` (``H`` the
Hessian, ``g`` the gradient): ``newton-cholesky`` forms ``H`` and solves
directly (LAPACK's symmetric solver on the CPU, as sklearn; Cholesky on a
GPU), ``newton-cg`` solves approximately by conjugate
gradients on Hessian-vector products (``H`` never formed). The step length
``t`` comes from sklearn's line searches: backtracking (Armijo) for
``newton-cholesky``, SciPy's Wolfe search for ``newton-cg``. Where a step
cannot be found (singular Hessian, no descent, failed line search) the
remaining iterations go to L-BFGS-B, as in sklearn's ``NewtonSolver``.
"""

import warnings

import numpy as np
import scipy.linalg
import torch
from scipy.linalg.lapack import _compute_lwork
from scipy.optimize import OptimizeResult
from scipy.optimize._linesearch import (  # as sklearn's newton-cg imports them
    line_search_wolfe1,
    line_search_wolfe2,
)
from sklearn.exceptions import ConvergenceWarning

from .._engine import STOPPED_BY_CALLBACK, to_numpy

try:  # SciPy >= 1.17: the batched routine behind scipy.linalg.solve
    from scipy.linalg._batched_linalg import _solve as _batched_solve
except ImportError:  # older SciPy: solve calls LAPACK from Python
    _batched_solve = None
# scipy.linalg.solve's code of assume_a="sym" for that routine.
_SYMMETRIC = 201

# sklearn's backtracking line search: halve the step until the Armijo
# condition holds with slope factor 2^-11, at most 21 tries (t >= 2^-20).
_ARMIJO = 2.0**-11
_LINE_SEARCH_STEPS = 21
# Inner conjugate-gradient iterations of newton-cg (sklearn's ``maxinner``).
_CG_ITERATIONS = 200
# sklearn's warnings where its newton-cholesky falls back to lbfgs, word for word.
_SINGULAR = (
    "The inner solver of NewtonCholeskySolver stumbled upon a singular or very "
    "ill-conditioned Hessian matrix at iteration {iteration}. It will now resort to "
    "lbfgs instead.\nFurther options are to use another solver or to avoid such "
    "situation in the first place. Possible remedies are removing collinear features "
    "of X or increasing the penalization strengths.\nThe original Linear Algebra "
    "message was:\n{why}"
)
_LINE_SEARCH_FAILED = (
    "Line search of Newton solver NewtonCholeskySolver at iteration #{iteration} did "
    f"not converge after {_LINE_SEARCH_STEPS} line search refinement iterations. It will "
    "now resort to lbfgs instead."
)


def conjugate_gradient(product, g, *, tol, max_iter=_CG_ITERATIONS):
    """Approximate solution of ``H s = -g`` by conjugate gradients, as sklearn's
    ``newton-cg`` computes its Newton steps.

    Stops when the residual's L1 norm is at most ``tol`` (or its squared
    norm underflows to 0), or on a direction of (numerically) zero or
    negative curvature, where it returns the step so far (Royer, O'Neill & Wright 2018, capped CG). Negative curvature at
    the first direction returns ``(r.r / p.H.p) p``, as sklearn's ``_cg``
    does: not a descent direction, which :func:`minimize_newton` then hands
    to its fallback (the logistic Hessian is positive semi-definite, so only
    rounding can get there).

    Examples
    --------
    >>> import torch
    >>> H = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> g = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> s = conjugate_gradient(lambda v: H @ v, g, tol=1e-12)
    >>> torch.allclose(H @ s, -g)
    True
    """
    s = torch.zeros_like(g)
    r = g.clone()  # the residual H s + g
    p = -r
    rr = float((r * r).sum())
    p_norm2 = rr
    eps = float(torch.finfo(g.dtype).eps)
    for i in range(max_iter + 1):
        if float(r.abs().sum()) <= tol:
            break
        Hp = product(p)
        curvature = float((p * Hp).sum())
        if 0 <= curvature <= 16 * eps * p_norm2:
            break
        if curvature < 0:
            if i == 0:
                s = s + (rr / curvature) * p
            break
        alpha = rr / curvature
        s = s + alpha * p
        r = r + alpha * Hp
        rr_next = float((r * r).sum())
        if not rr_next > 0:  # r.r is 0 or underflowed: beta would divide by it
            break
        beta = rr_next / rr
        p = -r + beta * p
        # beta * beta, not beta**2: Python raises OverflowError where a
        # product goes to inf (then the curvature test stops the loop).
        p_norm2 = rr_next + beta * beta * p_norm2
        rr = rr_next
    return s


def _solve_symmetric(A, b):
    """``scipy.linalg.solve(A, b, assume_a="sym")``, its problems returned
    instead of raised or warned: ``(x, None)``, or ``(None, why)`` where
    SciPy finds ``A`` singular or ill-conditioned, ``why`` SciPy's message.

    sklearn's Newton solver turns SciPy's LinAlgWarning into an error with
    ``warnings.catch_warnings``, which changes the process's filters: fits in
    other threads left them changed (a LinAlgWarning of the user's own code
    then raised). Here SciPy's own path is followed without a warning:
    since SciPy 1.17 its batched C routine, which reports the problems in a
    list (and a 1 x 1 ``A`` is a division), before it LAPACK's ``sysv`` and
    ``sycon`` with ``A``'s 1-norm and LAPACK's ``eps``; the same numbers,
    decisions and messages as the installed SciPy's ``solve``. Should a later
    SciPy change that private routine, ``solve`` itself runs under the
    filter, as in sklearn.
    """
    if A.shape[0] == 0:  # every coordinate fixed: nothing to solve
        return b.copy(), None
    if _batched_solve is not None:
        if A.shape[0] == 1:
            if A[0, 0] == 0:
                return None, "A singular matrix detected."
            return b / A[0, 0], None
        try:
            # (structure, lower, transposed, overwrite_a, overwrite_b)
            x, problems = _batched_solve(A, b[:, None], _SYMMETRIC, False, False, False, False)
            problem = problems[0] if problems else None  # one matrix: at most one
            if problem is None:
                return x[:, 0], None
            singular, info = problem["is_singular"], problem["lapack_info"]
            ill, rcond = problem["is_ill_conditioned"], problem["rcond"]
        except (TypeError, ValueError, KeyError, IndexError):
            return _solve_under_filter(A, b)
        if singular:
            return None, "A singular matrix detected: slice(s) [0] are singular."
        if info < 0:
            raise ValueError(f"Internal LAPACK errors: slice 0 emits lapack info={info}.")
        if ill:
            return None, f"An ill-conditioned matrix detected: slice 0 has rcond = {rcond}."
        return x[:, 0], None
    lange, lamch, sycon, sysv, sysv_lwork = scipy.linalg.get_lapack_funcs(
        ("lange", "lamch", "sycon", "sysv", "sysv_lwork"), (A, b)
    )
    n = A.shape[0]
    lu, ipiv, x, info = sysv(A, b, lwork=_compute_lwork(sysv_lwork, n, False), lower=False)
    if info == 0:
        rcond, info = sycon(lu, ipiv, lange("1", A))
    if info < 0:
        raise ValueError(f"LAPACK reported an illegal value in {-info}-th argument.")
    if info > 0 or rcond == 0:
        return None, "Matrix is singular."
    if not rcond >= lamch("E"):  # `rcond < E` misses NaN
        return None, f"Ill-conditioned matrix (rcond={rcond:.6g}): result may not be accurate."
    return x, None


def _solve_under_filter(A, b):
    """sklearn's way: ``scipy.linalg.solve`` with its LinAlgWarning as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            return scipy.linalg.solve(A, b, assume_a="sym", check_finite=False), None
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning) as error:
            return None, str(error)


def _newton_step(H, g, keep):
    """``(s, None)`` with ``H s = -g`` on the coordinates ``keep`` (the others
    0), or ``(None, why)`` where ``H`` there is singular or very
    ill-conditioned, ``why`` the linear algebra's message.

    On the CPU, sklearn's solve: LAPACK's symmetric solver
    (:func:`scipy.linalg.solve`, ``assume_a="sym"``, by
    :func:`_solve_symmetric`), whose reciprocal
    condition estimate below ``eps`` means ill-conditioned, so the same
    problems fall back as in sklearn. On a GPU, a Cholesky factorisation,
    ill-conditioned where it fails or where its diagonal's ratio squared (a
    lower bound of the condition number) exceeds ``1 / eps``: an exactly
    singular ``H`` can pass that test by rounding, and then takes a step
    along its null space that does not change the objective.
    """
    index = slice(None) if keep is None else torch.nonzero(keep).squeeze(1)
    H, rhs = H[index][:, index], -g[index]
    s = torch.zeros_like(g)
    if H.device.type == "cpu":
        step, why = _solve_symmetric(H.numpy(), rhs.numpy())
        if step is None:
            return None, why
        s[index] = torch.from_numpy(step)
        return s, None
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) != 0:
        return None, (f"Cholesky factorisation failed: the leading minor of order "
                      f"{int(info)} is not positive definite.")
    diagonal = L.diagonal()
    ratio2 = float(diagonal.max() / diagonal.min()) ** 2
    if ratio2 > 1 / np.finfo(np.float64).eps:
        return None, f"Ill-conditioned matrix (condition number >= {ratio2:.3g})."
    s[index] = torch.cholesky_solve(rhs[:, None], L).squeeze(1)
    return s, None


def _backtracking_line_search(fun, x, loss, grad, step, slope):
    """sklearn's backtracking line search of its Newton solvers: the first of
    ``t = 1, 1/2, ..., 2^-20`` where the objective decreases by at least
    ``2^-11 t`` times ``slope`` (the directional derivative), or, where
    the change is at the objective's rounding (``16 eps`` relative), where
    the gradient's L1 norm decreases. Returns ``(x, loss, grad)`` there,
    or None."""
    tiny = 16 * np.finfo(np.float64).eps * abs(float(loss))
    grad_l1 = None
    t = 1.0
    for _ in range(_LINE_SEARCH_STEPS):
        x_new = x + t * step
        loss_new, grad_new = fun(x_new)
        improvement = float(loss_new) - float(loss)
        if improvement <= t * _ARMIJO * slope:
            return x_new, loss_new, grad_new
        if abs(improvement) <= tiny:
            if grad_l1 is None:
                grad_l1 = float(grad.abs().sum())
            if float(grad_new.abs().sum()) < grad_l1:
                return x_new, loss_new, grad_new
        t /= 2
    return None


def _wolfe_line_search(fun, x, loss, grad, step, previous_loss):
    """sklearn's ``newton-cg`` line search (``_line_search_wolfe12``): SciPy's
    ``line_search_wolfe1`` (MINPACK's strong-Wolfe search), else the full step
    where the objective changes at its rounding (``16 eps`` relative) and the
    gradient's L1 norm decreases, else SciPy's ``line_search_wolfe2``.

    The iterate goes to NumPy (``k x d`` numbers); ``fun`` is evaluated once
    per point, and the accepted point's loss and gradient are reused.
    ``previous_loss`` is the objective before the last step (None at first),
    which SciPy uses for its first trial step. Returns ``(x, loss, grad)``,
    or None.
    """
    shape, device, dtype = x.shape, x.device, x.dtype
    evaluated = {}

    def to_tensor(v):
        return torch.from_numpy(v).view(shape).to(device=device, dtype=dtype)

    def evaluate(v):
        key = v.tobytes()
        if key not in evaluated:
            value, gradient = fun(to_tensor(v))
            evaluated[key] = (float(value), to_numpy(gradient).astype(np.float64).ravel())
        return evaluated[key]

    xk, pk = to_numpy(x).astype(np.float64).ravel(), to_numpy(step).astype(np.float64).ravel()
    gfk = to_numpy(grad).astype(np.float64).ravel()
    evaluated[xk.tobytes()] = (float(loss), gfk)
    f, fprime = (lambda v: evaluate(v)[0]), (lambda v: evaluate(v)[1])
    # SciPy's LineSearchWarning (wolfe2 did not converge) passes, as in
    # sklearn's newton-cg; no warnings filter (not thread-safe).
    alpha = line_search_wolfe1(f, fprime, xk, pk, gfk, float(loss), previous_loss)[0]
    if alpha is None:
        value, gradient = evaluate(xk + pk)
        if abs(value - float(loss)) <= 16 * np.finfo(np.float64).eps * abs(float(loss)) and (
            np.abs(gradient).sum() < np.abs(gfk).sum()
        ):
            alpha = 1.0
    if alpha is None:
        alpha = line_search_wolfe2(f, fprime, xk, pk, gfk, float(loss), previous_loss)[0]
    if alpha is None:
        return None
    x_new = xk + alpha * pk
    value, gradient = evaluate(x_new)
    return to_tensor(x_new), torch.tensor(value, dtype=dtype, device=device), to_tensor(gradient)


def minimize_newton(fun, x0, *, hessian, max_iter, tol, inner="cholesky", fixed=None,
                    fallback, callback=None):
    """Minimise a smooth convex ``fun`` by Newton's method with line search.

    The loop of sklearn's ``NewtonCholeskySolver`` (``inner="cholesky"``)
    and of its ``_newton_cg`` (``inner="cg"``), on torch tensors.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (loss, grad)``, tensors, ``grad`` shaped as ``x``.
    x0 : Tensor
        Starting point.
    hessian : callable
        ``hessian(x)``: the Hessian at ``x`` as a matrix over ``x.ravel()``
        (``inner="cholesky"``), or a function ``v -> H v`` on tensors shaped
        as ``x`` (``inner="cg"``).
    max_iter : int
        Newton iterations, the fallback's included.
    tol : float
        Converged when the largest absolute gradient entry is at most
        ``tol``, and with ``inner="cholesky"`` also half the squared Newton
        decrement ``s^T H s`` (sklearn's two criteria).
    inner : {"cholesky", "cg"}
    fixed : Tensor of bool or None
        Entries of ``x`` held at their value (the Hessian is singular along
        them: the multinomial loss is invariant under a shift of all classes'
        intercepts); ``inner="cholesky"`` only.
    fallback : callable
        ``fallback(x, max_iter) -> (x, result)``, e.g. L-BFGS-B, which takes
        the remaining iterations where no Newton step can be taken, with
        sklearn's warning (none where the step is not a descent direction,
        as in sklearn).
    callback : callable or None
        ``callback(x)`` after each iteration; a true return value stops
        there (``status`` :data:`~skmath._engine.STOPPED_BY_CALLBACK`).

    Returns
    -------
    x : Tensor
    result : scipy.optimize.OptimizeResult
        ``nit``, ``status`` (0 when converged), ``message`` and ``fun`` (the
        loss). After a fallback, the fallback's result with the Newton
        iterations added to ``nit``, and ``fallback_nit`` and
        ``fallback_max_iter``, its own iterations and limit.

    Examples
    --------
    A quadratic ``x^T A x / 2 - b^T x`` is minimised by one full step; a
    second one, of length zero, meets the Newton decrement test:

    >>> import torch
    >>> A = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> def fun(x):
    ...     return 0.5 * x @ A @ x - b @ x, A @ x - b
    >>> x, result = minimize_newton(fun, torch.zeros(2, dtype=torch.float64),
    ...                             hessian=lambda x: A, max_iter=10, tol=1e-12,
    ...                             fallback=None)
    >>> [round(v, 12) for v in x.tolist()], result.nit
    ([0.2, 0.6], 2)
    """
    x = x0
    loss, grad = fun(x)
    previous_loss = None  # the Wolfe search's memory (newton-cg)
    if inner == "cg" and float(grad.abs().max()) <= tol:
        return x, OptimizeResult(nit=0, status=0, fun=float(loss),
                                 message="CONVERGENCE: NORM OF GRADIENT <= TOL")
    keep = None if fixed is None else ~fixed.ravel()
    for n_iter in range(1, max_iter + 1):
        failed = False  # no step: the fallback takes over (warned, as sklearn)
        if inner == "cholesky":
            H = hessian(x)
            step, why = _newton_step(H, grad.ravel(), keep)
            if step is None:
                failed = True
                warnings.warn(_SINGULAR.format(iteration=n_iter, why=why),
                              scipy.linalg.LinAlgWarning)
            else:
                step = step.view_as(x)
        else:
            g_l1 = float(grad.abs().sum())
            step = conjugate_gradient(hessian(x), grad, tol=min(0.5, g_l1**0.5) * g_l1)
        if not failed:
            slope = float((grad * step).sum())
            # 0 at a zero gradient: a null step, accepted. An ascent step:
            # sklearn's newton-cholesky falls back without a warning; its
            # newton-cg's line search fails, warned below.
            failed = not slope <= 0 and inner == "cholesky"
        if not failed:
            if inner == "cholesky":
                searched = _backtracking_line_search(fun, x, loss, grad, step, slope)
            elif slope <= 0:
                searched = _wolfe_line_search(fun, x, loss, grad, step, previous_loss)
            else:
                searched = None
            if searched is None:
                failed = True
                if inner == "cholesky":
                    warnings.warn(_LINE_SEARCH_FAILED.format(iteration=n_iter),
                                  ConvergenceWarning)
                else:  # sklearn's UserWarning, after which its newton-cg stops
                    warnings.warn("Line Search failed; the Newton solver takes its "
                                  "remaining iterations with lbfgs instead.")
        if failed:
            # The failed iteration takes no step, so the fallback gets it
            # (sklearn's NewtonSolver gives it one iteration less): max_iter
            # bounds the steps taken, and the fit stopped at any step is
            # the fit with that max_iter (as the callbacks promise).
            x, result = fallback(x, max_iter - n_iter + 1)
            result.fallback_nit, result.fallback_max_iter = result.nit, max_iter - n_iter + 1
            result.nit += n_iter - 1
            return x, result
        previous_loss = float(loss)
        x, loss, grad = searched
        if callback is not None and callback(x):
            return x, OptimizeResult(nit=n_iter, status=STOPPED_BY_CALLBACK, fun=float(loss),
                                     message="STOP: REQUESTED BY A CALLBACK")
        if float(grad.abs().max()) <= tol and (
            inner == "cg" or 0.5 * float(step.ravel() @ (H @ step.ravel())) <= tol
        ):
            return x, OptimizeResult(nit=n_iter, status=0, fun=float(loss),
                                     message="CONVERGENCE: NEWTON")
    return x, OptimizeResult(nit=max_iter, status=1, fun=float(loss),
                             message="STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")

r"""ODE solvers for flows, with the divergence integral for exact log-densities.

Pure functions on tensors. A vector field is a callable ``f(x, t)`` taking
``x`` of shape (n, d) and per-row times ``t`` of shape (n,), returning the
velocity of shape (n, d). Every row is integrated on its own: a row's result
never depends on the other rows of the batch.

The change of variables of a continuous flow (Chen et al. 2018, theorem 1) is

.. math::

    \frac{d}{dt} \log p_t(x_t) = -\nabla \cdot v(x_t, t),

so integrating the state ``[x, l]`` with :math:`\dot l = \nabla \cdot v`
from ``t1`` back to ``t0`` gives
:math:`\log p_{t_1}(x_{t_1}) = \log p_{t_0}(x_{t_0}) + l(t_0)`.
"""

import math

import torch

# Butcher tableaus (a, b, c) of the fixed-step explicit Runge-Kutta methods.
_TABLEAUS = {
    "euler": ([], [1.0], [0.0]),
    "midpoint": ([[0.5]], [0.0, 1.0], [0.0, 0.5]),
    "rk4": (
        [[0.5], [0.0, 0.5], [0.0, 0.0, 1.0]],
        [1 / 6, 1 / 3, 1 / 3, 1 / 6],
        [0.0, 0.5, 0.5, 1.0],
    ),
}

# Dormand-Prince 5(4) (Dormand & Prince 1980), as in Hairer et al., table 5.2.
_DOPRI5_C = [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
_DOPRI5_A = [
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_DOPRI5_B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_DOPRI5_B_LOW = [
    5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40
]
_DOPRI5_SAFETY = 0.9
_DOPRI5_MIN_FACTOR = 0.2
_DOPRI5_MAX_FACTOR = 10.0
_DOPRI5_MAX_ITER = 10_000
# Smallest relative tolerance, in units of the dtype's epsilon: below it the
# error estimate is rounding noise and the steps shrink without end
# (scipy.integrate.solve_ivp raises rtol to the same floor).
_DOPRI5_MIN_RTOL_EPS = 100
# A step below this many float spacings of the time cannot advance it (as in
# scipy.integrate.solve_ivp): the solution blows up, or the tolerance is out
# of reach of the dtype.
_DOPRI5_MIN_STEP_ULPS = 10

FIXED_STEP_SOLVERS = tuple(_TABLEAUS)
SOLVERS = FIXED_STEP_SOLVERS + ("dopri5",)


def divergence_exact(f, x, t):
    r"""Velocity and its exact divergence :math:`\mathrm{tr}(\partial v / \partial x)`.

    All ``d`` rows of the Jacobian come from one batched backward pass
    (``d`` vector-Jacobian products with the basis vectors), so the cost is
    about ``d`` evaluations of ``f``: meant for small ``d``.

    Parameters
    ----------
    f : callable
    x : Tensor, shape (n, d)
    t : Tensor, shape (n,)

    Returns
    -------
    v : Tensor, shape (n, d)
    div : Tensor, shape (n,)
    """
    n, d = x.shape
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = f(x, t)
        basis = torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :].expand(d, n, d)
        if torch.is_anomaly_enabled():
            # The batched backward (vmap) has no batching rule for anomaly
            # mode's checks: one backward pass per basis vector.
            jac_rows = torch.stack([
                torch.autograd.grad(v, x, basis[i], retain_graph=True)[0] for i in range(d)
            ])
        else:
            (jac_rows,) = torch.autograd.grad(v, x, basis, is_grads_batched=True)
    # jac_rows[i, k, j] = d v_i / d x_j at row k; the trace takes i == j.
    div = torch.diagonal(jac_rows, dim1=0, dim2=2).sum(dim=-1)
    return v.detach(), div.detach()


def divergence_hutchinson(f, x, t, eps):
    r"""Velocity and Hutchinson's estimate :math:`\epsilon^T (\partial v / \partial x) \epsilon`.

    Unbiased when :math:`E[\epsilon \epsilon^T] = I` (Rademacher probes have
    the least variance; Hutchinson 1990, FFJORD, Grathwohl et al. 2019). One
    vector-Jacobian product, whatever ``d``.

    Parameters
    ----------
    f : callable
    x : Tensor, shape (n, d)
    t : Tensor, shape (n,)
    eps : Tensor, shape (n, d)
        Probe vectors, kept fixed along a trajectory.

    Returns
    -------
    v : Tensor, shape (n, d)
    div : Tensor, shape (n,)
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = f(x, t)
        (vjp,) = torch.autograd.grad(v, x, eps)
    return v.detach(), (vjp * eps).sum(dim=1).detach()


def augmented_dynamics(f, divergence="exact", eps=None):
    """Dynamics of the state ``[x, l]`` with ``dl/dt = div f``.

    Parameters
    ----------
    f : callable
    divergence : {"exact", "hutchinson"}
    eps : Tensor of shape (n, d) or None
        Probes for ``"hutchinson"``; rows follow the rows of the state.

    Returns
    -------
    g : callable
        ``g(y, t, rows)`` with ``y`` of shape (m, d + 1); ``rows`` (index
        tensor or None) says which rows of the full batch ``y`` holds, so that
        each row keeps its own probe.
    """

    def g(y, t, rows=None):
        x = y[:, :-1]
        if divergence == "exact":
            v, div = divergence_exact(f, x, t)
        else:
            probe = eps if rows is None else eps[rows]
            v, div = divergence_hutchinson(f, x, t, probe)
        return torch.cat([v, div[:, None]], dim=1)

    return g


def _fixed_step(g, y, t0, t1, n_steps, method, return_path):
    a, b, c = _TABLEAUS[method]
    h = (t1 - t0) / n_steps
    path = [y] if return_path else None
    ones = y.new_ones(y.shape[0])
    for step in range(n_steps):
        t = t0 + step * h
        k = []
        for i in range(len(b)):
            yi = y
            for aij, kj in zip(a[i - 1] if i else [], k):
                if aij:
                    yi = yi + (h * aij) * kj
            k.append(g(yi, ones * (t + c[i] * h)))
        y = y + h * sum(bi * ki for bi, ki in zip(b, k) if bi)
        if return_path:
            path.append(y)
    return torch.stack(path) if return_path else y


def _dopri5(g, y, t0, t1, h0, rtol, atol, pass_rows):
    """Adaptive Dormand-Prince with a step size per row.

    Each row has its own time and step, accepted or rejected on its own error,
    so rows never influence each other (unlike a step shared by the batch).
    """
    n = y.shape[0]
    direction = 1.0 if t1 >= t0 else -1.0
    span = abs(t1 - t0)
    t = y.new_full((n,), float(t0))
    h = y.new_full((n,), abs(h0))
    done = y.new_zeros(n, dtype=torch.bool)
    rtol = max(rtol, _DOPRI5_MIN_RTOL_EPS * torch.finfo(y.dtype).eps)
    min_step = _DOPRI5_MIN_STEP_ULPS * torch.finfo(y.dtype).eps * max(abs(t0), abs(t1), span)
    for _ in range(_DOPRI5_MAX_ITER):
        rows = torch.nonzero(~done).squeeze(1)
        if rows.numel() == 0:
            return y
        yr, tr = y[rows], t[rows]
        remaining = span - (tr - t0).abs()
        hr = torch.minimum(h[rows], remaining)
        signed = direction * hr
        k = []
        for i in range(7):
            yi = yr
            if i:
                for aij, kj in zip(_DOPRI5_A[i - 1], k):
                    if aij:
                        yi = yi + (signed * aij)[:, None] * kj
            ti = tr + _DOPRI5_C[i] * signed
            k.append(g(yi, ti, rows) if pass_rows else g(yi, ti))
        y_new = yr + signed[:, None] * sum(bi * ki for bi, ki in zip(_DOPRI5_B, k) if bi)
        y_low = yr + signed[:, None] * sum(
            bi * ki for bi, ki in zip(_DOPRI5_B_LOW, k) if bi
        )
        scale = atol + rtol * torch.maximum(yr.abs(), y_new.abs())
        err = ((y_new - y_low) / scale).square().mean(dim=1).sqrt()
        # A NaN error (inf - inf in a stage) rejects the step and shrinks it,
        # as an infinite one does, instead of keeping a NaN step size.
        err = err.nan_to_num(nan=math.inf)
        accept = err <= 1.0
        factor = _DOPRI5_SAFETY * err.clamp_min(1e-10) ** (-1 / 5)
        factor = factor.clamp(_DOPRI5_MIN_FACTOR, _DOPRI5_MAX_FACTOR)
        acc_rows = rows[accept]
        y[acc_rows] = y_new[accept]
        t[acc_rows] = tr[accept] + signed[accept]
        finished = accept & (hr >= remaining)
        done[rows[finished]] = True
        h[rows] = hr * factor
        if bool((~finished & (h[rows] < min_step)).any()):
            raise RuntimeError(
                f"dopri5 step size fell below {min_step:.3g}, the float precision of "
                "the time: the solution is singular or the tolerance out of reach; "
                "loosen it or use a fixed-step solver."
            )
    raise RuntimeError(
        f"dopri5 did not reach t={t1} in {_DOPRI5_MAX_ITER} steps; loosen "
        "the tolerance or use a fixed-step solver."
    )


def odeint(f, x, t0, t1, *, method="rk4", n_steps=32, rtol=1e-5, atol=1e-5,
           return_path=False):
    """Integrate ``dx/dt = f(x, t)`` from ``t0`` to ``t1`` (either direction).

    Parameters
    ----------
    f : callable
        ``f(x, t)``, see the module docstring.
    x : Tensor, shape (n, d)
        State at ``t0``.
    t0, t1 : float
    method : {"euler", "midpoint", "rk4", "dopri5"}
        Fixed-step explicit Runge-Kutta methods (``n_steps`` equal steps), or
        adaptive Dormand-Prince 5(4) with a step size per row (``n_steps``
        sets the first step; ``rtol`` and ``atol`` bound the local error).
    n_steps : int
    rtol, atol : float
        Tolerances of ``"dopri5"``; ``rtol`` is raised to at least 100 times
        the machine epsilon of ``x``'s dtype, as in
        :func:`scipy.integrate.solve_ivp`.
    return_path : bool
        Return the states after each step, shape (n_steps + 1, n, d) (fixed-step
        methods only).

    Returns
    -------
    x : Tensor, shape (n, d), or (n_steps + 1, n, d) with ``return_path``
    """
    x = x.detach().clone()
    if method == "dopri5":
        if return_path:
            raise ValueError("return_path needs a fixed-step method.")

        def g(y, t):
            return f(y, t)

        with torch.no_grad():
            return _dopri5(g, x, t0, t1, abs(t1 - t0) / n_steps, rtol, atol, False)
    with torch.no_grad():
        return _fixed_step(lambda y, t: f(y, t), x, t0, t1, n_steps, method, return_path)


def odeint_logdet(f, x, t0, t1, *, method="rk4", n_steps=32, rtol=1e-5, atol=1e-5,
                  divergence="exact", eps=None):
    r"""Integrate ``x`` and the divergence of ``f`` along its path.

    Parameters
    ----------
    f, x, t0, t1, method, n_steps, rtol, atol
        As in :func:`odeint`.
    divergence : {"exact", "hutchinson"}
    eps : Tensor of shape (n, d) or None
        Hutchinson probes.

    Returns
    -------
    x : Tensor, shape (n, d)
        State at ``t1``.
    delta : Tensor, shape (n,)
        :math:`\int_{t_0}^{t_1} \nabla \cdot f(x_t, t) dt`.
    """
    g = augmented_dynamics(f, divergence, eps)
    y = torch.cat([x.detach(), x.new_zeros(x.shape[0], 1)], dim=1)
    with torch.no_grad():
        if method == "dopri5":
            y = _dopri5(g, y, t0, t1, abs(t1 - t0) / n_steps, rtol, atol, True)
        else:
            y = _fixed_step(g, y, t0, t1, n_steps, method, False)
    return y[:, :-1], y[:, -1]

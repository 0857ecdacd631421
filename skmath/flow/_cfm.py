"""Conditional flow matching: regression targets and minibatch OT couplings.

Pure functions on tensors, no network and no training loop (after torchcfm's
``conditional_flow_matching.py``; names follow Lipman et al. 2023 and Tong et
al. 2024). Randomness is always drawn from the ``generator`` passed in.

The source ``x0 ~ N(0, I)`` sits at ``t = 0`` and the data ``x1`` at ``t = 1``.
"""

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

# Largest set of points paired by one exact OT problem. The Hungarian algorithm
# is cubic: on 256 points it costs ~10x a training step of the default network,
# on blocks of 64 a small fraction, and the held-out likelihoods of the fitted
# flows are as good (2-D benchmarks, benchmarks/bench_flow.py).
OT_BLOCK_SIZE = 64


def conditional_path(x0, x1, t, sigma, eps):
    r"""Sample of the Gaussian probability path between ``x0`` and ``x1``.

    .. math::

        \mu_t = t x_1 + (1 - t) x_0, \qquad \sigma_t = \sigma, \qquad
        x_t = \mu_t + \sigma_t \epsilon

    (Tong et al. 2024, eq. 14 and section 3.2.3).

    Parameters
    ----------
    x0 : Tensor, shape (n, d)
        Source samples.
    x1 : Tensor, shape (n, d)
        Data samples.
    t : Tensor, shape (n,)
        Times in [0, 1].
    sigma : float
        Standard deviation of the path (constant in ``t``).
    eps : Tensor, shape (n, d)
        Standard normal noise.

    Returns
    -------
    xt : Tensor, shape (n, d)
    """
    t = t[:, None]
    mu_t = t * x1 + (1 - t) * x0
    return mu_t + sigma * eps


def conditional_vector_field(x0, x1):
    r"""Target vector field of the path above, :math:`u_t = x_1 - x_0`.

    Because :math:`\sigma_t` does not depend on ``t``, the field of the
    Gaussian path is the straight-line velocity (Tong et al. 2024, eq. 15).

    Parameters
    ----------
    x0, x1 : Tensor, shape (n, d)

    Returns
    -------
    ut : Tensor, shape (n, d)
    """
    return x1 - x0


def ot_pairing(x0, x1, block_size=None):
    r"""Reorder ``x0`` so that ``(x0[i], x1[i])`` is an exact minibatch OT plan.

    With uniform weights on two batches of equal size, the optimal transport
    plan for the squared Euclidean cost is a permutation (Birkhoff), found here
    with the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`)
    on the host. This is the "OT-CFM" coupling of Tong et al. (2024, sec. 3.2.3);
    the marginals of the pairs are unchanged, so the flow still carries the
    source to the data.

    Parameters
    ----------
    x0 : Tensor, shape (n, d)
    x1 : Tensor, shape (n, d)
    block_size : int or None, default=None
        Solve one OT problem per block of ``block_size`` consecutive rows
        (rows of a shuffled minibatch: random sub-batches) instead of one on
        all ``n`` rows.

    Returns
    -------
    x0 : Tensor, shape (n, d)
        ``x0`` permuted (within blocks).
    """
    if block_size is not None and x0.shape[0] > block_size:
        return torch.cat(
            [ot_pairing(a, b) for a, b in zip(x0.split(block_size), x1.split(block_size))]
        )
    cost = torch.cdist(x1.detach(), x0.detach()).square()
    cost = cost.to(device="cpu", dtype=torch.float64).numpy()
    _, cols = linear_sum_assignment(cost)
    return x0[torch.as_tensor(cols.astype(np.int64), device=x0.device)]


def cfm_loss(model, x1, sigma, generator, *, coupling="independent"):
    r"""Conditional flow matching loss of one minibatch.

    .. math::

        \mathcal{L} = \mathbb{E}_{t, (x_0, x_1), \epsilon}
        \| v_\theta(x_t, t) - u_t \|^2

    averaged over rows and divided by the dimension ``d`` (mean squared error),
    with ``t ~ U[0, 1]``, ``x0 ~ N(0, I)`` and ``eps ~ N(0, I)`` drawn from
    ``generator``.

    Parameters
    ----------
    model : callable
        ``model(x, t)`` with ``x`` of shape (n, d) and ``t`` of shape (n,).
    x1 : Tensor, shape (n, d)
        Data minibatch (standardised).
    sigma : float
    generator : torch.Generator
    coupling : {"independent", "ot"}
        ``"ot"`` pairs ``x0`` and ``x1`` by exact OT on blocks of
        ``OT_BLOCK_SIZE`` rows (:func:`ot_pairing`).

    Returns
    -------
    loss : Tensor, shape ()
    """
    n = x1.shape[0]
    draw = dict(generator=generator, device=x1.device, dtype=x1.dtype)
    x0 = torch.randn(x1.shape, **draw)
    t = torch.rand(n, **draw)
    eps = torch.randn(x1.shape, **draw)
    if coupling == "ot":
        x0 = ot_pairing(x0, x1, OT_BLOCK_SIZE)
    xt = conditional_path(x0, x1, t, sigma, eps)
    ut = conditional_vector_field(x0, x1)
    return (model(xt, t) - ut).square().mean()

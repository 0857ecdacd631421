r"""Infinite-width kernels (NNGP and NTK) of fully connected networks.

Pure tensor functions, no estimator state. The network is

.. code-block:: text

    stax.serial(Dense(W_std=weight_std, b_std=bias_std), act(),   # depth times
                ...,
                Dense(W_std=weight_std, b_std=bias_std))          # readout

in the NTK parameterisation, with neural-tangents' ``stax`` conventions, so
that the same settings give the same numbers.

Recursion (Jacot et al. 2018; Lee et al. 2019, eq. (S3)–(S5)). For a pair of
inputs :math:`x, x' \in \mathbb{R}^d` the input layer gives
:math:`\Sigma^{0} = x \cdot x' / d`, :math:`\Theta^{0} = 0`. A Dense layer maps

.. math::

    \Sigma \leftarrow \sigma_w^2 \Sigma + \sigma_b^2, \qquad
    \Theta \leftarrow \Sigma + \sigma_w^2 \Theta

(the NTK update uses the *new* :math:`\Sigma`), and an activation :math:`\phi`
maps

.. math::

    \Sigma \leftarrow \mathbb{E}[\phi(u)\phi(v)], \qquad
    \Theta \leftarrow \Theta \, \mathbb{E}[\phi'(u)\phi'(v)],

with :math:`(u, v)` centred Gaussian with covariance
:math:`\begin{pmatrix} q_{1} & \Sigma \\ \Sigma & q_{2} \end{pmatrix}`, where
:math:`q_1 = \Sigma(x, x)` and :math:`q_2 = \Sigma(x', x')` are the variances
at that layer. The Gaussian expectations have closed forms for ReLU
(arc-cosine kernels, Cho & Saul 2009), erf (Williams 1997) and GELU
(Tsuchida et al. 2021); the formulas below are the ones neural-tangents uses
(``neural_tangents/_src/stax/elementwise.py``), written for tensors.

Every function takes validated floating tensors and returns tensors of the
same dtype and device.
"""

import math

import torch

from .._engine import block_pool, empty, map_blocks

ACTIVATIONS = ("relu", "erf", "gelu")

#: Entries of one block of the kernel matrix. A block needs about ten
#: temporaries of its size: 2**15 float64 entries (256 KiB each) keep them in
#: a CPU core's cache; on GPU larger blocks mean fewer kernel launches.
_BLOCK_ELEMENTS_CPU = 2**15
_BLOCK_ELEMENTS_GPU = 2**24
#: Kernels with fewer entries are computed without the worker threads, whose
#: start costs more than they save there (measured, depth 2, float64, 2
#: cores: 265 x 265 took 1.9 ms without them and 2.8 ms with them, 1000 x 1000
#: 20.7 ms against 22.8 ms; 2000 x 2000 55 ms with them against 64 ms).
_MIN_THREADED_ELEMENTS = 2**21

_PI = math.pi
_INV_2PI = 1.0 / (2.0 * math.pi)
_TWO_OVER_PI = 2.0 / math.pi
_FOUR_OVER_PI = 4.0 / math.pi


def _cov_det(cov, var1, var2):
    r"""Determinant :math:`q_1 q_2 - \Sigma^2` of the pair's covariance, clamped at 0.

    Both products are rounded before the subtraction (not ``addcmul``, whose
    fused multiply-add leaves the rounding error of ``q^2`` where
    ``cov = q``), so the determinant is exactly 0 on the diagonal of a
    symmetric kernel: there the ReLU angle is 0 and the erf and GELU
    derivative kernels have no cancellation error (a one-ulp error here
    becomes ``sqrt(eps)`` relative in the ReLU NTK). Shapes as in
    :func:`_relu`.
    """
    return torch.sub(var1 * var2, cov * cov).clamp_(min=0.0)


def _unit_scale(var):
    """Powers of two ``s`` with ``var * s**2`` in ``[1/2, 2)``, exponent clamped to ±511.

    Multiplying by them is exact, and the product of two of them stays
    finite.
    """
    exponent = torch.frexp(var).exponent.div(2, rounding_mode="floor").clamp_(-511, 511)
    return torch.ldexp(torch.ones_like(var), exponent.neg_())


def _relu(cov, var1, var2):
    r"""ReLU arc-cosine kernel and its derivative kernel.

    With :math:`\theta = \arccos(\Sigma / \sqrt{q_1 q_2})`,

    .. math::

        \mathbb{E}[\phi(u)\phi(v)]
            = \frac{\sqrt{q_1 q_2 - \Sigma^2} + (\pi - \theta)\Sigma}{2\pi},
        \qquad
        \mathbb{E}[\phi'(u)\phi'(v)] = \frac{\pi - \theta}{2\pi}.

    The angle is computed as ``atan2(sqrt(q1 q2 - cov^2), cov)`` (see
    :func:`_cov_det`), which stays accurate near :math:`\theta = 0` where
    ``arccos`` loses half the digits. :math:`q_1 q_2` underflows for
    variances below about ``1e-154`` and overflows above ``1e154``;
    :func:`_relu_rescaled` handles those.

    Parameters
    ----------
    cov : Tensor, shape (n1, n2)
        Pre-activation covariances :math:`\Sigma(x_i, x'_j)`.
    var1 : Tensor, shape (n1, 1)
        Pre-activation variances :math:`q_1` of the rows.
    var2 : Tensor, shape (1, n2)
        Pre-activation variances :math:`q_2` of the columns.

    Returns
    -------
    new_cov : Tensor, shape (n1, n2)
    dot : Tensor, shape (n1, n2)
        :math:`\mathbb{E}[\phi'(u)\phi'(v)]`, the factor applied to the NTK.
    """
    root = _cov_det(cov, var1, var2).sqrt_()
    dot = torch.atan2(root, cov).neg_().add_(_PI).mul_(_INV_2PI)
    new_cov = torch.addcmul(root.mul_(_INV_2PI), dot, cov)
    return new_cov, dot


def _relu_rescaled(cov, var1, var2):
    r""":func:`_relu` for variances of any magnitude, by positive homogeneity.

    Rows and columns are scaled by powers of two :math:`s_1, s_2` that bring
    :math:`q_1, q_2` near 1 (:func:`_unit_scale`); since
    :math:`k(s_1 s_2 \Sigma, s_1^2 q_1, s_2^2 q_2) = s_1 s_2\, k(\Sigma, q_1, q_2)`
    and the angle does not change, this is exact, and :math:`q_1 q_2` and
    :math:`\Sigma^2` neither underflow nor overflow. Without it, every angle
    came out as 0 or :math:`\pi` for inputs (without bias) of norm below
    about ``1e-77``. Shapes as in :func:`_relu`.
    """
    scale1, scale2 = _unit_scale(var1), _unit_scale(var2)
    scale = scale1 * scale2
    new_cov, dot = _relu(cov * scale, var1 * scale1 * scale1, var2 * scale2 * scale2)
    return new_cov.div_(scale), dot


def _erf(cov, var1, var2):
    r"""Erf kernel (Williams 1997) and its derivative kernel.

    .. math::

        \mathbb{E}[\phi(u)\phi(v)] = \frac{2}{\pi} \arcsin
            \frac{2\Sigma}{\sqrt{(1 + 2 q_1)(1 + 2 q_2)}},
        \qquad
        \mathbb{E}[\phi'(u)\phi'(v)] = \frac{4}{\pi}
            \frac{1}{\sqrt{(1 + 2 q_1)(1 + 2 q_2) - 4\Sigma^2}},

    with the arcsine written as ``atan2(2 cov, root)``. The root's argument
    :math:`(1 + 2 q_1)(1 + 2 q_2) - 4\Sigma^2` is computed as
    :math:`1 + 2 (q_1 + q_2) + 4 (q_1 q_2 - \Sigma^2)` (:func:`_cov_det`):
    the direct difference cancels for large inputs (on the diagonal it is
    ``1 + 4 q`` out of ``4 q^2``), which made the NTK wrong from ``q`` around
    ``1e4`` (1e-4 relative at ``1e12``) and infinite, a spurious overflow
    error, from ``1e16``. Shapes as in :func:`_relu`.
    """
    root = _cov_det(cov, var1, var2).mul_(4.0).add_((2.0 * var1 + 1.0) + 2.0 * var2).sqrt_()
    new_cov = torch.atan2(2.0 * cov, root).mul_(_TWO_OVER_PI)
    dot = root.reciprocal_().mul_(_FOUR_OVER_PI)
    return new_cov, dot


def _gelu(cov, var1, var2):
    r"""GELU kernel (Tsuchida et al. 2021) and its derivative kernel.

    With :math:`\delta^2 = (1 + q_1)(1 + q_2) - \Sigma^2` and
    :math:`\beta = \operatorname{atan2}(\Sigma, \delta)`,

    .. math::

        \mathbb{E}[\phi(u)\phi(v)] = \frac{\Sigma}{4}
            + \frac{1}{2\pi}\left(\frac{\Sigma^2 + q_1 q_2 \delta^2}
              {(1 + q_1)(1 + q_2)\,\delta} + \Sigma\beta\right),

        \mathbb{E}[\phi'(u)\phi'(v)] = \frac14 + \frac{\beta}{2\pi}
            + \frac{\Sigma}{2\pi\delta}\left(\frac{1}{\delta^2}
              + \frac{1 - q_1 q_2}{(1 + q_1)(1 + q_2)} + 1\right).

    To avoid cancellation for large inputs, :math:`\delta^2` is computed as
    :math:`1 + q_1 + q_2 + (q_1 q_2 - \Sigma^2)` (:func:`_cov_det`) and the
    last two terms of the bracket as
    :math:`(2 + q_1 + q_2) / ((1 + q_1)(1 + q_2))`. Shapes as in
    :func:`_relu`.
    """
    prod = var1 * var2
    prod_plus_1 = (1.0 + var1) * (1.0 + var2)
    delta_sq = _cov_det(cov, var1, var2).add_(1.0 + var1 + var2)
    delta = delta_sq.sqrt()
    angle = torch.atan2(cov, delta)
    # (cov^2 + q1 q2 delta^2) / ((1 + q1)(1 + q2) delta) in two bounded terms:
    # off the diagonal delta^2 grows as q1 q2, and q1 q2 delta^2 (q^4) overflowed
    # from q ~ 1e77, where the diagonal (q^3) is finite up to ~1e102: infinite
    # entries past the overflow check of _finite_layer_variances.
    new_cov = (cov * cov).div_(prod_plus_1 * delta).add_(prod.div(prod_plus_1).mul_(delta))
    new_cov.addcmul_(cov, angle).mul_(_INV_2PI).add_(cov, alpha=0.25)
    dot = delta_sq.reciprocal_().add_((2.0 + var1 + var2) / prod_plus_1)
    dot.mul_(cov).div_(delta).mul_(_INV_2PI)
    dot.add_(angle, alpha=_INV_2PI).add_(0.25)
    return new_cov, dot


_ACTIVATION_KERNELS = {"relu": _relu_rescaled, "erf": _erf, "gelu": _gelu}
#: Variances in this range need no :func:`_relu_rescaled`: ``q1 q2`` and
#: ``cov^2`` stay normal float64 numbers, with precision to spare.
_PLAIN_RELU_VARIANCES = (2.0**-400, 2.0**400)


def _input_variances(X):
    """Input-layer variances :math:`x \\cdot x / d`, shape (n,)."""
    return (X * X).sum(dim=1) / X.shape[1]


def _layer_variances(var, depth, activation, weight_std, bias_std):
    """Pre-activation variances :math:`q_l(x) = \\Sigma_l(x, x)` of each hidden layer.

    Parameters
    ----------
    var : Tensor, shape (n,)
        Input-layer variances from :func:`_input_variances`.

    Returns
    -------
    variances : list of ``depth`` tensors of shape (n,)
        Variance after the l-th hidden Dense layer (before its activation).
    out : Tensor, shape (n,)
        NNGP variance of the readout.
    ntk : Tensor, shape (n,)
        NTK diagonal :math:`\\Theta(x, x)` of the readout.
    """
    act = _ACTIVATION_KERNELS[activation]
    w2, b2 = weight_std**2, bias_std**2
    ntk = torch.zeros_like(var)
    variances = []
    for _ in range(depth):
        var = w2 * var + b2
        ntk = var + w2 * ntk
        variances.append(var)
        var, dot = act(var, var, var)
        ntk = ntk * dot
    var = w2 * var + b2
    ntk = var + w2 * ntk
    return variances, var, ntk


def _finite_layer_variances(X, params):
    """:func:`_layer_variances` of the rows of ``X``, refusing overflow.

    Every intermediate of an off-diagonal entry (such as ``q1 q2`` in
    :func:`_relu`) is bounded by the same intermediate of the diagonal entry
    of the larger-norm row (Cauchy-Schwarz), so a recursion that stays finite
    on the diagonal stays finite everywhere. Overflow there means inputs so
    large (``x . x / d`` around ``1e154`` in float64 for erf and GELU, whose
    formulas square it, and near the float64 limit for ReLU, see
    :func:`_relu_rescaled`) that a clear error beats infinite or NaN kernel
    values.
    """
    var0 = _input_variances(X)
    variances, out, ntk = _layer_variances(var0, *params)
    if not all(bool(torch.isfinite(v).all()) for v in (var0, out, ntk)):
        raise ValueError(
            "The kernel recursion overflows "
            f"{str(X.dtype).removeprefix('torch.')} on these inputs (largest "
            f"x . x / n_features: {float(var0.max()):.3g}; depth={params[0]}, "
            f"activation={params[1]!r}, weight_std={params[2]:.3g}, "
            f"bias_std={params[3]:.3g}). Rescale X, e.g. with StandardScaler, or, if "
            "X is standardised already, lower depth, weight_std or bias_std (each "
            "layer's variance is weight_std**2 times the previous activation's plus "
            "bias_std**2; a ReLU layer multiplies it by about weight_std**2 / 2)."
        )
    return var0, variances, out, ntk


def _outside(tensors, low, high):
    """Whether some entry of the tensors lies outside ``[low, high]``."""
    return any(bool(((t < low) | (t > high)).any()) for t in tensors)


def _kernel_block(cov, ntk, var1, var2, act, weight_std, bias_std):
    """Run the layer recursion on one block of input covariances, in place.

    Parameters
    ----------
    cov : Tensor, shape (b1, b2)
        Input-layer covariances :math:`x \\cdot x' / d` (overwritten).
    ntk : Tensor of shape (b1, b2) or None
        Zeros to receive the NTK, or ``None`` to compute the NNGP only.
    var1, var2 : list of Tensors of shapes (b1,) and (b2,)
        Per-layer pre-activation variances from :func:`_layer_variances`.
    act : callable
        The activation's kernel function (:func:`_relu`, :func:`_erf`, ...).

    Returns
    -------
    nngp : Tensor, shape (b1, b2)
    ntk : Tensor of shape (b1, b2) or None
    """
    w2, b2 = weight_std**2, bias_std**2
    for q1, q2 in zip(var1, var2):
        cov.mul_(w2).add_(b2)
        if ntk is not None:
            ntk.mul_(w2).add_(cov)
        cov, dot = act(cov, q1[:, None], q2[None, :])
        if ntk is not None:
            ntk.mul_(dot)
    cov.mul_(w2).add_(b2)
    if ntk is not None:
        ntk.mul_(w2).add_(cov)
    return cov, ntk


def _mirror_upper(block):
    """Copy the strict upper triangle of a square block onto the lower one, in place."""
    block.copy_(torch.triu(block).add_(torch.triu(block, 1).mT))


def nngp_ntk(
    X,
    Y=None,
    *,
    depth,
    activation,
    weight_std,
    bias_std,
    compute_ntk=True,
    block_elements=None,
    n_threads=None,
):
    """NNGP and NTK matrices of a fully connected network, computed in blocks.

    Parameters
    ----------
    X : Tensor, shape (n1, d)
        Floating tensor; the kernels have its dtype (callers pass float64).
    Y : Tensor of shape (n2, d), default=None
        ``None`` means ``Y = X``; the symmetric case computes only the blocks
        on and above the diagonal and mirrors them.
    depth : int
        Number of hidden layers (Dense followed by the activation); ``0`` is a
        single Dense layer, whose NNGP and NTK are both the linear kernel.
    activation : {"relu", "erf", "gelu"}
    weight_std, bias_std : float
        :math:`\\sigma_w` and :math:`\\sigma_b` of every Dense layer.
    compute_ntk : bool, default=True
        ``False`` computes the NNGP only (cheaper) and returns ``None`` for
        the NTK.
    block_elements : int, default=None
        Kernel entries per block, which bounds the temporary memory. ``None``
        picks ``2**15`` on CPU (each block's temporaries stay in cache) and
        ``2**24`` on GPU (fewer kernel launches).
    n_threads : int, default=None
        CPU only: blocks are computed by this many Python threads, each
        running torch ops on one core (torch releases the GIL), which keeps
        every core busy without per-op synchronisation. ``None`` uses
        ``torch.get_num_threads()`` for kernels of at least ``2**21`` entries
        and none below (torch's own threads then work inside each operation).

    Returns
    -------
    nngp : Tensor, shape (n1, n2)
    ntk : Tensor of shape (n1, n2) or None
    """
    on_cpu = X.device.type == "cpu"
    if block_elements is None:
        block_elements = _BLOCK_ELEMENTS_CPU if on_cpu else _BLOCK_ELEMENTS_GPU
    symmetric = Y is None
    if symmetric:
        Y = X
    n1, n2, d = X.shape[0], Y.shape[0], X.shape[1]
    params = (depth, activation, weight_std, bias_std)
    var0, var1 = _finite_layer_variances(X, params)[:2]
    var2 = var1 if symmetric else _finite_layer_variances(Y, params)[1]
    act = _ACTIVATION_KERNELS[activation]
    if act is _relu_rescaled and not _outside(var1 + var2, *_PLAIN_RELU_VARIANCES):
        act = _relu  # same numbers, without the rescaling's cost (~15%)
    nngp = empty((n1, n2), dtype=X.dtype, device=X.device)
    ntk = empty((n1, n2), dtype=X.dtype, device=X.device) if compute_ntk else None
    same = _same_rows(X, None if symmetric else Y)
    if same is not None:
        # A row of X equal to a row of Y (or, in k(X), to another row of X):
        # its entry is the diagonal K(x, x). Computed as an off-diagonal
        # entry, the product x.y need not round as x.x does, and a one-ulp
        # gap becomes a sqrt(eps) error in the ReLU NTK (1e-8), which a
        # Gaussian process amplifies in its std at the training points (1e-4
        # for alpha=1e-10).
        row_ids, col_ids = same
        diagonal = nngp_ntk_diag(X, depth=depth, activation=activation,
                                 weight_std=weight_std, bias_std=bias_std)

    # Square tiles; in the symmetric case only those on and above the
    # diagonal, mirrored below it.
    tile = max(1, math.isqrt(block_elements))
    tiles = [
        (slice(i, min(i + tile, n1)), slice(j, min(j + tile, n2)))
        for i in range(0, n1, tile)
        for j in range(i if symmetric else 0, n2, tile)
    ]

    def compute(rows_cols):
        r, c = rows_cols
        cov = (X[r] @ Y[c].T).div_(d)
        if symmetric and r.start == c.start:
            # BLAS does not promise a bitwise symmetric X X^T; the recursion
            # is elementwise, so a symmetric input gives a symmetric kernel.
            # The diagonal is set to the variances themselves: there the ReLU
            # angle is 0, and a one-ulp difference between the two would
            # become a sqrt(eps) error through sqrt(q1 q2 - cov^2).
            cov = cov.add_(cov.T.clone()).mul_(0.5)
            cov.diagonal().copy_(var0[r])
        block_ntk = torch.zeros_like(cov) if compute_ntk else None
        cov, block_ntk = _kernel_block(
            cov,
            block_ntk,
            [q[r] for q in var1],
            [q[c] for q in var2],
            act,
            weight_std,
            bias_std,
        )
        if symmetric and r.start == c.start:
            # Elementwise ops need not round alike at every position (torch's
            # atan2 differs in the last bit between its vectorised body and
            # its scalar tail), so mirror the upper half.
            _mirror_upper(cov)
            if compute_ntk:
                _mirror_upper(block_ntk)
        if same is not None:
            match = row_ids[r][:, None] == col_ids[c]
            cov = torch.where(match, diagonal[0][r][:, None], cov)
            if compute_ntk:
                block_ntk = torch.where(match, diagonal[1][r][:, None], block_ntk)
        nngp[r, c] = cov
        if compute_ntk:
            ntk[r, c] = block_ntk
        if symmetric and r.start != c.start:
            nngp[c, r] = cov.T
            if compute_ntk:
                ntk[c, r] = block_ntk.T

    if n_threads is None:
        n_threads = torch.get_num_threads() if n1 * n2 >= _MIN_THREADED_ELEMENTS else 1
    n_threads = min(n_threads, len(tiles))
    if not on_cpu:
        for rows_cols in tiles:
            compute(rows_cols)
    else:
        # Tiles are the parallel unit: torch runs single-threaded inside each.
        with block_pool(n_threads) as pool:
            map_blocks(compute, tiles, pool)
    return nngp, ntk


def _same_rows(X, Y=None):
    """Ids of the rows of ``X`` and of ``Y`` (equal ids for equal rows), or
    None when no row of ``X`` is a row of ``Y``; with ``Y=None``, of ``X``
    twice, or None when its rows are distinct."""
    if Y is None:
        unique, ids = torch.unique(X, dim=0, return_inverse=True)
        return None if unique.shape[0] == X.shape[0] else (ids, ids)
    _, ids = torch.unique(torch.cat([X, Y]), dim=0, return_inverse=True)
    row_ids, col_ids = ids[: X.shape[0]], ids[X.shape[0]:]
    if not bool(torch.isin(row_ids, col_ids).any()):
        return None
    return row_ids, col_ids


def nngp_ntk_diag(X, *, depth, activation, weight_std, bias_std):
    """Diagonals :math:`K(x_i, x_i)` of the NNGP and the NTK, in O(n d).

    Parameters as in :func:`nngp_ntk`.

    Returns
    -------
    nngp : Tensor, shape (n,)
    ntk : Tensor, shape (n,)
    """
    params = (depth, activation, weight_std, bias_std)
    return _finite_layer_variances(X, params)[2:]

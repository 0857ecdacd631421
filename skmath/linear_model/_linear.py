"""Ordinary least squares in torch: sklearn's minimum-norm solution, faster."""

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import nnls
from sklearn.base import MultiOutputMixin, RegressorMixin, BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._compat import _check_sample_weight
from .._engine import (
    TorchEstimatorMixin,
    as_tensor,
    block_rows,
    canonical_csr,
    csr_transpose,
    csr_with_values,
    pow2_exponent,
    row_blocks,
    to_numpy,
    torch_threads,
    unchanged_on_failure,
)

# When the centred second moment of a column is below this fraction of its raw
# second moment, forming the Gram matrix as ``X^T W X - sw * mu mu^T`` would
# lose too many digits to cancellation: centre the data explicitly instead.
_CANCELLATION = 1e-6

# Sparse X goes through the d x d Gram matrix (exact solution, like the dense
# path) up to this many features, where G takes 2 MiB in float64 and its
# eigendecomposition ~25 ms on two CPU cores (~0.14 s at 1024, ~0.9 s at
# 2048). Beyond it LSQR works on X itself (memory O(nnz + n + d)): on
# well-conditioned sparse data it converges in a few dozen sparse products
# and beats the eigendecomposition by far (100k x 1000, density 0.01: 0.03 s
# against 0.28 s).
_GRAM_MAX_FEATURES = 512

# A sparse X's Gram matrix is pseudo-inverted only when its spectrum splits
# cleanly: eigenvalues either above the well-conditioned floor or below this
# fraction of it (numerically zero, exact rank deficiency); anything in
# between is left to LSQR.
_NULL_GAP = 1e-2

# scipy's lsqr default, which sklearn keeps: stop when the estimated condition
# number of the operator exceeds it.
_LSQR_CONLIM = 1e8
# LSQR runs on the data as given when the exponents of the largest |X|, |y|
# and weight (powers of two) sum to at least the first and none exceeds the
# second in magnitude: |A| |r| is then far above the eps its stopping test
# adds, and its squares far from overflow; other data are scaled first.
_LSQR_MIN_EXPONENT = -20
_LSQR_MAX_EXPONENT = 200

# The solvers work in float64 whatever the input dtype: the Gram matrix squares
# the condition number of X, which float32 (eps ~1e-7) cannot afford.
_WORK_DTYPE = torch.float64


class _GramOutOfRange(ArithmeticError):
    """The Gram matrix of the data as given overflowed or underflowed."""


def _gram_in_range(G, b):
    """Whether ``G = X^T W X`` and ``b = X^T W y`` are finite and ``G``'s largest
    diagonal entry lies in ``[sqrt(tiny), sqrt(max)]`` of its dtype: no product
    overflowed, none that matters underflowed, and the eigendecomposition that
    follows stays in range. (An all-zero ``X`` is out of range too: it
    costs nothing to solve by the SVD.)"""
    finfo = torch.finfo(G.dtype)
    top = G.diagonal().max()
    in_range = (top >= finfo.tiny**0.5) & (top <= finfo.max**0.5)
    return bool(torch.isfinite(G).all() & torch.isfinite(b).all() & in_range)


def _ldexp(a, e):
    """``a * 2^e``, exact unless the result over- or underflows: two factors
    ``2^(e/2)`` so that neither overflows (``2^1074`` does not exist); the
    stored values of a sparse CSR ``a``."""
    half = e // 2
    if a.layout is torch.sparse_csr:
        return csr_with_values(a, _ldexp(a.values(), e))
    return a * math.ldexp(1.0, half) * math.ldexp(1.0, e - half)


def _pow2_scaled(X, y, sample_weight, XT=None):
    """``X``, ``y`` and ``sample_weight`` scaled by powers of two to a largest
    magnitude in ``[1/4, 2)``, exactly (only the mantissas' exponents change).

    A uniform scale of ``X`` (not one per column) keeps the ratios of its
    singular values, hence the rank cutoff and the minimum-norm solution:
    with ``Xs = 2^-ex X``, ``ys = 2^-ey y`` and ``ws = 2^-ew w`` (``ew`` even),
    ``coef = 2^(ey - ex) coef_s``, ``X_offset = 2^ex X_offset_s``,
    ``y_offset = 2^ey y_offset_s`` and the singular values of the centred,
    weighted ``X`` are ``2^(ex + ew / 2)`` times those of the scaled one.

    Returns
    -------
    Xs, XTs, ys, ws : Tensor
        ``XTs`` is None when ``XT`` is.
    ex, ey, ew : int
    """
    ex, ey = pow2_exponent(X), pow2_exponent(y)
    ew = 2 * (pow2_exponent(sample_weight) // 2)
    XTs = None if XT is None else _ldexp(XT, -ex)
    return _ldexp(X, -ex), XTs, _ldexp(y, -ey), _ldexp(sample_weight, -ew), ex, ey, ew


def _as_work_tensor(array, device):
    """Validated ``array`` -> tensor of dtype ``_WORK_DTYPE`` on ``device``.

    Dense float32 data bound for the CPU are converted by NumPy (about 4x
    faster than torch's conversion there); float64 data are not copied.
    """
    if device.type == "cpu" and not sp.issparse(array):
        array = np.ascontiguousarray(array, dtype=np.float64)
    return as_tensor(array, device, _WORK_DTYPE)


def _constant_columns(X, XT=None):
    """Each column's value where the column is constant, NaN elsewhere.

    For CSR ``X`` (``XT`` its transpose, whose rows are the columns of ``X``)
    a column is constant when all its ``n`` entries are stored and equal; an
    empty column (all zeros) is left out: its centred values are zero already.
    """
    if XT is None:
        lo, hi = torch.aminmax(X, dim=0)
    else:
        values, offsets = XT.values(), XT.crow_indices()
        full = offsets.diff() == X.shape[0]
        if not bool(full.any()):
            # The usual sparse case, decided without the two reductions over
            # every stored value (2 ms each on 820k of them).
            return torch.full((X.shape[1],), torch.nan, dtype=X.dtype, device=X.device)
        lo = torch.segment_reduce(values, "min", offsets=offsets).where(full, torch.nan)
        hi = torch.segment_reduce(values, "max", offsets=offsets)
    return lo.where(lo == hi, torch.nan)


def _exact_constants(X_offset, X, XT=None):
    """``X_offset`` with the mean of each constant column of ``X`` set to its value.

    The weighted mean of a constant column rounds (``sum_i w_i c / sum_i w_i``
    is not ``c`` for most non-uniform weights); centring on it would leave
    noise that the solver reads as signal, and a large coefficient instead of
    the minimum-norm 0.
    """
    value = _constant_columns(X, XT)
    return torch.where(value.isnan(), X_offset, value)


def _weighted_means(X, y, sample_weight, XT=None):
    """Weighted column means ``mu = X^T w / sum(w)`` and ``y_bar = y^T w / sum(w)``.

    ``XT`` is ``X`` transposed as a sparse CSR tensor when ``X`` is sparse CSR
    (``X^T w`` is then a CSR-times-dense product). A constant column's mean
    is its value exactly (:func:`_exact_constants`).
    """
    w_sum = sample_weight.sum()
    X_offset = (sample_weight @ X if XT is None else XT @ sample_weight) / w_sum
    return _exact_constants(X_offset, X, XT), sample_weight @ y / w_sum


def _offsets(X, y, sample_weight, fit_intercept, XT=None):
    """``X_offset, y_offset``: the weighted means, or zeros without an intercept."""
    if fit_intercept:
        return _weighted_means(X, y, sample_weight, XT)
    return y.new_zeros(X.shape[1]), y.new_zeros(y.shape[1])


def _weighted_center(X, y, sample_weight, fit_intercept):
    """Centre ``X`` and ``y`` on their weighted means and scale rows by sqrt(w).

    Returns ``Xs, ys, X_offset, y_offset`` with
    ``Xs = sqrt(w) * (X - X_offset)`` and ``ys = sqrt(w) * (y - y_offset)``, so
    that ordinary least squares on ``(Xs, ys)`` solves the weighted problem.
    """
    if fit_intercept:
        X_offset, y_offset = _weighted_means(X, y, sample_weight)
        X = X - X_offset
        y = y - y_offset
    else:
        X_offset = X.new_zeros(X.shape[1])
        y_offset = y.new_zeros(y.shape[1])
    root_w = sample_weight.sqrt()[:, None]
    return X * root_w, y * root_w, X_offset, y_offset


def _csr_scale_columns(A, scale):
    """``A @ diag(scale)`` for a sparse CSR ``A``: entry ``(i, j)`` times ``scale[j]``."""
    return csr_with_values(A, A.values() * scale.index_select(0, A.col_indices()))


def _centered_gram(X, y, sample_weight, fit_intercept, XT=None):
    """Weighted, centred normal equations ``G = Xc^T W Xc``, ``b = Xc^T W yc``.

    One pass over ``X`` and no centred copy: ``G = X^T W X - sw * mu mu^T``
    (with unit weights the ``W`` product is skipped too). Falls back to explicit
    centring when a column's mean dwarfs its spread (cancellation). Raises
    :class:`_GramOutOfRange` when ``X^T W X`` or ``X^T W y`` leaves the range of
    the dtype (see :func:`_gram_in_range`): the caller rescales the data.

    A sparse CSR ``X`` comes with ``XT``, its transpose as a sparse CSR
    tensor: ``X^T W X`` is then the sparse
    product ``(XT W) @ X`` made dense (``d x d``) and ``X^T W y`` a
    CSR-times-dense product. ``X`` is never densified, so there is no explicit
    centring: ``G`` is returned as ``None`` when cancellation would spoil it.

    Returns
    -------
    G : Tensor, shape (d, d), or None
    b : Tensor, shape (d, k)
    X_offset : Tensor, shape (d,)
    y_offset : Tensor, shape (k,)
    loss : float
        Digits the subtraction cost, as a factor: ``max_j (X^T W X)_jj / G_jj``
        over the nonzero columns (1 when ``G`` comes from centred data). The
        entries of ``G`` are accurate to about ``loss * eps`` of its diagonal,
        not ``eps`` (columns of mean 900 and spread 1: ``loss`` ~ 1e6).
    """
    w_sum = sample_weight.sum()
    uniform = bool((sample_weight == sample_weight[0]).all())
    if XT is not None:
        XTw = XT if uniform else _csr_scale_columns(XT, sample_weight)
        G = (XTw @ X).to_dense()
        b = XTw @ y
        if uniform:
            G, b = G * sample_weight[0], b * sample_weight[0]
    elif uniform:
        G = (X.T @ X) * sample_weight[0]
        b = (X.T @ y) * sample_weight[0]
    else:  # over blocks of rows: a weighted copy of all of X doubled the memory
        G = X.new_zeros(X.shape[1], X.shape[1])
        b = y.new_zeros(X.shape[1], y.shape[1])
        for blk in row_blocks(X.shape[0], block_rows(X.shape[1], X.element_size(), X.device)):
            Xw_T = (X[blk] * sample_weight[blk, None]).T
            G.addmm_(Xw_T, X[blk])
            b.addmm_(Xw_T, y[blk])
    if not _gram_in_range(G, b):
        raise _GramOutOfRange
    if not fit_intercept:
        return G, b, y.new_zeros(X.shape[1]), y.new_zeros(y.shape[1]), 1.0
    X_offset, y_offset = _weighted_means(X, y, sample_weight, XT)
    raw = G.diagonal().clone()
    G = G - w_sum * torch.outer(X_offset, X_offset)
    b = b - w_sum * torch.outer(X_offset, y_offset)
    if bool((G.diagonal() < _CANCELLATION * raw).any()):
        if XT is not None:
            return None, b, X_offset, y_offset, math.inf
        Xs, ys, X_offset, y_offset = _weighted_center(X, y, sample_weight, True)
        return Xs.T @ Xs, Xs.T @ ys, X_offset, y_offset, 1.0
    stored = raw > 0  # here G_jj >= _CANCELLATION * raw_jj > 0
    loss = float((raw[stored] / G.diagonal()[stored]).max()) if bool(stored.any()) else 1.0
    return G, b, X_offset, y_offset, max(loss, 1.0)


def _well_conditioned_floor(dtype, cutoff, loss=1.0):
    """Smallest ``lambda_min / lambda_max`` of ``G`` for which solving the normal
    equations is accurate (error ~ cond(G) * loss * eps, under 1e-6 relative;
    ``loss`` is :func:`_centered_gram`'s cancellation factor) and no
    singular value is near the cutoff: eigenvalues are squared singular values;
    a factor 4 (2 in s) keeps rounding in ``G`` from deciding what the SVD of
    ``X`` would cut."""
    return max(torch.finfo(dtype).eps ** 0.5 * 0.1 * loss, 4 * cutoff**2)


def _spectral_solve(eigvals, eigvecs, b, keep=None):
    """``G^+ b`` from ``G = V diag(eigvals) V^T``; directions outside ``keep`` dropped.

    Returns
    -------
    coef : Tensor, shape (d, k)
    """
    if keep is not None:
        eigvals = torch.where(keep, eigvals, torch.inf)
    return eigvecs @ ((eigvecs.T @ b) / eigvals[:, None])


def _min_norm_lstsq(X, y, sample_weight, fit_intercept, cond, rescale=True, eps=None):
    """Minimum-norm weighted least-squares solution, singular values below ``cond`` cut.

    With at least as many samples as features, the centred Gram matrix ``G``
    is diagonalised (cheap: d x d). When it is
    well conditioned and no singular value is near the cutoff, the normal
    equations are solved from that decomposition (error ~ cond(G) * eps, well
    under 1e-6 relative); otherwise the thin SVD of the centred, weighted
    ``X`` gives the minimum-norm solution with LAPACK ``gelsd``'s cutoff
    (singular values ``s_i <= cond * s_max`` are treated as zero), exactly
    what scipy's ``lstsq(X, y, cond=cond)`` (and so sklearn, ``cond=tol``)
    returns for rank-deficient or ill-conditioned ``X``.

    Data so large or so small that ``G`` would leave the range (its largest
    diagonal entry outside ``[1e-154, 1e154]`` in float64: features around
    1e77 or 1e-77 and beyond) are first scaled by powers of two
    (:func:`_pow2_scaled`, exact). The SVD does not square ``X`` and needs
    no such scaling: it solves the problems with fewer samples than
    features directly (never forming the d x d ``G``; coefficients within
    5e-15 of the unit problem's for X at 1e±200 or weights at 1e±300), and
    those whose ``G`` is still out of range after the scaling
    (``rescale=False``: sample weights spanning ~1e300). ``eps`` is the cutoff for a
    ``cond`` outside (0, 1) (LAPACK's: the data's machine epsilon; by
    default ``X``'s, pass float32's for float32 data computed in float64).

    Returns
    -------
    coef : Tensor, shape (d, k)
    X_offset, y_offset : Tensor
    singular_values : Tensor, shape (min(n, d),)
    rank : int
    """
    n, d = X.shape
    # LAPACK's gelsd (scipy's lstsq, sklearn) takes eps for a cutoff outside (0, 1).
    cutoff = cond if 0 < cond < 1 else (torch.finfo(X.dtype).eps if eps is None else eps)
    G = None
    try:
        # Fewer samples than features: the SVD of X (n x d) directly, never
        # the d x d Gram matrix (20 x 4000: a 128 MB float64 G and O(d^3)).
        if n >= d:
            G, b, X_offset, y_offset, loss = _centered_gram(X, y, sample_weight, fit_intercept)
    except _GramOutOfRange:
        if rescale:
            Xs, _, ys, ws, ex, ey, ew = _pow2_scaled(X, y, sample_weight)
            coef, X_offset, y_offset, singular_values, rank = _min_norm_lstsq(
                Xs, ys, ws, fit_intercept, cond, rescale=False, eps=eps
            )
            return (
                _ldexp(coef, ey - ex),
                _ldexp(X_offset, ex),
                _ldexp(y_offset, ey),
                _ldexp(singular_values, ex + ew // 2),
                rank,
            )
    if G is not None:
        eigvals, eigvecs = torch.linalg.eigh(G)
        floor = eigvals[-1].clamp_min(0) * _well_conditioned_floor(X.dtype, cutoff, loss)
    if G is not None and eigvals[0] > floor:
        coef = _spectral_solve(eigvals, eigvecs, b)
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


def _centered_operator(X, XT, X_offset, root_w, keep=None):
    """Products with ``A = diag(sqrt(w)) (X - 1 mu^T)`` without forming it.

    ``A v = sqrt(w) * (X v - 1 (mu^T v))`` and
    ``A^T u = X^T (sqrt(w) * u) - mu (sqrt(w)^T u)``: two sparse products per
    pair, ``X`` and ``XT`` (its transpose as CSR) read as they are, as
    scikit-learn's ``LinearOperator`` does for sparse input. Columns where
    ``keep`` (bool, shape (d,)) is False are left out of ``A`` (their
    coefficients stay 0): a constant column centres to exactly zero in ``A v``
    but not in ``A^T u``, whose two terms round differently, and LSQR would
    divide by that rounding noise.

    Returns
    -------
    matvec : callable, Tensor (d, k) -> Tensor (n, k)
    rmatvec : callable, Tensor (n, k) -> Tensor (d, k)
    """
    mask = None if keep is None or bool(keep.all()) else keep.to(X_offset.dtype)[:, None]

    def matvec(v):
        if mask is not None:
            v = v * mask
        return root_w[:, None] * (_sparse_times(X, v) - X_offset @ v)

    def rmatvec(u):
        u = root_w[:, None] * u
        r = _sparse_times(XT, u) - torch.outer(X_offset, u.sum(dim=0))
        return r if mask is None else r * mask

    return matvec, rmatvec


def _sparse_times(A, B):
    """``A @ B`` for a sparse CSR ``A``; a single column through :func:`torch.mv`,
    which is faster (20k x 2k, 820k non-zeros, two CPU threads: 175-230 us
    against 290-350 us as a one-column product)."""
    if B.shape[1] == 1:
        return torch.mv(A, B[:, 0]).unsqueeze(1)
    return A @ B


def _sym_ortho(a, b):
    """Givens rotation ``[c s; -s c] [a; b] = [r; 0]`` (host arrays), as scipy's."""
    r = np.hypot(a, b)
    safe = np.where(r > 0, r, 1.0)
    return np.where(r > 0, a / safe, np.sign(a)), b / safe, r


def _lsqr(matvec, rmatvec, b, n_features, atol, btol, conlim=_LSQR_CONLIM, iter_lim=None):
    """LSQR (Paige & Saunders 1982) for ``min ||A x - b||``, every column of ``b`` at once.

    Golub-Kahan bidiagonalisation ``beta_{i+1} u_{i+1} = A v_i - alpha_i u_i``,
    ``alpha_{i+1} v_{i+1} = A^T u_{i+1} - beta_{i+1} v_i`` with the QR update
    of the bidiagonal matrix (Paige & Saunders, ACM TOMS 8(1), 1982, sec. 4;
    ``damp=0``). Started from ``x = 0`` the iterates stay in the row space of
    ``A``, so it converges to the minimum-norm least-squares solution. Each
    column stops on :func:`scipy.sparse.linalg.lsqr`'s rules (``r = b - A x``):
    ``||r|| <= btol ||b|| + atol ||A|| ||x||``, ``||A^T r|| <= atol ||A|| ||r||``,
    ``cond(A) >= conlim`` or ``iter_lim`` steps (default ``2 n_features``);
    the vectors live on ``b``'s device, the per-column scalars on the host in
    float64, as in scipy.

    Parameters
    ----------
    matvec, rmatvec : callable
        ``v -> A v`` for ``v`` of shape (d, k) and ``u -> A^T u`` for ``u`` of
        shape (n, k).
    b : Tensor, shape (n, k)
    n_features : int
    atol, btol, conlim : float
    iter_lim : int, default=None

    Returns
    -------
    x : Tensor, shape (d, k)
    n_iter : ndarray of shape (k,)
        Steps taken by each column.
    """
    eps = np.finfo(np.float64).eps
    iter_lim = 2 * n_features if iter_lim is None else iter_lim
    ctol = 1 / conlim if conlim > 0 else 0.0
    k = b.shape[1]

    def col(a):  # per-column host scalars -> a row that broadcasts on the device
        return torch.as_tensor(a, dtype=b.dtype, device=b.device)

    def norms(*vectors):
        return to_numpy(torch.stack([torch.linalg.vector_norm(t, dim=0) for t in vectors]))

    def inv(a):
        return 1 / np.where(a > 0, a, 1.0)

    x = b.new_zeros(n_features, k)
    bnorm = norms(b)[0].astype(np.float64)
    beta = bnorm.copy()
    u = b * col(inv(beta))
    v = rmatvec(u)
    alfa = norms(v)[0].astype(np.float64)
    v = v * col(inv(alfa))
    w = v.clone()
    rhobar, phibar = alfa.copy(), beta.copy()
    anorm, ddnorm, xxnorm, z, sn2 = (np.zeros(k) for _ in range(5))
    cs2 = -np.ones(k)
    active = alfa * beta != 0  # otherwise x = 0 is exact
    n_iter = np.zeros(k, dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        while active.any():
            n_iter += active
            u = matvec(v) - col(alfa) * u
            beta = norms(u)[0].astype(np.float64)
            u = u * col(inv(beta))
            anorm = np.where(beta > 0, np.sqrt(anorm**2 + alfa**2 + beta**2), anorm)
            v = rmatvec(u) - col(beta) * v
            alfa_next, wnorm = norms(v, w).astype(np.float64)
            alfa = np.where(beta > 0, alfa_next, alfa)
            v = v * col(inv(alfa))
            # Rotation eliminating the subdiagonal beta of the bidiagonal matrix.
            cs, sn, rho = _sym_ortho(rhobar, beta)
            theta, rhobar = sn * alfa, -cs * alfa
            phi, phibar = cs * phibar, sn * phibar
            tau = sn * phi
            t1, t2 = phi / rho, -theta / rho
            ddnorm = ddnorm + (wnorm / rho) ** 2
            step = x + col(np.where(active, t1, 0.0)) * w
            x = torch.where(torch.as_tensor(active, device=b.device), step, x)
            w = v + col(t2) * w
            # Estimate ||x|| (Paige & Saunders' plane rotations on the right).
            delta, gambar = sn2 * rho, -cs2 * rho
            rhs = phi - delta * z
            xnorm = np.sqrt(xxnorm + (rhs / gambar) ** 2)
            gamma = np.sqrt(gambar**2 + theta**2)
            cs2, sn2, z = gambar / gamma, theta / gamma, rhs / gamma
            xxnorm = xxnorm + z**2
            # scipy's stopping tests (which one fires does not matter here).
            acond = anorm * np.sqrt(ddnorm)
            rnorm = np.abs(phibar)
            arnorm = alfa * np.abs(tau)
            test1 = rnorm / bnorm
            test2 = arnorm / (anorm * rnorm + eps)
            test3 = 1 / (acond + eps)
            rtol = btol + atol * anorm * xnorm / bnorm
            done = (
                (n_iter >= iter_lim)
                | (1 + test3 <= 1)
                | (1 + test2 <= 1)
                | (1 + test1 / (1 + anorm * xnorm / bnorm) <= 1)
                | (test3 <= ctol)
                | (test2 <= atol)
                | (test1 <= rtol)
            )
            active = active & ~done
    return x, n_iter


def _sparse_lstsq(X, XT, y, sample_weight, fit_intercept, tol, rescale=True):
    """Least-squares solution for a sparse CSR ``X``, never densified.

    Up to ``_GRAM_MAX_FEATURES`` features, the centred Gram matrix is formed
    by sparse products and diagonalised; when its spectrum splits cleanly into
    well-conditioned directions and exact null directions (rank deficiency,
    fewer samples than features) the minimum-norm solution is exact, as for
    dense ``X``. Otherwise (many features, ill-conditioned, cancellation) LSQR
    on the implicitly centred ``X`` with ``atol = btol = tol``: scikit-learn's
    sparse solver and stopping rule, which bounds the residuals (not exact on
    ill-conditioned ``X``). Data whose Gram matrix would over- or underflow
    are scaled by powers of two first, as in :func:`_min_norm_lstsq` (LSQR
    again if that is not enough); so does LSQR on data far from unit scale,
    where its stopping test is not scale-free.

    Parameters
    ----------
    X : Tensor, sparse CSR, shape (n, d)
    XT : Tensor, sparse CSR, shape (d, n)
        ``X`` transposed (``X^T r`` products read it).
    y : Tensor, shape (n, k)
    sample_weight : Tensor, shape (n,)
    fit_intercept : bool
    tol : float
    rescale : bool, default=True

    Returns
    -------
    coef : Tensor, shape (d, k)
    X_offset, y_offset : Tensor
    """
    d = X.shape[1]
    if d <= _GRAM_MAX_FEATURES:
        try:
            G, b, X_offset, y_offset, loss = _centered_gram(
                X, y, sample_weight, fit_intercept, XT
            )
        except _GramOutOfRange:
            if rescale:
                Xs, XTs, ys, ws, ex, ey, _ = _pow2_scaled(X, y, sample_weight, XT)
                coef, X_offset, y_offset = _sparse_lstsq(
                    Xs, XTs, ys, ws, fit_intercept, tol, rescale=False
                )
                return _ldexp(coef, ey - ex), _ldexp(X_offset, ex), _ldexp(y_offset, ey)
            G = None  # left to LSQR
        if G is not None:
            eigvals, eigvecs = torch.linalg.eigh(G)
            top = eigvals[-1].clamp_min(0)
            keep = eigvals > top * _well_conditioned_floor(X.dtype, tol, loss)
            # Null: below the floor of exact data, whatever the cancellation
            # (an eigenvalue above it may be real, and LSQR handles both).
            null = eigvals.abs() <= _NULL_GAP * top * _well_conditioned_floor(X.dtype, tol)
            if bool((keep | null).all() and keep.any()):
                return _spectral_solve(eigvals, eigvecs, b, keep), X_offset, y_offset
    # LSQR's stopping test ``|A^T r| / (|A| |r| + eps)`` is not scale-free (the
    # absolute eps): on data at 1e-30 it stopped at its first iteration, and at
    # 1e160 its norms overflowed. Such data are scaled by powers of two (the
    # copies cost 12% of a 20k x 2k bag-of-words fit, so not everyday data).
    ex, ey, ew = (pow2_exponent(a) for a in (X, y, sample_weight))
    if ex + ey + ew < _LSQR_MIN_EXPONENT or max(abs(ex), abs(ey), abs(ew)) > _LSQR_MAX_EXPONENT:
        Xs, XTs, ys, ws, ex, ey, _ = _pow2_scaled(X, y, sample_weight, XT)
    else:
        Xs, XTs, ys, ws, ex, ey = X, XT, y, sample_weight, 0, 0
    X_offset, y_offset = _offsets(Xs, ys, ws, fit_intercept, XTs)
    root_w = ws.sqrt()
    keep = _constant_columns(Xs, XTs).isnan() if fit_intercept else None
    matvec, rmatvec = _centered_operator(Xs, XTs, X_offset, root_w, keep)
    coef, _ = _lsqr(matvec, rmatvec, root_w[:, None] * (ys - y_offset), d, tol, tol)
    return _ldexp(coef, ey - ex), _ldexp(X_offset, ex), _ldexp(y_offset, ey)


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
    and float32 input gives float32 results.

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
        in ``rank_`` and the minimum-norm solution ignores their directions);
        as LAPACK's ``gelsd``, a ``tol`` of 0 or at least 1 means the machine
        epsilon of ``X``'s dtype (float32's for float32 ``X``, as sklearn's
        ``gelsd`` runs on the float32 data). For sparse ``X`` solved by LSQR, its ``atol`` and ``btol``,
        as in sklearn. Not used when ``positive=True``.
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
    With at least as many samples as features, the solver forms the centred
    Gram matrix ``X^T W X - sw mu mu^T`` in one
    pass over the data (no centred copy of ``X``) and diagonalises it (one
    ``d x d`` eigendecomposition; with fewer samples, the thin SVD of ``X``
    below, without the Gram matrix). When its condition number
    is below about ``10 / (sqrt(eps) L)`` and ``1 / (4 tol^2)`` the normal
    equations are solved from it; otherwise the thin SVD of ``X`` gives the
    minimum-norm solution, with LAPACK ``gelsd``'s rank cutoff ``tol``.
    ``L >= 1`` is the precision the subtraction of the means cost, the
    largest ratio of a column's raw to its centred second moment (about
    ``(mean / std)^2``): columns of mean 900 and spread 1 take the SVD from a
    condition number of about 1e3, where forming ``G`` lost six digits (the
    normal equations gave coefficients up to 13% off there).

    All arithmetic is in float64: float32 ``X`` is converted (a float64 copy;
    for sparse ``X``, of its stored values) and the fitted attributes are cast
    back to float32. The Gram matrix squares the condition number, which
    float32 cannot afford, so this keeps float32 fits on offset or
    ill-conditioned features to float32 rounding of the float64 solution
    (scikit-learn computes them in float32). When ``X^T W X`` would leave the
    float64 range (its largest diagonal entry outside ``[1e-154, 1e154]``:
    features or sample weights of extreme magnitude), ``X``, ``y`` and the
    weights are first scaled by powers of two, which is exact and keeps the
    rank cutoff, and the solution is scaled back.

    Sparse ``X`` (CSR, CSC or COO; not with ``positive=True``, as in
    scikit-learn) is never densified. With at most 512 features the Gram
    matrix is formed by sparse products and, when its spectrum splits into
    well-conditioned (by the rule above) and exactly null directions, gives
    the exact minimum-norm solution, as for dense ``X``; a matrix with
    duplicate entries is summed first (a copy). Otherwise (more features, ill-conditioned
    ``X``) LSQR runs on the implicitly centred ``X``, with scikit-learn's
    stopping rule ``atol = btol = tol``, which bounds the residuals, not the
    coefficients: they are approximate (1e-5 off on a well-conditioned
    300 x 600 problem at the default ``tol``, much more on an ill-conditioned
    one), as scikit-learn's sparse fits are. As in scikit-learn, ``rank_`` and
    ``singular_`` are not set for sparse ``X``.

    :class:`~sklearn.linear_model.RANSACRegressor` takes this estimator with
    ``min_samples`` set explicitly: it infers the default only for its own
    ``LinearRegression`` class (an ``isinstance`` check).

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
    @unchanged_on_failure  # a failed (re)fit leaves the fitted model as it was
    def fit(self, X, y, sample_weight=None):
        """Fit the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
            self,
            X,
            y,
            accept_sparse=False if self.positive else ["csr", "csc", "coo"],
            dtype="numeric",  # as sklearn: strings refused, not parsed
            multi_output=True,
            y_numeric=True,
        )
        if sp.issparse(y):  # validate_data takes it; sklearn's fit then refuses it
            check_array(y, accept_sparse=False, ensure_2d=False)  # sklearn's TypeError
        if X.dtype not in (np.float64, np.float32):
            X = X.astype(np.float64)  # integers, booleans, float16
        # Constant sparse columns are found by counting stored entries: each once.
        X = canonical_csr(X)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        device = self._resolve_device()
        # Cast to X's dtype as sklearn does (y may hold numeric strings).
        with np.errstate(over="ignore"):  # refused just below
            y_2d = np.asarray(y.reshape(-1, 1) if y.ndim == 1 else y, dtype=X.dtype)
        if not np.isfinite(y_2d).all():  # finite float64 y beyond float32's range
            raise ValueError(
                f"Input y contains values beyond the range of X's dtype {X.dtype} "
                "(infinity once cast); pass float64 X."
            )
        # float32 data are solved in float64 (a copy) and the results cast back.
        # One thread for small problems (see PARALLEL_MIN_WORK): sparse ones
        # by their products' size (LSQR), dense ones by their Gram matrix's.
        work = X.nnz if sp.issparse(X) else X.shape[0] * X.shape[1] ** 2
        with torch_threads(work=work):
            Xt = _as_work_tensor(X, device)
            yt = as_tensor(y_2d, device, _WORK_DTYPE)
            wt = as_tensor(sample_weight, device, _WORK_DTYPE)
            try:
                if self.positive:
                    Xs, ys, X_offset, y_offset = _weighted_center(
                        Xt, yt, wt, self.fit_intercept
                    )
                    coef = _nnls(Xs, ys)
                elif sp.issparse(X):
                    coef, X_offset, y_offset = _sparse_lstsq(
                        Xt, csr_transpose(Xt), yt, wt, self.fit_intercept, self.tol
                    )
                else:
                    coef, X_offset, y_offset, singular_values, rank = _min_norm_lstsq(
                        Xt, yt, wt, self.fit_intercept, self.tol,
                        eps=float(np.finfo(X.dtype).eps),  # float32's for float32 X
                    )
            except torch.linalg.LinAlgError as exc:  # not expected after rescaling
                raise ValueError(
                    "LinearRegression could not solve the least-squares problem "
                    f"({exc}); check X, y and sample_weight for extreme values."
                ) from exc
            intercept = y_offset - X_offset @ coef
        coef = to_numpy(coef.T).astype(X.dtype, copy=False)
        intercept = to_numpy(intercept).astype(X.dtype, copy=False)
        if y.ndim == 1:
            coef = coef[0]
            intercept = intercept[0]
        if not self.fit_intercept:
            intercept = 0.0  # as sklearn, whatever the number of targets
        self.coef_ = coef
        self.intercept_ = intercept
        if sp.issparse(X) or self.positive:
            # As sklearn: no rank_ / singular_ for sparse X or positive=True
            # (none left from an earlier fit).
            self.__dict__.pop("rank_", None)
            self.__dict__.pop("singular_", None)
        else:
            self.rank_ = rank
            self.singular_ = to_numpy(singular_values).astype(X.dtype, copy=False)
        return self

    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        check_is_fitted(self)
        X = self._validate_numeric_X(X, accept_sparse=["csr", "csc", "coo"])
        return X @ self.coef_.T + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # positive=True solves by NNLS on dense X only, as in sklearn.
        tags.input_tags.sparse = not self.positive
        return tags

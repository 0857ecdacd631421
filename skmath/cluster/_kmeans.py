"""K-means clustering in torch: scikit-learn's Lloyd algorithm, weighted and blocked.

The estimator validates its input and then hands tensors to the private
functions below, which assume validated input (as in
``sklearn/cluster/_kmeans.py``):

- :func:`_canonical_order` orders the rows by a scalar key so that every
  random draw of the initialisation depends only on the weighted *set* of
  points, not on their order or multiplicity (the rows themselves stay where
  they are);
- :func:`_kmeans_plusplus` and :func:`_random_init` draw the initial centers by
  inverse-CDF sampling in that order;
- :func:`_kmeans_single_lloyd` runs Lloyd's iterations with sklearn's stopping
  rules; :func:`_assign` is their E-step, which skips with Hamerly's bounds
  the samples that cannot change cluster.

Squared distances use ``||x||^2 - 2 x.c + ||c||^2`` through one matrix product
per block of rows, so memory stays bounded whatever the number of samples. On
CPU the fit's blocks are spread over threads (:func:`_block_pool`), each
running torch on one thread, CSR ``X`` included (whose blocks are 16 times
longer: a CSR ``X`` of fewer blocks than threads is fitted on one thread, the
price of not stalling on a busy machine); the single passes of ``predict``,
``transform`` and ``score`` run their blocks in turn on torch's own threads,
which is faster there.

``X`` may also be a sparse CSR tensor: the functions that touch it take its
rows with :func:`_rows` / :func:`_dense_rows` and reduce over its nonzeros
(see the "sparse rows" helpers); it is never densified and never centred.
"""

import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _is_arraylike_not_scalar,
    check_is_fitted,
    validate_data,
)

from .._compat import _check_sample_weight
from .._engine import (
    CPU_BLOCK_BYTES,
    TorchEstimatorMixin,
    as_tensor,
    canonical_csr,
    csr_with_values,
    block_pool,
    block_rows,
    empty,
    make_generator,
    map_blocks,
    pow2_exponent,
    row_blocks,
    row_slice,
    scratch,
    single_threaded_torch,
    take_rows,
    thread_budget,
    to_numpy,
    torch_threads,
    transpose_for,
    unchanged_on_failure,
    workspace,
)

# Fewest rows of a block of row-wise work (see skmath._engine.block_rows).
_MIN_BLOCK_ROWS = 256
# Fewer rows than this: every Lloyd iteration recomputes all distances, which
# is cheaper there than keeping Hamerly's bounds (measured, 8 centers in 16
# dimensions: full passes 30-40% faster up to ~4000 rows, pruning 15-25%
# faster from 10000).
_MIN_PRUNE_ROWS = 4096
# A Lloyd iteration takes the pruned pass while at most this fraction of the
# rows is in doubt (Hamerly's bounds inconclusive), and a full pass (which also
# tightens every row's bounds) otherwise. Measured, 30 iterations from the same
# init: dense 200k x 3, k = 256: 2.33 s at 1/4, 1.68 s at 1/2, 1.73 s at 0.6;
# 200k x 32, k = 16: 0.70, 0.63, 0.66 s; 20k x 10, k = 2000: 1.31, 1.22,
# 1.22 s. CSR full passes move only the rows that changed cluster, and 1/2
# was 0-8% slower there than 1/4 (20k x 2k, 100k x 500, 50k x 5k).
_MAX_DOUBT = 0.5
_MAX_DOUBT_SPARSE = 0.25
# k-means++ computes its candidates' distances one row per candidate for dense
# X of at most this many features, rows x candidates otherwise (measured one
# block, 7 candidates: 1.9x faster by candidate at 3 features, 1.2x at 32, even
# at 100, 1.3x slower at 784).
_CANDIDATE_ROWS_MAX_FEATURES = 64
# Relative safety margin of the pruning bounds, in machine epsilons (covers the
# rounding accumulated by the bound updates over max_iter iterations).
_PRUNE_MARGIN_ULPS = 1024
# Distances whose squared product form is below this many times its rounding
# error bound are recomputed from differences (see _euclidean_distances).
_RECOMPUTE_FACTOR = 5e8
# Squared norms below this keep the product form of a squared distance finite.
_SQUARES_BOUND = 2.0**1020
# Seed of the fixed direction whose projection orders the rows canonically.
_KEY_SEED = 0
# CSR blocks on CPU hold this many times the dense budget of rows: torch's
# sparse products and per-call costs favour long blocks (20k x 2k bag of words,
# k=10, on torch's threads: a fit from the same init 0.38-0.49 s in 4 MB
# blocks, 0.29 s at 16x). On the block pool that X is one block from 4x up
# (fitted on one thread), and 20% slower at 2x (two blocks).
_SPARSE_BLOCK_SCALE = 16
# Passes over all the nonzeros of CSR X (norms, moments, cluster sums,
# distances to the labelled centers) run over blocks of rows of about this
# many stored entries: their float64 and int64 temporaries, several per
# nonzero, then stay bounded instead of a multiple of X (KMeans on 8M float32
# nonzeros peaked 355 MB above the data, sklearn 74 MB).
_SPARSE_PASS_NNZ = 2**20


def _block_rows(n_cols, dtype, device, *, large=False):
    """The engine's :func:`~skmath._engine.block_rows` for ``(rows, n_cols)`` blocks of ``dtype``.

    On CPU a block of ``X`` and its distances stay in cache between the
    product and the argmin.
    """
    itemsize = torch.empty((), dtype=dtype, device="cpu").element_size()
    return block_rows(n_cols, itemsize, device, large=large, min_rows=_MIN_BLOCK_ROWS)


def _pass_rows(X, k, dtype=None):
    """Rows per block of a pass computing ``k`` distances per row of ``X``."""
    dtype = X.dtype if dtype is None else dtype
    rows = _block_rows(_width(X) + k, dtype, X.device)
    if _is_sparse(X) and X.device.type == "cpu":
        return rows * _SPARSE_BLOCK_SCALE
    return rows


def _nbytes(X):
    """Bytes of a dense array or of a SciPy CSR matrix's three arrays."""
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


@contextmanager
def _block_pool(device, nbytes):
    """The engine's :func:`~skmath._engine.block_pool` for passes over the rows.

    :func:`~skmath._engine.thread_budget` workers on CPU for data (``nbytes``)
    larger than one block; ``None`` (serial) on GPU or for small data.
    """
    n_workers = thread_budget() if device.type == "cpu" and nbytes > CPU_BLOCK_BYTES else 1
    with block_pool(n_workers) as pool:
        yield pool


def _sum_in_order(parts):
    """Sum of a list of tensors, left to right (independent of thread count)."""
    total = parts[0].clone()
    for part in parts[1:]:
        total += part
    return total


# ---------------------------------------------------------------- sparse rows
#
# ``X`` may be a sparse CSR tensor (from a SciPy sparse matrix). It is never
# densified: the few functions that touch ``X`` take its rows through the
# helpers below, multiply a CSR block by a contiguous ``(d, k)`` matrix (torch
# copies a transposed view on every sparse product) and reduce over the
# nonzeros of each row.


def _is_sparse(X):
    """Whether ``X`` is a sparse CSR tensor."""
    return X.layout is torch.sparse_csr


def _rows(X, blk):
    """Rows ``blk`` (a slice) of ``X``; of a CSR tensor, a CSR tensor sharing its entries."""
    return row_slice(X, blk.start, blk.stop)


def _dense_rows(X, index):
    """Rows ``index`` of ``X`` as a dense tensor (for a few rows: seeds, relocations)."""
    rows = take_rows(X, index)
    return rows.to_dense() if _is_sparse(rows) else rows


def _width(X):
    """Values a row of ``X`` holds (for block sizes): ``d``, or two per nonzero of CSR ``X``.

    A stored entry is a value and a column index, and a CSR row holds the
    mean number of nonzeros per row.
    """
    if not _is_sparse(X):
        return X.shape[1]
    return max(1, -(-2 * X.values().shape[0] // max(X.shape[0], 1)))


def _nnz_blocks(X):
    """Slices of rows of CSR ``X`` holding about ``_SPARSE_PASS_NNZ`` stored entries each."""
    n, nnz = X.shape[0], X.values().shape[0]
    return row_blocks(n, max(1, _SPARSE_PASS_NNZ * n // max(nnz, 1)))


def _row_ids(X):
    """Row of each nonzero of CSR ``X``, shape ``(nnz,)``."""
    # The one-argument form repeats each index ``i`` ``counts[i]`` times: no
    # gather from an ``arange`` (4x cheaper).
    return torch.repeat_interleave(X.crow_indices().diff(), output_size=X.values().shape[0])


def _row_sums(X, values):
    """``sum_k values_k`` over the nonzeros ``k`` of each row of CSR ``X``, shape ``(n,)``.

    A segmented sum: the result of a row depends only on its own entries (in
    their stored order), not on where the row sits, as with the dense rows.
    """
    return torch.segment_reduce(values, "sum", offsets=X.crow_indices())


def _sq_norms(X):
    """Squared row norms ``||x_i||^2``, shape ``(n,)``."""
    if _is_sparse(X):
        out = empty(X.shape[0], dtype=X.dtype, device=X.device)
        for blk in _nnz_blocks(X):
            Xb = _rows(X, blk)
            values = Xb.values()
            out[blk] = _row_sums(Xb, values * values)
        return out
    return torch.linalg.vector_norm(X, dim=1).square_()


def _sparse_sq_distances(X, centers, c_sq, labels):
    """``||x_i - c_{labels_i}||^2`` for CSR ``X``, as sklearn's ``_euclidean_sparse_dense``.

    ``sum_k ((x_ik - c_k)^2 - c_k^2) + ||c||^2`` over the nonzeros ``k`` of
    the row, clamped at 0: exact where the row has entries, and no product
    ``x.c`` to cancel. ``O(nnz)``, over blocks of rows (:func:`_nnz_blocks`).
    """
    dtype = torch.promote_types(X.dtype, centers.dtype)
    out = empty(X.shape[0], dtype=dtype, device=X.device)
    for blk in _nnz_blocks(X):
        Xb, lb = _rows(X, blk), labels[blk]
        c = centers.reshape(-1).index_select(0, _flat_index(Xb, lb))
        terms = Xb.values() - c
        terms.square_().sub_(c * c)
        out[blk] = (_row_sums(Xb, terms) + c_sq.index_select(0, lb)).clamp_min_(0.0)
    return out


def _flat_index(X, labels, rows=None):
    """Flat index of entry ``(labels_i, j)`` of a ``(k, d)`` matrix per nonzero ``x_ij`` of CSR X.

    ``rows`` is :func:`_row_ids` of ``X`` when already at hand.
    """
    if rows is None:
        rows = _row_ids(X)
    # The row's offset is gathered, not multiplied per nonzero (int64
    # products are not vectorised on CPU).
    offsets = (labels * X.shape[1]).index_select(0, rows)
    return offsets.add_(X.col_indices())


def _sparse_scatter(X, w, labels, *, unit_weights=False):
    """Where and what the nonzeros of CSR ``X`` add to the ``(k, d)`` cluster sums.

    Returns
    -------
    flat : Tensor of int64, shape (nnz,)
        :func:`_flat_index` of each nonzero.
    moved : Tensor of float64, shape (nnz,)
        ``w_i x_ij`` (``x_ij`` itself with ``unit_weights``).
    """
    rows = _row_ids(X)
    moved = X.values().to(torch.float64)
    if not unit_weights:
        moved = moved * w.to(torch.float64).index_select(0, rows)
    return _flat_index(X, labels, rows), moved


def _sparse_cluster_sums(X, w, labels, k, *, sign=1.0, out=None, unit_weights=False):
    """``sum_{i: labels_i = j} w_i x_i`` for CSR ``X``, float64, shape ``(k, d)``.

    One scatter over the nonzeros (:func:`_sparse_scatter`), block of rows
    after block (:func:`_nnz_blocks`, in order: the same sums), added to
    ``out`` (zeros when None) with ``sign``.
    """
    if out is None:
        out = torch.zeros((k, X.shape[1]), dtype=torch.float64, device=X.device)
    for blk in _nnz_blocks(X):
        flat, moved = _sparse_scatter(_rows(X, blk), w[blk], labels[blk],
                                      unit_weights=unit_weights)
        out.view(-1).index_add_(0, flat, moved, alpha=sign)
    return out


def _canonical_order(X, w, pool):
    """Order the rows of ``X`` by their projection on a fixed direction.

    The key ``x @ v`` (``v`` a fixed pseudo-random unit vector, float64) is a
    function of the row's values only, so identical rows get identical keys and
    sit next to each other once sorted, and two distinct rows tie only by a
    rounding coincidence. Sorting one scalar per row costs ``O(n d + n log n)``
    instead of a lexicographic sort's ``O(n d log n)``. The same pass computes
    the weighted mean of the columns.

    Returns
    -------
    order : Tensor of int64, shape (n,)
        Row indices in canonical order.
    key : Tensor of float64, shape (n,)
        The key of each row (in the rows' order): rows with equal keys are
        taken to be copies of one point.
    mean : Tensor, shape (d,)
        ``sum_i w_i x_i / sum_i w_i``, rounded by :func:`_round_significand`.

    For CSR ``X`` the key sums the row's nonzeros (:func:`_row_sums`), so
    identical rows (same stored entries) still get identical keys.
    """
    n, d = X.shape
    generator = torch.Generator().manual_seed(_KEY_SEED)
    v = torch.randn(d, generator=generator, dtype=torch.float64, device="cpu")
    v = (v / v.norm()).to(X.device)
    if _is_sparse(X):
        key = empty(n, dtype=torch.float64, device=X.device)
        sums = torch.zeros(d, dtype=torch.float64, device=X.device)
        w64 = w.to(torch.float64)
        for blk in _nnz_blocks(X):
            Xb = _rows(X, blk)
            values, cols = Xb.values().to(torch.float64), Xb.col_indices()
            key[blk] = _row_sums(Xb, values * v.index_select(0, cols))
            # Not in place: for float64 X, values is X's own (the caller's data).
            sums.index_add_(0, cols, values * w64[blk].index_select(0, _row_ids(Xb)))
        mean = _round_significand((sums / float(w.sum(dtype=torch.float64))).to(X.dtype))
        return _argsort_stable(key), key, mean
    key = empty(n, dtype=torch.float64, device=X.device)

    # CUDA's row sums load a row in aligned vectors, its unaligned head apart:
    # rows that start at other addresses modulo 32 bytes would be added in
    # another order. There the products are laid out in rows of a multiple of
    # 4 values (zeros after the row), each starting aligned.
    width = -(-d // 4) * 4 if _align_key_rows(X.device) else d

    def project(blk):
        Xb = X[blk]
        # An elementwise product and a row sum (not a BLAS gemv) so that the
        # key of a row never depends on where the row sits in X.
        product = scratch("product", (Xb.shape[0], width), dtype=v.dtype, device=X.device)
        product[:, d:].zero_()
        torch.mul(Xb, v, out=product[:, :d])
        torch.sum(product, dim=1, out=key[blk])
        return w[blk] @ Xb

    blocks = row_blocks(n, _block_rows(d, X.dtype, X.device))
    mean = _round_significand(_sum_in_order(map_blocks(project, blocks, pool)) / w.sum())
    return _argsort_stable(key), key, mean


def _align_key_rows(device):
    """Whether :func:`_canonical_order` pads its products to aligned rows."""
    return device.type == "cuda"


def _argsort_stable(x):
    """``torch.sort(x, stable=True)[1]`` for float64 ``x`` (no NaN), sorted as integers.

    IEEE 754 doubles order as their bit patterns read as int64 once the
    magnitude bits of the negative ones are flipped (``-0.0`` made ``+0.0``
    first), and torch sorts integers with a radix sort: 200k keys in 1.1 ms
    against 16 ms as floats, on one CPU thread.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([2.0, -0.0, -3.5, 0.0, float("inf"), -1e-310], dtype=torch.float64)
    >>> _argsort_stable(x).tolist()
    [2, 5, 1, 3, 0, 4]
    """
    bits = (x + 0.0).view(torch.int64)
    return torch.sort(bits ^ ((bits >> 63) & 0x7FFFFFFFFFFFFFFF), stable=True)[1]


def _round_significand(x):
    """``x`` rounded to half the significand bits of its dtype.

    The data are centred on their weighted mean only to make distances more
    accurate, and any point near the mean does that. Rounded, the mean is the
    same number for any order or repetition of the rows (the exact sums differ
    in the last bits), so the centred data are too, and exact distance ties
    (integer-valued data) are broken identically.
    """
    bits = round(-math.log2(torch.finfo(x.dtype).eps)) // 2
    mantissa, exponent = torch.frexp(x)
    return torch.ldexp(torch.round(mantissa * 2.0**bits) / 2.0**bits, exponent)


def _centred_copy(X, w, mean, pool):
    """``X - mean``, its squared row norms and the weighted column variances.

    Returns
    -------
    Xc : Tensor, shape (n, d)
    x_sq : Tensor, shape (n,)
        ``||Xc_i||^2``.
    variances : Tensor, shape (d,)
        ``sum_i w_i (Xc_ij - s_j)^2 / sum_i w_i`` with ``s`` the weighted mean
        of ``Xc`` (``mean`` is rounded, see :func:`_round_significand`, so
        ``s`` is not zero): NumPy's ``var`` with unit weights, computed as the
        second moment about ``mean`` minus ``s^2`` (far from the origin the
        rounding of ``mean`` alone is larger than the spread).
    """
    n, d = X.shape
    Xc = empty((n, d), dtype=X.dtype, device=X.device)
    x_sq = empty(n, dtype=X.dtype, device=X.device)

    def centre(blk):
        Xb = torch.sub(X[blk], mean, out=Xc[blk])
        first = w[blk] @ Xb
        sq = torch.mul(Xb, Xb, out=scratch("square", Xb.shape, dtype=X.dtype, device=X.device))
        torch.sum(sq, dim=1, out=x_sq[blk])
        return torch.stack([first, w[blk] @ sq])

    parts = map_blocks(centre, row_blocks(n, _block_rows(d, X.dtype, X.device)), pool)
    first, second = _sum_in_order(parts) / w.sum()
    return Xc, x_sq, (second - first * first).clamp_min_(0.0)


def _sparse_moments(X, shift):
    """:func:`_centred_copy`'s squared row norms and (unweighted) column variances for CSR ``X``.

    ``X`` is not centred (that would make it dense), so the norms are those of
    the raw rows, as in sklearn's sparse k-means. With ``m = shift_j`` (a
    value near the column's mean) and ``s`` the mean of ``x_j - m``, the
    variance of column ``j`` is
    ``(sum_{i: x_ij != 0} ((x_ij - m)^2 - m^2)) / n + m^2 - s^2``: one pass
    over the nonzeros, no cancellation of large sums.

    Returns
    -------
    x_sq : Tensor, shape (n,)
    variances : Tensor of float64, shape (d,)
    """
    n = X.shape[0]
    m = shift.to(torch.float64)
    first = torch.zeros(X.shape[1], dtype=torch.float64, device=X.device)
    second = torch.zeros_like(first)
    for blk in _nnz_blocks(X):  # in order: the same sums as in one pass
        Xb = _rows(X, blk)
        values, cols = Xb.values().to(torch.float64), Xb.col_indices()
        m_nz = m.index_select(0, cols)
        first.index_add_(0, cols, values)
        # values - m_nz, not in place: for float64 X, values is X's own.
        second.index_add_(0, cols, (values - m_nz).square_().sub_(m_nz.square_()))
    s = first / n - m
    second = second / n + m * m
    return _sq_norms(X), (second - s * s).clamp_min_(0.0)


def _inverse_cdf_draw(mass, order, u, fallback):
    """Indices ``i`` drawn with probability ``mass[i] / mass.sum()``.

    ``searchsorted(cumsum(mass[order]), u * total, right=True)``, mapped back
    through ``order``: in canonical order a row that appears ``c`` times in a
    run of equal keys acts exactly as one row of mass ``c`` times larger, and
    a row of zero mass is never drawn. When the total mass is zero (fewer
    distinct points than draws), the row at canonical position ``fallback`` is
    returned.

    Parameters
    ----------
    mass : Tensor, shape (n,)
        Non-negative masses, in the rows' order.
    order : Tensor of int64, shape (n,)
        The canonical order (see :func:`_canonical_order`).
    u : Tensor of float64, shape (m,)
        Uniform draws in ``[0, 1)``.
    fallback : Tensor of int64, shape ()
        Canonical position used when ``mass`` sums to zero.
    """
    cumulative = _cumsum(mass.index_select(0, order).to(torch.float64))
    total = cumulative[-1]
    index = torch.searchsorted(cumulative, u * total, right=True)
    index.clamp_(max=mass.shape[0] - 1)
    return order.index_select(0, torch.where(total > 0, index, fallback))


def _first_weighted(w, order):
    """Canonical position of the first row of positive weight."""
    return torch.argmax((w.index_select(0, order) > 0).to(torch.uint8))


def _candidate_distances(X, x_sq, w, A, closest, pool):
    """Squared distances from candidates ``A`` to every row, capped by ``closest``.

    Returns
    -------
    dist : list of Tensor, each of shape (len(A), rows of a block)
        ``min(closest_i, ||x_i - a_j||^2)`` (``||x||^2 - 2 x.a + ||a||^2``
        clamped at 0; no cap when ``closest`` is None), one row per
        candidate, a block of rows at a time (concatenate a candidate's rows
        with :func:`_candidate_row`).
    potentials : Tensor, shape (len(A),)
        ``dist @ w``, summed over the blocks.
    """
    n, d = X.shape
    a_sq = (A * A).sum(dim=1)
    A_t = transpose_for(X, A)
    # Dense rows of few features: one row of distances per candidate, so that
    # the passes below run along contiguous rows (200k x 3, 7 candidates, one
    # thread: 0.68 against 1.26 ms a block). Many features or CSR: the
    # tall-thin product rows x candidates is faster (784 features: 0.24
    # against 0.32 ms), and its transpose is used as is.
    by_candidate = not _is_sparse(X) and d <= _CANDIDATE_ROWS_MAX_FEATURES

    def block(blk):
        if by_candidate:
            dist = torch.addmm(a_sq[:, None], A, X[blk].T, alpha=-2.0)
            dist += x_sq[blk]
        else:
            dist = torch.addmm(a_sq, _rows(X, blk), A_t, alpha=-2.0).T
            dist += x_sq[blk]
        dist.clamp_min_(0.0)
        if closest is not None:
            torch.minimum(dist, closest[blk], out=dist)
        # On one thread: a BLAS product over the rows splits them by the
        # number of threads, and so its rounding, and with it which of two
        # candidates of equal potential is drawn (blocks run on torch's own
        # threads when no block pool runs: X within CPU_BLOCK_BYTES).
        with single_threaded_torch():
            return dist, dist @ w[blk]

    blocks = row_blocks(n, _pass_rows(X, A.shape[0]))
    dist, potentials = zip(*map_blocks(block, blocks, pool))
    return list(dist), _sum_in_order(list(potentials))


def _candidate_row(dist, j):
    """Candidate ``j``'s distances to every row, from :func:`_candidate_distances`' blocks."""
    return torch.cat([part[j] for part in dist])


def _kmeans_plusplus(X, x_sq, w, order, n_clusters, generator, pool, n_local_trials=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), sklearn's variant.

    The first center is drawn with probability ``w_i / sum(w)``; each next one
    is the best, by weighted potential ``sum_i w_i min(D_i^2, ||x_i - c||^2)``,
    of ``n_local_trials = 2 + int(log(k))`` candidates drawn with probability
    ``w_i D_i^2 / sum_j w_j D_j^2``, ``D_i`` being the distance of ``x_i`` to
    its closest chosen center. Draws are inverse-CDF in canonical order (see
    :func:`_inverse_cdf_draw`).

    Parameters
    ----------
    X : Tensor, shape (n, d)
        Dense or sparse CSR (the candidates' rows are densified).
    x_sq : Tensor, shape (n,)
        Squared row norms of ``X``.
    w : Tensor, shape (n,)
        Sample weights.
    order : Tensor of int64, shape (n,)
        The canonical order of the rows (see :func:`_canonical_order`).
    n_clusters : int
    generator : torch.Generator
    pool : ThreadPoolExecutor or None
    n_local_trials : int, default=None

    Returns
    -------
    centers : Tensor, shape (n_clusters, d)
    indices : Tensor of int64, shape (n_clusters,)
    """
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    fallback = _first_weighted(w, order)
    u = torch.rand(
        1 + (n_clusters - 1) * n_local_trials,
        generator=generator,
        dtype=torch.float64,
        device=X.device,
    )
    indices = torch.empty(n_clusters, dtype=torch.int64, device=X.device)
    first = _inverse_cdf_draw(w, order, u[:1], fallback)
    indices[:1] = first
    closest = _candidate_row(
        _candidate_distances(X, x_sq, w, _dense_rows(X, first), None, pool)[0], 0
    )
    for c in range(1, n_clusters):
        draws = u[1 + (c - 1) * n_local_trials : 1 + c * n_local_trials]
        candidates = _inverse_cdf_draw(w * closest, order, draws, fallback)
        dist, potentials = _candidate_distances(
            X, x_sq, w, _dense_rows(X, candidates), closest, pool
        )
        best = torch.argmin(potentials)
        closest = _candidate_row(dist, best)
        indices[c] = candidates[best]
    return _dense_rows(X, indices), indices


def _random_init(X, w, key, order, n_clusters, generator):
    """``n_clusters`` distinct points drawn with probability proportional to weight.

    After each draw every row identical to the chosen one (same canonical key)
    gets mass zero, so the centers are distinct points and a point repeated
    ``c`` times is as likely as one point of weight ``c``.
    """
    mass = w.clone()
    fallback = _first_weighted(w, order)
    u = torch.rand(n_clusters, generator=generator, dtype=torch.float64, device=X.device)
    indices = torch.empty(n_clusters, dtype=torch.int64, device=X.device)
    for c in range(n_clusters):
        index = _inverse_cdf_draw(mass, order, u[c : c + 1], fallback)
        indices[c : c + 1] = index
        mass.masked_fill_(key == key[index], 0.0)
    return _dense_rows(X, indices)


def _labels(X, centers, origin=None):
    """Index of the closest center of each row, in blocks (see :func:`_nearest`).

    Dense rows are compared around ``origin``, the point the fit compared
    them around (its data's rounded mean; the mean of the centers when None):
    far from it, ``||x||^2`` would make the product form's rounding (and
    :func:`_nearest`'s tie bound) larger than the gaps between clusters.
    CSR rows are compared about zero.
    """
    n = X.shape[0]
    out = empty(n, dtype=torch.int64, device=X.device)
    sparse = _is_sparse(X)
    if sparse:
        origin = None
    elif origin is None:
        origin = centers.to(torch.float64).mean(dim=0)
    if origin is not None:
        centers = (centers.to(torch.float64) - origin).to(X.dtype)
        origin = origin.to(X.dtype)
    c_sq = (centers * centers).sum(dim=1)
    centers_t = transpose_for(X, centers)
    # One flag updated in place, not a small tensor kept per block between
    # the blocks' MB-sized temporaries: the pattern that fragmented glibc's
    # heap in MC dropout's predict (an audit saw 1.7 GB resident here, on 1M
    # rows with k = 2000, once; not reproduced since).
    finite = torch.ones((), dtype=torch.bool, device=X.device)

    def assign(blk):
        Xb = _rows(X, blk)
        if origin is not None:
            Xb = torch.sub(Xb, origin, out=scratch("centred", Xb.shape, dtype=X.dtype,
                                                      device=X.device))
        # Squared norms only enter the error bound: the norm's rounding is moot.
        labels, closest, _ = _closest(Xb, _sq_norms(Xb), centers_t, c_sq, second=False)
        out[blk] = labels
        finite.logical_and_(torch.isfinite(closest).all())

    for blk in row_blocks(n, _pass_rows(X, centers.shape[0])):
        assign(blk)
    _check_squares_finite(bool(finite), X.dtype)
    return out


def _check_squares_finite(finite, dtype):
    """A clear error where squared norms overflow ``dtype`` (distances would be inf)."""
    if not finite:
        name = str(dtype).removeprefix("torch.")
        largest = math.sqrt(torch.finfo(dtype).max)
        raise ValueError(
            f"KMeans cannot compare these rows: their squared distances overflow "
            f"{name} (values above ~{largest:.0e}). Rescale X, e.g. with "
            "sklearn.preprocessing.StandardScaler"
            + (", or pass float64 data." if dtype == torch.float32 else ".")
        )


def _closest(X, x_sq, centers_t, c_sq, *, second=True):
    """:func:`_nearest` of a block's distances ``||c||^2 - 2 x.c``, with their error bounds.

    ``centers_t`` is ``centers.T``, shape ``(d, k)`` (see
    :func:`~skmath._engine.transpose_for`). The distances are laid out
    ``(k, b)``, one row per center: BLAS computes ``C X^T`` faster than
    ``X C^T`` when ``k`` is small (200k x 32 rows, k = 16, float64: 239 us
    against 396 us a block of 10922 rows, one thread), and the reductions
    over the centers run along contiguous rows (``amin`` 22 us where
    ``torch.min(dist, dim=1)`` over a ``(b, k)`` block took 260 us). CSR
    blocks are multiplied as ``(b, k)`` (sparse times dense) and copied.
    The rounding bound (:func:`_error_scale`) is split into the rows' and
    the centers' shares for :func:`_nearest`.

    Returns
    -------
    labels, closest, second
        As :func:`_nearest`.
    """
    k = centers_t.shape[1]
    scale = _error_scale(X)
    dist = scratch("distances_by_center", (k, X.shape[0]), dtype=X.dtype, device=X.device)
    if _is_sparse(X):
        dist.copy_(torch.addmm(c_sq, X, centers_t, alpha=-2.0, out=_dist_buffer(X, k)).T)
    else:
        torch.addmm(c_sq[:, None], centers_t.T, X.T, alpha=-2.0, out=dist)
    err_centers = (scale.max() if _is_sparse(X) else scale) * c_sq

    def refine(rows, candidates):
        return _nearest_by_differences(X, rows, centers_t.T, candidates)

    return _nearest(dist, err_centers, scale * x_sq, second=second, refine=refine)


def _nearest_by_differences(X, rows, centers, candidates):
    """Closest of the ``candidates`` centers of the rows ``rows`` of ``X``,
    from their squared distances in float64 without the product form.

    The product form's rounding bound grows with ``||x||^2 + ||c||^2``: far
    from the origin (uncentred CSR rows, data of large offset) or in many
    float32 dimensions, it can exceed the gap between the two closest
    centers (an audit found 8% of the labels of float32 CSR data of offset
    100 off the closest center). Here dense rows use the differences
    ``sum_j (x_j - c_j)^2``, whose rounding is relative to the distance
    itself, and so do CSR rows holding at least a quarter of the columns
    (taken dense a few at a time: as much work as their nonzeros). Emptier
    CSR rows use ``sum_j ((x_j - c_j)^2 - c_j^2) + ||c||^2`` over their
    nonzeros (:func:`_sparse_sq_distances`, ``O(nnz)``: such a row is never
    densified, whatever ``d``), whose rounding is relative to ``||c||^2``
    plus the distance, in float64. Centers equally distant up to that
    rounding remain tied, and the lowest index takes the row, as in
    :func:`_nearest`.

    Parameters
    ----------
    X : Tensor, shape (b, d), dense or CSR
    rows : Tensor of int64, shape (m,)
    centers : Tensor, shape (k, d), in ``X``'s coordinates
    candidates : Tensor of bool, shape (k, m)
        The centers still in the running for each row (at least one).

    Returns
    -------
    labels : Tensor of int64, shape (m,)
    """
    k, d = centers.shape
    f64 = torch.float64
    eps = torch.finfo(f64).eps
    center, row = torch.nonzero(candidates, as_tuple=True)  # the candidate pairs
    dist = torch.full((k, rows.shape[0]), math.inf, dtype=f64, device=X.device)
    err = torch.zeros_like(dist)
    centers = centers.to(f64)
    by_differences = torch.ones_like(row, dtype=torch.bool)
    if _is_sparse(X):
        nnz = X.crow_indices().diff().index_select(0, rows.index_select(0, row))
        by_differences = 4 * nnz >= d
        emptier = torch.nonzero(~by_differences).squeeze(1)
        r, c = row.index_select(0, emptier), center.index_select(0, emptier)
        pairs = take_rows(X, rows.index_select(0, r))  # one CSR row per pair
        pairs = csr_with_values(pairs, pairs.values().to(f64))
        c_sq = (centers * centers).sum(dim=1)
        pair_dist = _sparse_sq_distances(pairs, centers, c_sq, c)
        terms = pairs.crow_indices().diff().to(f64) + 2
        dist[c, r] = pair_dist
        err[c, r] = 2 * eps * terms * (c_sq.index_select(0, c) + pair_dist)
    dense = torch.nonzero(by_differences).squeeze(1)
    # Pairs in chunks of ~16 MB of differences.
    chunk = max(1, 2**21 // max(d, 1))
    for start in range(0, dense.shape[0], chunk):
        pick = dense[start : start + chunk]
        r, c = row.index_select(0, pick), center.index_select(0, pick)
        diff = _dense_rows(X, rows.index_select(0, r)).to(f64) - centers.index_select(0, c)
        pair_dist = diff.square_().sum(dim=1)
        dist[c, r] = pair_dist
        err[c, r] = 2 * (d + 2) * eps * pair_dist
    reach = (dist + err).amin(dim=0)
    rank = torch.arange(k, 0, -1, device=X.device)[:, None]
    # None within reach only where distances overflow (fit and predict
    # report it): keep the index in range, as _nearest does.
    return (k - (torch.le(dist - err, reach) * rank).amax(dim=0)).clamp_(max=k - 1)


def _dist_buffer(X, k):
    """This thread's :func:`~skmath._engine.scratch` buffer for a block's ``(b, k)`` distances."""
    return scratch("distances", (X.shape[0], k), dtype=X.dtype, device=X.device)


def _error_scale(X):
    """``2 (t + 2) eps``: the rounding bound of ``||x||^2 - 2 x.c + ||c||^2`` per unit of
    ``||x||^2 + ||c||^2``.

    The classical bound on a ``t``-term dot product, with
    ``|x.c| <= (||x||^2 + ||c||^2) / 2``, and the two additions: ``t = d``
    for dense rows (a number), the row's nonzeros for CSR rows (a tensor of
    shape ``(b,)``).
    """
    eps = torch.finfo(X.dtype).eps
    if X.dtype == torch.float32 and X.device.type == "cuda" and _tf32_matmul():
        eps = 2.0**-10  # products of operands rounded to TF32's 10-bit mantissas
    if _is_sparse(X):
        return (X.crow_indices().diff().to(X.dtype) + 2).mul_(2 * eps)
    return 2 * (X.shape[1] + 2) * eps


def _tf32_matmul():
    """Whether float32 CUDA matrix products run in TF32, as a user may set
    (``torch.set_float32_matmul_precision("high")``, ``allow_tf32``, or
    ``fp32_precision = "tf32"``, which reflects the other two)."""
    matmul = torch.backends.cuda.matmul
    precision = getattr(matmul, "fp32_precision", None)
    if precision is None:  # PyTorch before the fp32_precision settings
        return bool(matmul.allow_tf32)
    return precision == "tf32"


def _nearest(dist, err_centers, err_rows, *, second=True, refine=None):
    """Closest center of each row, the lowest index among (near-)ties.

    ``dist`` holds the computed ``||c_j||^2 - 2 x.c_j`` (as sklearn's Lloyd
    iteration compares), one row per center (shape ``(k, b)``); its rounding
    error is at most ``e_j + r`` per sample, ``e_j = err_centers[j]`` from
    the center's norm and ``r = err_rows`` from the row's. The label is the
    first ``j`` with ``dist_j - e_j <= min(dist) + r``: centers at exactly
    the same distance (integer-valued data) are then told apart by their
    index, not by rounding, which depends on the block size in the matrix
    product; so labels do not depend on row order, repetition or blocking.
    Each center's error is its own: a far-away center (large norm) does not
    widen the band of the others. Elsewhere this is ``argmin``. ``dist`` is
    overwritten. ``second=False`` skips the bound on the other centers.
    ``refine(rows, candidates)``, when given, decides the rows with several
    centers within reach (``candidates``, shape ``(k, m)``: which), e.g. by
    :func:`_nearest_by_differences`; the bounds returned hold for any of them.

    Returns
    -------
    labels : Tensor of int64, shape (b,)
    closest : Tensor, shape (b,)
        An upper bound on the label's exact ``||c||^2 - 2 x.c``.
    second : Tensor, shape (b,) or None
        A lower bound on the other centers' exact ``||c||^2 - 2 x.c`` (None
        when k == 1 or not ``second``).

    Examples
    --------
    Two rows; the second is as close to centers 0 and 1 (up to its error
    bound 1e-9), and center 2 has a large error of its own (0.5):

    >>> import torch
    >>> dist = torch.tensor([[3.0, 1.0], [1.0, 1.0 + 1e-12], [2.0, 5.0]], dtype=torch.float64)
    >>> err_centers = torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64)
    >>> err_rows = torch.tensor([0.0, 1e-9], dtype=torch.float64)
    >>> labels, closest, second = _nearest(dist, err_centers, err_rows)
    >>> labels.tolist(), [round(v, 6) for v in second.tolist()]
    ([1, 0], [1.5, 1.0])
    """
    k = dist.shape[0]
    if k == 1:
        closest = dist[0] + err_centers[0] + err_rows
        return torch.zeros(dist.shape[1], dtype=torch.int64, device=dist.device), closest, None
    reach = dist.amin(dim=0).add_(err_rows)
    low = dist.sub_(err_centers[:, None])
    # The first center within reach: k - max_j (k - j) [low_j <= reach], a
    # reduction along contiguous rows (argmax over dim 0 is 100x slower).
    rank = torch.arange(k, 0, -1, device=dist.device)
    rank = rank.to(torch.uint8 if k < 256 else torch.int32)[:, None]
    within = torch.le(low, reach)
    # A bool tensor read as uint8 (the same bytes): no converted copy of the
    # (k, b) block for the product or the count below.
    flags = within.view(torch.uint8)
    labels = k - (flags * rank).amax(dim=0).long()
    # No center is within reach only where distances overflow (inf or NaN):
    # keep the index in range; fit and predict report the overflow.
    labels.clamp_(max=k - 1)
    if refine is not None:
        tied = torch.nonzero(flags.sum(dim=0, dtype=rank.dtype) > 1).squeeze(1)
        if tied.shape[0]:
            labels.index_copy_(0, tied, refine(tied, within.index_select(1, tied)))
    closest = low.gather(0, labels[None])[0]
    closest += 2 * err_centers.index_select(0, labels) + err_rows
    if not second:
        return labels, closest, None
    low.scatter_(0, labels[None], math.inf)
    return labels, closest, low.amin(dim=0).sub_(err_rows)


def _distance_bounds(X, x_sq, centers_t, c_sq, margin):
    """Closest center of each row of a block, with Hamerly's two bounds.

    ``centers_t`` is ``centers.T``, shape ``(d, k)`` (see :func:`~skmath._engine.transpose_for`).

    Returns the closest center (see :func:`_nearest`), an upper bound on the
    distance to it and a lower bound on the distance to any other center
    (the rounding error of the product form included), the upper bound
    multiplied by ``margin``.

    Returns
    -------
    labels : Tensor of int64, shape (b,)
    upper, lower : Tensor, shape (b,)
    """
    labels, closest, second = _closest(X, x_sq, centers_t, c_sq)
    upper = (closest + x_sq).clamp_min_(0.0).sqrt_().mul_(margin)
    if second is None:
        return labels, upper, torch.full_like(upper, math.inf)
    return labels, upper, (second + x_sq).clamp_min_(0.0).sqrt_()


def _half_center_gaps(centers):
    """``s_j``: a lower bound on half the distance from ``c_j`` to its closest other center."""
    k = centers.shape[0]
    if k == 1:
        return centers.new_full((1,), math.inf)
    c_sq = (centers * centers).sum(dim=1)
    gaps = centers.new_empty(k)
    arange = torch.arange(k, device=centers.device)
    scale = _error_scale(centers)
    for blk in row_blocks(k, _block_rows(k, centers.dtype, centers.device)):
        dist = torch.addmm(c_sq, centers[blk], centers.T, alpha=-2.0)
        dist += c_sq[blk, None]
        dist -= scale * (c_sq[blk, None] + c_sq)  # minus each pair's rounding bound
        dist[arange[: dist.shape[0]], arange[blk]] = math.inf
        gaps[blk] = dist.amin(dim=1)
    return 0.5 * gaps.clamp_min_(0.0).sqrt_()


def _moved_sums(X, w, old, new, k):
    """Change of the cluster sums and weights when rows move from ``old`` to ``new``.

    Returns
    -------
    delta_sums : Tensor of float64, shape (k, d)
    delta_weights : Tensor of float64, shape (k,)
    """
    if _is_sparse(X):
        delta_sums = _sparse_cluster_sums(X, w, new, k)
        _sparse_cluster_sums(X, w, old, k, sign=-1.0, out=delta_sums)
        w = w.to(torch.float64)
    else:
        w = w.to(torch.float64)
        moved = X.to(torch.float64) * w[:, None]
        delta_sums = torch.zeros((k, X.shape[1]), dtype=torch.float64, device=X.device)
        delta_sums.index_add_(0, new, moved).index_add_(0, old, moved, alpha=-1)
    delta_weights = torch.zeros(k, dtype=torch.float64, device=X.device)
    delta_weights.index_add_(0, new, w).index_add_(0, old, w, alpha=-1)
    return delta_sums, delta_weights


def _assign(X, x_sq, w, centers, labels, upper, lower, sums, weight_in_clusters, *,
            shift, unit_weights, pool):
    """E-step of Lloyd's algorithm, pruned with Hamerly's bounds (Hamerly 2010).

    Each row keeps an upper bound ``u`` on the distance to its center and a
    lower bound ``l`` on the distance to any other. After the centers moved by
    ``shift`` (per center), ``u += shift[label]`` and ``l`` decreases by the
    largest shift among the other centers; a row whose ``u`` is below
    ``max(l, s_label)`` (``s_j`` half the gap from ``c_j`` to its closest
    other center) cannot have changed cluster. The other rows get ``u``
    recomputed exactly, and those still in doubt have all their distances
    recomputed. The labels are those of a full Lloyd E-step (up to
    rounding-level ties). Without ``shift`` (first iteration), or when more
    than ``_MAX_DOUBT`` (``_MAX_DOUBT_SPARSE`` for CSR ``X``) of the rows are
    in doubt, every row is recomputed and the cluster sums are computed from
    scratch (for CSR ``X``, only without ``shift``); otherwise they are
    updated with the rows that changed cluster.

    ``labels``, ``upper``, ``lower`` and, when given, ``sums`` and
    ``weight_in_clusters`` (float64 weighted sums and weights of the rows of
    each cluster) are updated in place.

    Returns
    -------
    n_changed : int
        Number of rows whose label changed.
    """
    n, d = X.shape
    k = centers.shape[0]
    c_sq = (centers * centers).sum(dim=1)
    centers_t = transpose_for(X, centers)
    sparse = _is_sparse(X)
    # Bounds are kept inflated by ``margin`` so that the rounding of the
    # updates never makes a wrong pruning decision.
    margin = 1.0 + _PRUNE_MARGIN_ULPS * torch.finfo(X.dtype).eps
    with_sums = sums is not None
    prunes = n >= _MIN_PRUNE_ROWS
    if shift is not None and prunes:
        upper += (shift * margin).index_select(0, labels)
        if k > 1:
            # Each row's other centers moved by at most the largest shift but
            # its own center's (Hamerly 2010, UPDATE-BOUNDS): the second largest
            # for the rows of the center that moved most. Fits from one init
            # (to convergence, the same iterations): 273k pixels, k = 256:
            # 12.2 -> 9.9 s; uniform 200k x 3, k = 256: 6.1 -> 4.7 s; blobs
            # 200k x 32, k = 16 (std 5): 0.51 -> 0.44 s.
            top2, which = torch.topk(shift, 2)
            lower -= torch.where(labels == which[0], top2[1], top2[0]) * margin
        else:
            lower -= shift.max() * margin
        bound = torch.maximum(lower, _half_center_gaps(centers).index_select(0, labels))
        todo = torch.nonzero(upper >= bound).squeeze(1)
        if todo.shape[0] <= (_MAX_DOUBT_SPARSE if sparse else _MAX_DOUBT) * n:
            return _pruned_pass(
                X, x_sq, w, centers, centers_t, c_sq, labels, upper, lower, bound, todo,
                margin, sums, weight_in_clusters, pool,
            )

    # No bounds yet, or too many rows in doubt: recompute every row, in parallel
    # blocks. The dense cluster sums are computed from scratch (an addition
    # per value, cheap next to the product). For CSR X, a scatter over every
    # nonzero costs as much as the product, so once the sums hold the current
    # labels' (after the first iteration) only the rows that changed cluster
    # are moved, as in the pruned pass; the first time each block gathers its
    # nonzeros' scatter indices, added once all blocks are done.
    moves_only = sparse and with_sums and shift is not None

    def full_pass(blk):
        Xb = _rows(X, blk)
        if prunes:
            new, upper[blk], lower[blk] = _distance_bounds(
                Xb, x_sq[blk], centers_t, c_sq, margin
            )
        else:  # the bounds would never be used
            new = _closest(Xb, x_sq[blk], centers_t, c_sq, second=False)[0]
        changed = new != labels[blk]
        n_new = changed.sum()
        if moves_only:
            changed = torch.nonzero(changed).squeeze(1)
            old = labels[blk].index_select(0, changed)
        labels[blk] = new
        if not with_sums:
            return n_new, None, None
        if moves_only:
            if changed.shape[0] == 0:
                return n_new, None, None
            moved = _moved_sums(
                take_rows(Xb, changed), w[blk].index_select(0, changed), old,
                new.index_select(0, changed), k,
            )
            return n_new, moved, None
        if sparse:  # gathered here, in parallel; scattered below, in order
            return n_new, _sparse_scatter(Xb, w[blk], new, unit_weights=unit_weights), None
        # Sums and weights in float64, as the pruned pass moves rows: a
        # float32 sum of a huge row and many small ones loses the small ones,
        # and once they left the cluster (moved exactly) its center kept that
        # error (an audit: a row at 1e8 ended 680 from its own center; 95,040
        # with float32 weights, whose cluster weight kept the error).
        part = torch.zeros((k, d), dtype=torch.float64, device=X.device)
        w64 = w[blk].to(torch.float64)
        if X.dtype == torch.float64:
            rows = Xb if unit_weights else torch.mul(
                Xb, w64[:, None], out=scratch("weighted", Xb.shape, dtype=X.dtype, device=X.device)
            )
        else:  # one float64 copy, weighted in place
            rows = scratch("rows", Xb.shape, dtype=torch.float64, device=X.device).copy_(Xb)
            if not unit_weights:
                rows.mul_(w64[:, None])
        part.index_add_(0, new, rows)
        return n_new, part, _weight_sums(new, w64, k)

    blocks = row_blocks(n, _pass_rows(X, k))
    results = map_blocks(full_pass, blocks, pool)
    if with_sums and sparse:
        if moves_only:
            # Moves added block after block: independent of the number of threads.
            for _, moved, _ in results:
                if moved is not None:
                    sums += moved[0]
        else:
            # Block after block, the nonzeros are added in row order, as by one
            # scatter over all of them: independent of blocks and threads.
            sums.zero_()
            for _, (flat, moved), _ in results:
                sums.view(-1).index_add_(0, flat, moved)
        # Weights counted from scratch: an emptied cluster weighs exactly zero.
        weight_in_clusters.copy_(_weight_sums(labels, w.to(torch.float64), k))
    elif with_sums:
        # Blocks are added in order: the result does not depend on the
        # number of threads.
        sums.zero_()
        weight_in_clusters.zero_()
        for _, part_sums, part_weights in results:
            sums += part_sums
            weight_in_clusters += part_weights
    return int(sum(n_new for n_new, _, _ in results))


def _pruned_pass(X, x_sq, w, centers, centers_t, c_sq, labels, upper, lower, bound, todo,
                 margin, sums, weight_in_clusters, pool):
    """The rows of ``todo`` (bounds not conclusive) of :func:`_assign`.

    Their upper bound is first tightened to the exact distance (for CSR
    ``X``, :func:`_sparse_sq_distances` plus the product form's rounding
    bound); the rows still in doubt get all their distances recomputed, and
    those that changed cluster are moved in ``sums`` and
    ``weight_in_clusters``. Blocks of ``todo`` run on ``pool``'s threads
    (each writes its own rows of ``labels``, ``upper`` and ``lower``); the
    moves are added block after block, so the result does not depend on the
    number of threads.
    """
    k = centers.shape[0]
    sparse = _is_sparse(X)

    def block(blk):
        idx = todo[blk]
        Xi = take_rows(X, idx)
        old = labels.index_select(0, idx)
        if sparse:
            xi_sq = x_sq.index_select(0, idx)
            ui = _sparse_sq_distances(Xi, centers, c_sq, old)
            ui += _error_scale(Xi) * (xi_sq + c_sq.index_select(0, old))
            ui.sqrt_().mul_(margin)
        else:
            ui = torch.linalg.vector_norm(Xi - centers.index_select(0, old), dim=1).mul_(margin)
        upper.index_copy_(0, idx, ui)
        doubt = torch.nonzero(ui >= bound.index_select(0, idx)).squeeze(1)
        if doubt.shape[0] == 0:
            return 0, None
        idx, Xi, old = idx[doubt], take_rows(Xi, doubt), old[doubt]
        new, up, lo = _distance_bounds(Xi, x_sq.index_select(0, idx), centers_t, c_sq, margin)
        labels.index_copy_(0, idx, new)
        upper.index_copy_(0, idx, up)
        lower.index_copy_(0, idx, lo)
        changed = torch.nonzero(new != old).squeeze(1)
        if sums is None or changed.shape[0] == 0:
            return changed.shape[0], None
        moved = _moved_sums(
            take_rows(Xi, changed), w.index_select(0, idx[changed]), old[changed],
            new[changed], k,
        )
        return changed.shape[0], moved

    blocks = row_blocks(todo.shape[0], _pass_rows(X, k))
    n_changed = 0
    for n_block, moved in map_blocks(block, blocks, pool):
        n_changed += n_block
        if moved is not None:
            sums += moved[0]
            weight_in_clusters += moved[1]
    return n_changed


def _inertia(X, w, centers, labels, pool):
    """``sum_i w_i ||x_i - c_{labels_i}||^2`` with direct differences, in blocks.

    For CSR ``X``, in one pass over the nonzeros (:func:`_sparse_sq_distances`),
    in float64: its ``||c||^2`` term, rounded once per cluster, would bias
    every row's distance alike (float32 data of offset 100: inertia 2.3e-4
    low).
    """
    if _is_sparse(X):
        centers = centers.to(torch.float64)
        c_sq = (centers * centers).sum(dim=1)
        total = torch.zeros(1, dtype=torch.float64, device=X.device)
        for blk in _nnz_blocks(X):
            Xb = _rows(X, blk)
            Xb = csr_with_values(Xb, Xb.values().to(torch.float64))
            dist = _sparse_sq_distances(Xb, centers, c_sq, labels[blk])
            # Continuing one cumulative sum in row order: the same rounding.
            total = _cumsum(torch.cat([total, dist * w[blk].to(torch.float64)]))[-1:]
        return float(total)

    def block(blk):
        Xb = X[blk]
        diff = scratch("difference", Xb.shape, dtype=X.dtype, device=X.device)
        torch.index_select(centers, 0, labels[blk], out=diff)
        torch.sub(Xb, diff, out=diff).square_()
        # Added up in row order (a cumulative sum): a BLAS dot or a parallel
        # sum splits the rows by the number of threads, and so its rounding.
        weighted = diff.sum(dim=1).to(torch.float64) * w[blk].to(torch.float64)
        return _cumsum(weighted)[-1]

    blocks = row_blocks(X.shape[0], _block_rows(X.shape[1], X.dtype, X.device))
    return float(_sum_in_order(map_blocks(block, blocks, pool)))


def _relocate_empty_clusters(X, w, key, order, centers_old, sums, weight_in_clusters, labels):
    """Move each empty cluster onto the farthest point, as sklearn does.

    For each empty cluster (ascending index), the point farthest from its
    assigned (old) center becomes the cluster, with all its weight: every row
    identical to it (same canonical key) is moved, so a point repeated ``c``
    times behaves as one row of weight ``c``. Rows of zero weight are not
    points. Ties between equally far points go to the first in canonical order,
    so the result is deterministic. Labels are left unchanged, as in sklearn.
    A cluster all of whose points moved is left with weight exactly zero
    (subtracting its weights one by one leaves rounding), so that it counts
    as empty. ``sums`` and ``weight_in_clusters`` (float64) are updated in
    place.
    Returns whether any point was moved.

    For CSR ``X`` the copies are one point: only that row is densified, and
    each cluster loses the point times the weight of its copies.
    """
    empty_clusters = torch.nonzero(weight_in_clusters == 0).flatten().tolist()
    sparse = _is_sparse(X)
    if sparse:
        c_sq = (centers_old * centers_old).sum(dim=1)
        dist = _sparse_sq_distances(X, centers_old, c_sq, labels)
    else:
        dist = empty(X.shape[0], dtype=X.dtype, device=X.device)
        for blk in row_blocks(X.shape[0], _block_rows(X.shape[1], X.dtype, X.device)):
            diff = X[blk] - centers_old.index_select(0, labels[blk])
            torch.sum(diff * diff, dim=1, out=dist[blk])
    dist.masked_fill_(w == 0, -1.0)
    if not bool(dist.max() > 0):
        # More clusters than distinct points: relocating is pointless.
        return False
    left = w > 0  # points not moved yet
    for cluster in empty_clusters:
        far = order[torch.argmax(dist.index_select(0, order))]
        if not bool(dist[far] >= 0):
            break
        copies = torch.nonzero(key == key[far]).squeeze(1)
        w_copies = w[copies].to(torch.float64)
        if sparse:
            point = _dense_rows(X, far[None])[0].to(torch.float64)
            lost = torch.zeros_like(weight_in_clusters).index_add_(0, labels[copies], w_copies)
            sums -= lost[:, None] * point
            sums[cluster] = w_copies.sum() * point
        else:
            moved = X[copies].to(torch.float64) * w_copies[:, None]
            sums.index_add_(0, labels[copies], -moved)
            sums[cluster] = moved.sum(dim=0)
        weight_in_clusters.index_add_(0, labels[copies], -w_copies)
        left[copies] = False
        for old in labels[copies][w_copies > 0].unique().tolist():
            if not bool((left & (labels == old)).any()):
                weight_in_clusters[old] = 0.0
        weight_in_clusters[cluster] = w_copies.sum()
        dist[copies] = -1.0
    return True


def _average_centers(sums, weight_in_clusters):
    """Weighted means; an empty cluster is put at the largest cluster's center."""
    nonempty = weight_in_clusters > 0
    denom = torch.where(nonempty, weight_in_clusters, 1.0)
    centers = sums / denom[:, None]
    largest = centers[torch.argmax(weight_in_clusters)]
    return torch.where(nonempty[:, None], centers, largest)


def _kmeans_single_lloyd(X, x_sq, w, key, order, centers_init, *, max_iter, tol, verbose,
                         unit_weights, pool, weight_scale=1.0):
    """One run of Lloyd's algorithm, with sklearn's stopping rules.

    ``w`` is the sample weight divided by ``weight_scale``, a power of two;
    the inertia printed and returned is that of the sample weight.

    Iteration ``i`` assigns every row to its closest center (see
    :func:`_assign`) and moves each center to the weighted mean of its rows.
    The run stops at "strict convergence" (no label changed) or when the
    squared center shift ``sum_j ||c_j - c_j'||^2`` is at most ``tol``
    (already scaled by the data variance); if it stopped otherwise, a last
    E-step makes the labels match the returned centers.

    Returns
    -------
    labels : Tensor of int64, shape (n,)
    inertia : float
    centers : Tensor, shape (k, d)
    n_iter : int
    """
    n, d = X.shape
    k = centers_init.shape[0]
    centers = centers_init
    labels = empty(n, dtype=torch.int64, device=X.device).fill_(-1)
    upper = empty(n, dtype=X.dtype, device=X.device)
    lower = empty(n, dtype=X.dtype, device=X.device)
    sums = torch.zeros((k, d), dtype=torch.float64, device=X.device)
    weight_in_clusters = torch.zeros(k, dtype=torch.float64, device=X.device)
    shift = None
    strict_convergence = False
    for i in range(max_iter):
        n_changed = _assign(
            X, x_sq, w, centers, labels, upper, lower, sums, weight_in_clusters,
            shift=shift, unit_weights=unit_weights, pool=pool,
        )
        if verbose:
            inertia = _inertia(X, w, centers, labels, pool) * weight_scale
            print(f"Iteration {i}, inertia {inertia}.")
        new_sums, new_weights = sums, weight_in_clusters
        relocated = False
        if bool((weight_in_clusters == 0).any()):
            new_sums, new_weights = sums.clone(), weight_in_clusters.clone()
            relocated = _relocate_empty_clusters(
                X, w, key, order, centers, new_sums, new_weights, labels
            )
        centers_new = _average_centers(new_sums, new_weights).to(X.dtype)
        shift = torch.linalg.vector_norm(centers_new - centers, dim=1)
        shift_tot = float((shift * shift).sum())
        centers = centers_new
        if n_changed == 0:
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            # Points just moved to empty clusters (all copies of a point at
            # once, which can empty their old cluster) leave labels that do
            # not match the new centers: the last E-step below fixes them.
            strict_convergence = not relocated
            break
        if shift_tot <= tol:
            if verbose:
                print(
                    f"Converged at iteration {i}: center shift {shift_tot} within "
                    f"tolerance {tol}."
                )
            break
    if not strict_convergence:
        _assign(
            X, x_sq, w, centers, labels, upper, lower, None, None,
            shift=shift, unit_weights=unit_weights, pool=pool,
        )
    return labels, _inertia(X, w, centers, labels, pool) * weight_scale, centers, i + 1


def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether ``labels2`` is a function of ``labels1`` (sklearn's test)."""
    mapping = torch.full((n_clusters,), -1, dtype=labels1.dtype, device=labels1.device)
    mapping.scatter_(0, labels1, labels2)
    return bool(torch.equal(mapping[labels1], labels2))


def _cumsum(x):
    """``torch.cumsum(x, 0)``: a sum in row order. On the CPU for a CUDA ``x``
    under ``torch.use_deterministic_algorithms(True)``, where CUDA's floating
    cumsum raises (it has no deterministic kernel)."""
    if x.is_cuda and torch.are_deterministic_algorithms_enabled():
        return torch.cumsum(x.cpu(), dim=0).to(x.device)
    return torch.cumsum(x, dim=0)


def _weight_sums(labels, w, k):
    """Total weight ``w`` of each of the ``k`` labels, added in row order.

    ``torch.bincount(labels, w)``, by ``index_add_``, which has a deterministic
    CUDA kernel (``bincount`` with weights raises under
    ``torch.use_deterministic_algorithms(True)``).
    """
    return w.new_zeros(k).index_add_(0, labels, w)


def _euclidean_distances(X, centers):
    """Distances ``||x_i - c_j||``, shape ``(n, k)``, in blocks, in float64.

    The product form ``||x||^2 - 2 x.c + ||c||^2`` is evaluated around the
    mean of the centers (dense ``X``) or the origin (CSR ``X``: centring
    would make it dense); where it is too close to the rounding error of a
    dot product of ``d`` terms (a CSR row: as many as its nonzeros) to give
    the distance to about 1e-9 relative (a sample on or next to a center),
    the entry is recomputed from the difference ``x - c``, a bounded number
    of rows at a time. The result is float32 only when both ``X`` and
    ``centers`` are (as sklearn's ``euclidean_distances``).
    """
    sparse = _is_sparse(X)
    n, d = X.shape
    k = centers.shape[0]
    out = empty((n, k), dtype=torch.promote_types(X.dtype, centers.dtype), device=X.device)
    C = centers.to(torch.float64)
    if not sparse:
        origin = C.mean(dim=0)
        C = C - origin
    C_t = transpose_for(X, C)
    c_sq = (C * C).sum(dim=1)
    eps = torch.finfo(torch.float64).eps
    dense_rows = _block_rows(d, torch.float64, X.device)
    # With ||x||^2 and ||c||^2 below 2^1020, ||x||^2 - 2 x.c + ||c||^2 is finite.
    centers_in_range = bool((c_sq < _SQUARES_BOUND).all())

    def block(blk):
        if sparse:
            Xb = _rows(X, blk).to(torch.float64)
            x_sq = _sq_norms(Xb)[:, None]
            terms = Xb.crow_indices().diff().to(torch.float64)[:, None]
        else:
            Xb = scratch("centred", X[blk].shape, dtype=torch.float64, device=X.device)
            torch.sub(X[blk], origin, out=Xb)
            square = scratch("square", Xb.shape, dtype=torch.float64, device=X.device)
            x_sq = torch.mul(Xb, Xb, out=square).sum(dim=1, keepdim=True)
            terms = d
        dist = torch.addmm(c_sq, Xb, C_t, alpha=-2.0, out=_dist_buffer(Xb, k))
        dist += x_sq
        err = (2 * eps) * (terms + 2) * (x_sq + c_sq)
        rows, cols = torch.nonzero(dist < _RECOMPUTE_FACTOR * err, as_tuple=True)
        for part in row_blocks(rows.shape[0], dense_rows):
            diff = _dense_rows(Xb, rows[part]) - C.index_select(0, cols[part])
            dist[rows[part], cols[part]] = (diff * diff).sum(dim=1)
        dist = dist.clamp_min_(0.0).sqrt_()
        if centers_in_range and bool((x_sq < _SQUARES_BOUND).all()):  # no overflow
            out[blk] = dist
            return
        # Squares beyond float64 (values above ~1e154): the distance itself,
        # from the difference scaled by its largest entry, where it exists.
        rows, cols = torch.nonzero(~torch.isfinite(dist), as_tuple=True)
        for part in row_blocks(rows.shape[0], dense_rows):
            diff = _dense_rows(Xb, rows[part]) - C.index_select(0, cols[part])
            top = diff.abs().amax(dim=1, keepdim=True)
            norm = (diff / top).square_().sum(dim=1).sqrt_() * top[:, 0]
            dist[rows[part], cols[part]] = torch.where(top[:, 0] > 0, norm, 0.0)
        out[blk] = dist

    for blk in row_blocks(n, _pass_rows(X, k, torch.float64)):
        block(blk)
    return out


class KMeans(
    TorchEstimatorMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    BaseEstimator,
):
    """K-means clustering (Lloyd's algorithm), computed in PyTorch.

    Minimises the inertia ``sum_i w_i ||x_i - c_{l(i)}||^2``. A drop-in for
    :class:`sklearn.cluster.KMeans`: the same parameters, fitted attributes
    and stopping rules, greedy k-means++ [1]_ seeding, float32 input kept in
    float32. Distances are computed a block of rows at a time, so millions of
    samples fit in memory, on CPU or GPU.

    Initialisation depends only on the weighted *set* of points: fitting with
    integer ``sample_weight`` gives the same clustering, clusters in the same
    order, as fitting on the data with each row repeated that many times, in
    any row order.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form, and of centroids to generate.
    init : {"k-means++", "random"}, callable or array-like of shape \
            (n_clusters, n_features), default="k-means++"
        Method for initialization:

        - ``"k-means++"``: greedy k-means++; each center after the first is the
          best of ``2 + int(log(n_clusters))`` candidates drawn with
          probability proportional to ``sample_weight`` times the squared
          distance to the closest center already chosen.
        - ``"random"``: ``n_clusters`` distinct points drawn with probability
          proportional to ``sample_weight``.
        - An array gives the initial centers.
        - A callable is called as ``init(X, n_clusters, random_state=rng)``
          (``rng`` a :class:`numpy.random.RandomState`) and returns the
          initial centers. As in scikit-learn, a dense ``X`` is passed
          centred on its column means, and the centers returned are taken in
          those centred coordinates.
    n_init : "auto" or int, default="auto"
        Number of runs with different initial centers; the result with the
        lowest inertia is kept. ``"auto"`` means 10 runs with
        ``init="random"`` or a callable, 1 run with ``"k-means++"`` or an
        array (an array with ``n_init != 1`` warns and runs once).
    max_iter : int, default=300
        Maximum number of Lloyd iterations of a single run.
    tol : float, default=1e-4
        Tolerance on the squared center shift, relative to the mean of the
        per-feature variances of ``X`` (not weighted, as in scikit-learn):
        a run stops when
        ``sum_j ||c_j^{new} - c_j^{old}||^2 <= tol * mean(var(X, axis=0))``,
        or earlier when no label changes ("strict convergence").
    verbose : int, default=0
        Print the inertia of each iteration and why a run stopped.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization. An int gives reproducible results.
    copy_x : bool, default=True
        Kept for compatibility with scikit-learn: skmath never modifies ``X``
        (dense data are always centred in a copy; sparse data are not centred).
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        Kept for compatibility with scikit-learn. Both run Lloyd's iterations
        pruned with Hamerly's bounds, which, like Elkan's, give the same
        result as plain Lloyd iterations, on dense and sparse ``X``.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centers. If the run stopped on ``tol`` or
        ``max_iter``, they are not exactly the means of ``labels_``.
    labels_ : ndarray of shape (n_samples,), dtype=int32
        Index of the cluster of each training sample (the closest center).
    inertia_ : float
        Sum of squared distances of the samples to their closest center,
        weighted by ``sample_weight``.
    n_iter_ : int
        Number of iterations of the kept run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : The scikit-learn original.

    Notes
    -----
    Each Lloyd iteration [2]_ assigns every sample to
    ``argmin_j ||c_j||^2 - 2 x.c_j`` (one matrix product per block of rows)
    and moves every center to the weighted mean of its samples. Samples whose
    assignment provably cannot change are skipped with Hamerly's bounds [3]_
    (an upper bound on the distance to the own center, a lower bound on the
    distance to any other, updated by how far the centers moved); the labels
    and centers are those of the plain iteration, which is why later
    iterations cost a fraction of the first. An empty cluster is moved onto
    the point farthest from its center, all copies of that point with it.

    On CPU, passes over the data run a block of rows at a time on
    ``thread_budget()`` threads, with torch itself single-threaded inside
    them; blocks are combined in a fixed order, so results do not depend on
    the number of threads.

    Sparse ``X`` (any SciPy sparse format, converted to CSR) stays sparse on
    the device and is never densified: distances are ``||x||^2 - 2 x.c +
    ||c||^2`` with ``x.c`` a sparse-times-dense product per block of rows,
    the center update is one scatter of the nonzeros into the ``(k, d)``
    cluster sums, and only the few rows that become seeds or relocated
    centers are made dense. Centring would destroy sparsity, so sparse data
    are not centred (as in scikit-learn); the rounding bounds of the product
    form count a row's nonzeros instead of ``d``. From the same initial
    centers the iterations are those of scikit-learn's sparse k-means (both
    ``algorithm`` values), and seeding draws the same points as on the dense
    copy of ``X`` for the same ``random_state``, up to rounding coincidences.

    To make the result depend only on the weighted set of points, the rows
    are ordered by their projection on a fixed direction before seeding, and
    every seeding draw is an inverse-CDF lookup ``searchsorted(cumsum(w D),
    u * total)`` in that order. Random numbers come from a
    :class:`torch.Generator` seeded from ``random_state``, so the centers
    differ from scikit-learn's for the same seed; given the same initial
    centers (``init=`` an array) the iterations are scikit-learn's.

    References
    ----------
    .. [1] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
       seeding", ACM-SIAM Symposium on Discrete Algorithms, 2007.
    .. [2] S. Lloyd, "Least squares quantization in PCM", IEEE Transactions on
       Information Theory 28(2), 1982.
    .. [3] G. Hamerly, "Making k-means even faster", SIAM International
       Conference on Data Mining, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from skmath import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> kmeans = KMeans(n_clusters=2, random_state=0, device="cpu").fit(X)
    >>> sorted(kmeans.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> kmeans.inertia_
    16.0
    >>> bool(kmeans.predict([[0, 0]])[0] == kmeans.labels_[0])
    True
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
        "device": [str, torch.device],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        device="auto",
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.device = device

    def _resolved_n_init(self):
        init_is_array = _is_arraylike_not_scalar(self.init)
        if self.n_init == "auto":
            if init_is_array or (isinstance(self.init, str) and self.init == "k-means++"):
                return 1
            return 10
        if init_is_array and self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one "
                f"init in {type(self).__name__} instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return self.n_init

    def _validate_center_shape(self, X, centers):
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match "
                f"the number of features of the data {X.shape[1]}."
            )

    def _check_test_data(self, X):
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32], order="C"
        )
        return canonical_csr(X)

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure  # a failed (re)fit leaves the fitted model as it was
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (``None``: all ones). Used by
            the seeding ("k-means++", "random") and by the iterations; integer
            weights are equivalent to repeating samples. A negative weight
            raises ``ValueError``, where scikit-learn's fits from an
            explicit ``init`` (see the user guide).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")
        X = canonical_csr(X)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        with np.errstate(over="ignore"):
            total = sample_weight.sum()
        if not total > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        if not np.isfinite(total):
            raise ValueError(
                f"sample_weight sums to inf in {X.dtype}: divide it by a constant; "
                "only the relative weights matter for the clustering."
            )
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. Using "
                "'lloyd' instead.",
                RuntimeWarning,
                stacklevel=2,
            )
        n_init = self._resolved_n_init()
        init = self.init
        if _is_arraylike_not_scalar(init):
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
        rng = check_random_state(self.random_state)
        device = self._resolve_device()
        # Only the built-in inits draw from a torch generator: a callable
        # init gets rng untouched, as in sklearn (the generator's seed takes
        # two draws from rng, and the callable then drew other centers).
        generator = make_generator(rng, device) if isinstance(init, str) else None
        k = self.n_clusters

        # CSR X too: on torch's threads its fit was 6-20% faster on an idle
        # machine, but with another process holding one of two cores every
        # torch operation waited for the descheduled thread (20k x 2k bag of
        # words, k = 10, one block, so one thread on the pool: 0.39 -> 6.9 s,
        # on the pool 0.45 -> 0.46 s; 100k x 20k: 1.16 -> 8.9 s, on the pool
        # 1.23 -> 1.6 s). The same fits.
        with torch_threads(work=self._pass_work(X)), _block_pool(device, _nbytes(X)) as pool:
            Xt = as_tensor(X, device)
            w = as_tensor(sample_weight, device)
            # Weights above 1 are divided by a power of two (exactly: only
            # relative weights shape the clustering; inertia_ is multiplied
            # back): sums of w_i x_i of weights whose total fits overflowed
            # (float64, four weights of 4e307: NaN centers; float32, 5e37:
            # an error blaming X).
            largest, weight_scale = float(w.max()), 1.0
            if largest > 1:
                weight_scale = math.ldexp(1.0, pow2_exponent(largest))
                w = w / weight_scale
            order, key, mean = _canonical_order(Xt, w, pool)
            origin = mean  # where fit compares rows, kept for predict
            unit_weights = bool((w == 1).all())
            if _is_sparse(Xt):
                # Centring would make X dense: sparse X is clustered about the
                # origin, as by sklearn (its mean only enters the variances).
                Xs = Xt
                x_sq, variances = _sparse_moments(Xt, mean)  # tol's: unweighted
                mean = torch.zeros_like(mean, dtype=Xt.dtype)
            else:
                # Distances are more accurate on centred data.
                Xs, x_sq, variances = _centred_copy(Xt, w, mean, pool)
                if not unit_weights:  # the variances are not weighted
                    variances = Xs.var(dim=0, correction=0)
            del Xt  # on GPU, only the centred copy stays in device memory
            _check_squares_finite(bool(torch.isfinite(x_sq).all()), Xs.dtype)
            # sklearn's tolerance ignores sample_weight: tol * mean(var(X)).
            tol = float(variances.mean()) * self.tol if self.tol > 0 else 0.0

            best = None
            for _ in range(n_init):
                centers_init = self._init_centroids(
                    X, Xs, x_sq, w, key, order, init, mean, rng, generator, pool
                )
                if self.verbose:
                    print("Initialization complete")
                labels, inertia, centers, n_iter = _kmeans_single_lloyd(
                    Xs,
                    x_sq,
                    w,
                    key,
                    order,
                    centers_init,
                    max_iter=self.max_iter,
                    tol=tol,
                    verbose=self.verbose,
                    unit_weights=unit_weights,
                    weight_scale=weight_scale,
                    pool=pool,
                )
                # A run replaces the best one only when it is better and is not
                # the same clustering (equal up to rounding, labels permuted).
                if best is None or (
                    inertia < best[1] and not _is_same_clustering(labels, best[0], k)
                ):
                    best = (labels, inertia, centers, n_iter)

            labels, inertia, centers, n_iter = best
            centers = centers + mean

        self.cluster_centers_ = to_numpy(centers)
        self._origin = to_numpy(origin)
        self.labels_ = to_numpy(labels).astype(np.int32)
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self._n_features_out = k
        distinct_clusters = len(np.unique(self.labels_))
        if distinct_clusters < k:
            warnings.warn(
                f"Number of distinct clusters ({distinct_clusters}) found smaller "
                f"than n_clusters ({k}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _init_centroids(self, X, Xs, x_sq, w, key, order, init, mean, rng, generator, pool):
        """Initial centers, in the centred coordinates of ``Xs``."""
        if isinstance(init, str) and init == "k-means++":
            return _kmeans_plusplus(Xs, x_sq, w, order, self.n_clusters, generator, pool)[0]
        if isinstance(init, str) and init == "random":
            return _random_init(Xs, w, key, order, self.n_clusters, generator)
        if callable(init):
            # sklearn's convention: the callable sees X centred on its
            # (unweighted) column means, and returns centers in those
            # coordinates; sparse X is passed as is.
            offset = None if sp.issparse(X) else X.mean(axis=0)
            init = init(X if offset is None else X - offset, self.n_clusters, random_state=rng)
            init = check_array(init, dtype=X.dtype, copy=offset is not None, order="C")
            self._validate_center_shape(X, init)
            if offset is not None:
                init += offset
        return as_tensor(init, Xs.device, dtype=Xs.dtype) - mean

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centers and predict the cluster index of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the closest cluster of each sample in ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        device = self._predict_device()
        # One pass: blocks run in turn on torch's own threads. The block pool
        # that speeds up the fit's repeated passes costs more than it gains
        # here (measured, best of 25: 200k x 32 float64 10.3 ms against 11.7
        # ms with it; 20k x 2k sparse 2.8 ms against 3.6 ms; transform and
        # score alike), and the results are the same bit for bit.
        with torch_threads(work=self._pass_work(X)), workspace():
            Xt = as_tensor(X, device)
            centers = as_tensor(self.cluster_centers_, device, dtype=X.dtype)
            labels = _labels(Xt, centers, self._fit_origin(device))
        return to_numpy(labels).astype(np.int32)

    def _pass_work(self, X):
        """Multiply-adds of one pass of ``X`` against the centers (for
        :func:`~skmath._engine.torch_threads`: small passes run on one thread)."""
        return (X.nnz if sp.issparse(X) else X.size) * self.n_clusters

    def _fit_origin(self, device):
        """The point fit compared rows around (None for models pickled before it was kept)."""
        origin = getattr(self, "_origin", None)
        return None if origin is None else as_tensor(origin, device, dtype=torch.float64)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and transform ``X`` to cluster-distance space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distance of each sample to each cluster center.
        """
        return self.fit(X, sample_weight=sample_weight)._transform(self._check_test_data(X))

    def transform(self, X):
        """Transform ``X`` to a cluster-distance space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distance of each sample to each cluster center.
        """
        check_is_fitted(self)
        return self._transform(self._check_test_data(X))

    def _transform(self, X):
        # One pass, without the block pool (see predict).
        device = self._predict_device()
        with torch_threads(work=self._pass_work(X)), workspace():
            Xt = as_tensor(X, device)
            centers = as_tensor(self.cluster_centers_, device)
            return to_numpy(_euclidean_distances(Xt, centers))

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the value of ``X`` on the k-means objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample.

        Returns
        -------
        score : float
            Minus the weighted sum of squared distances of the samples to
            their closest cluster center.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        device = self._predict_device()
        # Two passes, without the block pool (see predict).
        with torch_threads(work=self._pass_work(X)), workspace():
            Xt = as_tensor(X, device)
            wt = as_tensor(sample_weight, device)
            centers = as_tensor(self.cluster_centers_, device, dtype=X.dtype)
            labels = _labels(Xt, centers, self._fit_origin(device))
            inertia = _inertia(Xt, wt, centers, labels, None)
        return -inertia

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

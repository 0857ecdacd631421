"""K-means clustering in torch: scikit-learn's Lloyd algorithm, weighted and blocked.

The estimator validates its input and then hands tensors to the private
functions below, which assume validated input (as in
``sklearn/cluster/_kmeans.py``):

- :func:`_canonical_order` sorts the rows by a scalar key so that every random
  draw of the initialisation depends only on the weighted *set* of points, not
  on their order or multiplicity;
- :func:`_kmeans_plusplus` and :func:`_random_init` draw the initial centers by
  inverse-CDF sampling in that order;
- :func:`_kmeans_single_lloyd` runs Lloyd's iterations with sklearn's stopping
  rules; :func:`_assign_and_sum` is one blocked E+M pass over the data.

Squared distances use ``||x||^2 - 2 x.c + ||c||^2`` through one matrix product
per block of rows, so memory stays bounded whatever the number of samples.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
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
    _check_sample_weight,
    _is_arraylike_not_scalar,
    check_is_fitted,
    validate_data,
)

from .._engine import TorchEstimatorMixin, as_tensor, make_generator, to_numpy, torch_threads

# Rows per block of the E+M pass on CPU are chosen so that a block of X and its
# distances to the centers stay in cache between the product and the argmin;
# everywhere else (and on GPU) a block is bounded by _BLOCK_BYTES.
_CPU_CACHE_BYTES = 1 << 20
_BLOCK_BYTES = 1 << 28
_MIN_BLOCK_ROWS = 256
# Seed of the fixed direction whose projection orders the rows canonically.
_KEY_SEED = 0


def _block_rows(n_cols, dtype, device, *, cache=False):
    """Rows per block so that a ``(rows, n_cols)`` block fits the memory budget."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    budget = _CPU_CACHE_BYTES if cache and device.type == "cpu" else _BLOCK_BYTES
    return max(_MIN_BLOCK_ROWS, budget // (max(n_cols, 1) * itemsize))


def _row_blocks(n_rows, block_rows):
    """Slices covering ``range(n_rows)`` in blocks of ``block_rows`` rows."""
    for start in range(0, n_rows, block_rows):
        yield slice(start, min(start + block_rows, n_rows))


def _row_norms_sq(X):
    """Squared Euclidean norm of each row, shape ``(n,)``, computed in blocks."""
    out = X.new_empty(X.shape[0])
    for blk in _row_blocks(X.shape[0], _block_rows(X.shape[1], X.dtype, X.device)):
        Xb = X[blk]
        torch.sum(Xb * Xb, dim=1, out=out[blk])
    return out


def _weighted_column_stats(X, w):
    """Weighted mean and variance of each column of ``X``.

    Returns ``mean, var`` (shape ``(d,)``) with ``mean = sum_i w_i x_i / W`` and
    ``var = sum_i w_i (x_i - mean)^2 / W``, ``W = sum_i w_i``; with unit
    weights these are NumPy's ``mean`` and ``var`` (population variance).
    """
    w_sum = w.sum()
    mean = (w @ X) / w_sum
    sq = torch.zeros_like(mean)
    for blk in _row_blocks(X.shape[0], _block_rows(X.shape[1], X.dtype, X.device)):
        diff = X[blk] - mean
        sq += w[blk] @ (diff * diff)
    return mean, sq / w_sum


def _canonical_order(X):
    """Order the rows of ``X`` by their projection on a fixed direction.

    The key ``x @ v`` (``v`` a fixed pseudo-random unit vector, float64) is a
    function of the row's values only, so identical rows get identical keys and
    sit next to each other once sorted, and two distinct rows tie only by a
    rounding coincidence. Sorting one scalar per row costs ``O(n d + n log n)``
    instead of a lexicographic sort's ``O(n d log n)``.

    Returns
    -------
    order : Tensor of int64, shape (n,)
        Row indices in canonical order.
    key : Tensor of float64, shape (n,)
        The keys, in canonical (ascending) order.
    """
    generator = torch.Generator().manual_seed(_KEY_SEED)
    v = torch.randn(X.shape[1], generator=generator, dtype=torch.float64)
    v = (v / v.norm()).to(X.device)
    key = torch.empty(X.shape[0], dtype=torch.float64, device=X.device)
    for blk in _row_blocks(X.shape[0], _block_rows(X.shape[1], torch.float64, X.device)):
        # An elementwise product and a row sum (not a BLAS gemv) so that the key
        # of a row never depends on where the row sits in X.
        torch.sum(X[blk].to(torch.float64) * v, dim=1, out=key[blk])
    key, order = torch.sort(key, stable=True)
    return order, key


def _inverse_cdf_draw(mass, u, fallback):
    """Indices ``i`` drawn with probability ``mass[i] / mass.sum()``.

    ``searchsorted(cumsum(mass), u * total, right=True)``: a row that appears
    ``c`` times in a row of equal keys acts exactly as one row of mass ``c``
    times larger, and a row of zero mass is never drawn. When the total mass is
    zero (fewer distinct points than draws), ``fallback`` is returned.

    Parameters
    ----------
    mass : Tensor, shape (n,)
        Non-negative masses, in canonical order.
    u : Tensor of float64, shape (m,)
        Uniform draws in ``[0, 1)``.
    fallback : Tensor of int64, shape ()
        Index used when ``mass`` sums to zero.
    """
    cumulative = torch.cumsum(mass, dim=0, dtype=torch.float64)
    total = cumulative[-1]
    index = torch.searchsorted(cumulative, u * total, right=True)
    index.clamp_(max=mass.shape[0] - 1)
    return torch.where(total > 0, index, fallback)


def _sq_distances(A, X, x_sq):
    """Squared distances ``||a_j - x_i||^2``, shape ``(len(A), n)``, clamped at 0."""
    a_sq = (A * A).sum(dim=1, keepdim=True)
    dist = torch.addmm(x_sq, A, X.T, alpha=-2.0)
    dist += a_sq
    return dist.clamp_min_(0.0)


def _kmeans_plusplus(X, x_sq, w, n_clusters, generator, n_local_trials=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007), sklearn's variant.

    The first center is drawn with probability ``w_i / sum(w)``; each next one
    is the best, by weighted potential ``sum_i w_i min(D_i, d(x_i, c))^2``, of
    ``n_local_trials = 2 + int(log(k))`` candidates drawn with probability
    ``w_i D_i^2 / sum_j w_j D_j^2``, ``D_i`` being the distance of ``x_i`` to
    its closest chosen center. Draws are inverse-CDF in canonical order (see
    :func:`_inverse_cdf_draw`).

    Parameters
    ----------
    X : Tensor, shape (n, d)
        Data in canonical order.
    x_sq : Tensor, shape (n,)
        Squared row norms of ``X``.
    w : Tensor, shape (n,)
        Sample weights.
    n_clusters : int
    generator : torch.Generator
    n_local_trials : int, default=None

    Returns
    -------
    centers : Tensor, shape (n_clusters, d)
    indices : Tensor of int64, shape (n_clusters,)
    """
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    fallback = torch.argmax((w > 0).to(torch.uint8))
    u = torch.rand(
        1 + (n_clusters - 1) * n_local_trials,
        generator=generator,
        dtype=torch.float64,
        device=X.device,
    )
    indices = torch.empty(n_clusters, dtype=torch.int64, device=X.device)
    first = _inverse_cdf_draw(w, u[:1], fallback)
    indices[:1] = first
    closest = _sq_distances(X[first], X, x_sq)[0]
    for c in range(1, n_clusters):
        draws = u[1 + (c - 1) * n_local_trials : 1 + c * n_local_trials]
        candidates = _inverse_cdf_draw(w * closest, draws, fallback)
        dist = _sq_distances(X[candidates], X, x_sq)
        torch.minimum(dist, closest, out=dist)
        best = torch.argmin(dist @ w)
        closest = dist[best]
        indices[c] = candidates[best]
    return X[indices], indices


def _random_init(X, w, key, n_clusters, generator):
    """``n_clusters`` distinct points drawn with probability proportional to weight.

    After each draw every row identical to the chosen one (same canonical key)
    gets mass zero, so the centers are distinct points and a point repeated
    ``c`` times is as likely as one point of weight ``c``.
    """
    mass = w.clone()
    fallback = torch.argmax((w > 0).to(torch.uint8))
    u = torch.rand(n_clusters, generator=generator, dtype=torch.float64, device=X.device)
    indices = torch.empty(n_clusters, dtype=torch.int64, device=X.device)
    for c in range(n_clusters):
        index = _inverse_cdf_draw(mass, u[c : c + 1], fallback)
        indices[c : c + 1] = index
        mass.masked_fill_(key == key[index], 0.0)
    return X[indices]


def _labels(X, centers, out=None):
    """Index of the closest center of each row (first one on ties), in blocks.

    Uses ``argmin_j ||c_j||^2 - 2 x.c_j``, as sklearn's Lloyd iteration does.
    """
    n, d = X.shape
    if out is None:
        out = torch.empty(n, dtype=torch.int64, device=X.device)
    c_sq = (centers * centers).sum(dim=1)
    rows = _block_rows(d + centers.shape[0], X.dtype, X.device, cache=True)
    for blk in _row_blocks(n, rows):
        torch.argmin(torch.addmm(c_sq, X[blk], centers.T, alpha=-2.0), dim=1, out=out[blk])
    return out


def _assign_and_sum(X, w, centers, labels, unit_weights):
    """One E+M pass of Lloyd's algorithm over blocks of rows.

    Writes the closest center of each row into ``labels`` and returns the
    weighted sums of the rows of each cluster and the cluster weights.

    Returns
    -------
    sums : Tensor, shape (k, d)
        ``sum_{i in cluster j} w_i x_i``.
    weight_in_clusters : Tensor, shape (k,)
        ``sum_{i in cluster j} w_i``.
    """
    n, d = X.shape
    k = centers.shape[0]
    c_sq = (centers * centers).sum(dim=1)
    sums = torch.zeros_like(centers)
    rows = _block_rows(d + k, X.dtype, X.device, cache=True)
    for blk in _row_blocks(n, rows):
        Xb = X[blk]
        lab = labels[blk]
        torch.argmin(torch.addmm(c_sq, Xb, centers.T, alpha=-2.0), dim=1, out=lab)
        # Each block is summed on its own before being added: shorter
        # accumulation chains (float32 in particular).
        part = torch.zeros_like(centers)
        part.index_add_(0, lab, Xb if unit_weights else Xb * w[blk, None])
        sums += part
    weight_in_clusters = torch.bincount(labels, weights=w, minlength=k).to(X.dtype)
    return sums, weight_in_clusters


def _inertia(X, w, centers, labels):
    """``sum_i w_i ||x_i - c_{labels_i}||^2`` with direct differences, in blocks."""
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for blk in _row_blocks(X.shape[0], _block_rows(X.shape[1], X.dtype, X.device)):
        diff = X[blk] - centers[labels[blk]]
        total += ((diff * diff).sum(dim=1) @ w[blk]).to(torch.float64)
    return total


def _relocate_empty_clusters(X, w, key, centers_old, sums, weight_in_clusters, labels):
    """Move each empty cluster onto the farthest point, as sklearn does.

    For each empty cluster (ascending index), the point farthest from its
    assigned (old) center becomes the cluster, with all its weight: every row
    identical to it (same canonical key) is moved, so a point repeated ``c``
    times behaves as one row of weight ``c``. Rows of zero weight are not
    points. Ties between equally far points go to the first in canonical order,
    so the result is deterministic. Labels are left unchanged, as in sklearn.
    ``sums`` and ``weight_in_clusters`` are updated in place.
    """
    empty = torch.nonzero(weight_in_clusters == 0).flatten().tolist()
    dist = torch.empty(X.shape[0], dtype=X.dtype, device=X.device)
    for blk in _row_blocks(X.shape[0], _block_rows(X.shape[1], X.dtype, X.device)):
        diff = X[blk] - centers_old[labels[blk]]
        torch.sum(diff * diff, dim=1, out=dist[blk])
    dist.masked_fill_(w == 0, -1.0)
    if not bool(dist.max() > 0):
        # More clusters than distinct points: relocating is pointless.
        return
    for cluster in empty:
        far = torch.argmax(dist)
        if not bool(dist[far] >= 0):
            break
        copies = key == key[far]
        w_copies = w[copies]
        moved = w_copies[:, None] * X[copies]
        sums.index_add_(0, labels[copies], -moved)
        weight_in_clusters.index_add_(0, labels[copies], -w_copies)
        sums[cluster] = moved.sum(dim=0)
        weight_in_clusters[cluster] = w_copies.sum()
        dist.masked_fill_(copies, -1.0)


def _average_centers(sums, weight_in_clusters):
    """Weighted means; an empty cluster is put at the largest cluster's center."""
    nonempty = weight_in_clusters > 0
    denom = torch.where(nonempty, weight_in_clusters, 1.0)
    centers = sums / denom[:, None]
    largest = centers[torch.argmax(weight_in_clusters)]
    return torch.where(nonempty[:, None], centers, largest)


def _kmeans_single_lloyd(X, w, key, centers_init, *, max_iter, tol, verbose, unit_weights):
    """One run of Lloyd's algorithm, with sklearn's stopping rules.

    Stops at "strict convergence" (labels unchanged from the previous
    iteration) or when the squared center shift ``sum_j ||c_j - c_j'||^2`` is
    at most ``tol`` (already scaled by the data variance); if it stopped
    otherwise, a last E-step makes the labels match the returned centers.

    Returns
    -------
    labels : Tensor of int64, shape (n,)
    inertia : float
    centers : Tensor, shape (k, d)
    n_iter : int
    """
    n = X.shape[0]
    centers = centers_init
    labels = torch.full((n,), -1, dtype=torch.int64, device=X.device)
    labels_old = labels.clone()
    strict_convergence = False
    for i in range(max_iter):
        sums, weight_in_clusters = _assign_and_sum(X, w, centers, labels, unit_weights)
        if verbose:
            print(f"Iteration {i}, inertia {float(_inertia(X, w, centers, labels))}.")
        if bool((weight_in_clusters == 0).any()):
            _relocate_empty_clusters(X, w, key, centers, sums, weight_in_clusters, labels)
        centers_new = _average_centers(sums, weight_in_clusters)
        shift = float(((centers_new - centers) ** 2).sum())
        centers = centers_new
        if torch.equal(labels, labels_old):
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            strict_convergence = True
            break
        if shift <= tol:
            if verbose:
                print(
                    f"Converged at iteration {i}: center shift {shift} within "
                    f"tolerance {tol}."
                )
            break
        labels, labels_old = labels_old, labels
    if not strict_convergence:
        _labels(X, centers, out=labels)
    return labels, float(_inertia(X, w, centers, labels)), centers, i + 1


def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether ``labels2`` is a function of ``labels1`` (sklearn's test)."""
    mapping = torch.full((n_clusters,), -1, dtype=labels1.dtype, device=labels1.device)
    mapping.scatter_(0, labels1, labels2)
    return bool(torch.equal(mapping[labels1], labels2))


def _euclidean_distances(X, centers):
    """Distances ``||x_i - c_j||``, shape ``(n, k)``, in blocks.

    float32 blocks are computed in float64 (as sklearn's ``euclidean_distances``
    does) and returned in float32.
    """
    n, d = X.shape
    k = centers.shape[0]
    out = X.new_empty((n, k))
    C = centers.to(torch.float64)
    c_sq = (C * C).sum(dim=1)
    for blk in _row_blocks(n, _block_rows(d + k, torch.float64, X.device)):
        Xb = X[blk].to(torch.float64)
        dist = torch.addmm(c_sq, Xb, C.T, alpha=-2.0)
        dist += (Xb * Xb).sum(dim=1, keepdim=True)
        out[blk] = dist.clamp_min_(0.0).sqrt_()
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
    :class:`sklearn.cluster.KMeans` with ``algorithm="lloyd"``: the same
    parameters, fitted attributes and stopping rules; greedy k-means++ seeding;
    float32 input is kept in float32. Distances are computed a block of rows
    at a time, so millions of samples fit in memory, on CPU or GPU.

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
          initial centers.
    n_init : "auto" or int, default="auto"
        Number of runs with different initial centers; the result with the
        lowest inertia is kept. ``"auto"`` means 10 runs with
        ``init="random"`` or a callable, 1 run with ``"k-means++"`` or an
        array (an array with ``n_init != 1`` warns and runs once).
    max_iter : int, default=300
        Maximum number of Lloyd iterations of a single run.
    tol : float, default=1e-4
        Tolerance on the squared center shift, relative to the mean of the
        (weighted) per-feature variances of ``X``: a run stops when
        ``sum_j ||c_j^{new} - c_j^{old}||^2 <= tol * mean(var(X, axis=0))``,
        or earlier when no label changes ("strict convergence").
    verbose : int, default=0
        Print the inertia of each iteration and why a run stopped.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization. An int gives reproducible results.
    copy_x : bool, default=True
        Kept for compatibility with scikit-learn: skmath never modifies ``X``
        (the data are always centred in a copy).
    device : str, default="auto"
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
    Each Lloyd iteration assigns every sample to
    ``argmin_j ||c_j||^2 - 2 x.c_j`` (one matrix product per block of rows)
    and moves every center to the weighted mean of its samples. An empty
    cluster is moved onto the point farthest from its center, all copies of
    that point with it.

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
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training instances to cluster.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (``None``: all ones). Used by
            the seeding ("k-means++", "random") and by the iterations; integer
            weights are equivalent to repeating samples.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C")
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        n_init = self._resolved_n_init()
        init = self.init
        if _is_arraylike_not_scalar(init):
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
        rng = check_random_state(self.random_state)
        device = self._resolve_device()
        generator = make_generator(rng, device)
        k = self.n_clusters

        with torch_threads():
            Xt = as_tensor(X, device)
            wt = as_tensor(sample_weight, device)
            order, key = _canonical_order(Xt)
            w = wt[order]
            mean, variances = _weighted_column_stats(Xt, wt)
            # Centred copy of X in canonical order: distances are more accurate
            # on centred data, and the seeding reads the rows in this order.
            Xs = Xt[order]
            Xs -= mean
            tol = float(variances.mean()) * self.tol if self.tol > 0 else 0.0
            unit_weights = bool((w == 1).all())
            x_sq = _row_norms_sq(Xs) if isinstance(init, str) and init == "k-means++" else None

            best = None
            for _ in range(n_init):
                centers_init = self._init_centroids(X, Xs, x_sq, w, key, init, mean, rng, generator)
                if self.verbose:
                    print("Initialization complete")
                labels, inertia, centers, n_iter = _kmeans_single_lloyd(
                    Xs,
                    w,
                    key,
                    centers_init,
                    max_iter=self.max_iter,
                    tol=tol,
                    verbose=self.verbose,
                    unit_weights=unit_weights,
                )
                # A run replaces the best one only when it is better and is not
                # the same clustering (equal up to rounding, labels permuted).
                if best is None or (
                    inertia < best[1] and not _is_same_clustering(labels, best[0], k)
                ):
                    best = (labels, inertia, centers, n_iter)

            labels, inertia, centers, n_iter = best
            labels_ = torch.empty_like(labels)
            labels_[order] = labels
            centers = centers + mean

        self.cluster_centers_ = to_numpy(centers)
        self.labels_ = to_numpy(labels_).astype(np.int32)
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

    def _init_centroids(self, X, Xs, x_sq, w, key, init, mean, rng, generator):
        """Initial centers, in the centred coordinates of ``Xs``."""
        if isinstance(init, str) and init == "k-means++":
            return _kmeans_plusplus(Xs, x_sq, w, self.n_clusters, generator)[0]
        if isinstance(init, str) and init == "random":
            return _random_init(Xs, w, key, self.n_clusters, generator)
        if callable(init):
            init = init(X, self.n_clusters, random_state=rng)
            init = check_array(init, dtype=X.dtype, copy=False, order="C")
            self._validate_center_shape(X, init)
        return as_tensor(init, Xs.device, dtype=Xs.dtype) - mean

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centers and predict the cluster index of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
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
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        device = self._predict_device()
        with torch_threads():
            Xt = as_tensor(X, device)
            centers = as_tensor(self.cluster_centers_, device, dtype=X.dtype)
            labels = _labels(Xt, centers)
        return to_numpy(labels).astype(np.int32)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and transform ``X`` to cluster-distance space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
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
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distance of each sample to each cluster center.
        """
        check_is_fitted(self)
        return self._transform(self._check_test_data(X))

    def _transform(self, X):
        device = self._predict_device()
        with torch_threads():
            Xt = as_tensor(X, device)
            centers = as_tensor(self.cluster_centers_, device)
            return to_numpy(_euclidean_distances(Xt, centers))

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the value of ``X`` on the k-means objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
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
        with torch_threads():
            Xt = as_tensor(X, device)
            wt = as_tensor(sample_weight, device)
            centers = as_tensor(self.cluster_centers_, device, dtype=X.dtype)
            inertia = _inertia(Xt, wt, centers, _labels(Xt, centers))
        return -float(inertia)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

import inspect
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import cluster as sk
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.metrics import euclidean_distances
from sklearn.preprocessing import StandardScaler
from sklearn.utils import shuffle

import skmath._engine._core as engine_core
import skmath.cluster._kmeans as kmeans_module
from skmath import KMeans

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _blobs(n=600, d=5, centers=6, std=2.5, seed=0, dtype=np.float64):
    X, _ = make_blobs(n, d, centers=centers, cluster_std=std, random_state=seed)
    return X.astype(dtype)


def _init_rows(X, k, seed):
    return X[np.random.RandomState(seed).choice(len(X), k, replace=False)]


def _assert_same_fit(ours, ref, rtol=1e-10):
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=rtol)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=rtol)
    assert ours.n_iter_ == ref.n_iter_


# ---------------------------------------------------------------- equal to sklearn


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_iter, tol", [(300, 1e-4), (300, 0.0), (3, 1e-4), (300, 1e-1)])
def test_lloyd_matches_sklearn_from_same_init(seed, max_iter, tol):
    # Same initial centers: labels, centers, inertia and n_iter_ are sklearn's lloyd's.
    X = _blobs(seed=seed)
    init = _init_rows(X, 6, seed)
    kw = dict(init=init, n_init=1, max_iter=max_iter, tol=tol)
    ours = KMeans(6, device="cpu", **kw).fit(X)
    ref = sk.KMeans(6, **kw).fit(X)
    _assert_same_fit(ours, ref)
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("loader", [load_iris, load_wine])
def test_lloyd_matches_sklearn_on_real_data_from_same_init(loader):
    # Standardised iris and wine, k-means++ centers from sklearn as the shared init.
    X = StandardScaler().fit_transform(loader().data)
    for seed in range(3):
        init, _ = sk.kmeans_plusplus(X, 4, random_state=seed)
        ours = KMeans(4, init=init, device="cpu").fit(X)
        _assert_same_fit(ours, sk.KMeans(4, init=init, n_init=1).fit(X))


@pytest.mark.parametrize("tol", [0.0, 1e-4, 1e-2])
def test_lloyd_matches_sklearn_with_sample_weight(tol):
    # Weighted iterations equal sklearn's, whose tolerance scales with the
    # unweighted variances (skewed weights make the two scalings differ).
    X = _blobs(seed=3)
    w = np.random.RandomState(0).uniform(0.1, 3.0, len(X))
    # Weight on one blob: weighted variance far below the unweighted.
    w[np.linalg.norm(X - X[0], axis=1) > 4] *= 1e-3
    init = _init_rows(X, 6, 3)
    ours = KMeans(6, init=init, tol=tol, device="cpu").fit(X, sample_weight=w)
    ref = sk.KMeans(6, init=init, n_init=1, tol=tol).fit(X, sample_weight=w)
    _assert_same_fit(ours, ref)
    assert_allclose(ours.score(X, sample_weight=w), ref.score(X, sample_weight=w), rtol=1e-10)


def test_lloyd_matches_sklearn_in_float32():
    # float32 data stay float32 and follow sklearn's float32 iterations.
    X = _blobs(seed=4, dtype=np.float32)
    init = _init_rows(X, 6, 4)
    ours = KMeans(6, init=init, device="cpu").fit(X)
    ref = sk.KMeans(6, init=init, n_init=1).fit(X)
    assert ours.cluster_centers_.dtype == np.float32
    assert ours.transform(X).dtype == np.float32
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-5)


def test_empty_cluster_relocated_like_sklearn():
    # A center far from every point is emptied, then moved onto the farthest point, as in sklearn.
    X = _blobs(n=300, d=3, centers=4, seed=5)
    init = _init_rows(X, 5, 5)
    init[2] = 1e3
    ours = KMeans(5, init=init, device="cpu").fit(X)
    ref = sk.KMeans(5, init=init, n_init=1).fit(X)
    _assert_same_fit(ours, ref)
    assert len(np.unique(ours.labels_)) == 5


@pytest.mark.parametrize("sparse", [False, True])
def test_cluster_emptied_by_relocation_goes_to_the_largest_center(sparse):
    # Relocation moves both copies of 0 (weights 0.1 + 0.2, which do not cancel exactly)
    # out of cluster 0: it is empty and goes to the largest cluster's center, 10.
    X = np.array([[0.0], [0.0], [10.0]])
    w = np.array([0.1, 0.2, 1.0])
    init = np.array([[3.0], [10.0], [100.0]])
    X = sp.csr_matrix(X) if sparse else X
    one = KMeans(3, init=init, max_iter=1, tol=0, device="cpu").fit(X, sample_weight=w)
    assert_array_equal(one.cluster_centers_, [[10.0], [10.0], [0.0]])
    full = KMeans(3, init=init, tol=0, device="cpu").fit(X, sample_weight=w)
    assert_array_equal(full.cluster_centers_, [[10.0], [10.0], [0.0]])
    assert full.inertia_ == 0.0 and full.n_iter_ == 2


def test_transform_score_and_fit_methods_agree():
    # transform = distances to the centers; score = -inertia; fit_* = fit then method.
    X = _blobs(seed=6)
    km = KMeans(6, random_state=0, device="cpu").fit(X)
    assert_allclose(km.transform(X), euclidean_distances(X, km.cluster_centers_), rtol=1e-10)
    assert_allclose(km.score(X), -km.inertia_, rtol=1e-10)
    assert_array_equal(km.predict(X), km.labels_)
    fresh = KMeans(6, random_state=0, device="cpu")
    assert_array_equal(fresh.fit_predict(X), km.labels_)
    assert_allclose(fresh.fit_transform(X), km.transform(X))
    assert km.labels_.dtype == np.int32
    assert_array_equal(km.get_feature_names_out(), [f"kmeans{i}" for i in range(6)])


@pytest.mark.parametrize("fit_dtype, new_dtype", [(np.float64, np.float32), (np.float32, np.float64)])
def test_transform_of_mixed_dtypes_is_float64_like_sklearn(fit_dtype, new_dtype):
    # A float64 model (or float64 data) gives float64 distances, as sklearn's
    # euclidean_distances: float32 data must not round float64 centers' distances.
    X = _blobs(seed=7)
    init = _init_rows(X, 6, 0)
    ours = KMeans(6, init=init, n_init=1, device="cpu").fit(X.astype(fit_dtype))
    ref = sk.KMeans(6, init=init, n_init=1).fit(X.astype(fit_dtype))
    Xn = X.astype(new_dtype)
    assert ours.transform(Xn).dtype == ref.transform(Xn).dtype == np.float64
    expected = euclidean_distances(Xn.astype(np.float64), ours.cluster_centers_.astype(np.float64))
    assert_allclose(ours.transform(Xn), expected, rtol=1e-12)


# ---------------------------------------------------------------- quality


@pytest.mark.parametrize(
    "name, X, k, inits",
    [
        ("iris", load_iris().data, 3, ["k-means++", "random"]),
        ("wine", StandardScaler().fit_transform(load_wine().data), 3, ["k-means++", "random"]),
        ("digits", load_digits().data, 10, ["k-means++"]),
    ],
)
def test_inertia_not_worse_than_sklearn(name, X, k, inits):
    # Best of n_init=10, seeds 0-4: iris/wine per seed, digits on the seed average.
    for init in inits:
        ours = [
            KMeans(k, init=init, n_init=10, random_state=s, device="cpu").fit(X).inertia_
            for s in range(5)
        ]
        ref = [sk.KMeans(k, init=init, n_init=10, random_state=s).fit(X).inertia_ for s in range(5)]
        if name == "digits":
            assert np.mean(ours) <= np.mean(ref) * (1 + 1e-6)
        else:
            assert np.all(np.array(ours) <= np.array(ref) * (1 + 1e-6))


def test_kmeans_plusplus_beats_random_single_init():
    # Greedy k-means++ seeding gives a lower initial inertia than random seeding, on average.
    X = load_digits().data
    plus = [KMeans(10, max_iter=1, random_state=s, device="cpu").fit(X).inertia_ for s in range(5)]
    rand = [
        KMeans(10, init="random", n_init=1, max_iter=1, random_state=s, device="cpu")
        .fit(X)
        .inertia_
        for s in range(5)
    ]
    assert np.mean(plus) < np.mean(rand)


# ---------------------------------------------------------------- weights, order, determinism


@pytest.mark.parametrize("init, n_init", [("k-means++", 1), ("k-means++", 3), ("random", 2)])
def test_integer_weights_equal_repetition(init, n_init):
    # Integer weights (zeros included) == rows repeated, in any order; same cluster order.
    rng = np.random.RandomState(1)
    X = _blobs(n=80, d=4, centers=5, seed=7)
    w = rng.randint(0, 4, len(X))
    X_rep = shuffle(X.repeat(w, axis=0), random_state=2)
    X_w, w_w = shuffle(X, w, random_state=3)
    kw = dict(init=init, n_init=n_init, random_state=0, device="cpu")
    rep = KMeans(5, **kw).fit(X_rep)
    wtd = KMeans(5, **kw).fit(X_w, sample_weight=w_w)
    assert_allclose(wtd.cluster_centers_, rep.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert_allclose(wtd.inertia_, rep.inertia_, rtol=1e-10)
    assert wtd.n_iter_ == rep.n_iter_
    assert_array_equal(wtd.predict(X), rep.predict(X))


@pytest.mark.parametrize("seed", range(6))
def test_integer_weights_equal_repetition_on_integer_data(seed):
    # Integer-valued data (exact distance ties, duplicates, k > distinct points at times):
    # weights == repetition, and predict(X) == labels_.
    rng = np.random.RandomState(seed)
    X = np.round(rng.randn(rng.randint(20, 120), rng.randint(1, 6)) * 2)
    w = rng.randint(0, 4, len(X))
    w[0] = 1
    X_rep = shuffle(X.repeat(w, axis=0), random_state=seed)
    X_w, w_w = shuffle(X, w, random_state=seed + 1)
    for init, n_init in [("k-means++", 2), ("random", 2)]:
        kw = dict(n_clusters=8, init=init, n_init=n_init, random_state=seed, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            rep = KMeans(**kw).fit(X_rep)
            wtd = KMeans(**kw).fit(X_w, sample_weight=w_w)
        assert_allclose(wtd.transform(X), rep.transform(X), rtol=1e-7, atol=1e-9)
        assert_array_equal(wtd.predict(X), rep.predict(X))
        assert_array_equal(rep.predict(X_rep), rep.labels_)


def test_transform_is_accurate_next_to_the_centers():
    # Distances of points on or next to a center are exact, not the product form's rounding.
    X = _blobs(n=50, d=30, centers=3, seed=21) + 100.0
    km = KMeans(3, random_state=0, device="cpu").fit(X)
    assert_allclose(np.diag(km.transform(km.cluster_centers_)), 0.0, atol=1e-12)
    delta = np.random.RandomState(0).randn(3, 30) * 1e-7
    near = km.cluster_centers_ + delta
    assert_allclose(np.diag(km.transform(near)), np.linalg.norm(delta, axis=1), rtol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("scale", [1e160, 1e300])
def test_transform_beyond_the_square_range(scale, sparse):
    # Rows beyond ~1e154 have squared distances past float64: transform gave
    # inf (as sklearn's euclidean_distances does) though the distances exist;
    # predict and score refuse such rows with a clear error instead.
    X = _blobs(n=40, d=4, centers=3, seed=3)
    km = KMeans(3, random_state=0, device="cpu").fit(X)
    big = X * scale
    expected = np.linalg.norm(big[:, None, :] / scale - km.cluster_centers_ / scale, axis=2)
    ours = km.transform(sp.csr_matrix(big) if sparse else big)
    assert_allclose(ours / scale, expected, rtol=1e-13)
    with pytest.raises(ValueError, match="overflow"):
        km.predict(big)


def test_zero_weight_equals_removal():
    # Rows of weight zero are ignored by seeding and iterations.
    X = _blobs(n=200, seed=8)
    w = np.ones(len(X))
    w[::3] = 0
    a = KMeans(6, random_state=0, device="cpu").fit(X, sample_weight=w)
    b = KMeans(6, random_state=0, device="cpu").fit(X[w > 0])
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert_allclose(a.inertia_, b.inertia_, rtol=1e-10)


def test_row_order_does_not_matter():
    # Permuting the rows permutes labels_ and leaves the centers (and their order) unchanged.
    X = _blobs(seed=9)
    perm = np.random.RandomState(0).permutation(len(X))
    for init in ["k-means++", "random"]:
        a = KMeans(6, init=init, random_state=0, device="cpu").fit(X)
        b = KMeans(6, init=init, random_state=0, device="cpu").fit(X[perm])
        assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10, atol=1e-12)
        assert_array_equal(a.labels_[perm], b.labels_)


def test_same_seed_is_bit_identical_and_seeds_differ():
    # Same random_state: bit-identical fit; other seeds give other initialisations.
    X = _blobs(n=1000, d=6, centers=12, std=4.0, seed=10)
    a = KMeans(12, init="random", random_state=3, device="cpu").fit(X)
    b = KMeans(12, init="random", random_state=3, device="cpu").fit(X)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    c = KMeans(12, init="random", n_init=1, max_iter=1, random_state=4, device="cpu").fit(X)
    d = KMeans(12, init="random", n_init=1, max_iter=1, random_state=3, device="cpu").fit(X)
    assert not np.array_equal(c.cluster_centers_, d.cluster_centers_)


def test_result_does_not_depend_on_thread_count(monkeypatch):
    # Blocks are summed in a fixed order: one thread and two threads give bit-identical fits.
    X = _blobs(n=20000, d=8, centers=10, std=4.0, seed=11)
    monkeypatch.setattr(engine_core, "CPU_BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(kmeans_module, "CPU_BLOCK_BYTES", 1 << 14)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    a = KMeans(10, random_state=0, device="cpu").fit(X)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    b = KMeans(10, random_state=0, device="cpu").fit(X)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert_array_equal(a.labels_, b.labels_)


# ---------------------------------------------------------------- internals


def test_small_blocks_give_the_same_fit(monkeypatch):
    # Many tiny blocks (as with millions of rows) give the same result as few large ones.
    X = _blobs(n=3000, d=7, centers=9, std=3.0, seed=12)
    a = KMeans(9, random_state=0, device="cpu").fit(X)
    monkeypatch.setattr(engine_core, "CPU_BLOCK_BYTES", 1)
    monkeypatch.setattr(engine_core, "GPU_BLOCK_BYTES", 1)
    monkeypatch.setattr(kmeans_module, "CPU_BLOCK_BYTES", 1)
    monkeypatch.setattr(kmeans_module, "_MIN_BLOCK_ROWS", 37)
    b = KMeans(9, random_state=0, device="cpu").fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10)
    assert a.n_iter_ == b.n_iter_
    assert_allclose(b.transform(X), a.transform(X), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_pruned_iterations_equal_full_lloyd(monkeypatch, dtype, weighted):
    # Hamerly's bounds only skip work: labels, n_iter_ are those of recomputing every distance.
    X = load_digits().data.astype(dtype)
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(X)) if weighted else None
    # Pruning is on from the first row here (by default, only from _MIN_PRUNE_ROWS).
    monkeypatch.setattr(kmeans_module, "_MIN_PRUNE_ROWS", 0)
    pruned = KMeans(10, random_state=1, device="cpu").fit(X, sample_weight=w)
    assign = kmeans_module._assign
    calls = []

    def full_assign(*args, shift, **kwargs):
        calls.append(shift is not None)
        return assign(*args, shift=None, **kwargs)

    monkeypatch.setattr(kmeans_module, "_assign", full_assign)
    full = KMeans(10, random_state=1, device="cpu").fit(X, sample_weight=w)
    assert sum(calls) > 5  # iterations that could have been pruned were not
    assert_array_equal(pruned.labels_, full.labels_)
    assert pruned.n_iter_ == full.n_iter_
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert_allclose(pruned.cluster_centers_, full.cluster_centers_, rtol=rtol, atol=rtol)


def test_small_data_takes_full_passes_with_the_same_result(monkeypatch):
    # Below _MIN_PRUNE_ROWS rows every iteration recomputes all distances
    # (cheaper there than maintaining bounds); the result is the pruned one.
    X = _blobs(n=900)
    assert X.shape[0] < kmeans_module._MIN_PRUNE_ROWS
    pruned_pass, calls = kmeans_module._pruned_pass, []

    def counted(*args, **kwargs):
        calls.append(1)
        return pruned_pass(*args, **kwargs)

    monkeypatch.setattr(kmeans_module, "_pruned_pass", counted)
    default = KMeans(6, random_state=0, device="cpu").fit(X)
    assert not calls
    monkeypatch.setattr(kmeans_module, "_MIN_PRUNE_ROWS", 0)
    pruned = KMeans(6, random_state=0, device="cpu").fit(X)
    assert calls
    assert_array_equal(default.labels_, pruned.labels_)
    assert default.n_iter_ == pruned.n_iter_
    assert_allclose(default.cluster_centers_, pruned.cluster_centers_, rtol=1e-10)


def test_inverse_cdf_draw_counts_repeated_rows_as_weight():
    # A row repeated c times is drawn as often as one row of mass c; zero mass is never drawn.
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fallback = torch.tensor(0)
    order = torch.arange(5)
    draw = kmeans_module._inverse_cdf_draw
    repeated = draw(torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0]), order, u, fallback)
    weighted = draw(torch.tensor([1.0, 0.0, 3.0, 0.0, 0.0]), order, u, fallback)
    assert_array_equal(np.where(repeated.numpy() >= 2, 2, repeated.numpy()), weighted.numpy())
    assert not (weighted == 1).any()
    assert abs((weighted == 0).double().mean().item() - 0.25) < 0.02


# ---------------------------------------------------------------- parameters


def test_parameters_and_signatures_match_sklearn():
    # Same constructor parameters and defaults as sklearn's KMeans (plus device), same methods.
    ours = KMeans().get_params()
    assert ours.pop("device") == "auto"
    assert ours == sk.KMeans().get_params()
    for method in ["fit", "predict", "fit_predict", "transform", "fit_transform", "score"]:
        assert inspect.signature(getattr(KMeans, method)) == inspect.signature(
            getattr(sk.KMeans, method)
        ), method
    X = _blobs(n=200, seed=20)
    a = KMeans(4, algorithm="elkan", random_state=0, device="cpu").fit(X)
    b = KMeans(4, random_state=0, device="cpu").fit(X)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_n_init_auto_and_explicit_array(capsys):
    # n_init="auto": 1 run for k-means++ and arrays, 10 for random; array with n_init>1 warns.
    X = _blobs(n=100, seed=13)
    for init, runs in [("k-means++", 1), ("random", 10)]:
        KMeans(3, init=init, verbose=1, random_state=0, device="cpu").fit(X)
        assert capsys.readouterr().out.count("Initialization complete") == runs
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        km = KMeans(3, init=X[:3], n_init=4, device="cpu").fit(X)
    assert km.n_iter_ >= 1


def test_verbose_reports_convergence(capsys):
    # verbose prints each iteration's inertia and why the run stopped, like sklearn.
    X = _blobs(n=100, seed=14)
    KMeans(3, verbose=1, random_state=0, device="cpu").fit(X)
    out = capsys.readouterr().out
    assert re.search(r"Iteration 0, inertia [0-9.e+]+\.", out)
    assert "Converged at iteration" in out


def test_callable_init_matches_array_init():
    # A callable init gets (X, n_clusters, random_state) and is used like the array it returns.
    X = _blobs(seed=15)
    seen = {}

    def init(data, n_clusters, random_state):
        seen["args"] = (data.shape, n_clusters, type(random_state).__name__)
        return data[:n_clusters]

    a = KMeans(6, init=init, n_init=1, device="cpu").fit(X)
    b = KMeans(6, init=X[:6], device="cpu").fit(X)
    assert seen["args"] == (X.shape, 6, "RandomState")
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_callable_init_sees_centred_x_as_sklearn(sparse):
    # sklearn passes dense X centred on its (unweighted) column means and
    # reads the returned centers in those coordinates; a callable that
    # ignores X must therefore give sklearn's clustering, weights or not.
    X = _blobs(seed=16) + 10.0
    w = np.random.RandomState(0).uniform(0.5, 2.0, len(X))
    X_in = sp.csr_matrix(X) if sparse else X
    means = []

    def init(data, n_clusters, random_state):
        means.append(np.asarray(data.mean(axis=0)).ravel())
        return np.random.RandomState(3).normal(size=(n_clusters, data.shape[1])) * 5

    ours = KMeans(6, init=init, n_init=1, device="cpu").fit(X_in, sample_weight=w)
    ref = sk.KMeans(6, init=init, n_init=1).fit(X_in, sample_weight=w)
    _assert_same_fit(ours, ref)
    assert_allclose(means[0], means[1], atol=1e-12)
    assert_allclose(means[0], X.mean(0) if sparse else 0.0, atol=1e-9)


def test_only_weights_above_one_are_rescaled(monkeypatch):
    # Unit weights keep the unit-weight path (an audit of the rescaling of
    # large weights found unit weights halved, which left that path); weights
    # above 1 are divided by a power of two, inertia_ multiplied back.

    seen = []
    lloyd = kmeans_module._kmeans_single_lloyd

    def spy(*args, **kwargs):
        seen.append((kwargs["unit_weights"], kwargs["weight_scale"]))
        return lloyd(*args, **kwargs)

    monkeypatch.setattr(kmeans_module, "_kmeans_single_lloyd", spy)
    X = _blobs(n=200, d=3, seed=18)
    unit = KMeans(3, n_init=1, random_state=0, device="cpu").fit(X)
    heavy = KMeans(3, n_init=1, random_state=0, device="cpu").fit(
        X, sample_weight=np.full(len(X), 3.0))
    light = KMeans(3, n_init=1, random_state=0, device="cpu").fit(
        X, sample_weight=np.full(len(X), 0.5))
    assert seen == [(True, 1.0), (False, 4.0), (False, 1.0)]
    assert heavy.inertia_ == pytest.approx(3 * unit.inertia_, rel=1e-12)
    assert light.inertia_ == pytest.approx(0.5 * unit.inertia_, rel=1e-12)


@pytest.mark.parametrize("n_init", [1, 3])
def test_callable_init_draws_from_sklearns_random_state(n_init):
    # The callable gets the estimator's RandomState untouched, as in sklearn:
    # the torch generator of the built-in inits took two draws from it first,
    # so the same random_state gave other initial centers (inertia 401.7
    # against sklearn's 403.5 on this kind of data).
    X = _blobs(seed=17) + 10.0

    def init(data, n_clusters, random_state):
        return data[random_state.choice(data.shape[0], n_clusters, replace=False)]

    ours = KMeans(5, init=init, n_init=n_init, random_state=0, device="cpu").fit(X)
    ref = sk.KMeans(5, init=init, n_init=n_init, random_state=0).fit(X)
    _assert_same_fit(ours, ref)


def test_fewer_distinct_points_than_clusters_warns():
    # Duplicate points only: a ConvergenceWarning like sklearn's, and valid labels.
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), 4, axis=0)
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        km = KMeans(5, random_state=0, device="cpu").fit(X)
    assert set(km.labels_) <= set(range(5))
    assert km.inertia_ == 0.0


def test_pickle_round_trip():
    # A pickled model predicts and transforms identically.
    X = _blobs(seed=16)
    km = KMeans(6, random_state=0, device="cpu").fit(X)
    loaded = pickle.loads(pickle.dumps(km))
    assert_array_equal(loaded.predict(X), km.predict(X))
    assert_array_equal(loaded.transform(X), km.transform(X))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0]]), "NaN"),
        (np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 4.0]]), "infinity"),
        (np.empty((0, 3)), "0 sample"),
        (np.arange(5.0), "Expected 2D array"),
        (np.zeros((4, 2, 2)), "dim 3"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "could not convert|dtype"),
        (np.zeros((2, 3)), "n_samples=2 should be >= n_clusters=3"),
    ],
)
def test_bad_training_input_raises(X, match):
    # Clear ValueError for non-finite, empty, wrongly shaped, non-numeric or too small X.
    with pytest.raises(ValueError, match=match):
        KMeans(3, device="cpu").fit(X)


def test_bad_init_weights_and_predict_input_raise():
    # Wrong init shape, negative or all-zero weights, wrong feature count at predict.
    X = _blobs(n=50, d=4, seed=17)
    with pytest.raises(ValueError, match="does not match the number of clusters"):
        KMeans(3, init=X[:2], device="cpu").fit(X)
    with pytest.raises(ValueError, match="does not match the number of features"):
        KMeans(3, init=X[:3, :2], device="cpu").fit(X)
    with pytest.raises(ValueError, match="[Nn]egative"):
        KMeans(3, device="cpu").fit(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="weight"):
        KMeans(3, device="cpu").fit(X, sample_weight=np.zeros(len(X)))
    # Weights whose total overflows X's dtype: a clear error about the weights
    # (float64: the error blamed X; float32: wrong centers, silently).
    for dtype, weight in [(np.float64, 1e307), (np.float32, 1e37)]:
        for data in (X.astype(dtype), sp.csr_matrix(X.astype(dtype))):
            with pytest.raises(ValueError, match=f"sample_weight sums to inf in {dtype.__name__}"):
                KMeans(3, device="cpu").fit(data, sample_weight=np.full(len(X), weight))
    # Large weights whose total fits are fitted as their relative weights are,
    # with the inertia of the weights given (sums of w_i x_i overflowed:
    # float64, NaN or infinite centers, silently; float32, an error blaming X).
    for scale in (1.0, 10.0):
        small = np.array([[0.0], [0.5], [3.0], [3.5]]) * scale
        for dtype, weight in [(np.float64, 4e307), (np.float32, 5e37)]:
            for data in (small.astype(dtype), sp.csr_matrix(small.astype(dtype))):
                fit = KMeans(2, init=small[[0, 2]], n_init=1, device="cpu")
                fit.fit(data, sample_weight=np.full(4, weight))
                assert_allclose(fit.cluster_centers_, [[0.25 * scale], [3.25 * scale]])
                assert_array_equal(fit.labels_, [0, 0, 1, 1])
                expected = float(dtype(weight)) * 0.25 * scale**2
                assert fit.inertia_ == pytest.approx(expected, rel=1e-6)  # inf past float64
    km = KMeans(3, random_state=0, device="cpu").fit(X)
    with pytest.raises(ValueError, match="4 features"):
        km.predict(X[:, :3])
    with pytest.raises(ValueError, match="4 features"):
        km.transform(np.zeros((2, 5)))


# ---------------------------------------------------------------- sparse input


def _tfidf(n=5000, d=300, k=6, alpha=0.5, words=40, seed=0, dtype=np.float64):
    # Documents drawn from k word distributions, as tf-idf rows (CSR, ~8% nonzero).
    rng = np.random.RandomState(seed)
    topics = rng.dirichlet(np.full(d, alpha), size=k)
    counts = np.stack([rng.multinomial(words, topics[t]) for t in rng.randint(k, size=n)])
    return TfidfTransformer().fit_transform(sp.csr_matrix(counts)).astype(dtype)


def _random_csr(n, d, per_row, seed):
    # ~per_row uniform entries per row at random columns (sparse.random is slow when large).
    rng = np.random.RandomState(seed)
    rows = np.repeat(np.arange(n), per_row)
    X = sp.csr_matrix((rng.rand(n * per_row), (rows, rng.randint(d, size=n * per_row))), (n, d))
    X.sum_duplicates()
    return X


def _sparse_init(X, k, seed):
    return X[np.random.RandomState(seed).choice(X.shape[0], k, replace=False)].toarray()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_sparse_matches_dense_and_sklearn_from_same_init(seed, algorithm):
    # Same initial centers on CSR X: our sparse fit is our dense fit and sklearn's sparse fit
    # (5000 rows: the Hamerly-pruned passes run; "elkan" runs the same iterations).
    X = _tfidf(seed=seed)
    init = _sparse_init(X, 6, seed)
    kw = dict(init=init, n_init=1, algorithm=algorithm)
    ours = KMeans(6, device="cpu", **kw).fit(X)
    assert ours.n_iter_ > 10
    _assert_same_fit(ours, KMeans(6, device="cpu", **kw).fit(X.toarray()))
    ref = sk.KMeans(6, **kw).fit(X)
    _assert_same_fit(ours, ref)
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("tol", [0.0, 1e-4, 1e-2])
def test_sparse_matches_sklearn_with_sample_weight(tol):
    # Weighted sparse iterations equal the dense ones and sklearn's (as for dense).
    X = _tfidf(n=3000, seed=3)
    w = np.random.RandomState(0).uniform(0.1, 3.0, X.shape[0])
    w[np.asarray(X[:, :20].sum(axis=1)).ravel() == 0] *= 1e-3
    init = _sparse_init(X, 6, 3)
    ours = KMeans(6, init=init, tol=tol, device="cpu").fit(X, sample_weight=w)
    dense = KMeans(6, init=init, tol=tol, device="cpu").fit(X.toarray(), sample_weight=w)
    _assert_same_fit(ours, dense)
    ref = sk.KMeans(6, init=init, n_init=1, tol=tol).fit(X, sample_weight=w)
    _assert_same_fit(ours, ref)
    assert_allclose(ours.score(X, sample_weight=w), ref.score(X, sample_weight=w), rtol=1e-10)


def test_sparse_matches_sklearn_in_float32():
    # float32 CSR stays float32 and follows sklearn's (and our dense) float32 iterations.
    X = _tfidf(n=1000, d=400, alpha=0.3, seed=1, dtype=np.float32)
    init = _sparse_init(X, 6, 1)
    ours = KMeans(6, init=init, device="cpu").fit(X)
    assert ours.cluster_centers_.dtype == ours.transform(X).dtype == np.float32
    dense = KMeans(6, init=init, device="cpu").fit(X.toarray())
    for ref in (dense, sk.KMeans(6, init=init, n_init=1).fit(X)):
        assert_array_equal(ours.labels_, ref.labels_)
        assert ours.n_iter_ == ref.n_iter_
        assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-6)
        assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-5)


def test_sparse_empty_cluster_relocated_like_sklearn():
    # A center far from every row is emptied, then moved onto the farthest row, as sklearn does.
    X = _tfidf(n=1500, seed=4)
    init = _sparse_init(X, 6, 4)
    init[2] = 10.0
    ours = KMeans(6, init=init, device="cpu").fit(X)
    _assert_same_fit(ours, sk.KMeans(6, init=init, n_init=1).fit(X))
    assert len(np.unique(ours.labels_)) == 6


def test_sparse_relocation_moves_every_copy_of_the_farthest_point():
    # Duplicated sparse rows move together to an emptied cluster, as one weighted row would.
    X = _tfidf(n=600, seed=5)
    w = np.random.RandomState(1).randint(1, 4, X.shape[0])
    init = _sparse_init(X, 5, 5)
    init[1] = 10.0
    rep = KMeans(5, init=init, device="cpu").fit(sp.csr_matrix(X.toarray().repeat(w, axis=0)))
    wtd = KMeans(5, init=init, device="cpu").fit(X, sample_weight=w)
    assert_allclose(wtd.cluster_centers_, rep.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert_array_equal(wtd.labels_.repeat(w), rep.labels_)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_sparse_integer_weights_equal_repetition_with_empty_rows(init):
    # Seeding on CSR depends on the weighted set of rows only, all-zero rows included.
    X = _tfidf(n=800, seed=12).tolil()
    X[::7] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    w = np.random.RandomState(0).randint(0, 3, X.shape[0])
    rep = sp.csr_matrix(X.toarray().repeat(w, axis=0)[::-1])
    a = KMeans(6, init=init, random_state=0, device="cpu").fit(X, sample_weight=w)
    b = KMeans(6, init=init, random_state=0, device="cpu").fit(rep)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert_allclose(a.inertia_, b.inertia_, rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_pruned_iterations_equal_full_lloyd(monkeypatch, weighted):
    # Hamerly's bounds on CSR rows (exact own-center distances, moved-row sums) only skip work.
    X = _tfidf(n=2000, seed=1)
    w = np.random.RandomState(0).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    init = _sparse_init(X, 6, 2)
    monkeypatch.setattr(kmeans_module, "_MIN_PRUNE_ROWS", 0)
    pruned = KMeans(6, init=init, device="cpu").fit(X, sample_weight=w)
    assign, calls = kmeans_module._assign, []

    def full_assign(*args, shift, **kwargs):
        calls.append(shift is not None)
        return assign(*args, shift=None, **kwargs)

    monkeypatch.setattr(kmeans_module, "_assign", full_assign)
    full = KMeans(6, init=init, device="cpu").fit(X, sample_weight=w)
    assert sum(calls) > 5
    _assert_same_fit(pruned, full)


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_seeding_equals_dense_seeding(init, seed):
    # Same random_state: the same draws (same generator, same canonical order; masses equal up
    # to rounding), so the same centers as on the dense copy, and as good as sklearn's seeding.
    X = _tfidf(n=2000, seed=7 + seed)
    ours = KMeans(6, init=init, n_init=3, random_state=seed, device="cpu").fit(X)
    dense = KMeans(6, init=init, n_init=3, random_state=seed, device="cpu").fit(X.toarray())
    _assert_same_fit(ours, dense)
    ref = sk.KMeans(6, init=init, n_init=3, random_state=seed).fit(X)
    assert ours.inertia_ <= ref.inertia_ * 1.02


def test_sparse_predict_transform_score_equal_dense():
    # On CSR X the post-fit methods give the dense results; fit_* = fit then method.
    X = _tfidf(n=1500, seed=8)
    km = KMeans(6, random_state=0, device="cpu").fit(X)
    Xd = X.toarray()
    # The centers themselves (distance 0) take the recomputed-difference path of transform.
    new = sp.vstack([X[:300], sp.csr_matrix(km.cluster_centers_)]).tocsr()
    assert_array_equal(km.predict(new), km.predict(new.toarray()))
    assert_allclose(km.transform(new), km.transform(new.toarray()), rtol=1e-10, atol=1e-12)
    # (sklearn's own product form leaves ~1e-8 at distance 0.)
    assert_allclose(km.transform(new), euclidean_distances(new, km.cluster_centers_), rtol=1e-10,
                    atol=1e-7)
    assert_array_equal(km.transform(new)[-6:].argmin(axis=1), np.arange(6))
    assert_allclose(km.score(new), km.score(new.toarray()), rtol=1e-12)
    assert_allclose(km.score(X), -km.inertia_, rtol=1e-12)
    fresh = KMeans(6, random_state=0, device="cpu")
    assert_array_equal(fresh.fit_predict(X), km.labels_)
    assert_allclose(fresh.fit_transform(X), km.transform(Xd), rtol=1e-10)
    # float32 CSR on a float64 model gives float64 distances, as dense float32 does.
    assert km.transform(X.astype(np.float32)).dtype == np.float64


@pytest.mark.parametrize(
    "to_format",
    [
        sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.lil_matrix, sp.dok_matrix,
        sp.bsr_matrix, sp.csr_array, sp.csc_array, sp.coo_array,
    ],
)
def test_every_sparse_format_is_accepted(to_format):
    # Any SciPy sparse format (matrix or array) fits and predicts as CSR does.
    X = _tfidf(n=800, seed=9)
    init = _sparse_init(X, 5, 9)
    ref = KMeans(5, init=init, device="cpu").fit(X)
    Xf = to_format(X)
    ours = KMeans(5, init=init, device="cpu").fit(Xf)
    _assert_same_fit(ours, ref)
    assert_array_equal(ours.predict(Xf), ref.labels_)
    assert_allclose(ours.transform(Xf), ref.transform(X), rtol=1e-12)


def test_sparse_input_is_never_modified_and_may_be_non_canonical():
    # Unsorted indices, duplicate entries and int32 indices: X is left as it is, and the fit is
    # that of the canonical matrix (duplicates summed).
    X = _tfidf(n=800, seed=10)
    coo = X.tocoo()
    perm = np.random.RandomState(0).permutation(coo.nnz)
    half = coo.data[perm] / 2  # each entry stored twice, halves in shuffled order
    rows, cols = np.tile(coo.row[perm], 2), np.tile(coo.col[perm], 2)
    order = np.lexsort((np.random.RandomState(1).rand(2 * coo.nnz), rows))
    messy = sp.csr_matrix(
        (np.tile(half, 2)[order], cols[order].astype(np.int32),
         np.searchsorted(rows[order], np.arange(X.shape[0] + 1)).astype(np.int32)),
        shape=X.shape,
    )
    assert not messy.has_canonical_format
    arrays = [a.copy() for a in (messy.data, messy.indices, messy.indptr)]
    init = _sparse_init(X, 5, 10)
    km = KMeans(5, init=init, device="cpu").fit(messy)
    ref = KMeans(5, init=init, device="cpu").fit(X)
    assert_array_equal(km.labels_, ref.labels_)
    assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=1e-12)
    assert_allclose(km.transform(messy), ref.transform(X), rtol=1e-10)
    km.predict(messy), km.score(messy)
    for before, after in zip(arrays, (messy.data, messy.indices, messy.indptr)):
        assert_array_equal(before, after)
        assert before.dtype == after.dtype


def test_sparse_result_does_not_depend_on_thread_count_or_blocks(monkeypatch):
    # Many small CSR blocks spread over one or two threads give bit-identical fits.
    X = _tfidf(n=6000, d=200, seed=11)
    a = KMeans(6, random_state=0, device="cpu").fit(X)
    monkeypatch.setattr(engine_core, "CPU_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(kmeans_module, "CPU_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(kmeans_module, "_MIN_BLOCK_ROWS", 37)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    b = KMeans(6, random_state=0, device="cpu").fit(X)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    c = KMeans(6, random_state=0, device="cpu").fit(X)
    assert_array_equal(b.cluster_centers_, c.cluster_centers_)
    assert_array_equal(b.labels_, c.labels_)
    assert_array_equal(a.labels_, b.labels_)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12, atol=1e-15)
    assert_allclose(b.transform(X), a.transform(X), rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_blockwise_cluster_sums_equal_one_scatter(monkeypatch, weighted):
    # A full E-step gathers each CSR block's scatter indices on two threads and adds them in
    # row order: bit-identical to one scatter over all nonzeros, and to the dense sums.
    X = _tfidf(n=3000, d=150, seed=12)
    rng = np.random.RandomState(1)
    w = rng.uniform(0.5, 2.0, X.shape[0]) if weighted else np.ones(X.shape[0])
    monkeypatch.setattr(engine_core, "CPU_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(kmeans_module, "CPU_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(kmeans_module, "_MIN_BLOCK_ROWS", 37)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    cpu = torch.device("cpu")
    Xt, wt = engine_core.as_tensor(X, cpu), torch.from_numpy(w)
    centers = torch.from_numpy(_sparse_init(X, 6, 3))
    n = X.shape[0]
    labels = torch.full((n,), -1, dtype=torch.int64)
    upper, lower = torch.empty(n, dtype=torch.float64), torch.empty(n, dtype=torch.float64)
    sums, weights = torch.zeros((6, X.shape[1]), dtype=torch.float64), torch.zeros(6).double()
    with kmeans_module._block_pool(cpu, 1 << 30) as pool:
        assert pool is not None or engine_core.thread_budget() == 1
        kmeans_module._assign(
            Xt, kmeans_module._sq_norms(Xt), wt, centers, labels, upper, lower, sums, weights,
            shift=None, unit_weights=not weighted, pool=pool,
        )
    expected = kmeans_module._sparse_cluster_sums(Xt, wt, labels, 6)
    assert_array_equal(sums.numpy(), expected.numpy())
    dense = np.zeros((6, X.shape[1]))
    np.add.at(dense, labels.numpy(), X.toarray() * w[:, None])
    assert_allclose(sums.numpy(), dense, rtol=1e-12, atol=1e-15)
    assert_array_equal(weights.numpy(), np.bincount(labels.numpy(), weights=w, minlength=6))


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_full_pass_moves_only_changed_rows(monkeypatch, weighted):
    # After the first E-step the CSR cluster sums are updated with the rows that changed
    # cluster only (no scatter over every nonzero): they equal the sums from scratch, and
    # the weights, recounted, are exact (an emptied cluster weighs exactly 0).
    X = _tfidf(n=3000, d=150, seed=13)
    w = np.random.RandomState(2).uniform(0.5, 2.0, X.shape[0]) if weighted else np.ones(3000)
    monkeypatch.setattr(engine_core, "CPU_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(kmeans_module, "CPU_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(kmeans_module, "_MIN_BLOCK_ROWS", 37)
    cpu = torch.device("cpu")
    Xt, wt = engine_core.as_tensor(X, cpu), torch.from_numpy(w)
    x_sq = kmeans_module._sq_norms(Xt)
    n, k = X.shape[0], 6
    labels = torch.full((n,), -1, dtype=torch.int64)
    upper, lower = torch.empty(n, dtype=torch.float64), torch.empty(n, dtype=torch.float64)
    sums, weights = torch.zeros((k, X.shape[1]), dtype=torch.float64), torch.zeros(k).double()
    scatters = []
    scatter = kmeans_module._sparse_scatter
    monkeypatch.setattr(
        kmeans_module, "_sparse_scatter", lambda X, *a, **kw: scatters.append(X.shape[0])
        or scatter(X, *a, **kw),
    )
    step = dict(unit_weights=not weighted, pool=None)
    first = torch.from_numpy(_sparse_init(X, k, 4))
    kmeans_module._assign(Xt, x_sq, wt, first, labels, upper, lower, sums, weights,
                          shift=None, **step)
    assert sum(scatters) == n
    before = labels.clone()
    # Centers 0 and 1 swapped and the rest moved: most rows change cluster, so the
    # bounds cannot prune and every row is recomputed.
    second = first[[1, 0, 3, 2, 5, 4]] + 0.01
    scatters.clear()
    n_changed = kmeans_module._assign(
        Xt, x_sq, wt, second, labels, upper, lower, sums, weights,
        shift=torch.full((k,), 10.0, dtype=torch.float64), **step,
    )
    assert n_changed == int((labels != before).sum()) > n // 2
    assert sum(scatters) == 2 * n_changed  # moved out of the old cluster, into the new
    # Moving out and back in leaves rounding (~1e-15) where a column of a cluster is empty.
    scratch = kmeans_module._sparse_cluster_sums(Xt, wt, labels, k).numpy()
    assert_allclose(sums.numpy(), scratch, rtol=1e-12, atol=1e-13)
    assert_array_equal(weights.numpy(), np.bincount(labels.numpy(), weights=w, minlength=k))


def test_large_sparse_fit_never_densifies(monkeypatch):
    # 20000 x 20000 at density 0.002 (dense: 3.2 GB): only a few rows are ever densified
    # (seeds, centers), and the fit from sklearn's centers has sklearn's inertia.
    X = _random_csr(20000, 20000, 40, seed=0)
    densified, to_dense = [], torch.Tensor.to_dense

    def spy(self, *args, **kwargs):
        out = to_dense(self, *args, **kwargs)
        densified.append(out.shape[0])
        return out

    monkeypatch.setattr(torch.Tensor, "to_dense", spy)
    init = _sparse_init(X, 20, 0)
    ours = KMeans(20, init=init, device="cpu").fit(X)
    ref = sk.KMeans(20, init=init, n_init=1).fit(X)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)
    assert ours.transform(X[:1000]).shape == (1000, 20)
    KMeans(20, random_state=0, device="cpu").fit(X)  # k-means++ densifies its candidates only
    assert densified and max(densified) <= 20


# ---------------------------------------------------------------- CUDA


@CUDA
def test_cuda_matches_cpu_from_same_init():
    # On the GPU, the same init gives the CPU's clustering; the model pickles to CPU.
    X = _blobs(n=5000, d=16, centers=8, std=3.0, seed=18)
    init = _init_rows(X, 8, 0)
    cpu = KMeans(8, init=init, device="cpu").fit(X)
    gpu = KMeans(8, init=init, device="cuda").fit(X)
    assert_array_equal(gpu.labels_, cpu.labels_)
    assert_allclose(gpu.cluster_centers_, cpu.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert gpu.n_iter_ == cpu.n_iter_
    loaded = pickle.loads(pickle.dumps(gpu))
    loaded._device = torch.device("cpu")  # as on a machine without CUDA
    assert_array_equal(loaded.predict(X), cpu.predict(X))


@CUDA
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_cuda_seeding_quality_and_weights(init):
    # GPU seeding: reproducible per seed, as good as sklearn, integer weights == repetition.
    X = _blobs(n=3000, d=8, centers=10, std=3.0, seed=19)
    a = KMeans(10, init=init, n_init=5, random_state=0, device="cuda").fit(X)
    b = KMeans(10, init=init, n_init=5, random_state=0, device="cuda").fit(X)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-9, atol=1e-9)
    ref = sk.KMeans(10, init=init, n_init=5, random_state=0).fit(X)
    assert a.inertia_ <= ref.inertia_ * (1 + 1e-3)
    w = np.random.RandomState(0).randint(0, 3, len(X))
    rep = KMeans(10, init=init, random_state=0, device="cuda").fit(X.repeat(w, axis=0))
    wtd = KMeans(10, init=init, random_state=0, device="cuda").fit(X, sample_weight=w)
    assert_allclose(wtd.cluster_centers_, rep.cluster_centers_, rtol=1e-8, atol=1e-8)


@CUDA
def test_cuda_sparse_matches_cpu_from_same_init():
    # CSR X on the GPU gives the CPU's sparse clustering and post-fit results.
    X = _tfidf(n=5000, seed=0)
    init = _sparse_init(X, 6, 0)
    cpu = KMeans(6, init=init, device="cpu").fit(X)
    gpu = KMeans(6, init=init, device="cuda").fit(X)
    assert_array_equal(gpu.labels_, cpu.labels_)
    assert_allclose(gpu.cluster_centers_, cpu.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert gpu.n_iter_ == cpu.n_iter_
    assert_array_equal(gpu.predict(X), cpu.labels_)
    assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-9, atol=1e-9)
    pp = KMeans(6, random_state=0, device="cuda").fit(X)
    assert pp.inertia_ <= sk.KMeans(6, random_state=0).fit(X).inertia_ * 1.02


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e3), (np.float32, 1e4), (np.float64, 1e7)])
def test_predict_and_score_far_from_the_origin(dtype, offset):
    # predict compares distances around the centers' mean, as fit does around
    # the data's: far from the origin ||x||^2 used to swamp the cluster gaps
    # (float32 + 1e4: every point in cluster 0, score 7x too low).
    X = (_blobs(n=3000, d=8, centers=10, std=1.0, seed=21) + offset).astype(dtype)
    km = KMeans(10, init=X[:10], n_init=1, device="cpu").fit(X)
    exact = np.argmin(((X.astype(np.float64)[:, None, :]
                        - km.cluster_centers_.astype(np.float64)[None]) ** 2).sum(-1), axis=1)
    assert_array_equal(km.predict(X), exact)
    assert_array_equal(km.labels_, exact)
    assert_allclose(-km.score(X), km.inertia_, rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
def test_fewer_distinct_points_than_clusters_labels_match_centers(init):
    # Relocating all copies of a point into an empty cluster can empty their
    # old cluster; labels_ and inertia_ must still describe the centers
    # returned (inertia_ was 197 where sklearn gives ~0).
    rng = np.random.RandomState(0)
    points = rng.normal(size=(3, 2)) * 3 + 5
    X = np.repeat(points, 10, axis=0)
    start = X[[0, 10, 20, 1]] if init == "array" else init
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        km = KMeans(4, init=start, n_init=1, random_state=0, device="cpu").fit(X)
    assert km.inertia_ < 1e-20
    assert_array_equal(km.predict(X), km.labels_)
    assert_allclose(km.cluster_centers_[km.labels_], X, atol=1e-12)


def test_elkan_with_one_cluster_warns_as_sklearn():
    X = _blobs(n=50)
    with pytest.warns(RuntimeWarning, match="algorithm='elkan' doesn't make sense"):
        KMeans(1, algorithm="elkan", n_init=1, device="cpu").fit(X)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("tol", [1e-4, 1e-2])
def test_tolerance_ignores_sample_weight_as_sklearn(sparse, tol):
    # sklearn's tol is relative to the unweighted variances; with the weight
    # on a tight blob the weighted ones are 350x smaller (and n_iter_ was 10
    # against sklearn's 3).
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(500, 2), rng.randn(500, 2) * 50] + 60.0
    w = np.r_[np.ones(500), np.full(500, 1e-3)]
    X_in = sp.csr_matrix(X) if sparse else X
    ours = KMeans(3, init=X[[0, 1, 2]], tol=tol, device="cpu").fit(X_in, sample_weight=w)
    ref = sk.KMeans(3, init=X[[0, 1, 2]], n_init=1, tol=tol).fit(X_in, sample_weight=w)
    _assert_same_fit(ours, ref)


@pytest.mark.parametrize("k", [1, 2, 255, 256, 300])
def test_predict_is_the_brute_force_argmin_for_any_number_of_clusters(k):
    # The first center within rounding reach (a uint8 rank below 256 clusters,
    # int32 from 256) is the exact nearest center on untied data.
    rng = np.random.RandomState(0)
    X = rng.randn(3000, 8)
    centers = X[rng.choice(3000, k, replace=False)] + 0.01
    km = KMeans(k, init=centers, n_init=1, max_iter=1, device="cpu").fit(X)
    dist = ((X[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1)
    assert_array_equal(km.predict(X), dist.argmin(axis=1))
    assert_allclose(km.transform(X), np.sqrt(dist), rtol=1e-12, atol=1e-12)


def test_canonical_sort_of_keys_is_torchs_stable_float_sort():
    # The radix sort of the keys' bit patterns orders as the float sort does,
    # ties kept in row order: magnitudes from subnormal to 1e300, both signs,
    # +-0, +-inf, repeated keys.
    from skmath.cluster._kmeans import _argsort_stable

    g = torch.Generator().manual_seed(0)
    scale = 10.0 ** torch.randint(-320, 300, (10000,), generator=g).double()
    special = torch.tensor([0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324] * 3, dtype=torch.float64)
    x = torch.cat([torch.randn(10000, generator=g, dtype=torch.float64) * scale, special])
    x = x[torch.randperm(len(x), generator=g)]
    x = torch.cat([x, x[:500]])
    assert torch.equal(_argsort_stable(x), torch.sort(x, stable=True)[1])


@pytest.mark.parametrize(
    "X",
    [
        np.array([[0.0], [1.0], [1e20], [-1e20]], dtype=np.float32),
        np.array([[0.0], [1.0], [1e200], [-1e200]]),
        sp.csr_matrix(np.array([[0.0], [1.0], [1e200], [-1e200]])),
    ],
)
def test_overflowing_squares_raise_a_clear_error(X):
    # Finite values whose squared distances overflow the dtype: a ValueError
    # naming the cause, not an index error from inside the assignment.
    with pytest.raises(ValueError, match="squared distances overflow"):
        KMeans(n_clusters=2, n_init=1, random_state=0, device="cpu").fit(X)
    small = np.array([[0.0], [1.0], [5.0], [6.0]], dtype=X.dtype)
    km = KMeans(n_clusters=2, random_state=0, device="cpu").fit(small)
    with pytest.raises(ValueError, match="squared distances overflow"):
        km.predict(X[2:3])


def test_fit_does_not_depend_on_the_number_of_threads():
    # Labels, centers and inertia_ bit for bit with 1 and 2 torch threads
    # (data small enough to run without the block pool, where torch's own
    # reductions would split by thread).
    rng = np.random.RandomState(2)
    centers = rng.randn(20, 16) * 10
    X = centers[rng.randint(20, size=6000)] + rng.randn(6000, 16)
    before = torch.get_num_threads()
    fits = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            km = KMeans(n_clusters=20, random_state=2, n_init=2, device="cpu").fit(X)
            fits.append((km.inertia_, km.n_iter_, km.cluster_centers_, km.labels_))
    finally:
        torch.set_num_threads(before)
    assert fits[0][:2] == fits[1][:2]
    assert_array_equal(fits[0][2], fits[1][2])
    assert_array_equal(fits[0][3], fits[1][3])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("offset", [1e6, 1e8])
def test_float32_cluster_of_a_far_row_keeps_its_center(offset, weighted):
    # A full pass summed each block in float32: a row at 1e8 plus thousands
    # of rows in [0, 1] lost the small ones, and when these left the cluster
    # (the pruned pass moves rows exactly, in float64) the far row's center
    # kept the error (an audit: 680 away from it, inertia 675x sklearn's;
    # with float32 weights the cluster's weight kept an error too, 95,040
    # away). Block sums and weights are float64 now.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.random((4096, 2)), [[offset, 0.5]]]).astype(np.float32)
    w = rng.uniform(0.5, 1.5, len(X)).astype(np.float32) if weighted else None
    init = np.array([[0.8, 0.5], [0.4, 0.5]], np.float32)
    km = KMeans(2, init=init, n_init=1, device="cpu").fit(X, sample_weight=w)
    assert_array_equal(km.cluster_centers_[km.labels_[-1]], X[-1])
    ref = sk.KMeans(2, init=init, n_init=1).fit(X, sample_weight=w)
    assert km.inertia_ <= ref.inertia_ * (1 + 1e-6)


def test_seeding_on_torch_threads_does_not_depend_on_their_number():
    # X under one block (no block pool) but enough work for torch's two
    # threads: k-means++'s potentials were a BLAS product over the rows,
    # rounded by how the threads split them, and candidates of equal
    # potential (49 distinct points) were drawn differently with 1 and 2
    # threads (an audit: inertia 59.1 against 55.1).
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.arange(7), np.arange(7)), -1).reshape(-1, 2) * 0.1
    X = np.repeat(grid, 1225, axis=0)[rng.permutation(60_025)[:60_000]]
    before = torch.get_num_threads()
    fits = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            km = KMeans(n_clusters=40, random_state=0, device="cpu").fit(X)
            fits.append((km.inertia_, km.cluster_centers_))
    finally:
        torch.set_num_threads(before)
    assert fits[0][0] == fits[1][0]
    assert_array_equal(fits[0][1], fits[1][1])


@pytest.mark.parametrize("sparse", [False, True])
def test_predict_transform_score_do_not_depend_on_the_number_of_threads(sparse):
    # One pass over blocks on torch's own threads (no block pool): the same
    # labels, distances and score bit for bit with 1 and 2 threads, on data
    # larger than a block, with integer entries (exact ties) and a shift.
    rng = np.random.RandomState(3)
    X = rng.randint(-3, 4, size=(60_000, 24)).astype(np.float64) + 100.0
    if sparse:
        X = sp.csr_matrix(np.where(rng.rand(*X.shape) < 0.2, X, 0.0))
    km = KMeans(n_clusters=7, n_init=1, random_state=0, device="cpu").fit(X)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append((km.predict(X), km.transform(X), km.score(X)))
    finally:
        torch.set_num_threads(before)
    assert_array_equal(results[0][0], results[1][0])
    assert_array_equal(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]


@pytest.mark.parametrize("dtype, offset, spread", [(np.float32, 1e4 + 2, 1.0),
                                                   (np.float64, 1e8 + 1, 0.1)])
def test_tol_is_sklearns_on_data_far_from_the_origin(dtype, offset, spread):
    # tol * mean(var(X)): the variance, not the second moment about the rounded mean
    # that centres the data (which was up to 1000 times larger at these offsets, and
    # stopped the fit early). From the same init: sklearn's n_iter_ and inertia, and
    # scaling every weight changes nothing.
    X = (np.random.default_rng(1).uniform(size=(3000, 2)) * spread + offset).astype(dtype)
    init = X[:8]
    ours = KMeans(8, init=init, device="cpu").fit(X)
    ref = sk.KMeans(8, init=init, n_init=1).fit(X)
    doubled = KMeans(8, init=init, device="cpu").fit(X, sample_weight=np.full(3000, 2.0))
    assert ours.n_iter_ == ref.n_iter_ == doubled.n_iter_
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-6)
    assert_allclose(doubled.inertia_, 2 * ours.inertia_, rtol=1e-12)


def test_tol_of_sparse_data_is_the_variance():
    # Columns of CSR X with a large mean: tol from their variance, as sklearn's sparse
    # mean_variance_axis gives it.
    from sklearn.utils.sparsefuncs import mean_variance_axis

    rng = np.random.default_rng(2)
    D = rng.uniform(size=(3000, 5)) + 1e6
    D[:, 2:] *= rng.uniform(size=(3000, 3)) < 0.3
    X = sp.csr_matrix(D)
    spy = []
    lloyd = kmeans_module._kmeans_single_lloyd

    def recording(*args, tol, **kwargs):
        spy.append(tol)
        return lloyd(*args, tol=tol, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kmeans_module, "_kmeans_single_lloyd", recording)
        KMeans(6, init=D[:6], device="cpu").fit(X)
        KMeans(6, init=D[:6], device="cpu").fit(X, sample_weight=np.full(3000, 3.0))
    expected = 1e-4 * np.mean(mean_variance_axis(X, axis=0)[1])
    assert_allclose(spy, [expected, expected], rtol=1e-9)


def test_a_far_away_center_does_not_blur_the_others():
    # The tie band of each center is its own rounding bound: an outlier center at 1e8
    # used to widen every row's band (up to 17.7 squared units here), so rows took
    # the lowest-index center instead of the nearest, a cluster emptied, and predict
    # disagreed with labels_. Now: sklearn's fit, the exact nearest centers.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(300, 2)) * 0.5 + [c, 0] for c in (0, 3, 6)]
                  + [[[1e8, 0]]])
    init = np.array([[0.0, 0], [3, 0], [6, 0], [1e8, 0]])
    ours = KMeans(4, init=init, device="cpu").fit(X)
    ref = sk.KMeans(4, init=init, n_init=1).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-10)
    dist = ((X[:, None] - ours.cluster_centers_[None]) ** 2).sum(-1)
    assert_array_equal(ours.labels_, dist.argmin(axis=1))
    assert_array_equal(ours.predict(X), ours.labels_)
    # float32 rows 0.03 apart next to centers of norm ~40: each row is its own cluster.
    X32 = np.array([[0, 0], [0.03, 0], [30, 30], [-30, 30]], np.float32)
    km = KMeans(4, init=X32, device="cpu").fit(X32)
    assert_array_equal(km.labels_, [0, 1, 2, 3])
    assert km.inertia_ == 0.0


def _exact_nearest(X, centers):
    X = X.toarray() if sp.issparse(X) else X
    diff = X.astype(np.float64)[:, None, :] - centers.astype(np.float64)[None]
    return (diff**2).sum(-1).argmin(axis=1)


@pytest.mark.parametrize("dtype, offset", [(np.float32, 100.0), (np.float64, 1e6)])
def test_sparse_rows_far_from_the_origin_get_the_nearest_center(dtype, offset):
    # CSR rows are not centred: their product-form rounding bound grows with
    # ||x||^2 beyond the gaps between centers, and the lowest index among the
    # centers in that band was taken (an audit: 8% of float32 labels off the
    # nearest center, 0.8% for float64 + 1e6). Those near-ties are now decided
    # by direct differences: every label is the exact nearest center, and the
    # sparse and dense predictions agree.
    rng = np.random.RandomState(0)
    X = (offset + rng.randn(3000, 10)).astype(dtype)
    km = KMeans(5, random_state=0, device="cpu").fit(sp.csr_matrix(X))
    assert_array_equal(km.labels_, _exact_nearest(X, km.cluster_centers_))
    assert_array_equal(km.predict(sp.csr_matrix(X)), km.labels_)
    assert_array_equal(km.predict(X), km.labels_)
    # No worse than sklearn's fit of the same data.
    ref = sk.KMeans(5, random_state=0).fit(sp.csr_matrix(X))
    assert km.inertia_ <= ref.inertia_ * (1 + 1e-6)


def test_float32_in_many_dimensions_predicts_the_nearest_center():
    # 768 float32 dimensions: the product form's bound (2 (d + 2) eps relative
    # to ||x||^2, 1.8e-4) exceeded real gaps; 16 of 2000 predictions were off.
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 768).astype(np.float32)
    km = KMeans(10, init=X[:10], n_init=1, max_iter=1, device="cpu").fit(X)
    assert_array_equal(km.predict(X), _exact_nearest(X, km.cluster_centers_))


def test_near_ties_are_refined_from_differences():
    # _nearest hands the rows with several centers within rounding reach to
    # refine; _nearest_by_differences keeps the lowest index for exact ties
    # and otherwise picks the nearest candidate.
    X = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    centers = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    candidates = torch.ones((3, 3), dtype=torch.bool)
    labels = kmeans_module._nearest_by_differences(X, torch.arange(3), centers, candidates)
    assert labels.tolist() == [0, 1, 1]  # row 0: tie of 0 and 1; row 2: tie of 1 and 2
    candidates[1] = False  # center 1 out of the running
    labels = kmeans_module._nearest_by_differences(X, torch.arange(3), centers, candidates)
    assert labels.tolist() == [0, 0, 2]


def test_a_far_center_does_not_decide_its_neighbours_ties():
    # A center 1e7 from the data has a rounding bound (~0.2 in squared
    # distance) wider than the gap between the two near centers for the rows
    # around their midpoint. Each center's band is its own bound: a band as
    # wide as the largest bound would give a sixth of the rows the farther of
    # the two (a variant of _nearest tried that, to save a pass).
    rng = np.random.RandomState(0)
    X = np.vstack([rng.rand(4000, 1), [[1e7]]])
    centers = np.array([[0.25], [0.75], [1e7]])
    km = KMeans(3, init=centers, n_init=1, max_iter=1, device="cpu").fit(X)
    expected = _exact_nearest(X, km.cluster_centers_)
    assert_array_equal(km.predict(X), expected)
    assert_array_equal(km.labels_, expected)
    dist = torch.tensor([[0.0, 0.0], [0.1, -0.1], [5.0, 5.0]], dtype=torch.float64)
    err_centers = torch.tensor([0.0, 0.0, 0.2], dtype=torch.float64)
    labels, _, _ = kmeans_module._nearest(dist, err_centers, torch.zeros(2, dtype=torch.float64))
    assert labels.tolist() == [0, 1]


def test_sparse_float32_inertia_is_unbiased():
    # The sparse inertia's ||c||^2 term was rounded once per cluster in float32
    # and added to every row: inertia_ and score 2.3e-4 low on data of offset
    # 100 (sklearn's: 1e-5). Computed in float64 now: the exact value of its
    # own labels and centers, as the dense score gives.
    X, _ = make_blobs(5000, 10, centers=6, cluster_std=1.5, random_state=0)
    X = (X + 100).astype(np.float32)
    km = KMeans(6, random_state=0, device="cpu").fit(sp.csr_matrix(X))
    exact = ((X.astype(np.float64) - km.cluster_centers_[km.labels_]) ** 2).sum()
    assert km.inertia_ == pytest.approx(exact, rel=1e-12)
    assert -km.score(sp.csr_matrix(X)) == pytest.approx(exact, rel=1e-12)


def test_sparse_near_ties_are_decided_without_densifying(monkeypatch):
    # Unit-norm CSR rows in 20,000 columns: a row sharing no column with two
    # centers of equal norm is an exact tie, so most rows of the first pass
    # are refined. Their distances come from their nonzeros (a review found
    # every tied row densified at once: 309 MB for 0.8 MB of X; 15 GB for a
    # text-sized vocabulary); only the seeds are taken dense. Every label is
    # a nearest center up to float64 rounding.
    from sklearn.preprocessing import normalize

    rng = np.random.RandomState(0)
    n, d = 3000, 20000
    cols = rng.randint(0, d, size=(n, 20))
    X = sp.csr_matrix((rng.rand(n * 20), (np.repeat(np.arange(n), 20), cols.ravel())),
                      shape=(n, d), dtype=np.float32)
    X = normalize(X)
    largest = [0]
    original = kmeans_module._dense_rows

    def spy(X, index):
        out = original(X, index)
        largest[0] = max(largest[0], out.shape[0])
        return out

    monkeypatch.setattr(kmeans_module, "_dense_rows", spy)
    km = KMeans(8, n_init=1, random_state=0, device="cpu").fit(X)
    assert largest[0] <= 8  # the k-means++ seeds
    C = km.cluster_centers_.astype(np.float64)
    X64 = X.astype(np.float64)
    dist = (np.asarray(X64.multiply(X64).sum(axis=1)) - 2 * (X64 @ C.T).toarray()
            if sp.issparse(X64 @ C.T) else
            np.asarray(X64.multiply(X64).sum(axis=1)) - 2 * (X64 @ C.T)) + (C**2).sum(axis=1)
    chosen = dist[np.arange(n), km.labels_]
    assert np.all(chosen <= dist.min(axis=1) + 1e-12 * (1 + np.abs(dist).max(axis=1)))


def test_predict_compares_rows_about_the_fits_origin():
    # float32 clusters at 0.9e19 +- 1e19: the squares of the rows about zero
    # (1.9e19^2) overflow float32, those about the training data's mean
    # (1e19^2) do not. predict compares the rows about that mean, as the fit
    # did: it gives labels_, without an overflow error.
    offsets = np.array([-1.0, -0.999, -1.001, 1.0, 0.999, 1.001])[:, None]
    X = (np.float32(0.9e19) + offsets * 1e19).astype(np.float32)
    km = KMeans(n_clusters=2, n_init=1, random_state=0, device="cpu").fit(X)
    assert_array_equal(km.predict(X), km.labels_)
    assert len(set(km.labels_[:3])) == 1 and len(set(km.labels_[3:])) == 1
    assert km.labels_[0] != km.labels_[3]


def test_row_keys_of_aligned_rows_path(monkeypatch):
    # On CUDA the products behind the row keys are laid out in rows of a
    # multiple of 4 values (CUDA's row sums depend on a row's alignment). That
    # path, run here on the CPU: copies of a row get equal keys wherever they
    # sit (d = 130, rows 8 * 130 bytes apart), the keys equal the unpadded
    # ones to rounding, and the fit is the same.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 130)
    X[[5, 6, 17, 30]] = X[3]
    w = torch.ones(40, dtype=torch.float64)
    _, key, _ = kmeans_module._canonical_order(torch.as_tensor(X), w, None)
    monkeypatch.setattr(kmeans_module, "_align_key_rows", lambda device: True)
    _, padded, _ = kmeans_module._canonical_order(torch.as_tensor(X), w, None)
    assert len(set(padded[[3, 5, 6, 17, 30]].tolist())) == 1
    assert_allclose(padded, key, rtol=1e-13, atol=1e-13)
    aligned = KMeans(5, random_state=0, device="cpu").fit(X)
    monkeypatch.undo()
    plain = KMeans(5, random_state=0, device="cpu").fit(X)
    assert_allclose(aligned.cluster_centers_, plain.cluster_centers_, rtol=1e-12)


_TF32_SETTINGS = """
import sys, torch
from skmath.cluster._kmeans import _tf32_matmul
assert not _tf32_matmul()
exec(sys.argv[1])
assert _tf32_matmul()
"""


@pytest.mark.parametrize("setting", [
    "torch.set_float32_matmul_precision('high')",
    "torch.backends.cuda.matmul.allow_tf32 = True",
    "torch.backends.fp32_precision = 'tf32'",
])
def test_tf32_matmul_setting_is_seen(setting):
    # With TF32 float32 CUDA products (a user's global setting) the distance
    # bounds that decide labels among near ties must use TF32's rounding, not
    # float32's: each way of turning it on is seen (in a fresh process, as
    # PyTorch refuses to mix its old and new settings).
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", _TF32_SETTINGS, setting], check=True)

import inspect
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import sklearn
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import linear_model as sk
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.fixes import parse_version

from skmath import LinearRegression, LogisticRegression

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
# skmath follows scikit-learn 1.9's API (LinearRegression's ``tol``,
# LogisticRegression's signature, messages and float32 results) on every
# supported release; tests that compare with those sklearn 1.9 features
# directly need it installed.
SKLEARN_1_9 = pytest.mark.skipif(
    parse_version(sklearn.__version__) < parse_version("1.9"),
    reason="compares with a scikit-learn 1.9 feature",
)


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ---------------------------------------------------------------- LinearRegression


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_matches_sklearn_on_diabetes(fit_intercept):
    # Coefficients and intercept equal sklearn's lstsq solution to 1e-6 relative.
    X, y = load_diabetes(return_X_y=True)
    ours = LinearRegression(fit_intercept=fit_intercept, device="cpu").fit(X, y)
    ref = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    assert _rel(ours.coef_, ref.coef_) < 1e-6
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    assert ours.rank_ == ref.rank_
    assert_allclose(ours.singular_, ref.singular_, rtol=1e-6)


def test_linear_sample_weight_and_multioutput_match_sklearn():
    # Weighted, multi-output fit equals sklearn's on the same data.
    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, 0.5 * y + X[:, 0], -y])
    w = np.random.RandomState(0).uniform(0.1, 3, size=len(y))
    ours = LinearRegression(device="cpu").fit(X, Y, sample_weight=w)
    ref = sk.LinearRegression().fit(X, Y, sample_weight=w)
    assert ours.coef_.shape == (3, X.shape[1])
    assert _rel(ours.coef_, ref.coef_) < 1e-6
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6)


def test_linear_weighted_gram_over_row_blocks_matches_sklearn(monkeypatch):
    # The weighted Gram matrix is summed over blocks of rows (no weighted copy
    # of X): with blocks of 7 rows (the last one partial) the fit is sklearn's.
    import skmath.linear_model._linear as linear

    monkeypatch.setattr(linear, "block_rows", lambda *args, **kwargs: 7)
    X, y = load_diabetes(return_X_y=True)
    Y = np.column_stack([y, X[:, 0] - y])
    w = np.random.RandomState(0).uniform(0.1, 3, size=len(y))
    ours = LinearRegression(device="cpu").fit(X, Y, sample_weight=w)
    ref = sk.LinearRegression().fit(X, Y, sample_weight=w)
    assert _rel(ours.coef_, ref.coef_) < 1e-10
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10)


@pytest.mark.parametrize("shape", [(100, 12), (20, 50)])
def test_linear_rank_deficient_is_minimum_norm(shape):
    # Collinear or wide X gives sklearn's minimum-norm solution.
    rng = np.random.RandomState(0)
    X = rng.randn(*shape)
    X[:, -1] = X[:, 0] + 2 * X[:, 1]  # exact collinearity
    y = rng.randn(shape[0])
    ours = LinearRegression(device="cpu").fit(X, y)
    ref = sk.LinearRegression().fit(X, y)
    assert ours.rank_ == ref.rank_ < shape[1]
    assert _rel(ours.coef_, ref.coef_) < 1e-6
    assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)
    # It is the minimum-norm one: equal to the pseudo-inverse solution.
    Xc = X - X.mean(axis=0)
    assert_allclose(ours.coef_, np.linalg.pinv(Xc) @ (y - y.mean()), atol=1e-8)


@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200])
def test_linear_wide_dense_X_never_forms_the_gram_matrix(scale, monkeypatch):
    # Fewer samples than features: the SVD of X (n x d) gives sklearn's
    # minimum-norm solution; the d x d Gram matrix (0.5 GB at 20 x 4000)
    # is never formed, even for data whose squares leave float64's range.
    import skmath.linear_model._linear as linear

    def no_gram(*args, **kwargs):
        raise AssertionError("the Gram route was taken")

    monkeypatch.setattr(linear, "_centered_gram", no_gram)
    rng = np.random.RandomState(0)
    X, y = scale * rng.randn(20, 4000), rng.randn(20)
    ours = LinearRegression(device="cpu").fit(X, y)
    ref = sk.LinearRegression().fit(X, y)
    assert ours.rank_ == ref.rank_ == 19
    assert _rel(ours.coef_, ref.coef_) < 1e-10
    assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)


def test_linear_sparse_y_is_refused_like_sklearn():
    X, y = np.random.RandomState(0).randn(30, 3), np.arange(30.0)
    for est in (LinearRegression(device="cpu"), sk.LinearRegression()):
        with pytest.raises(TypeError, match="Sparse data was passed, but dense data is"):
            est.fit(X, sp.csr_matrix(y[:, None]))


def test_linear_float32_preserved():
    # float32 in -> float32 coefficients and predictions, like sklearn.
    X, y = make_regression(200, 5, random_state=0)
    X32 = X.astype(np.float32)
    model = LinearRegression(device="cpu").fit(X32, y.astype(np.float32))
    assert model.coef_.dtype == np.float32
    assert model.predict(X32).dtype == np.float32
    assert_allclose(model.coef_, sk.LinearRegression().fit(X, y).coef_, rtol=1e-3)


def test_linear_positive_matches_sklearn():
    # positive=True equals sklearn's non-negative least squares.
    X, y = load_diabetes(return_X_y=True)
    ours = LinearRegression(positive=True, device="cpu").fit(X, y)
    ref = sk.LinearRegression(positive=True).fit(X, y)
    assert (ours.coef_ >= 0).all()
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6)


def test_linear_positive_sets_no_rank_or_singular_like_sklearn():
    # positive=True leaves rank_ and singular_ unset, as sklearn does, also
    # after an unconstrained fit of the same estimator.
    X, y = load_diabetes(return_X_y=True)
    ref = sk.LinearRegression(positive=True).fit(X, y)
    ours = LinearRegression(device="cpu").fit(X, y)
    assert hasattr(ours, "rank_") and hasattr(ours, "singular_")
    ours.set_params(positive=True).fit(X, y)
    for name in ("rank_", "singular_"):
        assert not hasattr(ref, name) and not hasattr(ours, name)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6)


def _offset_ill_conditioned_float32(offset, n=2000, d=5, cond=100.0, seed=0):
    rng = np.random.RandomState(seed)
    U, _ = np.linalg.qr(rng.randn(n, d))
    V, _ = np.linalg.qr(rng.randn(d, d))
    X = (U * np.logspace(0, -np.log10(cond), d)) @ V.T * np.sqrt(n) + offset
    y = X @ np.arange(1.0, d + 1) + 0.1 * rng.randn(n)
    return X.astype(np.float32), y.astype(np.float32)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("offset", [0, 10, 100, 300, 1000])
def test_linear_float32_offset_and_ill_conditioning_accurate(offset, sparse):
    # float32 X whose columns have a mean up to 1000x their spread and a
    # condition number of 100: coefficients within 1e-6 relative of the
    # float64 least-squares solution on the same (float32) data, better than
    # sklearn's float32 fit, and still float32.
    X, y = _offset_ill_conditioned_float32(offset)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    exact = np.linalg.lstsq(X64 - X64.mean(axis=0), y64 - y64.mean(), rcond=None)[0]
    Xin = sp.csr_matrix(X) if sparse else X
    ours = LinearRegression(device="cpu").fit(Xin, y)
    ref = sk.LinearRegression().fit(Xin, y)
    assert ours.coef_.dtype == ref.coef_.dtype == np.float32
    assert type(ours.intercept_) is type(ref.intercept_)
    assert _rel(ours.coef_, exact) < 1e-6
    assert _rel(ours.coef_, exact) <= _rel(ref.coef_, exact)
    # intercept = y_mean - mu @ coef: relative to the terms it is made of.
    mu, y_mean = X64.mean(axis=0), y64.mean()
    scale = abs(y_mean) + np.abs(mu) @ np.abs(exact)
    assert abs(ours.intercept_ - (y_mean - mu @ exact)) < 1e-6 * scale


@pytest.mark.parametrize(
    "dtype, scale, sparse, weight_scale",
    [
        (np.float32, 1e-22, False, None),
        (np.float32, 1e19, False, None),
        (np.float64, 1e155, False, None),
        (np.float64, 1e-160, False, None),
        (np.float64, 1e155, True, None),
        (np.float64, 1e-160, True, None),
        (np.float64, 1e5, False, 1e300),
    ],
)
def test_linear_extreme_magnitudes_match_sklearn(dtype, scale, sparse, weight_scale):
    # Features (or weights) so large or small that X^T W X would overflow or
    # underflow: the fit still equals sklearn's (SVD-based) one.
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = (X @ [1.0, 2.0, 3.0] + 0.1 * rng.randn(60) + 0.5).astype(dtype)
    X = (X * scale).astype(dtype)
    w = None if weight_scale is None else rng.uniform(0.5, 2.0, 60) * weight_scale
    ours = LinearRegression(device="cpu").fit(sp.csr_matrix(X) if sparse else X, y, w)
    ref = sk.LinearRegression().fit(X, y, w)
    rtol = 1e-5 if dtype == np.float32 else 1e-6  # sklearn solves float32 in float32
    assert ours.coef_.dtype == dtype
    assert_allclose(ours.coef_, ref.coef_, rtol=rtol)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol)
    if not sparse:
        assert ours.rank_ == ref.rank_ == 3
        assert_allclose(ours.singular_, ref.singular_, rtol=rtol)


@SKLEARN_1_9
@pytest.mark.parametrize("tol, noise", [(1e-6, 1e-8), (1e-3, 1e-4)])
def test_linear_tol_cuts_small_singular_values_like_sklearn(tol, noise):
    # tol is sklearn 1.9's lstsq ``cond``: near-collinear X gives the truncated
    # minimum-norm solution (rank_ below n_features), not a huge exact one.
    rng = np.random.RandomState(0)
    X = rng.randn(100, 5)
    X[:, 4] = X[:, 0] + noise * rng.randn(100)
    X[:, 3] *= 100 * tol
    y = rng.randn(100)
    w = rng.uniform(0.1, 2, size=100)
    ours = LinearRegression(tol=tol, device="cpu").fit(X, y, sample_weight=w)
    ref = sk.LinearRegression(tol=tol).fit(X, y, sample_weight=w)
    assert ours.rank_ == ref.rank_ < 5
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    assert ours.get_params()["n_jobs"] is None
    assert {"tol", "n_jobs"} <= set(ours.get_params())


@SKLEARN_1_9
@pytest.mark.parametrize("tol", [0.0, 1.0])
def test_linear_tol_outside_unit_interval_is_the_data_dtypes_eps(tol):
    # LAPACK's cutoff for tol = 0 or >= 1 is machine epsilon of the data's
    # dtype: float32's for float32 X (sklearn's gelsd runs in float32). The
    # float64 working copy's eps kept a 1e-9 collinearity and gave
    # coefficients of ~4e7 where sklearn's are < 1.
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3)
    X = np.c_[X, X[:, 0] + 1e-9 * rng.randn(50)].astype(np.float32)
    y = rng.randn(50)
    ours = LinearRegression(tol=tol, device="cpu").fit(X, y)
    ref = sk.LinearRegression(tol=tol).fit(X, y)
    assert ours.rank_ == ref.rank_ == 3
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    # float64 data keep float64's eps: the 1e-9 direction is resolved.
    X64 = X.astype(np.float64)
    X64[:, 3] = X64[:, 0] + 1e-9 * rng.randn(50)
    ours = LinearRegression(tol=tol, device="cpu").fit(X64, y)
    assert ours.rank_ == sk.LinearRegression(tol=tol).fit(X64, y).rank_ == 4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 3])
def test_linear_constant_column_gets_zero_coef_with_sample_weight(dtype, d):
    # A constant column centres to exactly zero whatever the weights (its weighted
    # mean 3 * sum(w) / sum(w) rounds): the minimum-norm coefficient is 0 and the
    # rest is the fit without that column.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, d)).astype(dtype)
    X[:, 0] = 3.0
    y = rng.normal(size=100)
    w = rng.uniform(0.1, 3.0, size=100)
    ours = LinearRegression(device="cpu").fit(X, y, sample_weight=w)
    assert ours.coef_[0] == 0.0
    assert ours.rank_ == d - 1
    rtol = 1e-6 if dtype == np.float32 else 1e-10
    if d == 1:
        assert_allclose(ours.intercept_, np.average(y, weights=w), rtol=rtol)
        return
    ref = sk.LinearRegression().fit(X[:, 1:].astype(np.float64), y, sample_weight=w)
    assert_allclose(ours.coef_[1:], ref.coef_, rtol=rtol)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol)


@pytest.mark.parametrize("d", [1, 4])
def test_linear_sparse_constant_column_with_sample_weight(d):
    # Sparse X with a stored constant column: its centred values cancel, so the
    # solve goes to LSQR, where X^T u and mu * sum(u) round differently. LSQR read
    # that rounding as a direction (coef ~1e16; scipy's lsqr in sklearn does too):
    # the column is left out and gets the minimum-norm coefficient 0.
    rng = np.random.RandomState(228)
    X = rng.normal(size=(40, d))
    X[rng.rand(40, d) < 0.5] = 0.0
    X[:, 0] = -2.5
    y = rng.normal(size=40)
    w = rng.exponential(size=40) ** 3
    ours = LinearRegression(device="cpu").fit(sp.csr_matrix(X), y, sample_weight=w)
    assert ours.coef_[0] == 0.0
    if d == 1:
        assert_allclose(ours.intercept_, np.average(y, weights=w), rtol=1e-10)
        return
    ref = sk.LinearRegression().fit(X[:, 1:], y, sample_weight=w)
    assert_allclose(ours.coef_[1:], ref.coef_, rtol=1e-6)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)


def test_linear_rejects_negative_sample_weight():
    # Like sklearn: a clear ValueError, not a LinAlgError from the solver.
    X, y = make_regression(30, 3, random_state=0)
    with pytest.raises(ValueError, match="Negative values"):
        LinearRegression(device="cpu").fit(X, y, sample_weight=-np.ones(30))


def test_linear_no_intercept_is_scalar_zero_and_string_targets():
    # fit_intercept=False: intercept_ is 0.0 for any number of targets, as in
    # sklearn; numeric-string y is cast to X's dtype.
    X, y = make_regression(40, 3, n_targets=2, random_state=0)
    for Y in (y, y[:, :1]):
        ours = LinearRegression(fit_intercept=False, device="cpu").fit(X, Y)
        ref = sk.LinearRegression(fit_intercept=False).fit(X, Y)
        assert ours.intercept_ == ref.intercept_ == 0.0 and np.ndim(ours.intercept_) == 0
        assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-8, atol=1e-8)
    ours = LinearRegression(device="cpu").fit(X, y[:, 0].astype(str))
    assert_allclose(ours.coef_, sk.LinearRegression().fit(X, y[:, 0]).coef_, rtol=1e-8)


@SKLEARN_1_9
def test_linear_refuses_string_X_like_sklearn():
    # sklearn validates X with dtype="numeric": strings are refused at fit and
    # predict (not parsed as numbers); integers, booleans and float16 give float64.
    X, y = make_regression(30, 3, random_state=0)
    message = "dtype='numeric' is not compatible with arrays of bytes/strings"
    for est in (LinearRegression(device="cpu"), sk.LinearRegression()):
        with pytest.raises(ValueError, match=message):
            est.fit(X.astype(str), y)
        with pytest.raises(ValueError, match=message):
            est.fit(X, y).predict(X.astype(str).tolist())
    for dtype in (np.int64, bool, np.float16):
        ours = LinearRegression(device="cpu").fit(X.astype(dtype), y)
        assert ours.coef_.dtype == np.float64
        ref = sk.LinearRegression().fit(X.astype(dtype).astype(np.float64), y)
        assert_allclose(ours.predict(X.astype(dtype)), ref.predict(X.astype(dtype)), rtol=1e-6)


def _sparse_problem(n=300, d=40, n_targets=None, density=0.1, seed=0):
    rng = np.random.RandomState(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng) * 3 + sp.eye(n, d)
    coef = rng.randn(d) if n_targets is None else rng.randn(d, n_targets)
    noise = 0.1 * rng.randn(*((n,) if n_targets is None else (n, n_targets)))
    return X.tocsr(), X @ coef + noise + 2.0, rng.uniform(0.2, 3.0, size=n)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_targets", [None, 3])
def test_linear_sparse_equals_dense_fit(fit_intercept, n_targets, dtype, rtol):
    # Up to _GRAM_MAX_FEATURES, sparse X (weighted, multi-target, float32 too)
    # gives the dense fit itself: the same exact Gram solution, from sparse
    # products; rank_/singular_ are not set, as in sklearn.
    X, y, w = _sparse_problem(n_targets=n_targets)
    X, y = X.astype(dtype), y.astype(dtype)
    kw = dict(fit_intercept=fit_intercept, device="cpu")
    dense = LinearRegression(**kw).fit(X.toarray(), y, sample_weight=w)
    ours = LinearRegression(**kw).fit(X, y, sample_weight=w)
    assert ours.coef_.dtype == dtype and ours.coef_.shape == dense.coef_.shape
    assert _rel(ours.coef_, dense.coef_) < rtol
    assert_allclose(ours.intercept_, dense.intercept_, rtol=rtol, atol=rtol)
    assert_allclose(ours.predict(X), dense.predict(X.toarray()), rtol=rtol, atol=rtol)
    assert ours.predict(X).dtype == dtype
    assert not hasattr(ours, "rank_") and not hasattr(ours, "singular_")


def test_linear_sparse_formats_accepted_and_input_untouched():
    # csr, csc and coo (matrix or array) give the same fit; X and y are not modified.
    X, y, w = _sparse_problem()
    X.indices = X.indices.astype(np.int32)
    before = X.copy()
    y_before = y.copy()
    ref = LinearRegression(device="cpu").fit(X, y, sample_weight=w)
    for fmt in ("csc", "coo"):
        for container in (sp.csr_matrix, sp.csr_array):
            Xf = container(X).asformat(fmt)
            ours = LinearRegression(device="cpu").fit(Xf, y, sample_weight=w)
            assert_allclose(ours.coef_, ref.coef_, rtol=1e-12)
            assert_allclose(ours.predict(Xf), ref.predict(X), rtol=1e-12)
    assert X.format == "csr" and X.indices.dtype == np.int32
    assert (X != before).nnz == 0 and np.array_equal(X.indptr, before.indptr)
    assert np.array_equal(y, y_before)


def _lsqr_error_bound(X, y, w, tol, fit_intercept=True):
    # LSQR stops when ||A^T r|| <= tol ||A||_F ||r|| (A the centred, weighted X),
    # so x - x* = (A^T A)^{-1} A^T r is at most tol ||A||_F ||r|| / s_min^2
    # (a factor 2 for ||r|| >= ||r*|| and the estimate of ||A||_F).
    root_w = np.sqrt(w)[:, None]
    mu = w @ X.toarray() / w.sum() if fit_intercept else 0.0
    A = root_w * (X.toarray() - mu)
    b = root_w[:, 0] * (y - (w @ y / w.sum() if fit_intercept else 0.0))
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    s = np.linalg.svd(A, compute_uv=False)
    return x_star, 2 * tol * np.linalg.norm(A) * np.linalg.norm(b - A @ x_star) / s[-1] ** 2


@SKLEARN_1_9
def test_linear_sparse_equals_sklearn_sparse_and_exact_solution():
    # On a well-conditioned problem ours (Gram route) is the exact solution and
    # sklearn's LSQR is within its tol bound of it, for default and tight tol.
    X, y, w = _sparse_problem()
    for tol in (1e-6, 1e-3):
        x_star, bound = _lsqr_error_bound(X, y, w, tol)
        ours = LinearRegression(tol=tol, device="cpu").fit(X, y, sample_weight=w)
        ref = sk.LinearRegression(tol=tol).fit(X, y, sample_weight=w)
        assert np.abs(ours.coef_ - x_star).max() < 1e-10 * np.abs(x_star).max()
        assert np.linalg.norm(ref.coef_ - x_star) <= bound
        assert np.linalg.norm(ours.coef_ - ref.coef_) <= bound


@pytest.mark.parametrize("shape", [(20, 50), (100, 12)])
def test_linear_sparse_rank_deficient_is_minimum_norm(shape):
    # Wide or collinear sparse X: the Gram spectrum splits into kept and null
    # directions and the exact minimum-norm solution is returned (the dense one).
    rng = np.random.RandomState(0)
    X = sp.random(*shape, density=0.3, format="lil", random_state=rng)
    X[:, -1] = X[:, 0] + 2 * X[:, 1]
    X = X.tocsr()
    y = rng.randn(shape[0])
    ours = LinearRegression(device="cpu").fit(X, y)
    Xc = X.toarray() - X.toarray().mean(axis=0)
    assert_allclose(ours.coef_, np.linalg.pinv(Xc) @ (y - y.mean()), atol=1e-10)
    dense = LinearRegression(device="cpu").fit(X.toarray(), y)
    assert_allclose(ours.predict(X), dense.predict(X.toarray()), atol=1e-10)


@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-10])
def test_linear_lsqr_is_scipys_lsqr(tol):
    # _lsqr takes scipy's steps and stops at the same iteration, every target
    # column on its own (one of them constant: x = 0 at once).
    from scipy.sparse.linalg import LinearOperator, lsqr

    from skmath._engine import as_tensor
    from skmath.linear_model._linear import _centered_operator, _lsqr

    X, Y, w = _sparse_problem(n_targets=3)
    mu = w @ X.toarray() / w.sum()
    B = np.sqrt(w)[:, None] * (Y - w @ Y / w.sum())
    B[:, 2] = 0.0
    cpu = torch.device("cpu")
    matvec, rmatvec = _centered_operator(
        as_tensor(X, cpu), as_tensor(X.T, cpu), torch.as_tensor(mu), torch.as_tensor(np.sqrt(w))
    )
    coef, n_iter = _lsqr(matvec, rmatvec, torch.as_tensor(B), X.shape[1], tol, tol)
    A = LinearOperator(
        X.shape,
        matvec=lambda v: np.sqrt(w) * (X @ v - v @ mu),
        rmatvec=lambda u: X.T @ (np.sqrt(w) * u) - mu * (np.sqrt(w) @ u),
    )
    for j in range(3):
        ref = lsqr(A, B[:, j], atol=tol, btol=tol)
        assert n_iter[j] == ref[2]
        assert_allclose(coef[:, j].numpy(), ref[0], rtol=1e-10, atol=1e-12)
    assert n_iter[2] == 0 and not coef[:, 2].any()


def test_linear_sparse_lsqr_route_matches_sklearn(monkeypatch):
    # Above _GRAM_MAX_FEATURES (forced to 0 here) the fit is sklearn's sparse
    # LSQR: weighted, multi-target, with and without intercept, both within
    # the tol bound of the exact solution (LSQR's rounding differs between
    # equivalent operators, so sklearn and ours agree to that bound, not to eps).
    import skmath.linear_model._linear as linear

    monkeypatch.setattr(linear, "_GRAM_MAX_FEATURES", 0)
    X, Y, w = _sparse_problem(n_targets=2)
    for fit_intercept in (True, False):
        ours = LinearRegression(fit_intercept=fit_intercept, device="cpu").fit(X, Y, sample_weight=w)
        ref = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
        for j in range(2):
            x_star, bound = _lsqr_error_bound(X, Y[:, j], w, 1e-6, fit_intercept)
            assert np.linalg.norm(ours.coef_[j] - x_star) <= bound
            assert np.linalg.norm(ref.coef_[j] - x_star) <= bound
            assert np.linalg.norm(ours.coef_[j] - x_star) > 0  # LSQR, not exact
        assert_allclose(ours.predict(X), ref.predict(X), atol=1e-5 * np.abs(Y).max())


@pytest.mark.parametrize(
    "x_scale, y_scale, w_scale",
    [(1e-30, 1, 1), (1e160, 1, 1), (1, 1e-80, 1), (1, 1, 1e-100), (1, 1, 1e300)],
)
def test_linear_sparse_lsqr_route_is_scale_free(x_scale, y_scale, w_scale, monkeypatch):
    # LSQR's stopping test adds an absolute eps to |A| |r|: unscaled, data at
    # 1e-30 (or weights at 1e-100) stopped at the first iteration (R2 0.8
    # instead of 1.0) and data at 1e160 overflowed to NaN, silently. The
    # route runs on data scaled by powers of two: the unit fit, scaled.
    import skmath.linear_model._linear as linear

    monkeypatch.setattr(linear, "_GRAM_MAX_FEATURES", 0)
    X, y, w = _sparse_problem()
    ref = LinearRegression(device="cpu").fit(X, y, sample_weight=w)
    ours = LinearRegression(device="cpu").fit(
        X * x_scale, y * y_scale, sample_weight=w * w_scale
    )
    assert_allclose(ours.coef_ * x_scale / y_scale, ref.coef_, rtol=1e-12, atol=1e-13)
    assert_allclose(ours.intercept_ / y_scale, ref.intercept_, rtol=1e-12)


def test_linear_sparse_wide_goes_through_lsqr(monkeypatch):
    # 5,000 x 30,000 at density 0.001 (a 30,000^2 Gram matrix would take 7 GB):
    # no Gram matrix is formed, the fit meets LSQR's stopping test with
    # tol = 1e-6 and equals sklearn's (same iterations: 1e-15 measured).
    import skmath.linear_model._linear as linear

    def no_gram(*args, **kwargs):
        raise AssertionError("the Gram route was taken")

    monkeypatch.setattr(linear, "_centered_gram", no_gram)
    rng = np.random.RandomState(0)
    X = sp.random(5000, 30_000, density=0.001, format="csr", random_state=rng)
    y = X @ rng.randn(30_000) + 0.01 * rng.randn(5000) + 1.0
    ours = LinearRegression(device="cpu").fit(X, y)
    ref = sk.LinearRegression().fit(X, y)
    mu = np.asarray(X.mean(axis=0)).ravel()
    r = (y - y.mean()) - (X @ ours.coef_ - mu @ ours.coef_)
    A_fro = np.sqrt(X.multiply(X).sum() - X.shape[0] * mu @ mu)
    b_norm = np.linalg.norm(y - y.mean())
    assert np.linalg.norm(r) <= 1e-6 * (b_norm + 1.01 * A_fro * np.linalg.norm(ours.coef_))
    assert _rel(ours.coef_, ref.coef_) < 1e-6
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)
    assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6, atol=1e-6)


def test_linear_sparse_positive_refused_like_sklearn():
    # sklearn's positive=True needs dense X: the same TypeError here.
    X, y, _ = _sparse_problem()
    for est in (LinearRegression(positive=True, device="cpu"), sk.LinearRegression(positive=True)):
        with pytest.raises(TypeError, match="dense data is required"):
            est.fit(X, y)


# -------------------------------------------------------------- LogisticRegression


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine, load_iris])
def test_logistic_reaches_sklearn_lbfgs_optimum(loader):
    # At tight tol, coefficients within 1e-3 relative and probabilities 1e-4.
    X, y = _scaled(loader)
    ours = LogisticRegression(tol=1e-10, max_iter=5000, device="cpu").fit(X, y)
    ref = sk.LogisticRegression(tol=1e-10, max_iter=5000).fit(X, y)
    assert _rel(ours.coef_, ref.coef_) < 1e-3
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-3, atol=1e-4)
    assert np.abs(ours.predict_proba(X) - ref.predict_proba(X)).max() < 1e-4
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-3, atol=1e-3)
    assert_allclose(ours.predict_log_proba(X), ref.predict_log_proba(X), atol=1e-3)
    assert (ours.predict(X) == ref.predict(X)).all()


def test_logistic_digits_multinomial_matches_sklearn():
    # Ten-class multinomial on digits reaches sklearn's optimum.
    X, y = _scaled(load_digits)
    X, y = X[:600], y[:600]
    ours = LogisticRegression(C=0.1, tol=1e-8, max_iter=5000, device="cpu").fit(X, y)
    ref = sk.LogisticRegression(C=0.1, tol=1e-8, max_iter=5000).fit(X, y)
    assert ours.coef_.shape == (10, 64)
    assert _rel(ours.coef_, ref.coef_) < 1e-3
    assert np.abs(ours.predict_proba(X) - ref.predict_proba(X)).max() < 1e-4


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 1.0, 1: 3.0, 2: 0.5}])
def test_logistic_weights_match_sklearn(class_weight):
    # sample_weight and class_weight enter the objective exactly as in sklearn.
    X, y = _scaled(load_wine)
    w = np.random.RandomState(1).uniform(0.2, 2.0, size=len(y))
    kw = dict(C=0.5, tol=1e-10, max_iter=5000, class_weight=class_weight)
    ours = LogisticRegression(device="cpu", **kw).fit(X, y, sample_weight=w)
    ref = sk.LogisticRegression(**kw).fit(X, y, sample_weight=w)
    assert np.abs(ours.predict_proba(X) - ref.predict_proba(X)).max() < 1e-4


@SKLEARN_1_9
def test_logistic_balanced_with_a_weightless_class_raises_clearly():
    # "balanced" weighs classes by their sample_weight: class 2 has none, so its
    # weight is inf (sklearn fits on 0 * inf = NaN weights); skmath names the class.
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 0, 1, 1, 2, 2])
    w = np.array([1.0, 2.0, 1.0, 1.0, 0.0, 0.0])
    clf = LogisticRegression(class_weight="balanced", device="cpu")
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have none"):
        clf.fit(X, y, sample_weight=w)
    # Positive weights in every class fit as sklearn does.
    w[4] = 1.0
    ours = clf.fit(X, y, sample_weight=w)
    ref = sk.LogisticRegression(class_weight="balanced").fit(X, y, sample_weight=w)
    assert np.abs(ours.predict_proba(X) - ref.predict_proba(X)).max() < 1e-3


def test_logistic_no_penalty_and_no_intercept():
    # C=np.inf (no penalty) and fit_intercept=False match sklearn.
    X, y = make_classification(300, 5, random_state=0, flip_y=0.2)
    for kw in [dict(C=np.inf), dict(fit_intercept=False)]:
        ours = LogisticRegression(tol=1e-10, max_iter=1000, device="cpu", **kw).fit(X, y)
        ref = sk.LogisticRegression(tol=1e-10, max_iter=1000, **kw).fit(X, y)
        assert _rel(ours.coef_, ref.coef_) < 1e-3
        assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)


def test_logistic_string_labels_and_shapes():
    # String labels round-trip; binary coef_ has one row; proba rows sum to 1.
    X, y = _scaled(load_breast_cancer)
    labels = np.array(["malignant", "benign"])[y]
    clf = LogisticRegression(device="cpu").fit(X, labels)
    assert list(clf.classes_) == ["benign", "malignant"]
    assert clf.coef_.shape == (1, X.shape[1]) and clf.intercept_.shape == (1,)
    assert set(clf.predict(X)) <= set(labels)
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    assert clf.score(X, labels) > 0.95


def test_logistic_convergence_warning_and_n_iter():
    # Stopping on max_iter warns like sklearn (the installed release's text)
    # and reports n_iter_ == max_iter.
    X, y = _scaled(load_digits)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf = LogisticRegression(max_iter=3, device="cpu").fit(X, y)
    assert clf.n_iter_.tolist() == [3]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = LogisticRegression(max_iter=1000, device="cpu").fit(X, y)
    assert 1 <= clf.n_iter_[0] < 1000


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # sklearn's log(0)
@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_logistic_float32_preserved(loader):
    # float32 in -> float32 coef_, intercept_, decision_function and
    # probabilities, like sklearn; the fit (in float64) matches sklearn's float64 one.
    X, y = _scaled(loader)
    X32 = X.astype(np.float32)
    kw = dict(tol=1e-8, max_iter=2000)
    clf = LogisticRegression(device="cpu", **kw).fit(X32, y)
    ref = sk.LogisticRegression(**kw).fit(X32, y)
    newest = parse_version(sklearn.__version__) >= parse_version("1.9")
    for name in ["coef_", "intercept_"]:
        assert getattr(clf, name).dtype == np.float32
        assert getattr(ref, name).dtype == np.float32 or not newest
    for method in ["decision_function", "predict_proba", "predict_log_proba"]:
        assert getattr(clf, method)(X32).dtype == np.float32
        assert getattr(ref, method)(X32).dtype == np.float32 or not newest
    ref64 = sk.LogisticRegression(**kw).fit(X, y)
    assert np.abs(clf.predict_proba(X) - ref64.predict_proba(X)).max() < 1e-4
    # warm_start from float32 coefficients works.
    clf.set_params(warm_start=True).fit(X32, y)
    assert clf.coef_.dtype == np.float32


def test_logistic_n_iter_counts_like_sklearn():
    # max_iter=0 and a warm start at the optimum run no iteration: n_iter_ is
    # 0, as in sklearn (not rounded up to 1).
    X, y = _scaled(load_iris)
    clf, ref = LogisticRegression(max_iter=0, device="cpu"), sk.LogisticRegression(max_iter=0)
    # The same warning (sklearn >= 1.7: "... after 0 iteration(s) ...").
    assert _warnings_of(clf, X, y) == _warnings_of(ref, X, y)
    assert clf.n_iter_.tolist() == ref.n_iter_.tolist() == [0]
    kw = dict(warm_start=True, tol=1e-3)
    clf = LogisticRegression(device="cpu", **kw).fit(X, y)
    ref = sk.LogisticRegression(**kw).fit(X, y)
    assert clf.fit(X, y).n_iter_.tolist() == ref.fit(X, y).n_iter_.tolist() == [0]
    # sklearn's newton-cg checks the gradient first (0 iterations); its
    # newton-cholesky takes a step first (1).
    for solver, n_iter in [("newton-cg", 0), ("newton-cholesky", 1)]:
        kw = dict(solver=solver, warm_start=True, tol=1e-12)
        clf = LogisticRegression(device="cpu", **kw).fit(X, y)
        ref = sk.LogisticRegression(**kw).fit(X, y)
        assert clf.fit(X, y).n_iter_.tolist() == ref.fit(X, y).n_iter_.tolist() == [n_iter]


@pytest.mark.parametrize(
    "solver, kw",
    [("lbfgs", {}), ("newton-cg", {}), ("newton-cholesky", {}), ("sag", {}), ("saga", {}),
     ("saga", {"l1_ratio": 1.0}), ("liblinear", {})],
)
def test_logistic_max_iter_zero_returns_what_sklearn_returns(solver, kw):
    # sklearn's lbfgs takes scipy's first step at max_iter=0 (so does ours);
    # its other solvers return the starting point: zeros, or the warm start.
    # Its sag and saga count one epoch and do not warn (ours said 0 and warned).
    X, y = _scaled(load_breast_cancer)
    params = dict(solver=solver, max_iter=0, **kw)
    clf = LogisticRegression(device="cpu", **params)
    ref = sk.LogisticRegression(**params)
    # (Convergence warnings only: sklearn < 1.9 also warns that l1_ratio
    # needs penalty="elasticnet".)
    assert ([c for c, _ in _warnings_of(clf, X, y) if c is ConvergenceWarning]
            == [c for c, _ in _warnings_of(ref, X, y) if c is ConvergenceWarning])
    assert clf.n_iter_.tolist() == ref.n_iter_.tolist()
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(clf.intercept_, ref.intercept_, atol=1e-8)
    if solver != "lbfgs":
        assert not clf.coef_.any()
        warm = LogisticRegression(solver=solver, max_iter=50, device="cpu", **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warm.fit(X, y)
            start = warm.coef_.copy()
            if solver != "liblinear":  # liblinear never warm starts (sklearn)
                warm.set_params(warm_start=True, max_iter=0).fit(X, y)
                np.testing.assert_array_equal(warm.coef_, start)


@SKLEARN_1_9
@pytest.mark.parametrize(
    "kw",
    [
        dict(l1_ratio=0.5),
        dict(l1_ratio=1.0),
        dict(penalty="l1", l1_ratio=1.0),
        dict(penalty="elasticnet", l1_ratio=0.5),
    ],
)
def test_logistic_lbfgs_refuses_l1_like_sklearn(kw):
    # An L1 part with solver='lbfgs' is sklearn's ValueError (message included),
    # pointing to 'saga'; never silently an L2 fit.
    X, y = _scaled(load_iris)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the deprecated penalty
        with pytest.raises(ValueError) as ref:
            sk.LogisticRegression(**kw).fit(X, y)
        with pytest.raises(ValueError, match="solver='saga'") as ours:
            LogisticRegression(device="cpu", **kw).fit(X, y)
    assert str(ours.value).startswith(str(ref.value))


def _sklearn_logistic(**kw):
    """sklearn's LogisticRegression with an ``l1_ratio`` penalty; before 1.8
    that needs ``penalty``."""
    l1_ratio = kw.get("l1_ratio", 0.0)
    if parse_version(sklearn.__version__) < parse_version("1.8") and l1_ratio > 0:
        kw["penalty"] = "l1" if l1_ratio == 1 else "elasticnet"
    return sk.LogisticRegression(**kw)


def _lasso_logistic_objective(est, X, y, C, l1_ratio):
    """sklearn's objective ``C sum_i l_i + (1-r)/2 ||W||^2 + r ||W||_1`` of a fit."""
    Z = X @ est.coef_.T + est.intercept_
    index = np.searchsorted(est.classes_, y)
    if Z.shape[1] == 1:
        losses = np.logaddexp(0, Z[:, 0]) - Z[:, 0] * index
    else:
        losses = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), index]
    W = est.coef_.astype(np.float64)
    return C * losses.sum() + (1 - l1_ratio) / 2 * (W**2).sum() + l1_ratio * np.abs(W).sum()


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris, load_wine])
@pytest.mark.parametrize("C, l1_ratio", [(0.05, 1.0), (0.5, 1.0), (0.5, 0.5), (0.3, 0.2)])
def test_logistic_l1_and_elastic_net_reach_sklearn_saga_optimum(loader, C, l1_ratio):
    # The same minimiser as sklearn's saga run to a tight tolerance: the same
    # coefficients, the same exact zeros, an objective no higher.
    X, y = _scaled(loader)
    kw = dict(C=C, l1_ratio=l1_ratio, tol=1e-10)
    ours = LogisticRegression(solver="saga", max_iter=5000, device="cpu", **kw).fit(X, y)
    ref = _sklearn_logistic(solver="saga", max_iter=50000, **kw).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, atol=5e-5 * np.abs(ref.coef_).max())
    assert_allclose(ours.intercept_, ref.intercept_, atol=5e-5 * np.abs(ref.coef_).max())
    assert ((ours.coef_ == 0) == (ref.coef_ == 0)).all()
    assert 0 < (ours.coef_ == 0).sum() < ours.coef_.size or l1_ratio < 1
    objective = _lasso_logistic_objective(ours, X, y, C, l1_ratio)
    assert objective <= _lasso_logistic_objective(ref, X, y, C, l1_ratio) * (1 + 1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_l1_zero_solution_below_the_critical_C(fit_intercept):
    # W = 0 is optimal iff ||grad_W at (0, b*)||_inf <= 1/C. Closed form: with
    # an intercept, b* gives the mean probability p = mean(y) and the critical
    # C is 1 / max_j |x_j^T (p - y)|; without, sklearn's ``l1_min_c``. Just
    # below it every coefficient is zero; just above, only the steepest one
    # moves.
    from sklearn.svm import l1_min_c

    X, y = _scaled(load_breast_cancer)
    if fit_intercept:
        gradient = X.T @ (y.mean() - y)
        critical = 1.0 / np.abs(gradient).max()
    else:
        X = X + 0.5  # a non-zero mean, so that the intercept matters
        gradient = X.T @ (0.5 - y)
        critical = l1_min_c(X, y, loss="log", fit_intercept=False)
        assert np.isclose(critical, 1.0 / np.abs(gradient).max())
    kw = dict(solver="saga", l1_ratio=1.0, tol=1e-12, max_iter=2000,
              fit_intercept=fit_intercept, device="cpu")
    below = LogisticRegression(C=0.99 * critical, **kw).fit(X, y)
    assert (below.coef_ == 0).all()
    if fit_intercept:  # the intercept alone: log-odds of the class frequency
        assert_allclose(below.intercept_, np.log(y.mean() / (1 - y.mean())), rtol=1e-6)
    above = LogisticRegression(C=1.01 * critical, **kw).fit(X, y)
    assert np.flatnonzero(above.coef_[0]).tolist() == [np.abs(gradient).argmax()]


def test_logistic_l1_sparse_weighted_warm_start():
    # Sparse X equals dense; sample weights; a warm start from the L1 optimum
    # stops at once; inputs untouched.
    rng = np.random.RandomState(0)
    X = sp.random(300, 60, density=0.1, format="csr", random_state=rng) * 3
    X_before = X.copy()
    y = np.asarray(X @ rng.randn(60, 3)).argmax(axis=1)
    w = rng.uniform(0.5, 2.0, size=300)
    kw = dict(solver="saga", C=0.5, l1_ratio=0.7, tol=1e-10, max_iter=3000, device="cpu")
    dense = LogisticRegression(**kw).fit(X.toarray(), y, sample_weight=w)
    ours = LogisticRegression(warm_start=True, **kw).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, dense.coef_, atol=1e-7)
    assert ((ours.coef_ == 0) == (dense.coef_ == 0)).all() and (ours.coef_ == 0).any()
    cold_iterations = ours.n_iter_[0]
    assert ours.fit(X, y, sample_weight=w).n_iter_[0] <= min(3, cold_iterations // 10)
    assert X.format == "csr" and (X != X_before).nnz == 0


def test_logistic_warm_start_continues():
    # warm_start starts from the previous solution: the refit needs fewer iterations.
    X, y = _scaled(load_wine)
    clf = LogisticRegression(tol=1e-8, max_iter=500, warm_start=True, device="cpu")
    first = clf.fit(X, y).n_iter_[0]
    second = clf.fit(X, y).n_iter_[0]
    assert second < first


@SKLEARN_1_9
def test_logistic_signature_is_sklearns():
    # Every sklearn parameter, in sklearn's order, with sklearn's default and
    # kind (only ``penalty`` positional), plus ``device``; all validated.
    ours = inspect.signature(LogisticRegression).parameters
    ref = inspect.signature(sk.LogisticRegression).parameters
    assert list(ours) == [*ref, "device"]
    for name, param in ref.items():
        assert ours[name].default == param.default, name
        assert ours[name].kind == param.kind, name
    assert set(LogisticRegression._parameter_constraints) == {
        *sk.LogisticRegression._parameter_constraints,
        "device",
    }


@SKLEARN_1_9
def test_logistic_clone_and_get_params_round_trip():
    # Non-default values of the sklearn parameters survive get_params/clone.
    params = dict(
        penalty="l2",
        C=0.3,
        dual=False,
        intercept_scaling=2.5,
        random_state=0,
        solver="lbfgs",
        n_jobs=2,
        warm_start=True,
        device="cpu",
    )
    est = LogisticRegression(**params)
    assert {k: v for k, v in est.get_params().items() if k in params} == params
    assert clone(est).get_params() == est.get_params()
    # The same keyword arguments build sklearn's estimator.
    ref = sk.LogisticRegression(**{k: v for k, v in params.items() if k != "device"})
    assert ref.get_params().keys() == est.get_params().keys() - {"device"}


def _fit_recording_warnings(est, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    return est, sorted((w.category.__name__, str(w.message)) for w in caught)


@SKLEARN_1_9
@pytest.mark.parametrize(
    "kw",
    [
        dict(solver="lbfgs"),
        dict(dual=False, intercept_scaling=3.0, random_state=0),
        dict(n_jobs=-1),
        dict(penalty="l2", C=0.5),
        dict(penalty="l2", l1_ratio=0.5),
        dict(penalty=None),
        dict(penalty=None, C=2.0),
        dict(penalty="l2", C=np.inf),
        dict(C=np.inf, l1_ratio=0.5),
        dict(C=np.inf, l1_ratio=1.0),
        dict(l1_ratio=None),
        dict(solver="saga"),
        dict(solver="saga", l1_ratio=1.0, C=0.05),
        dict(solver="saga", l1_ratio=0.5, C=0.1),
        dict(solver="saga", penalty="l1", C=0.05),
        dict(solver="saga", penalty="l1", l1_ratio=1.0, C=0.05),
        dict(solver="saga", penalty="elasticnet", l1_ratio=0.5, C=0.1),
        dict(solver="saga", penalty="l2", l1_ratio=0.5),
        dict(solver="saga", C=np.inf, l1_ratio=1.0),
    ],
)
def test_logistic_sklearn_settings_fit_and_warn_like_sklearn(kw):
    # Accepted settings (the deprecated ``penalty``, ``n_jobs`` and
    # ``l1_ratio=None`` included) give sklearn's optimum and sklearn's warnings.
    # Noisy labels: the unpenalised (C=np.inf) optimum is finite.
    X, y = make_classification(
        300, 5, n_informative=3, n_classes=3, flip_y=0.2, random_state=0
    )
    tight = dict(tol=1e-10, max_iter=5000)
    ours, our_warnings = _fit_recording_warnings(
        LogisticRegression(device="cpu", **tight, **kw), X, y
    )
    ref, ref_warnings = _fit_recording_warnings(sk.LogisticRegression(**tight, **kw), X, y)
    assert our_warnings == ref_warnings
    assert _rel(ours.coef_, ref.coef_) < 1e-3
    assert np.abs(ours.predict_proba(X) - ref.predict_proba(X)).max() < 1e-4


@SKLEARN_1_9
@pytest.mark.parametrize(
    "kw",
    [
        dict(dual=True),
        dict(solver="newton-cg", dual=True),
        dict(solver="sag", l1_ratio=1.0),
        dict(solver="newton-cholesky", penalty="elasticnet", l1_ratio=0.5),
        dict(solver="liblinear", l1_ratio=0.5),
        dict(solver="liblinear", C=np.inf),
        dict(solver="liblinear", penalty=None),
        dict(solver="liblinear", l1_ratio=1.0, dual=True),
    ],
)
def test_logistic_refuses_what_sklearn_refuses(kw):
    # Every solver's problem is solved by L-BFGS-B, but sklearn's rules of
    # which solver takes which penalty and dual setting hold, with its
    # ValueError and message, at fit (constructing never fails).
    X, y = _scaled(load_breast_cancer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the deprecated penalty
        with pytest.raises(ValueError) as ref:
            sk.LogisticRegression(**kw).fit(X, y)
        est = LogisticRegression(device="cpu", **kw)
        with pytest.raises(ValueError) as ours:
            est.fit(X, y)
    assert not isinstance(ours.value, InvalidParameterError)
    assert str(ours.value).startswith(str(ref.value))
    assert not hasattr(est, "coef_")


@SKLEARN_1_9
def test_logistic_liblinear_refuses_multiclass_like_sklearn():
    X, y = _scaled(load_iris)
    with pytest.raises(ValueError, match="does not support multiclass") as ref:
        sk.LogisticRegression(solver="liblinear").fit(X, y)
    with pytest.raises(ValueError) as ours:
        LogisticRegression(solver="liblinear", device="cpu").fit(X, y)
    # sklearn's message, then the wording sklearn's check for binary-only classifiers
    # expects (check_classifier_not_supporting_multiclass, which sklearn's fails).
    assert str(ours.value).startswith(str(ref.value))
    assert "Only binary classification is supported." in str(ours.value)


def test_logistic_sag_solves_lbfgs_problem():
    # sklearn's sag minimises lbfgs's objective: skmath solves it the same way
    # (identical coefficients) and meets sklearn's solver.
    X, y = make_classification(300, 5, n_informative=3, n_classes=3, flip_y=0.2,
                               random_state=0)
    kw = dict(tol=1e-10, max_iter=5000)
    ours = LogisticRegression(solver="sag", device="cpu", **kw).fit(X, y)
    assert_array_equal(ours.coef_, LogisticRegression(device="cpu", **kw).fit(X, y).coef_)
    ref = sk.LogisticRegression(solver="sag", **kw).fit(X, y)
    assert _rel(ours.coef_, ref.coef_) < 1e-6


def _newton_problems():
    X3, y3 = make_classification(300, 5, n_informative=3, n_redundant=0, n_classes=3,
                                 flip_y=0.2, random_state=0)
    Xs, ys = make_classification(300, 20, n_informative=5, n_classes=3, random_state=0)
    Xs = sp.csr_matrix(np.where(np.abs(Xs) > 1, Xs, 0.0))
    return {
        "binary": (*_scaled(load_breast_cancer), {}),
        "binary-no-intercept": (*_scaled(load_breast_cancer), dict(fit_intercept=False)),
        "multinomial": (*_scaled(load_iris), dict(C=100.0)),
        "multinomial-no-penalty": (X3, y3, dict(C=np.inf)),
        "multinomial-no-intercept": (X3, y3, dict(fit_intercept=False)),
        "sparse": (Xs, ys, {}),
        "weights": (*_scaled(load_wine), dict(class_weight="balanced")),
    }


@pytest.mark.parametrize("solver", ["newton-cholesky", "newton-cg"])
@pytest.mark.parametrize("problem", list(_newton_problems()))
def test_logistic_newton_solvers_take_sklearns_steps(solver, problem):
    # newton-cholesky and newton-cg run sklearn's Newton iterations (with
    # their line searches: backtracking, and SciPy's Wolfe search for
    # newton-cg): the same coefficients at tol=1e-10 (to 1e-10; newton-cg's
    # inexact steps stop elsewhere within the tolerance: 1e-8), in as many
    # iterations.
    X, y, kw = _newton_problems()[problem]
    kw = dict(solver=solver, tol=1e-10, max_iter=500, **kw)
    weight = np.linspace(0.5, 2.0, X.shape[0]) if problem == "weights" else None
    ours = LogisticRegression(device="cpu", **kw).fit(X, y, sample_weight=weight)
    ref = sk.LogisticRegression(**kw).fit(X, y, sample_weight=weight)
    precision = 1e-10 if solver == "newton-cholesky" else 1e-8
    assert _rel(ours.coef_, ref.coef_) < precision
    assert_allclose(ours.intercept_, ref.intercept_, atol=precision * np.abs(ref.coef_).max())
    assert ours.n_iter_.tolist() == ref.n_iter_.tolist()
    # The multinomial intercepts sum to 0 (sklearn's symmetric parametrisation).
    if ref.coef_.shape[0] > 2 and kw.get("fit_intercept", True):
        assert abs(ours.intercept_.sum()) < 1e-12


def test_logistic_binary_loss_is_exact_for_large_margins():
    # torch's softplus returns z itself above z = 20, so a well-classified
    # sample's loss log(1 + e^-z) was 0 and the objective disagreed with its
    # gradient: at C=1e10 on separable data, fits 1.6-2.6% above sklearn's
    # objective, and the Newton solvers' line search failed. Against
    # log1p(exp(-|z|)) (an independent closed form) and sklearn's fits.
    from skmath.linear_model._logistic import logistic_objective

    z = torch.tensor([[-40.0], [-21.0], [0.0], [21.0], [40.0]], dtype=torch.float64)
    Y = torch.tensor([[0.0], [1.0], [1.0], [1.0], [1.0]], dtype=torch.float64)
    w = torch.full((5,), 0.2, dtype=torch.float64)
    coef = torch.tensor([[1.0]], dtype=torch.float64)
    loss, _ = logistic_objective(coef, z, Y, w, 0.0, False, False)
    exact = np.array([np.log1p(np.exp(-40)), 21 + np.log1p(np.exp(-21)), np.log(2),
                      np.log1p(np.exp(-21)), np.log1p(np.exp(-40))])
    assert float(loss) == pytest.approx(exact.mean(), rel=1e-15)
    rng = np.random.RandomState(0)
    X = rng.randn(40, 2)
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    X[:, 0] += np.where(y == 1, 1.0, -1.0)  # separable
    for solver in ("lbfgs", "newton-cholesky", "newton-cg"):
        kw = dict(solver=solver, C=1e10, tol=1e-11, max_iter=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = LogisticRegression(device="cpu", **kw).fit(X, y)
        ref = sk.LogisticRegression(**kw).fit(X, y)
        assert _binary_objective(ours, X, y, 1e10) <= _binary_objective(ref, X, y, 1e10) * (
            1 + 1e-8)


def test_logistic_newton_at_a_zero_gradient_converges_without_warning():
    # A zero gradient gives a null Newton step (slope 0): converged, as in
    # sklearn, not a "not a descent direction" fallback.
    X, y = np.array([[1.0], [-1.0], [1.0], [-1.0]]), np.array([0, 0, 1, 1])
    for solver, n_iter in (("newton-cholesky", 1), ("newton-cg", 0)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = LogisticRegression(solver=solver, device="cpu").fit(X, y)
        ref = sk.LogisticRegression(solver=solver).fit(X, y)
        assert ours.n_iter_.tolist() == ref.n_iter_.tolist() == [n_iter]
        assert ours.coef_.tolist() == [[0.0]]


def _binary_objective(clf, X, y, C):
    z = X @ clf.coef_.ravel() + clf.intercept_[0]
    return C * np.sum(np.logaddexp(0, z) - y * z) + 0.5 * np.sum(clf.coef_**2)


def _objective(clf, X, y, C):
    # sklearn's (unscaled) objective C * log-loss sum + ||W||^2 / 2.
    P = clf.predict_proba(X)
    return -C * np.log(P[np.arange(len(y)), y]).sum() + 0.5 * (clf.coef_**2).sum()


def test_logistic_newton_cholesky_is_as_precise_as_sklearns():
    # Nearly separable data, huge C, tiny tol: L-BFGS-B stops on its
    # relative-decrease test above the minimum (documented); Newton's steps
    # get to sklearn's newton-cholesky's objective.
    X, y = _scaled(load_iris)
    kw = dict(C=1e8, tol=1e-10, max_iter=1000)
    ref = sk.LogisticRegression(solver="newton-cholesky", **kw).fit(X, y)
    ours = LogisticRegression(solver="newton-cholesky", device="cpu", **kw).fit(X, y)
    lbfgs = LogisticRegression(device="cpu", **kw).fit(X, y)
    f_ref, f_ours = _objective(ref, X, y, 1e8), _objective(ours, X, y, 1e8)
    assert abs(f_ours - f_ref) <= 1e-9 * f_ref
    assert _objective(lbfgs, X, y, 1e8) > f_ref * (1 + 1e-8)


def test_logistic_newton_cholesky_falls_back_to_lbfgs_on_a_singular_hessian():
    # A repeated column without penalty: the Hessian is singular. As sklearn,
    # a LinAlgWarning, then L-BFGS-B reaches the (non-unique) minimum: the
    # probabilities of the fit without the repeated column.
    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, flip_y=0.2,
                               random_state=0)
    kw = dict(C=np.inf, tol=1e-10, max_iter=500)
    with pytest.warns(scipy.linalg.LinAlgWarning, match="singular"):
        ours = LogisticRegression(solver="newton-cholesky", device="cpu", **kw)
        ours.fit(np.hstack([X, X[:, :1]]), y)
    ref = sk.LogisticRegression(**kw).fit(X, y)
    assert np.abs(ours.predict_proba(np.hstack([X, X[:, :1]])) - ref.predict_proba(X)).max() < 1e-6
    assert 0 < ours.n_iter_[0] <= 500


def _warnings_of(estimator, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky", "newton-cg", "sag", "saga",
                                    "liblinear"])
def test_logistic_convergence_warnings_are_sklearns(solver):
    # Word for word sklearn's, so that filters and match= written for sklearn
    # catch them; where skmath runs another algorithm under sklearn's solver
    # name, it says which after sklearn's sentence.
    X, y = load_breast_cancer(return_X_y=True)
    kw = dict(solver=solver, max_iter=1, tol=1e-15)
    ref = _warnings_of(sk.LogisticRegression(**kw), X, y)
    ours = _warnings_of(LogisticRegression(**kw, device="cpu"), X, y)
    assert len(ours) == len(ref) == 1 and ours[0][0] is ref[0][0] is ConvergenceWarning
    if solver == "newton-cg":  # "... at loss = <the loss, to rounding>. ..."
        pattern = re.escape(ref[0][1]).replace(re.escape(re.search(r"\d\.\d+", ref[0][1])[0]),
                                               r"0\.680768458401485\d")
        assert re.fullmatch(pattern, ours[0][1])
    elif solver in ("sag", "saga", "liblinear"):
        method = "Newton-CG" if solver == "liblinear" else "L-BFGS-B"  # L2 liblinear
        assert ours[0][1].startswith(ref[0][1]) and f"runs {method}:" in ours[0][1]
    else:
        assert ours[0][1] == ref[0][1]


def test_logistic_newton_fallback_warnings_are_sklearns():
    # A singular Hessian (20 features, 10 samples, no effective penalty):
    # sklearn's LinAlgWarning, then its fallback's lbfgs warning, which
    # counts the fallback's own iterations (12 here: skmath's fallback also
    # gets the failed iteration, documented; sklearn's 11).
    X, y = make_classification(n_samples=10, n_features=20, random_state=42)
    kw = dict(solver="newton-cholesky", C=1e30, max_iter=12)
    ref = _warnings_of(sk.LogisticRegression(**kw), X, y)
    ours = _warnings_of(LogisticRegression(**kw, device="cpu"), X, y)
    assert [c for c, _ in ours] == [c for c, _ in ref] == [
        scipy.linalg.LinAlgWarning, ConvergenceWarning]
    # The first three lines are sklearn's; the fourth is LAPACK's own message.
    assert ours[0][1].splitlines()[:3] == ref[0][1].splitlines()[:3]
    assert ours[1][1] == ref[1][1].replace("11 iteration", "12 iteration").replace(
        "max_iter=11", "max_iter=12")


def test_logistic_liblinear_l2_runs_newton_iterations_as_liblinear():
    # liblinear solves its L2 problem by trust-region Newton, and max_iter
    # counts those iterations. On unscaled breast cancer sklearn's liblinear
    # converges in 24; L-BFGS-B needed 129 (> max_iter=100: a
    # ConvergenceWarning sklearn does not give). skmath's Newton-CG converges
    # without warning, to an objective no higher than sklearn's liblinear's.
    X, y = load_breast_cancer(return_X_y=True)
    ref = sk.LogisticRegression(solver="liblinear").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = LogisticRegression(solver="liblinear", device="cpu").fit(X, y)

    def objective(model):  # liblinear's: C sum log-loss + |[w, b]|^2 / 2, b penalised
        w = np.r_[model.coef_.ravel(), model.intercept_]
        z = np.c_[X, np.ones(len(X))] @ w
        return np.logaddexp(0, -(2 * y - 1) * z).sum() + 0.5 * w @ w

    assert ours.n_iter_[0] <= 50
    assert objective(ours) <= objective(ref) + 1e-9
    tight = sk.LogisticRegression(solver="liblinear", tol=1e-10, max_iter=1000).fit(X, y)
    assert objective(ours) - objective(tight) < 1e-3


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes, fit_intercept", [(2, True), (3, True), (3, False)])
def test_logistic_hessian_is_the_objectives_second_derivative(n_classes, fit_intercept,
                                                              sparse):
    # logistic_hessian and logistic_hessian_product against autograd's
    # Hessian of logistic_objective (an independent computation).
    from skmath._engine import as_tensor, csr_transpose
    from skmath.linear_model._logistic import (
        logistic_hessian,
        logistic_hessian_product,
        logistic_objective,
    )

    X, y = make_classification(40, 4, n_informative=3, n_redundant=0,
                               n_classes=n_classes, random_state=0)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    Xt = as_tensor(X, torch.device("cpu"), dtype=np.float64)
    XT = csr_transpose(Xt) if sparse else None
    multinomial = n_classes > 2
    Y = torch.nn.functional.one_hot(torch.as_tensor(y), n_classes).double()
    Y = Y if multinomial else Y[:, 1:]
    w = torch.linspace(0.5, 1.5, 40, dtype=torch.float64)
    w = w / w.sum()
    model = (Xt, w, 0.3, fit_intercept, multinomial, XT)
    shape = (n_classes if multinomial else 1, 4 + fit_intercept)
    coef = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    dense = (torch.as_tensor(X.toarray() if sparse else X), w, 0.3, fit_intercept, multinomial)
    expected = torch.autograd.functional.hessian(
        lambda c: logistic_objective(c, dense[0], Y, dense[1], *dense[2:])[0], coef
    ).reshape(coef.numel(), coef.numel())
    torch.testing.assert_close(logistic_hessian(coef, *model), expected, rtol=1e-12, atol=1e-14)
    V = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        logistic_hessian_product(coef, *model)(V).ravel(), expected @ V.ravel(),
        rtol=1e-12, atol=1e-14,
    )


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(dual=True),
        dict(l1_ratio=1.0),
        dict(l1_ratio=1.0, intercept_scaling=10.0),
        dict(C=0.1, intercept_scaling=0.1),
        dict(l1_ratio=1.0, fit_intercept=False),
        dict(l1_ratio=1.0, class_weight="balanced"),
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_logistic_liblinear_problem_matches_sklearn(kw, sparse):
    # liblinear's problem penalises the intercept, as the weight of a constant
    # feature ``intercept_scaling``: a different minimiser from lbfgs's, met
    # to 5e-5 (sklearn's liblinear at tol=1e-10), zeros included.
    X, y = _scaled(load_breast_cancer)
    kw = dict(solver="liblinear", tol=1e-10, **kw)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    ref = _sklearn_logistic(max_iter=10000, **kw).fit(X, y)
    ours = LogisticRegression(max_iter=5000, device="cpu", **kw).fit(X, y)
    scale = np.abs(ref.coef_).max()
    assert_allclose(ours.coef_, ref.coef_, atol=5e-5 * scale)
    assert_allclose(ours.intercept_, ref.intercept_, atol=5e-5 * scale)
    assert ((ours.coef_ == 0) == (ref.coef_ == 0)).all()
    if kw.get("fit_intercept", True):
        # The unpenalised intercept of the same penalty is another one.
        other = LogisticRegression(max_iter=5000, device="cpu",
                                   **{**kw, "solver": "saga", "dual": False}).fit(X, y)
        assert np.abs(ours.intercept_ - other.intercept_).max() > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_liblinear_attributes_typed_like_sklearn(dtype, fit_intercept):
    # sklearn's liblinear returns float64 coefficients whatever X's dtype, and
    # the scalar intercept_ 0.0 without an intercept.
    X, y = _scaled(load_breast_cancer)
    X = X.astype(dtype)
    kw = dict(solver="liblinear", fit_intercept=fit_intercept, tol=1e-10)
    ours = LogisticRegression(max_iter=5000, device="cpu", **kw).fit(X, y)
    ref = sk.LogisticRegression(max_iter=10000, **kw).fit(X, y)
    assert ours.coef_.dtype == ref.coef_.dtype == np.float64
    assert type(ours.intercept_) is type(ref.intercept_)
    assert np.asarray(ours.intercept_).dtype == np.asarray(ref.intercept_).dtype
    if not fit_intercept:
        assert ours.intercept_ == ref.intercept_ == 0.0
    for method in ["decision_function", "predict_proba", "predict_log_proba"]:
        assert getattr(ours, method)(X).dtype == getattr(ref, method)(X).dtype
    assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-3)
    # A warm start from that fit, with an intercept, starts it at zero.
    ours.set_params(solver="lbfgs", fit_intercept=True, warm_start=True).fit(X, y)
    assert ours.intercept_.shape == (1,) and ours.coef_.dtype == dtype


@pytest.mark.parametrize("solver", ["lbfgs", "liblinear"])
@pytest.mark.parametrize("weight", [np.inf, np.nan])
def test_logistic_non_finite_class_weight_dict_raises(solver, weight):
    # sklearn fits on such weights (zeros) or hangs (liblinear); skmath refuses
    # them, naming the class, not with the message for "balanced".
    X, y = _scaled(load_breast_cancer)
    clf = LogisticRegression(solver=solver, class_weight={0: weight, 1: 1.0}, device="cpu")
    with pytest.raises(ValueError, match=r"class_weight must be finite.*\[0\]"):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "kw",
    [
        dict(solver="newton"),
        dict(penalty="l3"),
        dict(dual="no"),
        dict(intercept_scaling=0),
        dict(random_state="seed"),
        dict(n_jobs=1.5),
        dict(l1_ratio=1.5),
    ],
)
def test_logistic_invalid_values_raise_invalid_parameter_error(kw):
    # Values sklearn itself rejects raise sklearn's InvalidParameterError.
    X, y = _scaled(load_iris)
    for est in (LogisticRegression(device="cpu", **kw), sk.LogisticRegression(**kw)):
        with pytest.raises(InvalidParameterError, match=f"'{next(iter(kw))}' parameter"):
            est.fit(X, y)


@SKLEARN_1_9
@pytest.mark.parametrize(
    "first, second",
    [
        ("iris", "iris_3_features"),
        ("iris", "binary"),
        ("binary", "iris"),
        ("binary", "binary_3_features"),
    ],
)
def test_logistic_warm_start_other_shape_raises_like_sklearn(first, second):
    # A warm start from a coef_ of another shape (classes or features) raises
    # sklearn's ValueError instead of silently restarting from zero.
    X, y = _scaled(load_iris)
    data = {
        "iris": (X, y),
        "iris_3_features": (X[:, :3], y),
        "binary": (X, y == 0),
        "binary_3_features": (X[:, :3], y == 0),
    }
    ours_est = LogisticRegression(device="cpu", warm_start=True)
    for est in (ours_est, sk.LogisticRegression(warm_start=True)):
        est.fit(*data[first])
        with pytest.raises(ValueError) as info:
            est.fit(*data[second])
        if est is ours_est:
            ours = str(info.value)
    # sklearn's message, then a hint.
    assert ours.startswith(str(info.value)) and "warm_start=False" in ours
    # Switching fit_intercept keeps working, as in sklearn.
    est = LogisticRegression(device="cpu", warm_start=True, fit_intercept=False).fit(X, y)
    est.set_params(fit_intercept=True).fit(X, y)
    est.set_params(fit_intercept=False).fit(X, y)


def test_logistic_grid_search_over_solver_and_C_matches_sklearn():
    # A grid written for sklearn (solver and C) runs and picks what sklearn picks.
    X, y = _scaled(load_breast_cancer)
    grid = {"solver": ["lbfgs"], "C": [0.01, 0.1, 1.0, 10.0]}
    kw = dict(scoring="neg_log_loss", cv=3)
    ours = GridSearchCV(LogisticRegression(tol=1e-8, max_iter=1000, device="cpu"), grid, **kw)
    ref = GridSearchCV(sk.LogisticRegression(tol=1e-8, max_iter=1000), grid, **kw)
    ours.fit(X, y)
    ref.fit(X, y)
    assert ours.best_params_ == ref.best_params_
    assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-4
    )
    assert ours.best_estimator_.get_params()["solver"] == "lbfgs"


# --------------------------------------------------------------------- both


@pytest.mark.parametrize(
    "est, data",
    [
        (LinearRegression, lambda: load_diabetes(return_X_y=True)),
        (LogisticRegression, lambda: _scaled(load_wine)),
    ],
)
def test_pickle_roundtrip_predicts_the_same(est, data):
    # A fitted model pickles and predicts identically after loading.
    X, y = data()
    model = est(device="cpu").fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    assert_allclose(clone.predict(X), model.predict(X))


@CUDA
@pytest.mark.parametrize(
    "est, kw",
    [
        (LinearRegression, {}),
        (LogisticRegression, {}),
        (LogisticRegression, dict(solver="saga", l1_ratio=0.5, C=0.3)),
        (LogisticRegression, dict(solver="liblinear", l1_ratio=1.0)),
        (LogisticRegression, dict(solver="newton-cholesky")),
        (LogisticRegression, dict(solver="newton-cg")),
    ],
)
def test_cuda_fit_matches_cpu_and_pickles(est, kw):
    # Fitting on CUDA gives the CPU model; the pickle carries only NumPy arrays.
    if est is LinearRegression:
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = _scaled(load_wine)
        if kw.get("solver") == "liblinear":
            y = y == 0  # binary only
    gpu = est(device="cuda", **kw).fit(X, y)
    cpu = est(device="cpu", **kw).fit(X, y)
    assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-4, atol=1e-6)
    assert isinstance(gpu.coef_, np.ndarray)
    loaded = pickle.loads(pickle.dumps(gpu))
    assert_allclose(loaded.predict(X), gpu.predict(X))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logistic_sparse_X_matches_dense_and_sklearn(n_classes):
    # Sparse X (any format) stays sparse: the fit equals the dense one to
    # rounding and reaches sklearn's optimum on the same sparse data.
    rng = np.random.RandomState(0)
    X = sp.random(300, 80, density=0.05, format="csr", random_state=rng) * 5
    X_before = X.copy()
    y = np.asarray(X @ rng.randn(80, n_classes)).argmax(axis=1)
    w = rng.uniform(0.5, 2.0, size=300)
    kw = dict(C=2.0, tol=1e-10, max_iter=2000)
    dense = LogisticRegression(device="cpu", **kw).fit(X.toarray(), y, sample_weight=w)
    for fmt in ("csr", "csc", "coo"):
        ours = LogisticRegression(device="cpu", **kw).fit(X.asformat(fmt), y, sample_weight=w)
        assert_allclose(ours.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
        assert_allclose(ours.predict_proba(X.asformat(fmt)), dense.predict_proba(X.toarray()),
                        rtol=1e-7, atol=1e-10)
    ref = sk.LogisticRegression(**kw).fit(X, y, sample_weight=w)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    assert X.format == "csr" and (X != X_before).nnz == 0  # input untouched


def test_logistic_sparsify_densify_like_sklearn():
    # sklearn's SparseCoefMixin: sparsify() makes coef_ CSR (nonzeros only),
    # predictions unchanged on dense and sparse X; densify() restores the
    # array; a warm start from a sparsified model works.
    X, y = _scaled(load_breast_cancer)
    kw = dict(solver="saga", l1_ratio=1.0, C=0.05, tol=1e-10)
    ours = LogisticRegression(max_iter=1000, device="cpu", **kw).fit(X, y)
    ref = _sklearn_logistic(max_iter=50000, **kw).fit(X, y)
    proba = ours.predict_proba(X)
    assert ours.sparsify() is ours
    assert sp.issparse(ours.coef_) and sp.issparse(ref.sparsify().coef_)
    assert ours.coef_.format == ref.coef_.format
    assert ours.coef_.nnz == ref.coef_.nnz == np.count_nonzero(ref.coef_.toarray()) < X.shape[1]
    assert_allclose(ours.predict_proba(X), proba, rtol=1e-12)
    assert_allclose(ours.predict_proba(sp.csr_matrix(X)), proba, rtol=1e-12)
    assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-4)
    ours.set_params(warm_start=True).fit(X, y)
    assert isinstance(ours.coef_, np.ndarray) and ours.n_iter_[0] <= 3
    assert isinstance(ours.sparsify().densify().coef_, np.ndarray)
    assert_allclose(ours.predict_proba(X), proba, rtol=1e-6)  # at most one step on
    with pytest.raises(NotFittedError):
        LogisticRegression().sparsify()


def _l1_kkt_violation(est, X, y, C):
    """Largest violation of the optimality conditions of ``C sum_i l_i + ||W||_1``:
    ``C g_j + sign(w_j) = 0`` where ``w_j != 0`` and ``|C g_j| <= 1`` where
    ``w_j = 0`` (``g`` the log-loss gradient); the intercept's gradient is 0."""
    Z = X @ est.coef_.T + est.intercept_
    if Z.shape[1] == 1:
        R = (1 / (1 + np.exp(-Z))) - (y == est.classes_[1])[:, None]
    else:
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        R = P / P.sum(axis=1, keepdims=True) - (y[:, None] == est.classes_)
    G = C * (R.T @ X)
    W = est.coef_
    violation = np.where(W != 0, np.abs(G + np.sign(W)), np.maximum(np.abs(G) - 1, 0))
    return max(violation.max(), np.abs(C * R.sum(axis=0)).max())


@pytest.mark.parametrize("case", ["unscaled", "weak penalty", "binary weak penalty"])
def test_logistic_l1_reaches_the_optimality_conditions(case):
    # L-BFGS-B on the L1 split (skmath's solver before OWL-QN) stalled (its
    # ftol test) far from the minimiser on badly scaled or weakly penalised
    # problems. Checked against the optimality (KKT) conditions, computed
    # here independently.
    if case == "unscaled":
        X, y = make_classification(100, 3, n_informative=3, n_redundant=0, n_classes=3,
                                   n_clusters_per_class=1, random_state=14)
        X, C = X * [1, 10, 100], 1.0
    else:
        X, y = make_classification(300, 12, n_informative=5, random_state=1,
                                   n_classes=2 if case.startswith("binary") else 3)
        X, C = StandardScaler().fit_transform(X), 100.0
    est = LogisticRegression(solver="saga", l1_ratio=1.0, C=C, tol=1e-8, max_iter=5000,
                             device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    # In the units of the scaled objective (divided by C n), whose projected
    # gradient tol bounds: stalled runs were off by 2.8 (unscaled) and 8e-4
    # (weak penalty); 3.7e-7 is float64's floor on the unscaled problem
    # (restarts no longer lower the objective), 1e-8 on the others.
    assert _l1_kkt_violation(est, X, y, C) / (C * len(y)) < 1e-6


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("mean", [30.0, 900.0])
@pytest.mark.parametrize("collinearity", [1e-3, 1e-4])
def test_offset_collinear_columns_get_the_exact_solution(sparse, mean, collinearity):
    # Offset, moderately collinear columns (centred condition number ~1e4): forming
    # X^T X - n mu mu^T costs ~(mean/std)^2 of precision, which the normal equations
    # then amplified (coefficients up to 13% off). The rule now counts that loss: the
    # coefficients of the exact least-squares solution, as sklearn's.
    worst = 0.0
    for seed in range(5):
        rng = np.random.RandomState(seed)
        z = rng.randn(200, 3)
        X = mean + np.c_[z[:, 0], z[:, 0] + collinearity * z[:, 1], z[:, 2]]
        y = z.sum(1) + 0.01 * rng.randn(200)
        exact = np.linalg.lstsq(X - X.mean(0), y - y.mean(), rcond=None)[0]
        coef = LinearRegression(device="cpu").fit(sp.csr_matrix(X) if sparse else X, y).coef_
        worst = max(worst, np.abs(coef - exact).max() / np.abs(exact).max())
    assert worst < 1e-6


def test_duplicate_sparse_entries_are_summed_not_counted():
    # A CSR column stored as n duplicate entries over n/2 rows is not constant: the
    # Gram path (weighted) and the LSQR path (> 512 features) give the dense fit, and
    # the input keeps its duplicates.
    rng = np.random.RandomState(0)
    n = 40
    rows = np.r_[np.arange(n), np.arange(20), np.arange(20)]
    cols = np.r_[np.zeros(n, int), np.ones(40, int)]
    vals = np.r_[rng.randn(n), np.ones(40)]
    order = np.lexsort((cols, rows))
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n))]
    X = sp.csr_matrix((vals[order], cols[order], indptr), shape=(n, 2))
    assert not X.has_canonical_format and X.nnz == 80
    y = X.toarray() @ [1.0, 3.0] + 0.1 * rng.randn(n)
    w = rng.uniform(0.5, 2.0, n)
    ours = LinearRegression(device="cpu").fit(X, y, sample_weight=w)
    dense = sk.LinearRegression().fit(X.toarray(), y, sample_weight=w)
    assert_allclose(ours.coef_, dense.coef_, rtol=1e-10)
    assert_allclose(ours.intercept_, dense.intercept_, rtol=1e-8)
    wide = sp.hstack([X, sp.random(n, 600, density=0.01, random_state=0)], format="csr")
    wide = sp.csr_matrix((wide.data, wide.indices, wide.indptr), shape=wide.shape)
    ref = sk.LinearRegression().fit(wide, y)
    assert_allclose(LinearRegression(device="cpu").fit(wide, y).coef_[:2], ref.coef_[:2],
                    rtol=1e-5)
    assert X.nnz == 80 and not X.has_canonical_format


@pytest.mark.skipif("tol" not in sk.LinearRegression().get_params(),
                    reason="scikit-learn's LinearRegression takes tol from 1.7")
@pytest.mark.parametrize("tol", [0.0, 1.0, 5.0])
def test_tol_outside_zero_one_is_machine_epsilon_as_in_lapack(tol):
    # gelsd (scipy's lstsq, sklearn) takes eps for a cutoff <= 0 or >= 1.
    X = np.c_[np.arange(10.0), np.arange(10.0)]
    y = np.arange(10.0)
    ours = LinearRegression(tol=tol, device="cpu").fit(X, y)
    ref = sk.LinearRegression(tol=tol).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12)
    assert ours.rank_ == ref.rank_ == 1
    rng = np.random.RandomState(0)
    Z = rng.randn(50, 3)
    X = np.c_[Z, Z[:, 0] + Z[:, 1]]
    y = rng.randn(50)
    assert_allclose(LinearRegression(tol=tol, device="cpu").fit(X, y).coef_,
                    sk.LinearRegression(tol=tol).fit(X, y).coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("C", [0.3, 3.0])
def test_logistic_l1_on_unscaled_features_does_not_stall_silently(C):
    # Wine x 100 (features up to 1e5): L-BFGS-B on the split in the raw coefficients
    # (skmath's solver before OWL-QN) stalled, the restart could not lower the
    # objective, and the fit was accepted silently 20% above the minimum (KKT
    # violation 1.7e-3 and 3.4e-2 in the units below, 20000 iterations). Solved in
    # column-scaled variables: converged in ~1300 (violation 5.5e-5 and 8.3e-5 with
    # scipy 1.16, 3.2e-4 with scipy 1.10's L-BFGS-B); OWL-QN in those variables.
    X, y = load_wine(return_X_y=True)
    X = X * 100
    est = LogisticRegression(solver="saga", l1_ratio=1.0, C=C, tol=1e-6, max_iter=20000,
                             device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_[0] < 5000
    assert _l1_kkt_violation(est, X, y, C) / (C * len(y)) < 1e-3


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["saga", "liblinear"])
def test_logistic_l1_column_scales_do_not_overflow(solver, sparse):
    # The column scales of the L1 problem squared X: beyond |x| ~ 1e154 they
    # were inf and the coefficients NaN, silently. Measured in units of each
    # column's largest magnitude, the fit of X * 1e155 is the fit of X with a
    # penalty 1e155 times weaker: the unpenalised classifier.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X) * 1e155
    X = sp.csr_matrix(X) if sparse else X
    est = LogisticRegression(solver=solver, l1_ratio=1.0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "index_reduce() is in beta" leaked
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert np.isfinite(est.coef_).all() and np.count_nonzero(est.coef_) > 5
    assert est.score(X, y) > 0.98


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["saga", "liblinear"])
def test_logistic_l1_row_without_weight_is_no_row(solver, sparse):
    # A zero-weight row of 1e130 beside data of 1e-60: measured against it,
    # the weighted rows' squares underflowed, the column's scale fell back
    # to 1 and the solver stopped at once, silently (coefficient 1e-119
    # where the fit without the row has 4.13).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3)) * 1e-60
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    X_out = np.vstack([X, [1e130, 0, 0]])
    convert = sp.csr_matrix if sparse else np.asarray
    kw = dict(solver=solver, l1_ratio=1.0, C=1e60, device="cpu")
    ours = LogisticRegression(**kw).fit(convert(X_out), np.append(y, 1),
                                        sample_weight=np.append(np.ones(60), 0.0))
    assert_allclose(ours.coef_, LogisticRegression(**kw).fit(convert(X), y).coef_,
                    rtol=1e-10)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky", "newton-cg", "saga"])
@pytest.mark.parametrize("C, w", [(1e-16, 1.0), (1e-30, 1.0), (1e-310, 1.0), (1.0, 1e-310)])
def test_logistic_vanishing_C_gives_the_log_odds(solver, C, w):
    # With C * sum(w) -> 0 the minimum has coef_ -> 0 and the (unpenalised)
    # intercept at the log-odds. L-BFGS-B on the raw variables (sklearn's
    # too) left the intercept at 0 from C ~ 1e-16 on; below C * sum(w) ~
    # 5e-309 the penalty factor overflowed and the coefficients were NaN.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0.3).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = LogisticRegression(C=C, solver=solver, device="cpu").fit(
            X, y, sample_weight=np.full(200, w))
    # The Newton solvers warn (ill-conditioned Hessian, line search), but
    # no overflow or division by zero is left to NumPy.
    assert not [w for w in caught if type(w.message) is RuntimeWarning]
    assert_allclose(est.intercept_, np.log(y.mean() / (1 - y.mean())), rtol=1e-6)
    assert np.abs(est.coef_).max() < 1e-12
    assert_allclose(est.predict_proba(X)[:, 1], y.mean(), rtol=1e-6)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky", "saga"])
def test_logistic_weights_near_float_max(solver):
    # Weights of 1e308 summed to inf, every normalised weight became 0 and
    # the fit returned zeros silently. They are scaled by a power of two
    # (exact): C * sum(w) is what counts, as for unit weights and C = 1e308.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = LogisticRegression(solver=solver, device="cpu").fit(
            X, y, sample_weight=np.full(len(y), 1e308))
        ref = LogisticRegression(C=1e308, solver=solver, device="cpu").fit(X, y)
    assert np.abs(est.coef_).max() > 1
    assert_array_equal(est.coef_, ref.coef_)
    assert_array_equal(est.intercept_, ref.intercept_)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
@pytest.mark.parametrize("scale", [1e7, 1e8, 1e10])
def test_logistic_l2_on_large_features_reaches_the_minimum(solver, scale):
    # On X * s, C = 1 is the problem on X with C = s^2 (coefficients s times
    # smaller). L-BFGS-B on the raw variables stopped 12% above the minimum
    # without a warning from s = 1e7 (sklearn's lbfgs too), and the
    # newton-cholesky's fallback from 1e8; in column-scaled variables both
    # reach it.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(int)
    ref = LogisticRegression(C=scale**2, solver="newton-cholesky", tol=1e-12,
                             device="cpu").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # newton-cholesky's fallback
        est = LogisticRegression(solver=solver, device="cpu").fit(X * scale, y)
    assert_allclose(est.predict_proba(X * scale), ref.predict_proba(X), atol=1e-3)
    assert_allclose(est.coef_ * scale, ref.coef_, rtol=1e-2)


@pytest.mark.parametrize("solver", ["lbfgs", "sag"])
def test_logistic_scaled_continuation_that_takes_no_step_changes_nothing(solver, monkeypatch):
    # When the column-scaled continuation fails its first line search, the
    # raw run's result stands, without the continuation's warning (it said
    # "max_iter was reached" after 2 of 100 iterations).
    import skmath.linear_model._logistic as logistic

    rng = np.random.default_rng(1)
    n, d = 52, 29
    y = rng.integers(0, 2, n)
    X = (rng.normal(size=(n, d)) + rng.normal(size=(2, d))[y]) * 10.0 ** rng.uniform(7, 12)
    w = 10.0 ** rng.uniform(-3, 3, n)
    kw = dict(C=4e-6, tol=1e-8, solver=solver, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = LogisticRegression(**kw).fit(X, y, sample_weight=w)
    monkeypatch.setattr(logistic, "_SCALE_SPAN", 1000)  # no continuation
    raw = LogisticRegression(**kw).fit(X, y, sample_weight=w)
    assert_array_equal(est.coef_, raw.coef_)
    assert_array_equal(est.n_iter_, raw.n_iter_)


def test_logistic_conjugate_gradient_survives_extreme_scales():
    # X ~ 1e-150 with sample weights 1e-300: the conjugate gradients' beta
    # overflowed and Python's beta**2 raised a bare OverflowError (sklearn's
    # newton-cg returns NaN there). Now it ends with finite coefficients and
    # a ConvergenceWarning after its 100 iterations. The penalty dwarfs the
    # data term (1 / (C sum(w)) ~ 2e297): the minimum has coef_ ~0 and the
    # log-odds as intercept, which L-BFGS-B reaches going on in column-scaled
    # variables (on the raw ones it stalled at 0.273, as sklearn's lbfgs does).
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X) * 1e-150
    w = np.full(len(y), 1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the line search's
        with pytest.warns(ConvergenceWarning):
            est = LogisticRegression(solver="newton-cg", device="cpu").fit(
                X, y, sample_weight=w)
    assert np.isfinite(est.coef_).all() and np.isfinite(est.intercept_).all()
    log_odds = np.log(y.mean() / (1 - y.mean()))
    for solver in ("lbfgs", "newton-cholesky", "saga"):
        ref = LogisticRegression(solver=solver, device="cpu").fit(X, y, sample_weight=w)
        assert_allclose(ref.intercept_, log_odds, rtol=1e-6)
        assert np.abs(ref.coef_).max() * np.abs(X).max() < 1e-12  # no effect on z


def test_linear_float32_X_with_y_beyond_float32_is_a_clear_error():
    # y is cast to X's dtype (as sklearn); 1e39 becomes inf in float32, which
    # gave NaN coefficients silently (sklearn: "Input contains infinity").
    X = np.random.RandomState(0).randn(10, 2).astype(np.float32)
    with pytest.raises(ValueError, match="beyond the range"), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the cast's overflow leaked
        LinearRegression(device="cpu").fit(X, np.full(10, 1e39))


@pytest.mark.parametrize("solver, algorithm", [
    ("lbfgs", "L-BFGS-B"), ("newton-cholesky", "Newton-Cholesky"), ("newton-cg", "Newton-CG"),
    ("sag", "L-BFGS-B"), ("saga", "L-BFGS-B"), ("liblinear", "Newton-CG"),
])
def test_logistic_verbose_names_the_algorithm_that_ran(solver, algorithm, capsys):
    # sag, saga and liblinear run other algorithms under sklearn's names: the
    # progress line says which (it gave the solver's name alone).
    X, y = _scaled(load_breast_cancer)
    LogisticRegression(solver=solver, verbose=1, max_iter=1000, device="cpu").fit(X, y)
    assert f"solver={solver!r} ({algorithm}):" in capsys.readouterr().out


@pytest.mark.parametrize("solver", ["lbfgs", "saga", "newton-cholesky", "newton-cg"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_logistic_warm_start_from_non_finite_coef_raises(solver, bad):
    # A warm start from a coef_ (or intercept_) holding NaN or inf raises a
    # clear ValueError, as sklearn's sag/saga do; it returned NaN
    # coefficients with a warning that advised scaling the data. The model
    # is left as it was.
    X, y = _scaled(load_iris)
    est = LogisticRegression(solver=solver, warm_start=True, device="cpu").fit(X, y)
    for attribute in ("coef_", "intercept_"):
        est.fit(X, y)
        getattr(est, attribute)[0] = bad
        before = getattr(est, attribute).copy()
        with pytest.raises(ValueError, match="NaN or infinity.*warm_start=False"):
            est.fit(X, y)
        np.testing.assert_array_equal(getattr(est, attribute), before)
        est.set_params(warm_start=False).fit(X, y)
        assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
        est.set_params(warm_start=True)


def test_newton_symmetric_solve_is_scipys_without_a_warnings_filter():
    # newton-cholesky's solve follows the installed SciPy's
    # solve(assume_a="sym") without turning its LinAlgWarning into an error
    # (catch_warnings is not thread-safe): the same solution, bit for bit,
    # and the same verdict and message on singular and ill-conditioned
    # matrices (sklearn falls back to lbfgs on them, quoting SciPy).
    # The reference: scipy.linalg.solve under sklearn's warnings filter.
    from skmath.linear_model._newton import _solve_symmetric
    from skmath.linear_model._newton import _solve_under_filter as scipys

    rng = np.random.default_rng(0)
    verdicts = set()
    for n in (1, 2, 7, 40):
        for kind in ("spd", "indefinite", "ill", "singular", "zero"):
            for _ in range(5):
                M = rng.standard_normal((n, n))
                A = {"spd": M @ M.T, "indefinite": M + M.T, "zero": np.zeros((n, n))}.get(kind)
                if kind == "ill":
                    U = np.linalg.qr(M)[0]
                    A = U @ np.diag(np.logspace(0, -rng.uniform(12, 20), n)) @ U.T
                    A = (A + A.T) / 2
                if kind == "singular":
                    M[:, 0] = M[:, -1]
                    A = M @ M.T
                b = rng.standard_normal(n)
                x_ref, why_ref = scipys(A.copy(), b.copy())
                x, why = _solve_symmetric(A.copy(), b.copy())
                assert why == why_ref
                if x_ref is None:
                    assert x is None
                else:
                    np.testing.assert_array_equal(x, x_ref)
                verdicts.add(why_ref is None)
    assert verdicts == {True, False}  # both outcomes were exercised
    # No coordinate free: nothing to solve (scipy returns the empty solution).
    x, why = _solve_symmetric(np.empty((0, 0)), np.empty(0))
    assert x.shape == (0,) and why is None


def test_newton_symmetric_solve_falls_back_to_scipys_solve(monkeypatch):
    # Should SciPy's private batched routine change, the solve is SciPy's
    # own solve under sklearn's warnings filter: the same answers.
    import scipy.linalg

    import skmath.linear_model._newton as newton

    def changed(*args):
        raise TypeError("a changed signature")

    monkeypatch.setattr(newton, "_batched_solve", changed)
    rng = np.random.default_rng(1)
    M = rng.standard_normal((6, 6))
    b = rng.standard_normal(6)
    x, why = newton._solve_symmetric(M @ M.T, b)
    np.testing.assert_array_equal(x, scipy.linalg.solve(M @ M.T, b, assume_a="sym"))
    assert why is None
    M[:, 0] = M[:, 1]
    x, why = newton._solve_symmetric(M @ M.T, b)
    assert x is None and ("singular" in why or "ill-conditioned" in why.lower())


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_logistic_l1_on_wide_sparse_data_matches_liblinear(C):
    # More columns than rows, sparse and text-like (the case OWL-QN was
    # brought in for: L-BFGS-B on the split handled 2 d bounded variables):
    # liblinear's L1 problem met to 5e-5 of the largest coefficient, the same
    # zeros, the saga problem's optimality conditions met.
    rng = np.random.RandomState(0)
    X = sp.random(400, 4000, density=0.01, format="csr", random_state=rng)
    w = np.zeros(4000)
    w[:40] = 5 * rng.randn(40)
    y = (X @ w + 0.1 * rng.randn(400) > 0).astype(int)
    kw = dict(solver="liblinear", l1_ratio=1.0, C=C, tol=1e-10)
    ref = _sklearn_logistic(max_iter=10000, **kw).fit(X, y)
    ours = LogisticRegression(max_iter=5000, device="cpu", **kw).fit(X, y)
    scale = np.abs(ref.coef_).max()
    assert 0 < np.count_nonzero(ref.coef_) < 400
    assert_allclose(ours.coef_, ref.coef_, atol=5e-5 * scale)
    assert_allclose(ours.intercept_, ref.intercept_, atol=5e-5 * scale)
    assert ((ours.coef_ == 0) == (ref.coef_ == 0)).all()
    saga = LogisticRegression(solver="saga", l1_ratio=1.0, C=C, tol=1e-10, max_iter=5000,
                              device="cpu").fit(X, y)
    assert _l1_kkt_violation(saga, X, y, C) / (C * len(y)) < 1e-6


def test_logistic_elastic_net_with_a_strong_l2_part_on_badly_scaled_columns():
    # OWL-QN runs in column-scaled variables; the scales include the L2
    # weight, whose curvature a scale from the data alone inflated on small
    # columns (scales 1e-3 to 1e3, C=0.05: 5000 iterations, a warning and an
    # objective 6.4x the minimum). An elastic net with a vanishing L1 part
    # reaches the L2 fit's (L-BFGS-B's) minimum, without a warning.
    rng = np.random.RandomState(0)
    n, d = 24, 47
    X = rng.randn(n, d) * 10.0 ** rng.uniform(-3, 3, d)
    y = np.arange(n) % 4
    kw = dict(solver="saga", C=0.05, fit_intercept=False, tol=1e-6, max_iter=5000,
              device="cpu")

    def objective(est, r):  # sklearn's objective divided by C n
        Z = X @ est.coef_.T
        log_p = Z - np.logaddexp.reduce(Z, axis=1, keepdims=True)
        W = est.coef_
        return (-log_p[np.arange(n), y].mean()
                + (r * np.abs(W).sum() + 0.5 * (1 - r) * (W * W).sum()) / (0.05 * n))

    l2 = LogisticRegression(l1_ratio=0.0, **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        net = LogisticRegression(l1_ratio=1e-8, **kw).fit(X, y)
    assert objective(net, 1e-8) == pytest.approx(objective(l2, 0.0), rel=1e-6)

"""Bad input gets a clear error, for every public estimator; inputs and global RNGs are
never modified."""

import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.exceptions import ConvergenceWarning

import skmath

FAST = {"max_iter": 5}


def _estimators():
    for name in sorted(skmath.__all__):
        obj = getattr(skmath, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            params = {"device": "cpu"}
            signature = inspect.signature(obj).parameters
            params.update({k: v for k, v in FAST.items() if k in signature})
            if "random_state" in signature:
                params["random_state"] = 0
            if "n_clusters" in signature:
                params["n_clusters"] = 2
            yield pytest.param(obj(**params), id=name)


ESTIMATORS = list(_estimators())


def _data(est, n=30, d=3):
    rng = np.random.RandomState(0)
    X = rng.randn(n, d)
    if is_classifier(est):
        y = np.arange(n) % 2
    elif is_regressor(est):
        y = X @ np.arange(1.0, d + 1) + 0.1 * rng.randn(n)
    else:
        y = None
    return X, y


def _fit(est, X, y):
    return est.fit(X) if y is None else est.fit(X, y)


@pytest.mark.parametrize("est", ESTIMATORS)
@pytest.mark.parametrize(
    "value, message", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")]
)
def test_non_finite_X_is_refused(est, value, message):
    # NaN or infinity in X raise a ValueError that names the problem.
    X, y = _data(est)
    X[3, 1] = value
    with pytest.raises(ValueError, match=message):
        _fit(est, X, y)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_wrong_shapes_are_refused(est):
    # Empty, 1-D and 3-D X give ValueErrors that say what is wrong.
    X, y = _data(est)
    with pytest.raises(ValueError, match="0 sample"):
        _fit(est, X[:0], None if y is None else y[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        _fit(est, X[:, 0], y)
    with pytest.raises(ValueError, match="dim 3"):
        _fit(est, X[:, :, None], y)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_strings_in_X_are_refused(est):
    # A string column is a ValueError (could not convert), not a crash.
    X, y = _data(est)
    X = X.astype(object)
    X[0, 0] = "abc"
    with pytest.raises((ValueError, TypeError), match="convert|string"):
        _fit(est, X, y)


def _counterparts():
    from sklearn import cluster, gaussian_process, linear_model, neural_network

    pairs = [
        ("LinearRegression", linear_model.LinearRegression()),
        ("LogisticRegression", linear_model.LogisticRegression()),
        ("MLPClassifier", neural_network.MLPClassifier(max_iter=5, random_state=0)),
        ("MLPRegressor", neural_network.MLPRegressor(max_iter=5, random_state=0)),
        ("KMeans", cluster.KMeans(2, n_init=1, random_state=0)),
        ("NTKRegressor", gaussian_process.GaussianProcessRegressor()),
    ]
    by_name = {param.id: param.values[0] for param in ESTIMATORS}
    return [pytest.param(by_name[name], theirs, id=name) for name, theirs in pairs]


@pytest.mark.parametrize("ours, theirs", _counterparts())
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_numeric_strings_at_prediction_as_sklearn(ours, theirs):
    # Numeric strings ("0.5") at predict: refused where sklearn's counterpart
    # refuses them (its predict validates with dtype="numeric"), accepted
    # where it converts them (KMeans), with the same predictions as floats.
    X, y = _data(ours)
    _fit(ours, X, y)
    _fit(theirs, X, y)
    strings = X[:4].astype(str)
    try:
        theirs.predict(strings)
    except ValueError:
        with pytest.raises(ValueError, match="dtype='numeric'"):
            ours.predict(strings)
    else:
        np.testing.assert_array_equal(ours.predict(strings), ours.predict(X[:4]))


@pytest.mark.parametrize("est", ESTIMATORS)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_categorical_columns_of_strings_at_prediction(est):
    # A DataFrame's categorical column of strings reaches the estimator as
    # objects: numbers in strings predict as the numbers, other strings are
    # a ValueError (the perceptrons raised KeyError: dtype('O')).
    pd = pytest.importorskip("pandas")
    X, y = _data(est)
    X = np.round(X, 1)
    columns = ["a", "b", "c"]
    _fit(est, pd.DataFrame(X, columns=columns), y)
    method = "predict" if hasattr(est, "predict") else "score_samples"
    numbers = pd.DataFrame(X[:4], columns=columns)
    strings = numbers.assign(a=pd.Categorical(numbers["a"].astype(str)))
    try:
        ours = getattr(est, method)(strings)
    except ValueError as error:
        assert "dtype='numeric'" in str(error) or "convert" in str(error)
    else:
        # Up to rounding: the converted objects and the DataFrame's floats
        # need not share a memory layout, nor so a BLAS path (numpy 1.24).
        np.testing.assert_allclose(ours, getattr(est, method)(numbers), rtol=1e-12)
    words = numbers.assign(a=pd.Categorical(["x", "y", "x", "y"]))
    with pytest.raises(ValueError, match="convert|dtype='numeric'"):
        getattr(est, method)(words)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_wrong_feature_count_at_predict(est):
    # After fitting on 3 features, 4 features at prediction time are refused.
    X, y = _data(est)
    _fit(est, X, y)
    method = "predict" if hasattr(est, "predict") else "score_samples"
    with pytest.raises(ValueError, match="features"):
        getattr(est, method)(np.ones((2, 4)))


@pytest.mark.parametrize("est", [e for e in ESTIMATORS if is_classifier(e.values[0])])
def test_one_class_is_refused(est):
    # A classifier given a single class says so.
    X, _ = _data(est)
    with pytest.raises(ValueError, match="class"):
        est.fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("est", ESTIMATORS)
def test_inputs_are_never_modified(est, sparse):
    # fit and predict leave X, y and sample_weight exactly as they were;
    # also sparse X, whose arrays the estimators share without a copy (a
    # blockwise KMeans pass once subtracted in place from a float64 CSR's
    # own values).
    if sparse and not est.__sklearn_tags__().input_tags.sparse:
        pytest.skip("dense input only")
    X, y = _data(est)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.3, X + 2.0, 0.0))
    w = np.linspace(0.5, 1.5, X.shape[0])
    X0, y0, w0 = X.copy(), None if y is None else y.copy(), w.copy()
    if "sample_weight" in inspect.signature(est.fit).parameters:
        est.fit(X, y, sample_weight=w)
        _fit(clone(est), X, y)  # unit weights: other code paths
    else:
        _fit(est, X, y)
    for method in ("predict", "predict_proba", "transform", "score_samples"):
        if hasattr(est, method):
            getattr(est, method)(X)
    if sparse:
        for name in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(X, name), getattr(X0, name))
        X, X0 = X.toarray(), X0.toarray()
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)
    if y is not None:
        np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("dtype", [np.longdouble, np.float16, np.int64, bool])
@pytest.mark.parametrize("est", ESTIMATORS)
def test_any_real_dtype_predicts_like_float64(est, dtype):
    # np.longdouble X at prediction raised a KeyError in the perceptrons
    # (no torch dtype for it); it computes in float64, as float16, integers
    # and booleans do.
    X, y = _data(est)
    X = np.round(X) if dtype in (np.int64, bool) else X
    X = X > 0 if dtype is bool else X.astype(dtype).astype(np.float64)
    _fit(est, X, y)
    for method in ("predict", "predict_proba", "transform", "score_samples"):
        if hasattr(est, method):
            ours = getattr(est, method)(X.astype(dtype))
            np.testing.assert_allclose(np.asarray(ours, dtype=np.float64),
                                       getattr(est, method)(X), rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("est", ESTIMATORS)
def test_read_only_inputs_are_taken_without_warning(est, sparse, request):
    # joblib's workers get read-only (memory-mapped) inputs, e.g. under
    # OneVsRestClassifier(n_jobs=2); torch warns on read-only NumPy arrays
    # ("not writable"), and the sparse path let that warning through.
    if sparse and not est.__sklearn_tags__().input_tags.sparse:
        pytest.skip("dense input only")
    # torch gives its "not writable" warning once per process: every time here.
    previous = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    request.addfinalizer(lambda: torch.set_warn_always(previous))
    X, y = _data(est)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.3, X, 0.0))
        for array in (X.data, X.indices, X.indptr):
            array.setflags(write=False)
    else:
        X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        # (warn-always also repeats torch's once-only sparse "beta" notice)
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        _fit(est, X, y)
        for method in ("predict", "predict_proba", "transform", "score_samples"):
            if hasattr(est, method):
                getattr(est, method)(X)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_model_loaded_read_only_refits_and_predicts_without_warning(est, tmp_path, request):
    # joblib.load(mmap_mode="r") (what joblib's and dask's workers get) gives
    # a model whose fitted arrays are read-only: a warm-start refit of
    # MCDropoutRegressor read its _y_scale with torch.as_tensor, which warned.
    import joblib

    previous = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    request.addfinalizer(lambda: torch.set_warn_always(previous))
    X, y = _data(est, n=60)
    joblib.dump(_fit(est, X, y), tmp_path / "model.joblib")
    model = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        for method in ("predict", "predict_proba", "transform", "score_samples"):
            if hasattr(model, method):
                getattr(model, method)(X)
        if "warm_start" in model.get_params():
            _fit(model.set_params(warm_start=True), X, y)
        if hasattr(model, "partial_fit"):
            model.partial_fit(X, y)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_global_random_streams_are_left_alone(est):
    # Randomness comes from random_state through local generators: fitting and
    # predicting neither draw from nor reseed torch's or NumPy's global RNG.
    import torch

    X, y = _data(est)
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    _fit(est, X, y)
    for method in ("predict", "predict_proba", "transform", "score_samples"):
        if hasattr(est, method):
            getattr(est, method)(X)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(numpy_state, np.random.get_state()[1])


def _failing_refit(est, X, y):
    """A refit on other data (5 features) that passes validation, then fails."""
    name = type(est).__name__
    kwargs = {}
    if "sample_weight" in inspect.signature(est.fit).parameters:
        kwargs["sample_weight"] = np.ones(X.shape[0] + 1)  # one weight too many
    elif name == "NTKRegressor":
        est.set_params(alpha=np.ones(X.shape[0] + 1))
    elif name == "FlowMatchingSampler":
        est.set_params(early_stopping=True, validation_fraction=0.99)  # no training row
    else:  # the MC dropout nets: a validation split of one row is too small
        est.set_params(early_stopping=True, validation_fraction=0.01)
    return est.fit(X, **kwargs) if y is None else est.fit(X, y, **kwargs)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_a_failed_refit_leaves_the_fitted_model_as_it_was(est):
    # Not sklearn's behaviour (its estimators keep the failed call's
    # n_features_in_): here nothing of the failed call is kept, and the model
    # predicts as before.
    X, y = _data(est)
    est = _fit(clone(est), X, y)  # a copy: the failing refit changes its parameters
    before = dict(est.__dict__)
    method = next(m for m in ("predict", "score_samples") if hasattr(est, m))
    expected = getattr(est, method)(X)
    X_new, y_new = _data(est, n=20, d=5)
    with pytest.raises(ValueError):
        _failing_refit(est, X_new, y_new)
    fitted = {key for key in before if key.endswith("_") and not key.startswith("__")}
    assert fitted and all(est.__dict__[key] is before[key] for key in fitted)
    assert set(est.__dict__) - set(before) == set()
    np.testing.assert_array_equal(getattr(est, method)(X), expected)


@pytest.mark.parametrize("est", ESTIMATORS)
def test_csr_with_duplicate_unsorted_entries_equals_its_canonical_form(est):
    # A CSR matrix storing each entry twice (its value halved), in unsorted
    # order within the rows, is the same matrix as its canonical form, and
    # fits and predicts the same (LogisticRegression(solver="newton-cholesky")
    # crashed the process on it, in torch's sparse Gram product).
    if not est.__sklearn_tags__().input_tags.sparse:
        pytest.skip("dense input only")
    X, y = _data(est, n=51, d=16)
    canonical = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))  # about 30% stored
    coo = canonical.tocoo()
    rng = np.random.RandomState(0)
    order = rng.permutation(2 * coo.nnz)
    rows = np.r_[coo.row, coo.row][order]
    cols = np.r_[coo.col, coo.col][order]
    vals = np.r_[coo.data, coo.data][order] / 2
    by_row = np.argsort(rows, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=X.shape[0]))]
    messy = sp.csr_matrix((vals[by_row], cols[by_row], indptr), shape=X.shape)
    assert not messy.has_canonical_format
    np.testing.assert_array_equal(messy.toarray(), canonical.toarray())
    stored = messy.copy()
    models = [est]
    if isinstance(est, skmath.LogisticRegression):
        models = [clone(est).set_params(solver=s)
                  for s in ("lbfgs", "newton-cholesky", "newton-cg")]
    for model in models:
        for method in ("predict", "predict_proba", "transform"):
            if hasattr(model, method):
                ours = getattr(_fit(clone(model), messy, y), method)(messy)
                ref = getattr(_fit(clone(model), canonical, y), method)(canonical)
                np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-9)
    for name in ("data", "indices", "indptr"):  # the input is left as it was
        np.testing.assert_array_equal(getattr(messy, name), getattr(stored, name))

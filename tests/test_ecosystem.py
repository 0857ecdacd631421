"""skmath estimators inside sklearn's tooling: Pipeline, search, CV, clone, pandas, dask."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
import torch
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

import skmath
from skmath import LinearRegression, LogisticRegression
from skmath._callbacks import _api_as_in_1_9

# (estimator, dataset loader, parameter grid) for each estimator under test.
CASES = {
    "LinearRegression": (LinearRegression, load_diabetes, {"fit_intercept": [True, False]}),
    "LogisticRegression": (LogisticRegression, load_wine, {"C": [0.1, 1.0]}),
}
if hasattr(skmath, "KMeans"):
    CASES["KMeans"] = (skmath.KMeans, load_wine, {"n_clusters": [2, 3]})


def _pipe(est):
    return make_pipeline(StandardScaler(), est(device="cpu", **_extra(est)))


def _extra(est):
    return {"random_state": 0} if "random_state" in est().get_params() else {}


def _search(name, n_jobs):
    est, loader, grid = CASES[name]
    X, y = loader(return_X_y=True)
    step = type(_pipe(est)[-1]).__name__.lower()
    grid = {f"{step}__{k}": v for k, v in grid.items()}
    search = GridSearchCV(_pipe(est), grid, cv=KFold(3, shuffle=True, random_state=0), n_jobs=n_jobs)
    return search.fit(X, y)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pipeline_gridsearch_parallel_equals_serial(name):
    # GridSearchCV(n_jobs=2) over a StandardScaler pipeline gives the serial results.
    serial = _search(name, n_jobs=1)
    parallel = _search(name, n_jobs=2)
    assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert parallel.best_params_ == serial.best_params_


@pytest.mark.parametrize("name", sorted(CASES))
def test_cross_val_score_and_clone(name):
    # cross_val_score runs, and a clone is unfitted with identical parameters.
    est, loader, _ = CASES[name]
    X, y = loader(return_X_y=True)
    scores = cross_val_score(_pipe(est), X, y, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    fitted = _pipe(est).fit(X, y)
    copy = clone(fitted)
    assert copy.get_params()[copy.steps[-1][0]].get_params() == fitted[-1].get_params()
    assert not hasattr(copy[-1], "n_features_in_")


@pytest.mark.parametrize("name", sorted(CASES))
def test_pandas_dataframe_feature_names(name):
    # DataFrames give feature_names_in_, and mismatched column names are refused.
    pd = pytest.importorskip("pandas")
    est, loader, _ = CASES[name]
    data = loader(as_frame=True)
    X, y = data.data, data.target
    model = est(device="cpu", **_extra(est)).fit(StandardScaler().set_output(transform="pandas").fit_transform(X), y)
    assert list(model.feature_names_in_) == list(X.columns)
    renamed = X.rename(columns={X.columns[0]: "something_else"})
    with pytest.raises(ValueError, match="feature names"):
        model.predict(renamed)
    assert isinstance(X, pd.DataFrame)


def test_regressor_and_classifier_scores_match_sklearn_in_pipeline():
    # Pipeline scores equal sklearn's own estimators on the same folds.
    from sklearn import linear_model as sk

    X, y = load_breast_cancer(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(device="cpu")), X, y, cv=cv)
    ref = cross_val_score(make_pipeline(StandardScaler(), sk.LogisticRegression()), X, y, cv=cv)
    assert abs(ours.mean() - ref.mean()) < 0.005
    X, y = load_diabetes(return_X_y=True)
    ours = cross_val_score(LinearRegression(device="cpu"), X, y, cv=cv)
    ref = cross_val_score(sk.LinearRegression(), X, y, cv=cv)
    assert_allclose(ours, ref, rtol=1e-8)


def test_dask_local_cluster_gridsearch_equals_local():
    # The same GridSearchCV on a dask LocalCluster (worker processes) gives the local results.
    distributed = pytest.importorskip("distributed")
    local = {name: _search(name, n_jobs=1) for name in CASES}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            remote = {name: _search(name, n_jobs=-1) for name in CASES}
    for name in CASES:
        assert_allclose(
            remote[name].cv_results_["mean_test_score"],
            local[name].cv_results_["mean_test_score"],
        )
        assert remote[name].best_params_ == local[name].best_params_


def _outputs(est, X):
    """Every prediction an estimator offers on ``X`` (the stochastic ones seeded)."""
    outputs = {}
    for method in ("predict", "predict_proba", "decision_function", "transform", "score_samples"):
        if hasattr(est, method):
            outputs[method] = getattr(est, method)(X)
    if isinstance(est, skmath.MCDropoutRegressor):
        outputs["std"] = est.predict(X, return_std=True)[1]
        outputs["sample_y"] = est.sample_y(X, n_samples=3, random_state=0)
    if isinstance(est, skmath.FlowMatchingSampler):
        outputs["sample"] = est.sample(5, random_state=0)
    return outputs


FITTED_ESTIMATORS = [
    "FlowMatchingSampler", "KMeans", "LinearRegression", "LogisticRegression",
    "MCDropoutClassifier", "MCDropoutRegressor", "MLPClassifier", "MLPRegressor",
    "NTKRegressor",
]


def _fit_on_wine(name, device):
    """Estimator ``name`` fitted on ``device`` to 4 standardised wine features, and X."""
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :4]
    cls = getattr(skmath, name)
    params = {"device": device, **_extra(cls)}
    if "max_iter" in cls().get_params() and name not in ("KMeans", "LogisticRegression"):
        params["max_iter"] = 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = cls(**params).fit(X, y if name != "FlowMatchingSampler" else None)
    return est, X


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize("name", FITTED_ESTIMATORS)
def test_model_fitted_for_cuda_predicts_on_a_machine_without_it(name):
    # A model whose fit ran with device="cuda" (here: its device recorded as such)
    # unpickles on a CPU-only machine and predicts there, the same as before.
    est, X = _fit_on_wine(name, "cpu")
    expected = _outputs(est, X)
    est.set_params(device="cuda")
    est._device = torch.device("cuda")  # what a fit on a GPU leaves
    loaded = pickle.loads(pickle.dumps(est))
    got = _outputs(loaded, X)
    assert got.keys() == expected.keys() and {"predict", "transform"} & got.keys()
    for method, value in expected.items():
        assert_allclose(got[method], value, rtol=1e-12, err_msg=method)


_LOAD_WITHOUT_CUDA = """
import pickle, sys, torch
assert not torch.cuda.is_available()
sys.path.insert(0, sys.argv[2])
from test_ecosystem import _outputs
with open(sys.argv[1], "rb") as f:
    est, X = pickle.load(f)
with open(sys.argv[1] + ".out", "wb") as f:
    pickle.dump(_outputs(est, X), f)
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", FITTED_ESTIMATORS)
def test_model_fitted_on_cuda_predicts_in_a_process_without_cuda(name, tmp_path):
    # Issue 3's acceptance point, for every estimator: fitted with device="cuda",
    # pickled, loaded by a process that sees no GPU (CUDA_VISIBLE_DEVICES=""), which
    # predicts as the GPU did (up to the devices' rounding; the same labels).
    import os
    import subprocess
    import sys

    est, X = _fit_on_wine(name, "cuda")
    expected = _outputs(est, X)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps((est, X)))
    subprocess.run(
        [sys.executable, "-c", _LOAD_WITHOUT_CUDA, str(path), os.path.dirname(__file__)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, check=True,
    )
    got = pickle.loads((tmp_path / "model.pkl.out").read_bytes())
    assert got.keys() == expected.keys()
    for method, value in expected.items():
        if method == "predict" and name.endswith(("Classifier", "KMeans")):
            np.testing.assert_array_equal(got[method], value, err_msg=method)
        else:
            assert_allclose(got[method], value, rtol=1e-6, atol=1e-8, err_msg=method)


@pytest.mark.parametrize(
    "name",
    ["FlowMatchingSampler", "KMeans", "LinearRegression", "LogisticRegression",
     "MCDropoutClassifier", "MCDropoutRegressor", "MLPClassifier", "MLPRegressor",
     "NTKKernel", "NTKRegressor"],
)
def test_device_may_be_a_torch_device(name):
    # device="cpu" and device=torch.device("cpu") are the same setting for every
    # estimator (and clone keeps it); another type is sklearn's parameter error.
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:, :4]
    cls = getattr(skmath, name)
    if name == "NTKKernel":
        assert_allclose(cls(device=torch.device("cpu"))(X), cls(device="cpu")(X), rtol=1e-12)
        return
    params = _extra(cls)
    if "max_iter" in cls().get_params() and name not in ("KMeans", "LogisticRegression"):
        params["max_iter"] = 5
    target = None if name == "FlowMatchingSampler" else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        by_string = cls(device="cpu", **params).fit(X, target)
        by_device = clone(cls(device=torch.device("cpu"), **params)).fit(X, target)
        with pytest.raises(InvalidParameterError, match="device"):
            cls(device=0, **params).fit(X, target)
    for method, value in _outputs(by_string, X).items():
        assert_allclose(_outputs(by_device, X)[method], value, rtol=1e-12, err_msg=method)


_DETERMINISTIC_FIT = """
import sys, warnings, torch
sys.path.insert(0, sys.argv[2])
from test_ecosystem import FITTED_ESTIMATORS, _fit_on_wine, _outputs
torch.use_deterministic_algorithms(True)
for name in FITTED_ESTIMATORS:
    est, X = _fit_on_wine(name, sys.argv[1])
    _outputs(est, X)
"""


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_fits_under_torch_deterministic_algorithms(device):
    # torch.use_deterministic_algorithms(True) makes ops without a
    # deterministic CUDA kernel raise: KMeans used a floating cumsum and a
    # weighted bincount, MLPClassifier nll_loss. Every estimator fits and
    # predicts in that mode (CUDA also needs cuBLAS's workspace setting,
    # CUBLAS_WORKSPACE_CONFIG, as PyTorch documents).
    import os
    import subprocess
    import sys

    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    subprocess.run(
        [sys.executable, "-c", _DETERMINISTIC_FIT, device, os.path.dirname(__file__)],
        env={**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}, check=True,
    )


def _sparse_problem(name):
    """A CSR X of zero column means (rows A and -A), targets, and ``name``'s params."""
    rng = np.random.RandomState(0)
    A = sp.random(200, 60, density=0.1, format="csr", random_state=rng)
    X = sp.vstack([A, -A]).tocsr()
    y = np.asarray(X @ rng.randn(60)).ravel() + 0.1 * rng.randn(400)
    cls = getattr(skmath, name)
    params = _extra(cls)
    if name.startswith(("MLP", "MCDropout")):
        params["max_iter"] = 20
    if name == "KMeans":
        params.update(n_clusters=4, init=X[:4].toarray(), n_init=1)
    if name in ("LogisticRegression", "MLPClassifier", "MCDropoutClassifier"):
        y = (y > np.median(y)).astype(int)
    return cls, params, X, None if name == "KMeans" else y


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["KMeans", "LinearRegression", "LogisticRegression"])
def test_sparse_fit_on_cuda_equals_cpu(name):
    # Sparse X on the GPU (CSR tensors, torch's transpose, cuSPARSE products)
    # gives the CPU fit, and the model predicts the same on either device.
    cls, params, X, y = _sparse_problem(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cpu = cls(device="cpu", **params).fit(X, y)
        gpu = cls(device="cuda", **params).fit(X, y)
    for method, value in _outputs(cpu, X).items():
        assert_allclose(_outputs(gpu, X)[method], value, rtol=1e-6, atol=1e-8, err_msg=method)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize(
    "name", ["MCDropoutClassifier", "MCDropoutRegressor", "MLPClassifier", "MLPRegressor"]
)
def test_sparse_fit_equals_dense_fit_on_the_same_device(name, device):
    # The networks draw their initial weights, minibatches and dropout masks
    # from a generator on the fit's device: CUDA's (Philox) and the CPU's
    # (Mersenne Twister) give other numbers for the same seed, so a GPU fit
    # is not the CPU fit. On one device, sparse X (CSR products; cuSPARSE on
    # the GPU) gives the dense fit: columns of zero mean, which the MC nets'
    # centring of dense X leaves as they are.
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cls, params, X, y = _sparse_problem(name)
    if name == "MCDropoutRegressor":
        params["cv"] = None  # the folds' columns are not centred: noise from the fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sparse = cls(device=device, **params).fit(X, y)
        dense = cls(device=device, **params).fit(X.toarray(), y)
    for method, value in _outputs(dense, X.toarray()).items():
        assert_allclose(_outputs(sparse, X)[method], value, rtol=1e-6, atol=1e-8, err_msg=method)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_logistic_on_cuda_equals_cpu(sparse, l1_ratio):
    # OWL-QN keeps its iterate and history on the objective's device: an L1
    # or elastic-net fit on the GPU reaches the CPU fit's optimum, zeros included.
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    kw = dict(solver="saga", l1_ratio=l1_ratio, C=0.5, tol=1e-10, max_iter=5000)
    cpu = LogisticRegression(device="cpu", **kw).fit(X, y)
    gpu = LogisticRegression(device="cuda", **kw).fit(X, y)
    scale = np.abs(cpu.coef_).max()
    assert_allclose(gpu.coef_, cpu.coef_, atol=1e-6 * scale)
    assert_allclose(gpu.intercept_, cpu.intercept_, atol=1e-6 * scale)
    assert ((gpu.coef_ == 0) == (cpu.coef_ == 0)).all()
    assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize(
    "ours, module, name",
    [
        (skmath.LinearRegression, "sklearn.linear_model", "LinearRegression"),
        (skmath.LogisticRegression, "sklearn.linear_model", "LogisticRegression"),
        (skmath.KMeans, "sklearn.cluster", "KMeans"),
        (skmath.MLPClassifier, "sklearn.neural_network", "MLPClassifier"),
        (skmath.MLPRegressor, "sklearn.neural_network", "MLPRegressor"),
    ],
)
def test_drop_ins_have_every_public_method_of_sklearns(ours, module, name):
    # A drop-in answers every public method its sklearn original has (e.g.
    # LogisticRegression.sparsify, and set_callbacks from sklearn 1.9 on).
    import importlib

    ref = getattr(importlib.import_module(module), name)

    def public(cls):
        return {m for m in dir(cls) if not m.startswith("_") and callable(getattr(cls, m))}

    # set_callbacks only with the callback API skmath was written for (1.9's).
    expected = public(ref) - (set() if _api_as_in_1_9() else {"set_callbacks"})
    assert expected <= public(ours)


@pytest.mark.parametrize(
    "Estimator",
    [skmath.LogisticRegression, skmath.MLPClassifier, skmath.MLPRegressor,
     skmath.MCDropoutClassifier, skmath.MCDropoutRegressor, skmath.FlowMatchingSampler],
)
def test_iterative_estimators_take_callbacks_where_sklearn_does(Estimator):
    # sklearn 1.9's experimental callback API (tests/test_callbacks.py); none
    # before 1.9, nor (rather than failing fits) where the API changed since.
    from sklearn.linear_model import LogisticRegression

    has_callbacks = hasattr(LogisticRegression(), "set_callbacks")
    assert hasattr(Estimator(), "set_callbacks") == (has_callbacks and _api_as_in_1_9())
    if has_callbacks and not _api_as_in_1_9():
        warnings.warn("scikit-learn's callback API changed since 1.9: skmath's "
                      "estimators take no callbacks with this release")


# --------------------------------------------------------------------------
# Global state the user may have set: torch's default device and grad modes,
# and the warnings filters (which skmath must not change, even briefly).

def _global_state_specs():
    from sklearn.datasets import make_blobs, make_classification, make_regression

    Xc, yc = make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)
    Xr, yr = make_regression(n_samples=120, n_features=5, noise=1.0, random_state=0)
    Xb = make_blobs(n_samples=150, centers=3, n_features=2, random_state=0)[0]
    small = {"device": "cpu", "random_state": 0}
    net = {**small, "hidden_layer_sizes": (16,), "max_iter": 10}
    return {
        "LinearRegression": (lambda: skmath.LinearRegression(device="cpu"), Xr, yr, ["predict"]),
        "LogisticRegression": (lambda: skmath.LogisticRegression(**small), Xc, yc,
                               ["predict_proba"]),
        "KMeans": (lambda: skmath.KMeans(3, n_init=2, **small), Xb, None,
                   ["predict", "transform"]),
        "MLPClassifier": (lambda: skmath.MLPClassifier(**net), Xc, yc, ["predict_proba"]),
        "MLPRegressor": (lambda: skmath.MLPRegressor(**net), Xr, yr, ["predict"]),
        "MCDropoutRegressor": (lambda: skmath.MCDropoutRegressor(n_mc_samples=10, cv=2, **net),
                               Xr, yr, ["predict_std", "sample_y"]),
        "MCDropoutClassifier": (lambda: skmath.MCDropoutClassifier(n_mc_samples=10, **net),
                                Xc, yc, ["predict_proba"]),
        "NTKRegressor": (lambda: skmath.NTKRegressor(device="cpu"), Xr, yr, ["predict_std"]),
        "FlowMatchingSampler": (
            lambda: skmath.FlowMatchingSampler((16, 16), n_fourier_features=4, max_iter=5,
                                               batch_size=64, n_steps=4, **small),
            Xb, None, ["transform", "score_samples", "sample"]),
    }


def _state_outputs(model, methods, X):
    out = {}
    for method in methods:
        if method == "predict_std":
            out[method] = np.concatenate([np.ravel(a) for a in model.predict(X[:30],
                                                                          return_std=True)])
        elif method == "sample_y":
            out[method] = model.sample_y(X[:5], 3, random_state=0)
        elif method == "sample":
            out[method] = model.sample(5, random_state=0)
        else:
            out[method] = np.asarray(getattr(model, method)(X[:30]))
    return out


def _fit_and_outputs(name, fit_context=None, predict_context=None):
    import contextlib

    make, X, y, methods = _global_state_specs()[name]
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with fit_context() if fit_context else contextlib.nullcontext():
            model.fit(X) if y is None else model.fit(X, y)
        with predict_context() if predict_context else contextlib.nullcontext():
            return _state_outputs(model, methods, X)


def _assert_same_outputs(ours, reference):
    assert ours.keys() == reference.keys()
    for key in reference:
        np.testing.assert_array_equal(ours[key], reference[key], err_msg=key)


GLOBAL_STATE_NAMES = sorted(_global_state_specs())


@pytest.mark.parametrize("name", GLOBAL_STATE_NAMES)
def test_results_ignore_torch_default_device(name):
    # A user's torch.set_default_device (here "meta", which holds no data)
    # does not reach skmath's tensors: "Cannot copy out of meta tensor"
    # from KMeans, MC dropout and the flow's sample before.
    reference = _fit_and_outputs(name)
    _assert_same_outputs(
        _fit_and_outputs(name, lambda: torch.device("meta"), lambda: torch.device("meta")),
        reference,
    )


@pytest.mark.parametrize("name", GLOBAL_STATE_NAMES)
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "anomaly"])
def test_results_ignore_torch_grad_modes(name, mode):
    # Fits and predictions under the caller's torch.no_grad(),
    # torch.inference_mode() or anomaly detection equal the plain ones
    # (FlowMatchingSampler trained nothing under no_grad, silently, failed
    # under inference_mode, and its score_samples failed under both
    # inference_mode and anomaly detection).
    context = {
        "no_grad": torch.no_grad,
        "inference_mode": torch.inference_mode,
        "anomaly": lambda: torch.autograd.set_detect_anomaly(True),
    }[mode]
    reference = _fit_and_outputs(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anomaly mode's own warning
        _assert_same_outputs(_fit_and_outputs(name, context, context), reference)


def test_fits_never_change_the_warning_filters(monkeypatch):
    # catch_warnings / simplefilter change the process's filters, and a fit
    # in another thread left them changed (a user's LinAlgWarning then
    # raised, or every later ConvergenceWarning was hidden): skmath's fits
    # set no filter, on the paths that used to (newton-cholesky's
    # ill-conditioned Hessian, newton-cg's line search, MC dropout's
    # cross-fitting networks), and still warn what they should, once.
    import inspect

    from scipy.linalg import LinAlgWarning

    calls = []

    def recording(function):
        def wrapper(*args, **kwargs):
            caller = inspect.currentframe().f_back.f_globals.get("__name__", "")
            if caller.startswith("skmath"):
                calls.append((caller, function.__name__))
            return function(*args, **kwargs)
        return wrapper

    for function in ("catch_warnings", "simplefilter", "filterwarnings", "resetwarnings"):
        monkeypatch.setattr(warnings, function, recording(getattr(warnings, function)))

    X, y = load_wine(return_X_y=True)
    X_ill = np.hstack([X, X[:, :1] * (1 + 1e-13)])  # two equal columns: singular Hessian
    with pytest.warns(LinAlgWarning, match="singular or very ill-conditioned Hessian"):
        LogisticRegression(solver="newton-cholesky", C=1e12, device="cpu").fit(X_ill, y)
    with pytest.warns(ConvergenceWarning):
        LogisticRegression(solver="newton-cg", max_iter=20, device="cpu").fit(X, y)
    Xr, yr = load_diabetes(return_X_y=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        skmath.MCDropoutRegressor((8,), max_iter=3, cv=3, n_mc_samples=5, batch_size=1000,
                                  random_state=0, device="cpu").fit(Xr, yr)
    # The fit's own network warns; its three cross-fitting networks do not
    # (neither that it did not converge nor that batch_size was clipped).
    assert sum(issubclass(w.category, ConvergenceWarning) for w in caught) == 1
    assert sum("clipped" in str(w.message) for w in caught) == 1
    assert calls == []


def _tight_logistic(module):
    return module.LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000)


def test_meta_estimators_over_the_linear_models_match_sklearns():
    # sklearn's meta-estimators read what they need from their base estimator
    # (coef_ for RFE and SelectFromModel, predict_proba for calibration and
    # soft stacking, decision_function for one-vs-one, a clone per target or
    # fold): over skmath's linear models they give what they give over
    # sklearn's, at optima solved to 1e-10.
    from sklearn import linear_model as sk
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier
    from sklearn.feature_selection import RFE, SelectFromModel
    from sklearn.inspection import permutation_importance
    from sklearn.multiclass import OneVsOneClassifier
    from sklearn.multioutput import MultiOutputRegressor

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours, ref = _tight_logistic(skmath), _tight_logistic(sk)
    rfe = [RFE(est, n_features_to_select=5).fit(X, y).support_ for est in (ours, ref)]
    assert_allclose(rfe[0], rfe[1])
    # sklearn < 1.8 takes the L1 penalty as penalty="l1" (l1_ratio alone is ignored).
    old_sklearn = parse_version(sklearn.__version__) < parse_version("1.8")
    kw = dict(C=0.05, solver="liblinear", tol=1e-10, max_iter=10_000)
    lasso = [LogisticRegression(l1_ratio=1, **kw),
             sk.LogisticRegression(**kw, **({"penalty": "l1"} if old_sklearn else {"l1_ratio": 1}))]
    # The nonzero coefficients (SelectFromModel's default threshold depends
    # on the release and on which parameter names the penalty).
    l1 = [SelectFromModel(est, threshold=1e-10).fit(X, y).get_support() for est in lasso]
    assert_allclose(l1[0], l1[1])
    assert 0 < l1[0].sum() < X.shape[1]
    calibrated = [CalibratedClassifierCV(est, cv=3).fit(X, y).predict_proba(X)
                  for est in (ours, ref)]
    assert_allclose(calibrated[0], calibrated[1], atol=1e-6)

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours, ref = _tight_logistic(skmath), _tight_logistic(sk)
    ovo = [OneVsOneClassifier(est).fit(X, y).decision_function(X) for est in (ours, ref)]
    assert_allclose(ovo[0], ovo[1], atol=1e-5)
    stacked = [
        StackingClassifier([("a", est), ("b", clone(est).set_params(C=0.05))], cv=3)
        .fit(X, y).predict_proba(X)
        for est in (ours, ref)
    ]
    assert_allclose(stacked[0], stacked[1], atol=1e-5)

    X, y = load_diabetes(return_X_y=True)
    Y = np.c_[y, X @ np.arange(X.shape[1])]
    multi = [MultiOutputRegressor(est).fit(X, Y).predict(X)
             for est in (LinearRegression(), sk.LinearRegression())]
    assert_allclose(multi[0], multi[1], rtol=1e-9)
    importance = [
        permutation_importance(est.fit(X, y), X, y, n_repeats=3, random_state=0).importances
        for est in (LinearRegression(), sk.LinearRegression())
    ]
    assert_allclose(importance[0], importance[1], rtol=1e-9, atol=1e-12)

"""Tests for skmath.ntk: NNGP/NTK kernels, NTKKernel and NTKRegressor.

References: neural-tangents 0.6.5 (values saved in tests/data/ntk_reference.npz
by benchmarks/make_ntk_reference.py), the empirical kernels of wide finite
networks differentiated with torch.func, and scikit-learn's own estimators.
"""

import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skmath import NTKKernel, NTKRegressor
from skmath.ntk._kernels import nngp_ntk, nngp_ntk_diag

REFERENCE = np.load(Path(__file__).parent / "data" / "ntk_reference.npz")
CONFIGS = json.loads(str(REFERENCE["configs"]))
CONFIG_IDS = [
    f"{c['activation']}-depth{c['depth']}-w{c['weight_std']}-b{c['bias_std']}" for c in CONFIGS
]
NT_RTOL = 2e-6

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def _assert_rel_close(actual, desired, rtol=NT_RTOL):
    """Entrywise agreement to ``rtol`` relative to the largest entry."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * np.abs(desired).max())


def _data(n=30, d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, -1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


# --------------------------------------------------------------------------
# Kernel values against neural-tangents


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=CONFIG_IDS)
def test_kernels_match_neural_tangents(index):
    # NNGP and NTK, train x train, test x train and test diagonals, equal
    # neural-tangents' stax kernel_fn to 2e-6 relative (float64).
    config, key = CONFIGS[index], f"c{index}"
    X_train = REFERENCE["X_train"]
    X_test = REFERENCE["X_test"]
    for kind in ("nngp", "ntk"):
        kernel = NTKKernel(**config, kernel=kind, device="cpu")
        _assert_rel_close(kernel(X_train), REFERENCE[f"{key}_{kind}_train"])
        _assert_rel_close(kernel(X_test, X_train), REFERENCE[f"{key}_{kind}_test"])
        _assert_rel_close(kernel.diag(X_test), REFERENCE[f"{key}_{kind}_diag"])


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=CONFIG_IDS)
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_predictions_match_gradient_descent_mse_ensemble(index, kind):
    # Mean and covariance at t=inf equal neural-tangents'
    # gradient_descent_mse_ensemble with relative diag_reg converted to the
    # absolute alpha = diag_reg * trace(K_train) / n; multi-output y.
    config, key = CONFIGS[index], f"c{index}_{kind}"
    reg = NTKRegressor(
        **config,
        kernel=kind,
        alpha=float(REFERENCE[f"{key}_alpha"]),
        normalize_y=False,
        device="cpu",
    ).fit(REFERENCE["X_train"], REFERENCE["y_train"])
    mean, cov = reg.predict(REFERENCE["X_test"], return_cov=True)
    _, std = reg.predict(REFERENCE["X_test"], return_std=True)
    _assert_rel_close(mean, REFERENCE[f"{key}_mean"])
    n_targets = REFERENCE["y_train"].shape[1]
    ref_cov = REFERENCE[f"{key}_cov"]
    assert cov.shape == ref_cov.shape + (n_targets,)
    for j in range(n_targets):
        _assert_rel_close(cov[:, :, j], ref_cov)
        _assert_rel_close(std[:, j] ** 2, np.diag(ref_cov))


# --------------------------------------------------------------------------
# Independent derivation: empirical kernels of wide finite networks


def _empirical_kernels(X, *, width, depth, activation, weight_std, bias_std, seed, dtype):
    """NNGP and NTK of one finite network in NTK parameterisation, by autodiff.

    ``f(x) = w/sqrt(n_L) W_{L+1} h_L + b b_{L+1}``, ``h_l = act(w/sqrt(n_{l-1})
    W_l h_{l-1} + b b_l)`` with standard normal weights. The NTK is
    ``J J^T`` with ``J`` the Jacobian of the outputs in the parameters
    (torch.func.jacrev); the NNGP is the readout's feature kernel
    ``w^2 h_L . h_L' / n_L + b^2``.
    """
    act = {"relu": torch.relu, "erf": torch.erf, "gelu": torch.nn.functional.gelu}[activation]
    gen = torch.Generator().manual_seed(seed)
    sizes = [X.shape[1]] + [width] * depth + [1]
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{layer}"] = torch.randn(fan_in, fan_out, generator=gen, dtype=dtype)
        params[f"b{layer}"] = torch.randn(fan_out, generator=gen, dtype=dtype)
    X = torch.as_tensor(X, dtype=dtype)

    def network(params):
        h = X
        for layer in range(depth + 1):
            z = weight_std / math.sqrt(h.shape[1]) * h @ params[f"W{layer}"]
            z = z + bias_std * params[f"b{layer}"]
            if layer == depth:
                return z[:, 0], h
            h = act(z)

    jacobians = torch.func.jacrev(lambda p: network(p)[0])(params)
    ntk = sum(J.reshape(len(X), -1) @ J.reshape(len(X), -1).T for J in jacobians.values())
    h = network(params)[1]
    nngp = weight_std**2 * h @ h.T / h.shape[1] + bias_std**2
    return nngp.double().numpy(), ntk.double().numpy()


def _relative_error(empirical, exact):
    return np.linalg.norm(empirical - exact) / np.linalg.norm(exact)


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
def test_empirical_kernels_converge_one_hidden_layer(activation):
    # The empirical NNGP and NTK of one random network with a hidden layer of
    # width 16384 are within 5% of the closed form, and much closer than at
    # width 64.
    X = np.random.RandomState(0).normal(size=(8, 4))
    arch = dict(depth=1, activation=activation, weight_std=1.5, bias_std=0.1)
    nngp, ntk = (k.numpy() for k in nngp_ntk(torch.from_numpy(X), **arch))
    errors = {}
    for width in (64, 16384):
        emp_nngp, emp_ntk = _empirical_kernels(X, width=width, seed=0, dtype=torch.float64, **arch)
        errors[width] = (_relative_error(emp_nngp, nngp), _relative_error(emp_ntk, ntk))
    assert max(errors[16384]) < 0.05
    assert errors[16384][0] < errors[64][0] / 3
    assert errors[16384][1] < errors[64][1] / 3


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
def test_empirical_kernels_converge_two_hidden_layers(activation):
    # Two hidden layers of width 4096 (16.8M parameters, float32): the mean
    # of the empirical NNGP and NTK over two random networks is within 5% of
    # the closed form (one network fluctuates by 2-6.5% at this width).
    X = np.random.RandomState(0).normal(size=(6, 4))
    arch = dict(depth=2, activation=activation, weight_std=1.5, bias_std=0.1)
    nngp, ntk = (k.numpy() for k in nngp_ntk(torch.from_numpy(X), **arch))
    kernels = [
        _empirical_kernels(X, width=4096, seed=seed, dtype=torch.float32, **arch)
        for seed in (0, 1)
    ]
    assert _relative_error(np.mean([k[0] for k in kernels], axis=0), nngp) < 0.05
    assert _relative_error(np.mean([k[1] for k in kernels], axis=0), ntk) < 0.05


# --------------------------------------------------------------------------
# Kernel properties


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_kernel_symmetric_psd_and_consistent(activation, kind):
    # k(X) is exactly symmetric and positive semi-definite; diag(X) equals
    # the diagonal of k(X); k(X, X) equals k(X) (to 1e-7 for ReLU, whose
    # arc-cosine kernel is not differentiable at equal inputs: a one-ulp
    # difference in x.x becomes sqrt(eps) there).
    X = np.random.RandomState(1).normal(size=(50, 6))
    kernel = NTKKernel(depth=3, activation=activation, bias_std=0.3, kernel=kind, device="cpu")
    K = kernel(X)
    np.testing.assert_array_equal(K, K.T)
    eigenvalues = np.linalg.eigvalsh(K)
    assert eigenvalues.min() > -1e-10 * eigenvalues.max()
    rtol = 1e-7 if activation == "relu" else 1e-12
    np.testing.assert_allclose(kernel(X, X), K, rtol=rtol, atol=rtol * np.abs(K).max())
    np.testing.assert_allclose(kernel.diag(X), np.diag(K), rtol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 3])
def test_blocked_computation_equals_one_block(n_threads):
    # Tiny blocks (symmetric and rectangular, several threads) give the same
    # matrices as a single block.
    rng = np.random.RandomState(2)
    X, Y = torch.from_numpy(rng.normal(size=(23, 4))), torch.from_numpy(rng.normal(size=(17, 4)))
    arch = dict(depth=2, activation="gelu", weight_std=1.3, bias_std=0.2)
    for A, B in ((X, None), (X, Y)):
        whole = nngp_ntk(A, B, block_elements=10**6, **arch)
        blocked = nngp_ntk(A, B, block_elements=25, n_threads=n_threads, **arch)
        for full, part in zip(whole, blocked):
            torch.testing.assert_close(part, full, rtol=1e-13, atol=1e-13)
    nngp_only, no_ntk = nngp_ntk(X, compute_ntk=False, block_elements=25, **arch)
    assert no_ntk is None
    torch.testing.assert_close(nngp_only, nngp_ntk(X, **arch)[0], rtol=1e-13, atol=1e-13)


def test_worker_threads_only_for_large_kernels(monkeypatch):
    # By default, small kernels run without worker threads (their start costs
    # more than they save); from _MIN_THREADED_ELEMENTS entries, torch's count.
    import skmath.ntk._kernels as kernels_module

    workers, block_pool = [], kernels_module.block_pool

    def recorded(n_workers):
        workers.append(n_workers)
        return block_pool(n_workers)

    monkeypatch.setattr(kernels_module, "block_pool", recorded)
    X = torch.from_numpy(np.random.RandomState(0).normal(size=(40, 3)))
    arch = {"depth": 1, "activation": "relu", "weight_std": 1.0, "bias_std": 0.1}
    small = nngp_ntk(X, block_elements=100, **arch)
    monkeypatch.setattr(kernels_module, "_MIN_THREADED_ELEMENTS", 40 * 40)
    large = nngp_ntk(X, block_elements=100, **arch)
    assert workers == [1, min(torch.get_num_threads(), 10)]  # 10 tiles of 10 x 10
    for a, b in zip(small, large):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_depth_zero_is_the_linear_kernel():
    # depth=0 (a single Dense layer): NNGP = NTK = w^2 x.x'/d + b^2.
    X = np.random.RandomState(3).normal(size=(7, 3))
    expected = 1.7**2 * X @ X.T / 3 + 0.4**2
    for kind in ("nngp", "ntk"):
        K = NTKKernel(depth=0, weight_std=1.7, bias_std=0.4, kernel=kind, device="cpu")(X)
        np.testing.assert_allclose(K, expected, rtol=1e-13)


def test_relu_one_layer_closed_form():
    # One ReLU layer without bias, unit inputs at angle theta: the NNGP is
    # w^4/(2 pi d) (sin t + (pi - t) cos t) and the NTK adds
    # w^4/(2 pi d) (pi - t) cos t (Cho & Saul 2009; Jacot et al. 2018).
    theta = np.linspace(0.0, np.pi, 7)
    X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    w, d = 1.3, 2
    nngp, ntk = nngp_ntk(torch.from_numpy(X[:1]), torch.from_numpy(X),
                         depth=1, activation="relu", weight_std=w, bias_std=0.0)
    scale = w**4 / (2 * np.pi * d)
    expected_nngp = scale * (np.sin(theta) + (np.pi - theta) * np.cos(theta))
    expected_ntk = expected_nngp + scale * (np.pi - theta) * np.cos(theta)
    np.testing.assert_allclose(nngp.numpy()[0], expected_nngp, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ntk.numpy()[0], expected_ntk, rtol=1e-12, atol=1e-15)


def test_kernel_diag_is_linear_time_and_float64():
    # diag() and __call__ return float64 whatever the input dtype, and the
    # diagonal helper agrees with the full matrix for every activation.
    X = np.random.RandomState(4).normal(size=(9, 3)).astype(np.float32)
    for activation in ("relu", "erf", "gelu"):
        kernel = NTKKernel(depth=2, activation=activation, device="cpu")
        assert kernel(X).dtype == np.float64 and kernel.diag(X).dtype == np.float64
        full = nngp_ntk(torch.from_numpy(X.astype(np.float64)), depth=2, activation=activation,
                        weight_std=1.0, bias_std=1.0)
        diag = nngp_ntk_diag(torch.from_numpy(X.astype(np.float64)), depth=2,
                             activation=activation, weight_std=1.0, bias_std=1.0)
        for matrix, vector in zip(full, diag):
            torch.testing.assert_close(torch.diagonal(matrix), vector, rtol=1e-12, atol=0)


def test_kernel_api():
    # sklearn's Kernel API: no hyperparameters, empty gradient, clone/pickle
    # equality, readable repr, clear errors for bad parameters and shapes.
    X = np.random.RandomState(5).normal(size=(6, 3))
    kernel = NTKKernel(depth=2, activation="erf", kernel="nngp", device="cpu")
    K, grad = kernel(X, eval_gradient=True)
    assert grad.shape == (6, 6, 0)
    assert kernel.n_dims == 0 and not kernel.is_stationary()
    assert clone(kernel) == kernel and pickle.loads(pickle.dumps(kernel)) == kernel
    assert repr(kernel) == (
        "NTKKernel(depth=2, activation='erf', weight_std=1.0, bias_std=1.0, kernel='nngp', "
        "device='cpu')"
    )  # the device is shown when not the default, since __eq__ compares it
    # ... by name: "cpu" and torch.device("cpu") are one device.
    assert kernel == clone(kernel).set_params(device=torch.device("cpu"))
    assert kernel != clone(kernel).set_params(device="auto")
    assert kernel != clone(kernel).set_params(depth=3) and kernel != RBF()
    with pytest.raises(ValueError, match="Gradient can only be evaluated"):
        kernel(X, X, eval_gradient=True)
    with pytest.raises(ValueError, match="features"):
        kernel(X, X[:, :2])
    with pytest.raises(ValueError, match="activation"):
        NTKKernel(activation="tanh")(X)
    with pytest.raises(ValueError, match="depth"):
        NTKKernel(depth=-1)(X)
    with pytest.raises(ValueError, match="NaN"):
        NTKKernel()(np.full((2, 2), np.nan))


# --------------------------------------------------------------------------
# scikit-learn integration


def test_gaussian_process_regressor_with_nngp_kernel_equals_ntkregressor():
    # GaussianProcessRegressor(NTKKernel("nngp")) and NTKRegressor("nngp")
    # give the same posterior mean, std and covariance.
    X, y = _data()
    X_test = _data(n=8, seed=1)[0]
    arch = dict(depth=2, activation="gelu", weight_std=1.4, bias_std=0.2)
    gpr = GaussianProcessRegressor(
        NTKKernel(**arch, kernel="nngp", device="cpu"), alpha=1e-2, normalize_y=True
    ).fit(X, y)
    reg = NTKRegressor(**arch, kernel="nngp", alpha=1e-2, device="cpu").fit(X, y)
    np.testing.assert_allclose(reg.predict(X_test), gpr.predict(X_test), rtol=1e-8)
    for kwargs in ({"return_std": True}, {"return_cov": True}):
        for ours, theirs in zip(reg.predict(X_test, **kwargs), gpr.predict(X_test, **kwargs)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    # The fitted factor is GPR's lower Cholesky factor (computed in place,
    # column-major), and the dual coefficients and evidence are GPR's.
    np.testing.assert_allclose(reg.L_, gpr.L_, rtol=1e-10, atol=1e-12)
    assert np.all(np.triu(reg.L_, 1) == 0)
    np.testing.assert_allclose(reg.alpha_, gpr.alpha_, rtol=1e-8)
    np.testing.assert_allclose(
        reg.log_marginal_likelihood_value_, gpr.log_marginal_likelihood_value_, rtol=1e-10
    )
    # A model pickled before the factor was column-major (row-major L_)
    # predicts the same.
    mean, std = reg.predict(X_test, return_std=True)
    reg.L_ = np.ascontiguousarray(reg.L_)
    for ours, before in zip(reg.predict(X_test, return_std=True), (mean, std)):
        np.testing.assert_allclose(ours, before, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_kernel_in_composite_gpr_kernel_is_optimised():
    # ConstantKernel * NTKKernel + WhiteKernel: the marginal-likelihood
    # optimiser (which asks NTKKernel for its empty gradient) tunes the
    # amplitude and noise around the fixed NTK, raising the likelihood.
    X, y = _data(n=80)
    kernel = ConstantKernel() * NTKKernel(depth=2, device="cpu") + WhiteKernel()
    gpr = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0).fit(X[:60], y[:60])
    assert gpr.log_marginal_likelihood_value_ > gpr.log_marginal_likelihood(kernel.theta) + 1
    assert gpr.score(X[60:], y[60:]) > 0.8


def test_svc_with_kernel_equals_precomputed_gram():
    # SVC(kernel=NTKKernel()) gives exactly the decisions of SVC on the
    # precomputed NTK Gram matrices.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kernel = NTKKernel(depth=2, device="cpu")
    direct = SVC(kernel=kernel).fit(X[:400], y[:400])
    pre = SVC(kernel="precomputed").fit(kernel(X[:400]), y[:400])
    np.testing.assert_allclose(
        direct.decision_function(X[400:]),
        pre.decision_function(kernel(X[400:], X[:400])),
        rtol=1e-8,
        atol=1e-8,
    )


def test_svc_breast_cancer_accuracy_matches_rbf():
    # On breast_cancer (standardised), SVC with the NTK is within 0.01 of
    # SVC(rbf) in 5-fold cross-validated accuracy.
    X, y = load_breast_cancer(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    rbf = cross_val_score(make_pipeline(StandardScaler(), SVC()), X, y, cv=cv).mean()
    ntk = cross_val_score(
        make_pipeline(StandardScaler(), SVC(kernel=NTKKernel(depth=1, device="cpu"))), X, y, cv=cv
    ).mean()
    assert ntk >= rbf - 0.01, (ntk, rbf)


def test_gridsearch_diabetes_matches_kernel_ridge_rbf():
    # On diabetes (standardised X), NTKRegressor tuned by GridSearchCV over
    # depth and alpha reaches the cross-validated R^2 of KernelRidge(rbf) with
    # centred targets tuned over gamma and alpha (16 candidates each), minus
    # 0.01.
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    ntk = GridSearchCV(
        make_pipeline(StandardScaler(), NTKRegressor(device="cpu")),
        {"ntkregressor__depth": [1, 2, 3, 4], "ntkregressor__alpha": [0.3, 1.0, 3.0, 10.0]},
        cv=cv,
    ).fit(X, y)
    krr = GridSearchCV(
        TransformedTargetRegressor(
            make_pipeline(StandardScaler(), KernelRidge(kernel="rbf")), transformer=StandardScaler()
        ),
        {
            "regressor__kernelridge__gamma": [0.003, 0.01, 0.03, 0.1],
            "regressor__kernelridge__alpha": [0.1, 0.3, 1.0, 3.0],
        },
        cv=cv,
    ).fit(X, y)
    assert ntk.best_score_ >= krr.best_score_ - 0.01, (ntk.best_score_, krr.best_score_)
    assert ntk.best_score_ > 0.45


# --------------------------------------------------------------------------
# NTKRegressor behaviour


def test_ntk_covariance_reduces_to_gp_posterior_when_ntk_equals_nngp():
    # With depth=0 the NTK equals the NNGP kernel, and the trained ensemble's
    # covariance K_tt + B^T K B - 2 sym(K_td B) collapses to the GP posterior
    # K_tt - K_td K^-1 K_dt as alpha -> 0.
    X, y = _data(n=5, d=6)
    X_test = _data(n=4, d=6, seed=1)[0]
    kw = dict(depth=0, bias_std=0.5, alpha=1e-9, normalize_y=False, device="cpu")
    _, cov_ntk = NTKRegressor(**kw, kernel="ntk").fit(X, y).predict(X_test, return_cov=True)
    _, cov_gp = NTKRegressor(**kw, kernel="nngp").fit(X, y).predict(X_test, return_cov=True)
    np.testing.assert_allclose(cov_ntk, cov_gp, atol=1e-6 * np.abs(cov_gp).max())


@pytest.mark.filterwarnings("ignore:Predicted variances smaller than 0")
def test_small_alpha_interpolates_training_data():
    # alpha -> 0 is gradient descent run to convergence: the training targets
    # are fitted exactly, and the NNGP posterior std vanishes there.
    X, y = _data(n=25)
    for kind in ("ntk", "nngp"):
        reg = NTKRegressor(depth=3, kernel=kind, alpha=1e-10, device="cpu").fit(X, y)
        mean, std = reg.predict(X, return_std=True)
        np.testing.assert_allclose(mean, y, atol=1e-5)
        assert std.max() < 1e-3


def test_std_equals_sqrt_of_cov_diagonal_and_grows_away_from_data():
    # return_std is the square root of return_cov's diagonal, and the
    # uncertainty is larger far from the training data than on it.
    X, y = _data(n=40, d=1)
    X_test = np.array([[0.0], [1.0], [8.0]])
    for kind in ("ntk", "nngp"):
        reg = NTKRegressor(depth=2, kernel=kind, alpha=1e-2, device="cpu").fit(X, y)
        mean_s, std = reg.predict(X_test, return_std=True)
        mean_c, cov = reg.predict(X_test, return_cov=True)
        np.testing.assert_allclose(mean_s, mean_c)
        np.testing.assert_allclose(std**2, np.diag(cov), rtol=1e-8, atol=1e-12)
        assert std[2] > 3 * std[0]


def test_normalize_y_handles_target_offset_and_scale():
    # With normalize_y (default), shifting and scaling y shifts and scales the
    # predictions and std exactly, so targets with a large mean are fitted as
    # well as centred ones; without it, the prior mean 0 ruins the fit.
    X, y = _data(n=80)
    X_train, y_train, X_test, y_test = X[:60], y[:60], X[60:], y[60:]
    reg = NTKRegressor(depth=2, alpha=0.1, device="cpu")
    mean, std = clone(reg).fit(X_train, y_train).predict(X_test, return_std=True)
    shifted = clone(reg).fit(X_train, 3.0 * y_train + 1000.0)
    mean2, std2 = shifted.predict(X_test, return_std=True)
    np.testing.assert_allclose(mean2, 3.0 * mean + 1000.0, rtol=1e-10)
    np.testing.assert_allclose(std2, 3.0 * std, rtol=1e-8)
    score = shifted.score(X_test, 3.0 * y_test + 1000.0)
    assert score > 0.5
    raw = clone(reg).set_params(normalize_y=False).fit(X_train, 3.0 * y_train + 1000.0)
    assert raw.score(X_test, 3.0 * y_test + 1000.0) < 0


@pytest.mark.parametrize("column", [False, True])
@pytest.mark.parametrize("c", [1e200, 1e-20, 1e-200, 1e-300])
def test_normalize_y_of_huge_and_tiny_targets_is_exact(c, column):
    # The targets' std squared y: beyond 1e154 it overflowed (NaN means), below
    # 1e-154 it underflowed to 0 and was replaced by 1 (stds in the wrong
    # units); predict squared it again (inf stds). A column y's std below
    # 2e-15 was replaced by 1 too (GaussianProcessRegressor's absolute
    # threshold: stds 1e18 too large at 1e-20). Powers of two: exact.
    X, y = _data(n=40)
    c = 2.0 ** round(np.log2(c))
    reg = NTKRegressor(alpha=0.1, device="cpu")
    mean, std = clone(reg).fit(X, y).predict(X[:5], return_std=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        mean_c, std_c = clone(reg).fit(X, c * (y[:, None] if column else y)).predict(
            X[:5], return_std=True)
    np.testing.assert_allclose(np.ravel(mean_c) / c, mean, rtol=1e-12)
    np.testing.assert_allclose(np.ravel(std_c) / c, std, rtol=1e-12)


@pytest.mark.parametrize("c", [1e300, 3.0, -1e-300])
def test_normalize_y_of_a_constant_target_predicts_it(c):
    # A constant y has std exactly 0 (measured about its first entry: twelve
    # copies of 1e300 had std 1.5e284 and the normalised targets were
    # rounding noise of size 1) and scale 1, as in GaussianProcessRegressor.
    X, _ = _data(n=12)
    reg = NTKRegressor(alpha=0.1, device="cpu").fit(X, np.full(12, c))
    np.testing.assert_array_equal(reg.predict(X[:3]), np.full(3, c))


def test_multi_output_equals_separate_fits():
    # A two-column y gives, column by column, the fits on each column alone
    # (each normalised separately); std has one column per target.
    X, y = _data(n=30)
    Y = np.stack([y, -2 * y + X[:, 2]], axis=1)
    X_test = _data(n=5, seed=3)[0]
    reg = NTKRegressor(depth=2, alpha=1e-2, device="cpu")
    mean, std = clone(reg).fit(X, Y).predict(X_test, return_std=True)
    _, cov = clone(reg).fit(X, Y).predict(X_test, return_cov=True)
    assert mean.shape == std.shape == (5, 2) and cov.shape == (5, 5, 2)
    for j in range(2):
        mean_j, std_j = clone(reg).fit(X, Y[:, j]).predict(X_test, return_std=True)
        np.testing.assert_allclose(mean[:, j], mean_j, rtol=1e-10)
        np.testing.assert_allclose(std[:, j], std_j, rtol=1e-8)


def test_float32_input_uses_float64_kernels():
    # float32 X gives the same model as the same values in float64.
    X, y = _data()
    X32 = X.astype(np.float32)
    reg32 = NTKRegressor(device="cpu").fit(X32, y)
    reg64 = NTKRegressor(device="cpu").fit(X32.astype(np.float64), y)
    assert reg32.X_train_.dtype == np.float64
    np.testing.assert_array_equal(reg32.predict(X32), reg64.predict(X32.astype(np.float64)))


def test_per_sample_alpha_and_errors():
    # alpha may be an array (one noise variance per sample); a wrong length,
    # both return_std and return_cov, and a non positive definite kernel
    # raise clear errors.
    X, y = _data(n=20)
    alpha = np.full(20, 0.05)
    a = NTKRegressor(alpha=alpha, device="cpu").fit(X, y).predict(X)
    b = NTKRegressor(alpha=0.05, device="cpu").fit(X, y).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(ValueError, match="alpha must be a scalar or an array"):
        NTKRegressor(alpha=np.ones(3), device="cpu").fit(X, y)
    reg = NTKRegressor(device="cpu").fit(X, y)
    with pytest.raises(RuntimeError, match="At most one"):
        reg.predict(X, return_std=True, return_cov=True)
    # 30 points on a line through the origin, no bias: a rank-one linear kernel.
    X_line = np.linspace(-1, 1, 30)[:, None]
    with pytest.raises(ValueError, match="not positive definite.*increasing the 'alpha'"):
        NTKRegressor(depth=0, bias_std=0.0, alpha=0.0, device="cpu").fit(X_line, X_line[:, 0])


def test_singular_kernel_of_large_rows_says_to_rescale():
    # Integer rows near 2^60: the kernel's diagonal is ~1e36 and the default
    # alpha (1e-10) vanishes beside it; the error only advised increasing
    # alpha. It gives the diagonal's scale and advises rescaling X.
    rng = np.random.RandomState(0)
    X = 2**60 + rng.randint(0, 1000, size=(30, 2))
    with pytest.raises(ValueError, match=r"diagonal entry is 1\.\d+e\+36.*rescale X"):
        NTKRegressor(device="cpu").fit(X, rng.randn(30))


def test_pickle_round_trip():
    # A pickled and reloaded regressor predicts identically.
    X, y = _data()
    reg = NTKRegressor(depth=2, kernel="ntk", device="cpu").fit(X, y)
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(
        np.asarray(loaded.predict(X, return_std=True)), np.asarray(reg.predict(X, return_std=True))
    )


@cuda
def test_cuda_matches_cpu():
    # Kernels and predictions on CUDA equal the CPU ones (float64).
    X, y = _data(n=200)
    for activation in ("relu", "erf", "gelu"):
        kw = dict(depth=3, activation=activation, alpha=1e-3)
        cpu = NTKRegressor(**kw, device="cpu").fit(X, y)
        gpu = NTKRegressor(**kw, device="cuda").fit(X, y)
        for a, b in zip(cpu.predict(X, return_std=True), gpu.predict(X, return_std=True)):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        K_cpu = NTKKernel(**{"depth": 3, "activation": activation}, device="cpu")(X)
        K_gpu = NTKKernel(**{"depth": 3, "activation": activation}, device="cuda")(X)
        np.testing.assert_allclose(K_gpu, K_cpu, rtol=1e-10)


def test_alpha_array_like_and_invalid_arrays():
    # alpha is documented as "float or array-like of shape (n_samples,)": a
    # list gives the fit of the same ndarray. Arrays of the wrong shape say
    # which shape they have, and NaN or infinite entries (rejected as
    # scalars by the parameter validation) are rejected in arrays too.
    X, y = _data(n=20)
    alpha = list(np.linspace(0.01, 0.1, 20))
    a = NTKRegressor(alpha=alpha, device="cpu").fit(X, y).predict(X, return_std=True)
    b = NTKRegressor(alpha=np.array(alpha), device="cpu").fit(X, y).predict(X, return_std=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for bad in (np.full((20, 1), 0.1), np.full((1, 20), 0.1)):
        with pytest.raises(ValueError, match=r"shape \(n_samples,\), got an array of shape"):
            NTKRegressor(alpha=bad, device="cpu").fit(X, y)
    for bad in (np.full(20, np.nan), np.full(20, np.inf), np.full(20, -1.0)):
        with pytest.raises(ValueError, match="alpha must be non-negative and finite"):
            NTKRegressor(alpha=bad, device="cpu").fit(X, y)


# --------------------------------------------------------------------------
# sample_y and log_marginal_likelihood, as in GaussianProcessRegressor

GP_ARCH = dict(depth=2, activation="gelu", weight_std=1.4, bias_std=0.2)


def _gpr_and_nngp_regressor(X, y, *, alpha, normalize_y):
    """The same GP posterior twice: sklearn's GPR with NTKKernel, and NTKRegressor."""
    gpr = GaussianProcessRegressor(
        NTKKernel(**GP_ARCH, kernel="nngp", device="cpu"),
        alpha=alpha,
        normalize_y=normalize_y,
        optimizer=None,
    ).fit(X, y)
    reg = NTKRegressor(
        **GP_ARCH, kernel="nngp", alpha=alpha, normalize_y=normalize_y, device="cpu"
    ).fit(X, y)
    return gpr, reg


def _targets(X, y, n_targets):
    return y if n_targets == 1 else np.stack([y, -2 * y + X[:, 2] + 3.0], axis=1)


@pytest.mark.parametrize("normalize_y", [True, False])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_sample_y_nngp_equals_gaussian_process_regressor_draws(normalize_y, n_targets):
    # With kernel="nngp", sample_y gives GaussianProcessRegressor's draws (same
    # random number path, same shapes) for the same random_state.
    X, y = _data()
    Y = _targets(X, y, n_targets)
    X_test = _data(n=8, seed=1)[0]
    gpr, reg = _gpr_and_nngp_regressor(X, Y, alpha=1e-2, normalize_y=normalize_y)
    ours = reg.sample_y(X_test, n_samples=6, random_state=3)
    theirs = gpr.sample_y(X_test, n_samples=6, random_state=3)
    assert ours.shape == theirs.shape == ((8, 6) if n_targets == 1 else (8, 2, 6))
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)
    # Default n_samples and random_state, as in GPR.
    np.testing.assert_allclose(reg.sample_y(X_test), gpr.sample_y(X_test), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_sample_y_ntk_has_predict_mean_and_covariance(n_targets):
    # With kernel="ntk", the draws have the shapes of GPR's sample_y and, over
    # many samples, the mean and covariance of predict(X, return_cov=True),
    # which differ from the NNGP posterior's.
    X, y = _data(n=20)
    Y = _targets(X, y, n_targets)
    X_test = _data(n=4, seed=1)[0]
    reg = NTKRegressor(depth=2, kernel="ntk", alpha=1e-2, device="cpu").fit(X, Y)
    n_samples = 20000
    samples = reg.sample_y(X_test, n_samples=n_samples, random_state=0)
    mean, cov = reg.predict(X_test, return_cov=True)
    assert samples.shape == ((4, n_samples) if n_targets == 1 else (4, 2, n_samples))
    _, cov_nngp = clone(reg).set_params(kernel="nngp").fit(X, Y).predict(X_test, return_cov=True)
    samples, mean = samples.reshape(4, n_targets, n_samples), mean.reshape(4, n_targets)
    cov, cov_nngp = cov.reshape(4, 4, n_targets), cov_nngp.reshape(4, 4, n_targets)
    for k in range(n_targets):
        var = np.diag(cov[..., k])
        # Five standard errors of the sample mean and sample covariance.
        mean_tol = 5 * np.sqrt(var / n_samples)
        cov_tol = 5 * np.sqrt((np.outer(var, var) + cov[..., k] ** 2) / n_samples)
        assert np.all(np.abs(samples[:, k].mean(axis=1) - mean[:, k]) < mean_tol)
        assert np.all(np.abs(np.cov(samples[:, k]) - cov[..., k]) < cov_tol)
        assert np.any(np.abs(cov_nngp[..., k] - cov[..., k]) > 3 * cov_tol)


def test_sample_y_reproducible_with_random_state():
    # The same int gives the same draws, another int other draws; a
    # RandomState instance is advanced, exactly as GPR's check_random_state path.
    X, y = _data()
    X_test = _data(n=5, seed=1)[0]
    for kind in ("ntk", "nngp"):
        reg = NTKRegressor(depth=2, kernel=kind, alpha=1e-2, device="cpu").fit(X, y)
        a = reg.sample_y(X_test, n_samples=3, random_state=7)
        np.testing.assert_array_equal(a, reg.sample_y(X_test, n_samples=3, random_state=7))
        assert not np.allclose(a, reg.sample_y(X_test, n_samples=3, random_state=8))
        rng = np.random.RandomState(7)
        np.testing.assert_array_equal(a, reg.sample_y(X_test, n_samples=3, random_state=rng))
        b = reg.sample_y(X_test, n_samples=3, random_state=rng)
        assert not np.allclose(a, b)
        np.testing.assert_array_equal(np.hstack([a, b]), reg.sample_y(X_test, 6, random_state=7))


@pytest.mark.parametrize("kind", ["ntk", "nngp"])
@pytest.mark.parametrize("scale", [1e155, 1e250, 1e-250])
def test_sample_y_of_targets_beyond_the_square_range(kind, scale):
    # Targets at 1e155: the covariance (a square) overflowed to inf and
    # multivariate_normal raised LinAlgError ("SVD did not converge"). The
    # draws are taken in units of a power of two near the targets' scale:
    # those of the unit model, scaled. Multi-target too.
    X, y = _data()
    Y = np.column_stack([y, 2 * y])
    X_test = _data(n=5, seed=1)[0]
    for target in (y, Y):
        kw = dict(depth=2, kernel=kind, alpha=1e-2, device="cpu")
        ref = NTKRegressor(**kw).fit(X, target).sample_y(X_test, 3, random_state=0)
        draws = NTKRegressor(**kw).fit(X, target * scale).sample_y(X_test, 3, random_state=0)
        assert draws.shape == ref.shape
        np.testing.assert_allclose(draws / scale, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["ntk", "nngp"])
@pytest.mark.parametrize("n_targets", [None, 1, 3])
def test_unfitted_predict_and_sample_y_give_the_prior_as_gaussian_process_regressor(
        kind, n_targets):
    # Before fit, GaussianProcessRegressor predicts and samples from its
    # prior; so does NTKRegressor: the untrained networks' outputs, mean 0
    # and the NNGP covariance (for either kernel), n_targets of them. The
    # same numbers and draws as GPR with the NNGP kernel.
    X = _data(n=6, seed=1)[0]
    arch = dict(depth=2, weight_std=1.3, bias_std=0.4)
    reg = NTKRegressor(kernel=kind, n_targets=n_targets, device="cpu", **arch)
    gpr = GaussianProcessRegressor(NTKKernel(kernel="nngp", device="cpu", **arch),
                                   n_targets=n_targets)
    np.testing.assert_array_equal(reg.predict(X), gpr.predict(X))
    for option in ("return_std", "return_cov"):
        ours, ref = reg.predict(X, **{option: True}), gpr.predict(X, **{option: True})
        assert ours[1].shape == ref[1].shape
        np.testing.assert_allclose(ours[1], ref[1], rtol=1e-12)
    np.testing.assert_allclose(reg.sample_y(X, 4, random_state=3),
                               gpr.sample_y(X, 4, random_state=3), rtol=1e-10, atol=1e-12)
    assert not hasattr(reg, "n_features_in_")  # still unfitted
    assert reg.__sklearn_tags__().requires_fit is False


def test_n_targets_is_checked_at_fit_as_gaussian_process_regressor():
    X, y = _data()
    for est in (NTKRegressor(n_targets=2, device="cpu"), GaussianProcessRegressor(n_targets=2)):
        with pytest.raises(ValueError, match="different from the parameter `n_targets`. Got 1"):
            est.fit(X, y)
    reg = NTKRegressor(n_targets=2, alpha=1e-2, device="cpu").fit(X, np.c_[y, 2 * y])
    assert reg.predict(X).shape == (len(X), 2)


@pytest.mark.parametrize("normalize_y", [True, False])
@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("per_sample_alpha", [False, True])
def test_log_marginal_likelihood_equals_gaussian_process_regressor(
    normalize_y, n_targets, per_sample_alpha
):
    # log_marginal_likelihood_value_ and log_marginal_likelihood() equal GPR's
    # with the equivalent kernel, and the sum over targets of the Gaussian
    # log density of y_train_ under N(0, K + diag(alpha)); theta=[] with
    # eval_gradient gives the value and an empty gradient, as GPR does.
    from scipy.stats import multivariate_normal

    X, y = _data(n=25)
    Y = _targets(X, y, n_targets)
    alpha = np.linspace(0.01, 0.2, 25) if per_sample_alpha else 0.05
    gpr, reg = _gpr_and_nngp_regressor(X, Y, alpha=alpha, normalize_y=normalize_y)
    lml = reg.log_marginal_likelihood_value_
    assert isinstance(lml, float)
    np.testing.assert_allclose(lml, gpr.log_marginal_likelihood_value_, rtol=1e-10)
    assert reg.log_marginal_likelihood() == lml
    assert reg.log_marginal_likelihood(np.array([])) == lml
    value, grad = reg.log_marginal_likelihood(gpr.kernel_.theta, eval_gradient=True)
    gpr_value, gpr_grad = gpr.log_marginal_likelihood(gpr.kernel_.theta, eval_gradient=True)
    np.testing.assert_allclose(value, gpr_value, rtol=1e-10)
    assert grad.shape == gpr_grad.shape == (0,)
    K = nngp_ntk(torch.as_tensor(X), compute_ntk=False, **GP_ARCH)[0].numpy()
    cov = K + np.diag(np.broadcast_to(alpha, 25))
    Y_train = reg.y_train_.reshape(25, -1)
    expected = sum(multivariate_normal(np.zeros(25), cov).logpdf(t) for t in Y_train.T)
    np.testing.assert_allclose(lml, expected, rtol=1e-10)


def test_log_marginal_likelihood_errors_and_ntk_mode():
    # A non-empty theta, and eval_gradient without theta (as in GPR), raise
    # clear errors; kernel="ntk" has no marginal likelihood: the method says
    # to use kernel="nngp" and the attribute is not set (nor left over from
    # an earlier nngp fit).
    X, y = _data(n=20)
    reg = NTKRegressor(kernel="nngp", device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="no hyperparameters: theta must be None or empty"):
        reg.log_marginal_likelihood(np.array([0.5]))
    with pytest.raises(ValueError, match="Gradient can only be evaluated for theta!=None"):
        reg.log_marginal_likelihood(eval_gradient=True)
    reg.set_params(kernel="ntk").fit(X, y)
    assert not hasattr(reg, "log_marginal_likelihood_value_")
    with pytest.raises(ValueError, match="fitted with kernel='nngp', this one was fitted"):
        reg.log_marginal_likelihood()
    with pytest.raises(ValueError, match="fitted with kernel='nngp'"):
        reg.log_marginal_likelihood([], eval_gradient=True)
    # What counts is the kernel the model was fitted with, not the parameter now.
    reg.set_params(kernel="nngp")
    with pytest.raises(ValueError, match="this one was fitted with kernel='ntk'"):
        reg.log_marginal_likelihood()
    nngp = NTKRegressor(kernel="nngp", device="cpu").fit(X, y)
    value = nngp.log_marginal_likelihood()
    assert nngp.set_params(kernel="ntk").log_marginal_likelihood() == value


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
def test_overflowing_inputs_raise_instead_of_inf(activation):
    # ReLU's q1 q2 overflows float64 from |x|^2 ~ 1e154: a clear error rather
    # than the inf/NaN entries (and misleading Cholesky error) of before;
    # large but safe inputs keep the ReLU kernel's homogeneity.
    X, y = _data(n=5, d=2)
    huge = X.copy()
    huge[0] *= 1e160
    kernel = NTKKernel(activation=activation)
    for call in (
        lambda: kernel(huge),
        lambda: kernel(X, huge),
        lambda: kernel.diag(huge),
        lambda: NTKRegressor(activation=activation).fit(huge, y),
        lambda: NTKRegressor(activation=activation).fit(X, y).predict(huge),
    ):
        with pytest.raises(ValueError, match="overflows float64 on these inputs.*Rescale X"):
            call()
    if activation == "relu":
        relu = NTKKernel(bias_std=0.0)
        np.testing.assert_allclose(relu(X * 1e70), relu(X) * 1e140, rtol=1e-12)


def test_overflow_from_bias_std_names_it():
    # Standardised inputs, bias_std=1e100: the error blamed x . x (1 here)
    # and advised lowering depth or weight_std only.
    X, _ = _data(n=5, d=2)
    with pytest.raises(ValueError, match=r"bias_std=1e\+100\).*lower depth, weight_std or bias_std"):
        NTKKernel(activation="erf", bias_std=1e100)(X)


@pytest.mark.parametrize("depth", [1, 3])
def test_relu_kernel_diagonal_equals_zero_angle_closed_form(depth):
    # At x = x' the ReLU angle is 0: E[relu(u)^2] = q / 2, E[relu'(u)^2] = 1/2.
    # A fused multiply-add in q1 q2 - cov^2 used to leave sqrt(eps) there
    # (NTK diagonal off by ~1e-9 relative).
    X = np.random.RandomState(5).normal(size=(40, 3))
    w, b = 1.4, 0.3
    nngp, ntk = nngp_ntk(torch.from_numpy(X), depth=depth, activation="relu",
                         weight_std=w, bias_std=b)
    sigma, theta = (X * X).sum(1) / X.shape[1], np.zeros(len(X))
    for _ in range(depth):
        sigma = w**2 * sigma + b**2
        theta = (sigma + w**2 * theta) / 2
        sigma = sigma / 2
    sigma = w**2 * sigma + b**2
    theta = sigma + w**2 * theta
    np.testing.assert_allclose(torch.diagonal(nngp).numpy(), sigma, rtol=1e-14)
    np.testing.assert_allclose(torch.diagonal(ntk).numpy(), theta, rtol=1e-14)


def test_predictions_use_the_fitted_kernel_until_refit():
    # As GaussianProcessRegressor.kernel_: set_params after fit changes
    # nothing until the next fit (predict used the new architecture with the
    # old dual coefficients, and crashed after switching nngp -> ntk).
    X, y = _data()
    reg = NTKRegressor(depth=1, kernel="nngp", alpha=1e-3, device="cpu").fit(X, y)
    assert reg.kernel_ == NTKKernel(depth=1, kernel="nngp", device="cpu")
    before = reg.predict(X[:5], return_std=True), reg.sample_y(X[:5], 3)
    reg.set_params(depth=4, kernel="ntk", activation="erf", weight_std=2.0, bias_std=0.1)
    after = reg.predict(X[:5], return_std=True), reg.sample_y(X[:5], 3)
    for a, b in zip(np.concatenate(before[0]), np.concatenate(after[0])):
        assert a == b
    np.testing.assert_array_equal(before[1], after[1])
    refit = reg.fit(X, y)
    assert refit.kernel_ == NTKKernel(depth=4, kernel="ntk", activation="erf",
                                      weight_std=2.0, bias_std=0.1, device="cpu")
    np.testing.assert_allclose(
        refit.predict(X[:5]), NTKRegressor(**refit.get_params()).fit(X, y).predict(X[:5])
    )
    assert "device='cpu'" in repr(refit.kernel_) and "device" not in repr(NTKKernel())


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_changing_the_training_arrays_after_fit_changes_nothing(kind):
    # As GaussianProcessRegressor (copy_X_train=True): X_train_ and y_train_
    # are the model's own copies. They were the caller's arrays, so scaling X
    # in place after fit silently changed every later prediction.
    X, y = _data()
    X_fit, y_fit = X.copy(), y.copy()
    reg = NTKRegressor(kernel=kind, normalize_y=False, alpha=1e-2, device="cpu").fit(X_fit, y_fit)
    gpr = GaussianProcessRegressor(
        NTKKernel(kernel="nngp", device="cpu"), alpha=1e-2, optimizer=None
    ).fit(X_fit, y_fit)
    before = reg.predict(X[:5], return_std=True)
    X_fit *= 2.0
    y_fit += 1.0
    assert not np.shares_memory(reg.X_train_, X_fit)
    assert not np.shares_memory(reg.y_train_, y_fit)
    np.testing.assert_array_equal(reg.X_train_, X)
    np.testing.assert_array_equal(reg.y_train_, y)
    for a, b in zip(before, reg.predict(X[:5], return_std=True)):
        np.testing.assert_array_equal(a, b)
    if kind == "nngp":
        np.testing.assert_allclose(reg.predict(X[:5]), gpr.predict(X[:5]), rtol=1e-10)


@pytest.mark.parametrize("scale", [1e-100, 1e-140, 1e100, 1e150])
def test_relu_kernel_of_tiny_and_huge_inputs_is_homogeneous(scale):
    # Without bias the ReLU kernels are homogeneous: K(sX) = s^2 K(X). Below
    # |x| ~ 1e-77, q1 q2 and cov^2 underflowed and every angle came out as 0
    # or pi (errors of 10-50%); above ~1e77, q^2 overflowed and fit raised.
    X = np.random.RandomState(6).normal(size=(7, 3))
    X[3] = -X[2]
    for kind in ("nngp", "ntk"):
        kernel = NTKKernel(depth=2, weight_std=1.3, bias_std=0.0, kernel=kind, device="cpu")
        expected = kernel(X)
        np.testing.assert_allclose(kernel(X * scale) / scale**2, expected, rtol=1e-13, atol=0)
        np.testing.assert_allclose(
            kernel(X * scale, X[:4] * scale) / scale**2, expected[:, :4], rtol=1e-13, atol=0
        )
        np.testing.assert_allclose(kernel.diag(X * scale) / scale**2, np.diag(expected), rtol=1e-13)


def _erf_one_layer_closed_form(X, w, b):
    # depth=1 erf NNGP and NTK (Williams 1997) in a cancellation-free form:
    # (1 + 2 q1)(1 + 2 q2) - 4 S^2 = 1 + 2 (q1 + q2) + 4 det, with the
    # first-layer determinant det = w^4 det0 + w^2 b^2 |x - x'|^2 / d and
    # det0 = sum_{i<j} (x_i x'_j - x_j x'_i)^2 / d^2 (Lagrange's identity).
    d = X.shape[1]
    sigma = w**2 * X @ X.T / d + b**2
    q = np.diag(sigma)
    cross = X[:, None, :, None] * X[None, :, None, :]
    det0 = ((cross - cross.transpose(0, 1, 3, 2)) ** 2).sum(axis=(2, 3)) / 2 / d**2
    sq_dist = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1) / d
    det = w**4 * det0 + w**2 * b**2 * sq_dist
    root = np.sqrt(1 + 2 * (q[:, None] + q[None, :]) + 4 * det)
    nngp1 = 2 / np.pi * np.arctan2(2 * sigma, root)
    nngp = w**2 * nngp1 + b**2
    ntk = nngp + w**2 * sigma * 4 / np.pi / root
    return nngp, ntk


@pytest.mark.parametrize("scale", [1.0, 1e6, 1e9])
def test_erf_kernel_of_large_inputs_matches_cancellation_free_closed_form(scale):
    # (1 + 2 q1)(1 + 2 q2) - 4 cov^2 cancelled for large inputs: the erf NTK
    # was off by 1e-4 relative at |x| ~ 1e6 and raised a spurious overflow
    # error from |x| ~ 1e8.
    X = np.random.RandomState(7).normal(size=(6, 3)) * scale
    nngp, ntk = _erf_one_layer_closed_form(X, 1.2, 0.4)
    for kind, expected in (("nngp", nngp), ("ntk", ntk)):
        kernel = NTKKernel(depth=1, activation="erf", weight_std=1.2, bias_std=0.4, kernel=kind,
                           device="cpu")
        np.testing.assert_allclose(kernel(X), expected, rtol=1e-12)
        np.testing.assert_allclose(kernel.diag(X), np.diag(expected), rtol=1e-13)


@pytest.mark.parametrize("q", [1e4, 1e12, 1e20])
def test_gelu_kernel_diagonal_of_large_inputs_matches_closed_form(q):
    # GELU at x = x' (Tsuchida et al. 2021 with Sigma = q): delta^2 = 1 + 2 q,
    # and the bracket's last terms sum to 2 / (1 + q). Computed as
    # (1 + q)^2 - q^2 and (1 - q^2) / (1 + q)^2 + 1 they cancelled: the NTK
    # was off from q ~ 1e12 and raised a spurious overflow error from 1e16.
    X = np.full((1, 2), np.sqrt(q))
    delta = np.sqrt(1 + 2 * q)
    beta = np.arctan2(q, delta)
    new = q / 4 + ((q**2 + q**2 * delta**2) / ((1 + q) ** 2 * delta) + q * beta) / (2 * np.pi)
    dot = 0.25 + beta / (2 * np.pi) + q / (2 * np.pi * delta) * (1 / delta**2 + 2 / (1 + q))
    nngp, ntk = nngp_ntk_diag(torch.from_numpy(X), depth=1, activation="gelu",
                              weight_std=1.0, bias_std=0.0)
    np.testing.assert_allclose(nngp.numpy(), [new], rtol=1e-13)
    np.testing.assert_allclose(ntk.numpy(), [new + q * dot], rtol=1e-13)


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
def test_kernel_matrix_exactly_symmetric_for_every_size(activation):
    # torch's atan2 rounds differently in its vectorised body and its scalar
    # tail, so k(X) used to be asymmetric in the last bit for some sizes.
    for d in (2, 10, 50):
        rng = np.random.RandomState(8)
        for n in range(2, 30):
            X = rng.normal(size=(n, d))
            nngp, ntk = nngp_ntk(torch.from_numpy(X), depth=3, activation=activation,
                                 weight_std=1.5, bias_std=0.3)
            for K in (nngp.numpy(), ntk.numpy()):
                np.testing.assert_array_equal(K, K.T)


@pytest.mark.parametrize("activation", ["relu", "erf", "gelu"])
def test_shared_rows_of_x_and_y_get_the_diagonal_entry(activation):
    # k(X, Y) at a row of X equal to a row of Y is K(x, x), bitwise as in
    # k(X) and diag(X); computed as an off-diagonal entry it was off by
    # sqrt(eps) for the ReLU NTK (1e-8).
    rng = np.random.RandomState(3)
    X, other = rng.normal(size=(30, 3)), rng.normal(size=(5, 3))
    kernel = NTKKernel(activation=activation, depth=2, device="cpu")
    Y = np.vstack([other[:2], X[::3], other[2:]])
    K = kernel(X, Y)
    np.testing.assert_array_equal(K[::3, 2:12].diagonal(), kernel.diag(X)[::3])
    np.testing.assert_array_equal(kernel(X, X).diagonal(), kernel(X).diagonal())
    np.testing.assert_allclose(kernel(X, X), kernel(X), rtol=1e-14)
    # In k(X) too: duplicate rows, in other tiles of the blocked computation.
    # (301 columns: there x.x rounds differently as a product and a norm.)
    wide = rng.normal(size=(30, 301))
    Xd = np.vstack([wide, wide[:10]])
    with_duplicates = nngp_ntk(torch.from_numpy(Xd), depth=2, activation=activation,
                               weight_std=1.0, bias_std=1.0, block_elements=64)[1].numpy()
    np.testing.assert_array_equal(np.diagonal(with_duplicates[:10, 30:]),
                                  np.diagonal(with_duplicates)[:10])
    # The other entries are the plain off-diagonal computation.
    np.testing.assert_array_equal(K[:, [0, 1, 12, 13, 14]], kernel(X, other))


def test_gaussian_process_std_at_training_points_is_sqrt_alpha():
    # GaussianProcessRegressor mixes k(X) and k(X, X_train): with the ReLU
    # NTK their gap made the std at the training points 1.5e-4, not
    # sqrt(alpha) = 1e-5.
    X = np.random.RandomState(0).normal(size=(30, 3))
    gpr = GaussianProcessRegressor(NTKKernel(device="cpu"), optimizer=None)
    std = gpr.fit(X, np.sin(X[:, 0])).predict(X, return_std=True)[1]
    assert std.max() < 1.1e-5


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_predictive_covariance_exactly_symmetric_and_sample_y_does_not_warn(kind):
    # predict(return_cov=True) is exactly symmetric, as GaussianProcessRegressor's;
    # rounding in B.T @ K @ B left it asymmetric, and with large targets
    # sample_y warned "covariance is not symmetric positive-semidefinite".
    rng = np.random.RandomState(9)
    X, Xs = rng.normal(size=(20, 4)), rng.normal(size=(10, 4))
    Xs[0] = X[0]
    y = rng.normal(size=20) * 1e8
    reg = NTKRegressor(kernel=kind, alpha=1.4e-6, device="cpu").fit(X, y)
    _, cov = reg.predict(Xs, return_cov=True)
    np.testing.assert_array_equal(cov, cov.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.sample_y(Xs, 2, random_state=0)
    if kind == "nngp":
        gpr = GaussianProcessRegressor(NTKKernel(kernel="nngp", device="cpu"), alpha=1.4e-6,
                                       normalize_y=True, optimizer=None).fit(X, y)
        np.testing.assert_allclose(cov, gpr.predict(Xs, return_cov=True)[1], rtol=1e-6,
                                   atol=1e-9 * np.abs(cov).max())


@pytest.mark.parametrize("bad_fit", ["overflow", "cholesky"])
def test_a_failed_refit_keeps_the_previous_model(bad_fit):
    # The target normalisation used to be stored before the kernel and the
    # Cholesky could fail: the old model then predicted with the new call's
    # y mean and scale (1.0 became 2000.0).
    X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 1.0, 2.0])
    reg = NTKRegressor(device="cpu").fit(X, y)
    mean, std = reg.predict([[1.5]], return_std=True)
    if bad_fit == "overflow":
        args, match = ([[1e200], [2e200]], [1000.0, 3000.0]), "overflow"
    else:  # alpha=0 and repeated rows: the kernel matrix is singular
        reg.set_params(alpha=0.0)
        X_bad = np.random.RandomState(0).randn(20, 1)
        args, match = (np.vstack([X_bad, X_bad]), np.arange(40.0) * 100), "positive definite"
    with pytest.raises(ValueError, match=match):
        reg.fit(*args)
    reg.set_params(alpha=1e-10)
    new_mean, new_std = reg.predict([[1.5]], return_std=True)
    np.testing.assert_array_equal(new_mean, mean)
    np.testing.assert_array_equal(new_std, std)


def test_unfitted_log_marginal_likelihood_raises_not_fitted():
    # requires_fit=False (the prior) must not let log_marginal_likelihood run unfitted.
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        NTKRegressor(kernel="nngp").log_marginal_likelihood()


@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
def test_predict_in_blocks_of_test_rows_equals_one_block(kernel, monkeypatch):
    # predict (mean and std) runs over blocks of test rows, so that memory is
    # a block's test x train matrices (1M test rows against 2000 training rows
    # asked for 15 GB at once); blocks of 7 rows give the one-block numbers.
    import skmath.ntk._regressor as regressor

    X, y = _data(n=60)
    reg = NTKRegressor(kernel=kernel, alpha=0.1, device="cpu").fit(X[:40], y[:40])
    mean, std = reg.predict(X[40:], return_std=True)
    monkeypatch.setattr(regressor, "block_rows", lambda *args, **kwargs: 7)
    mean_b, std_b = reg.predict(X[40:], return_std=True)
    np.testing.assert_allclose(mean_b, mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(std_b, std, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reg.predict(X[40:]), mean, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scale", [1e20, 1e40, 1e70])
def test_gelu_kernel_of_large_inputs_tends_to_the_relu_kernel(scale):
    # GELU(u) - ReLU(u) vanishes outside |u| ~ 1, so without biases the GELU
    # kernels of s X tend to s^2 times the ReLU kernels of X (relative gap
    # ~1/s). Off the diagonal q1 q2 delta^2 overflowed from s ~ 1e38, which
    # gave infinite entries (the diagonal, finite, passed the overflow check).
    X = np.random.RandomState(2).normal(size=(5, 3))
    for kind in ("nngp", "ntk"):
        arch = dict(depth=2, weight_std=1.3, bias_std=0.0, kernel=kind, device="cpu")
        gelu = NTKKernel(activation="gelu", **arch)
        relu = NTKKernel(activation="relu", **arch)(X)
        np.testing.assert_allclose(gelu(scale * X) / scale**2, relu, rtol=1e-12)
        np.testing.assert_allclose(gelu.diag(scale * X) / scale**2, np.diag(relu), rtol=1e-12)

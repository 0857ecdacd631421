"""Tests of skmath.flow: flow matching targets, ODE solvers, FlowMatchingSampler."""

import itertools
import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg, stats
from sklearn import config_context
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmath._engine import make_generator
from skmath.flow import FlowMatchingSampler
from skmath.flow._flow_matching import _rademacher_probes
from skmath.flow._cfm import (
    cfm_loss,
    conditional_path,
    conditional_vector_field,
    ot_pairing,
)
from skmath.flow._ode import (
    divergence_exact,
    divergence_hutchinson,
    odeint,
    odeint_logdet,
)

CPU = torch.device("cpu")
# Small settings: a few seconds per fit on one CPU core.
SMALL = dict(
    hidden_layer_sizes=(64, 64, 64),
    batch_size=128,
    learning_rate_init=5e-3,
    max_iter=40,
    device="cpu",
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def moons():
    X, _ = make_moons(1400, noise=0.1, random_state=0)
    return X[:1000] * 2.0, X[1000:] * 2.0


@pytest.fixture(scope="module")
def moons_flow(moons):
    params = dict(SMALL, max_iter=150, coupling="ot")
    return FlowMatchingSampler(**params, random_state=0).fit(moons[0])


# ---------------------------------------------------------------- _cfm


def test_conditional_path_endpoints_and_target():
    # x_t interpolates x0 -> x1 (plus sigma * eps) and u_t is its time derivative.
    g = _gen()
    x0, x1, eps = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3))
    for t_val in (0.0, 1.0):
        t = torch.full((5,), t_val, dtype=torch.float64)
        expected = (x1 if t_val else x0) + 0.1 * eps
        torch.testing.assert_close(conditional_path(x0, x1, t, 0.1, eps), expected)
    t = torch.rand(5, generator=g, dtype=torch.float64)
    h = 1e-6
    fd = (
        conditional_path(x0, x1, t + h, 0.1, eps) - conditional_path(x0, x1, t - h, 0.1, eps)
    ) / (2 * h)
    torch.testing.assert_close(conditional_vector_field(x0, x1), fd)


def test_ot_pairing_is_the_optimal_permutation():
    # Exact minibatch OT against brute force over all 7! permutations.
    g = _gen(1)
    x0 = torch.randn(7, 2, generator=g, dtype=torch.float64)
    x1 = torch.randn(7, 2, generator=g, dtype=torch.float64) + 1.0
    paired = ot_pairing(x0, x1)
    best = min(
        float((x1 - x0[list(p)]).square().sum())
        for p in itertools.permutations(range(7))
    )
    assert float((x1 - paired).square().sum()) == pytest.approx(best, rel=1e-12)
    # A permutation of the rows: same multiset of points.
    assert torch.equal(torch.sort(paired[:, 0]).values, torch.sort(x0[:, 0]).values)


def test_ot_coupling_lowers_the_target_variance():
    # With a zero field, the loss is E|x1 - x0|^2 / d: OT pairs lower it (Tong et al.).
    X = torch.randn(256, 2, generator=_gen(2)) * 0.3 + 2.0

    def zero(x, t):
        return torch.zeros_like(x)

    independent = cfm_loss(zero, X, 0.0, _gen(3), coupling="independent")
    ot = cfm_loss(zero, X, 0.0, _gen(3), coupling="ot")
    # Independent pairs: E|x1 - x0|^2 / d = 1 + 0.09 + 4 for this data.
    assert float(independent) == pytest.approx(5.09, rel=0.1)
    assert float(ot) < 0.9 * float(independent)


# ---------------------------------------------------------------- _ode


_A = np.array([[-0.5, 1.0, 0.0], [-1.0, -0.2, 0.3], [0.1, 0.0, 0.4]])


def _linear_field(y, t):
    return y @ torch.as_tensor(_A).T


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_solvers_converge_at_their_order(method, order):
    # dx/dt = A x has x(t) = expm(A t) x(0): halving the step divides the error by 2^order.
    x = torch.randn(4, 3, generator=_gen(4), dtype=torch.float64)
    expected = x.numpy() @ linalg.expm(_A * 1.5).T
    errors = [
        np.abs(odeint(_linear_field, x, 0.0, 1.5, method=method, n_steps=n).numpy() - expected)
        .max()
        for n in (20, 40)
    ]
    assert np.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.15)


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_odeint_linear_system_matches_expm(method):
    # Forward matches expm, backward returns the start, and the divergence integral is tr(A) t.
    x = torch.randn(4, 3, generator=_gen(4), dtype=torch.float64)
    kw = dict(method=method, n_steps=200 if method == "rk4" else 10, rtol=1e-10, atol=1e-10)
    expected = x.numpy() @ linalg.expm(_A * 1.5).T
    got = odeint(_linear_field, x, 0.0, 1.5, **kw)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-9)
    back = odeint(_linear_field, got, 1.5, 0.0, **kw)
    np.testing.assert_allclose(back.numpy(), x.numpy(), rtol=1e-9, atol=1e-9)
    _, delta = odeint_logdet(_linear_field, x, 0.0, 1.5, **kw)
    np.testing.assert_allclose(delta.numpy(), np.trace(_A) * 1.5, rtol=1e-10)


def test_divergence_exact_and_hutchinson():
    # Exact trace of a nonlinear field; Hutchinson averaged over all sign vectors is exact.
    def f(x, t):
        # v = (x0 * x1, sin(x1) + t, x2^3): div = x1 + cos(x1) + 3 x2^2.
        return torch.stack([x[:, 0] * x[:, 1], torch.sin(x[:, 1]) + t, x[:, 2] ** 3], 1)

    x = torch.randn(6, 3, generator=_gen(5), dtype=torch.float64)
    t = torch.rand(6, generator=_gen(6), dtype=torch.float64)
    expected = x[:, 1] + torch.cos(x[:, 1]) + 3 * x[:, 2] ** 2
    v, div = divergence_exact(f, x, t)
    torch.testing.assert_close(v, f(x, t))
    torch.testing.assert_close(div, expected)
    signs = list(itertools.product([-1.0, 1.0], repeat=3))
    estimates = [
        divergence_hutchinson(f, x, t, torch.tensor(s, dtype=x.dtype).expand(6, 3))[1]
        for s in signs
    ]
    torch.testing.assert_close(torch.stack(estimates).mean(0), expected)


def test_dopri5_rows_are_independent():
    # Each row gets its own step size: integrating a row alone gives the same result.
    def f(x, t):
        return -x * (1 + 10 * x.square()) + t[:, None]

    x = torch.tensor([[0.1], [3.0], [-2.0]], dtype=torch.float64)
    together = odeint(f, x, 0.0, 1.0, method="dopri5", rtol=1e-8, atol=1e-8)
    for i in range(3):
        alone = odeint(f, x[i : i + 1], 0.0, 1.0, method="dopri5", rtol=1e-8, atol=1e-8)
        torch.testing.assert_close(alone, together[i : i + 1], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- estimator


def test_density_is_normalised_on_a_grid(moons_flow, moons):
    # exp(score_samples) summed over a fine grid covering the data integrates to 1 (3%).
    X = moons[0]
    lo, hi = X.min(axis=0) - 1.5, X.max(axis=0) + 1.5
    gx, gy = np.linspace(lo[0], hi[0], 90), np.linspace(lo[1], hi[1], 60)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    density = np.exp(moons_flow.score_samples(grid))
    integral = density.sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    assert integral == pytest.approx(1.0, abs=0.03)


def test_transform_inverts_and_gaussianises(moons_flow, moons):
    # inverse_transform(transform(X)) == X, and held-out data map to ~N(0, I).
    X_train, X_test = moons
    Z = moons_flow.transform(X_test)
    np.testing.assert_allclose(
        moons_flow.inverse_transform(Z), X_test, atol=1e-2 * X_test.std()
    )
    # Much tighter in practice: the RK4 map is inverted to solver precision.
    np.testing.assert_allclose(moons_flow.inverse_transform(Z), X_test, atol=1e-4)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=0.15)
    np.testing.assert_allclose(np.cov(Z.T), np.eye(2), atol=0.2)
    for j in range(2):
        assert stats.kstest(Z[:, j], "norm").pvalue > 1e-3


def test_held_out_likelihood_beats_a_gaussian(moons_flow, moons):
    # On two moons the flow's held-out likelihood is far above one Gaussian's.
    X_train, X_test = moons
    gauss = GaussianMixture(1, random_state=0).fit(X_train).score(X_test)
    assert moons_flow.score(X_test) > gauss + 0.3
    assert moons_flow.score(X_test) == pytest.approx(
        moons_flow.score_samples(X_test).mean()
    )


def test_gaussian_data_recover_the_true_density():
    # On Gaussian data the learned log-density matches the true one (closed form).
    rng = np.random.RandomState(0)
    cov = np.array([[2.0, 1.2], [1.2, 1.0]])
    mean = np.array([1.0, -3.0])
    X = rng.multivariate_normal(mean, cov, size=600)
    X_test = rng.multivariate_normal(mean, cov, size=300)
    true = stats.multivariate_normal(mean, cov).logpdf(X_test)
    params = dict(SMALL, max_iter=100)
    # Without Fourier features the smooth (linear) field is learned closely...
    smooth = FlowMatchingSampler(**params, n_fourier_features=0, random_state=0).fit(X)
    assert smooth.score(X_test) == pytest.approx(true.mean(), abs=0.03)
    assert np.corrcoef(smooth.score_samples(X_test), true)[0, 1] > 0.98
    # ...with them (the default, made for sharp densities) a little less so.
    default = FlowMatchingSampler(**params, random_state=0).fit(X)
    assert default.score(X_test) == pytest.approx(true.mean(), abs=0.1)
    assert np.corrcoef(default.score_samples(X_test), true)[0, 1] > 0.9


def test_units_of_the_density():
    # Rescaling X by c shifts log p by -d log(c): the standardisation's Jacobian.
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 2))
    params = dict(SMALL, max_iter=3)
    flow = FlowMatchingSampler(**params, random_state=0).fit(X)
    flow_scaled = FlowMatchingSampler(**params, random_state=0).fit(10.0 * X + 5.0)
    np.testing.assert_allclose(
        flow_scaled.score_samples(10.0 * X[:20] + 5.0),
        flow.score_samples(X[:20]) - 2 * np.log(10.0),
        rtol=1e-4,
    )


def test_sample_is_reproducible(moons_flow):
    # sample(random_state=...) is reproducible; different seeds differ.
    a = moons_flow.sample(50, random_state=1)
    np.testing.assert_array_equal(a, moons_flow.sample(50, random_state=1))
    assert not np.allclose(a, moons_flow.sample(50, random_state=2))
    # None falls back to the estimator's random_state (an int): reproducible.
    np.testing.assert_array_equal(moons_flow.sample(5), moons_flow.sample(5))
    assert a.shape == (50, 2)


def test_refit_is_bit_identical(moons):
    # Same random_state -> same weights, samples and scores.
    params = dict(SMALL, max_iter=2, coupling="ot")
    f1 = FlowMatchingSampler(**params, random_state=3).fit(moons[0])
    f2 = FlowMatchingSampler(**params, random_state=3).fit(moons[0])
    X = moons[1][:10]
    np.testing.assert_array_equal(f1.score_samples(X), f2.score_samples(X))
    np.testing.assert_array_equal(f1.sample(10), f2.sample(10))
    assert f1.loss_curve_ == f2.loss_curve_


def test_blocked_evaluation_matches_one_block(moons_flow, moons):
    # A tiny working_memory splits the work into blocks without changing results.
    X = moons[1][:100]
    full = moons_flow.score_samples(X), moons_flow.transform(X)
    with config_context(working_memory=0.1):
        assert moons_flow._block_rows() < 100
        blocked = moons_flow.score_samples(X), moons_flow.transform(X)
    np.testing.assert_allclose(blocked[0], full[0], rtol=1e-12)
    np.testing.assert_allclose(blocked[1], full[1], rtol=1e-12, atol=1e-12)


def test_hutchinson_and_dopri5_agree_with_exact(moons_flow, moons):
    # The Hutchinson estimate is unbiased; dopri5 agrees with fine-step RK4 on the density.
    X = moons[1][:300]
    exact = moons_flow.score_samples(X)
    flow = pickle.loads(pickle.dumps(moons_flow))
    flow.set_params(divergence="hutchinson")
    hutch = flow.score_samples(X)
    np.testing.assert_array_equal(hutch, flow.score_samples(X))
    assert not np.allclose(hutch, exact)
    # Unbiased: the mean error is within 4 standard errors of zero.
    error = hutch - exact
    assert abs(error.mean()) < 4 * error.std() / np.sqrt(len(X)), (error.mean(), error.std())
    flow.set_params(divergence="exact", n_steps=64)
    reference = flow.score_samples(X[:50])
    flow.set_params(solver="dopri5", solver_tol=1e-6)
    np.testing.assert_allclose(flow.score_samples(X[:50]), reference, atol=1e-3)


def test_hutchinson_estimate_is_a_function_of_the_sample(moons_flow, moons):
    # A sample's probe hashes its values: its estimate is the same whatever the other
    # rows and their order (sklearn's subset and sample-order invariance checks), and
    # a block boundary falling elsewhere changes nothing. Before, probes were drawn
    # from a generator in row order, so reversing X changed most estimates.
    X = moons[1][:200]
    flow = pickle.loads(pickle.dumps(moons_flow)).set_params(divergence="hutchinson")
    hutch = flow.score_samples(X)
    # Equal up to the matrix products' rounding, which depends on the batch.
    np.testing.assert_allclose(flow.score_samples(X[::-1]), hutch[::-1], rtol=1e-12)
    np.testing.assert_allclose(flow.score_samples(X[7:19]), hutch[7:19], rtol=1e-12)
    with config_context(working_memory=1e-4):  # one-row blocks
        np.testing.assert_allclose(flow.score_samples(X[:20]), hutch[:20], rtol=1e-12)
    # The probes are Rademacher signs, balanced and uncorrelated across features.
    probes = _rademacher_probes(np.random.RandomState(0).normal(size=(20000, 4)), 7)
    assert set(np.unique(probes)) == {-1.0, 1.0}
    assert abs(probes.mean()) < 0.02
    assert np.abs(np.corrcoef(probes.T) - np.eye(4)).max() < 0.03


def test_early_stopping_keeps_the_best_validation_epoch(moons):
    # With early_stopping the validation scores are recorded and the best is restored.
    flow = FlowMatchingSampler(
        **dict(SMALL, max_iter=15), early_stopping=True, n_iter_no_change=3, random_state=0
    ).fit(moons[0])
    assert len(flow.validation_scores_) == flow.n_iter_
    assert flow.best_validation_score_ == max(flow.validation_scores_)
    assert FlowMatchingSampler(**SMALL).fit(moons[0][:5]).validation_scores_ is None


def test_grid_search_selects_by_held_out_likelihood(moons):
    # score() is the mean log-likelihood, so GridSearchCV prefers the trained model.
    search = GridSearchCV(
        FlowMatchingSampler(**SMALL, random_state=0), {"max_iter": [1, 30]}, cv=2
    ).fit(moons[0][:400])
    assert search.best_params_ == {"max_iter": 30}


def test_pipeline_gaussianisation(moons):
    # As a Pipeline step the flow maps data to roughly independent standard normals.
    flow = FlowMatchingSampler(**dict(SMALL, max_iter=150, coupling="ot"), random_state=0)
    pipe = make_pipeline(StandardScaler(), flow)
    Z = pipe.fit_transform(moons[0])
    assert abs(np.corrcoef(Z.T)[0, 1]) < 0.1
    np.testing.assert_allclose(pipe.inverse_transform(Z), moons[0], atol=1e-4)


def test_invalid_inputs(moons_flow):
    # Clear errors for bad n_samples, wrong widths and early stopping on 1 sample.
    with pytest.raises(ValueError, match="n_samples"):
        moons_flow.sample(0)
    with pytest.raises(ValueError, match="3 features"):
        moons_flow.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="early_stopping"):
        FlowMatchingSampler(early_stopping=True, device="cpu").fit(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        FlowMatchingSampler(hidden_layer_sizes=(), device="cpu").fit(np.zeros((3, 2)))


@pytest.mark.parametrize("n_samples, fraction", [(1, 0.1), (2, 0.9), (10, 0.95)])
def test_early_stopping_without_training_rows_says_why(n_samples, fraction):
    # When validation_fraction leaves no row to train on, the error names it
    # (it said "needs at least 2 samples, got n_samples=10").
    flow = FlowMatchingSampler(early_stopping=True, validation_fraction=fraction, device="cpu")
    X = np.random.RandomState(0).normal(size=(n_samples, 2))
    match = rf"validation_fraction={fraction}.*n_samples={n_samples}"
    advice = "at least 2 samples" if n_samples == 1 else "smaller validation_fraction"
    with pytest.raises(ValueError, match=match) as error:
        flow.fit(X)
    assert advice in str(error.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_matches_cpu_quality(moons):
    # On CUDA the flow trains and scores; a CUDA-fitted model unpickles and scores on CPU.
    flow = FlowMatchingSampler(**dict(SMALL, device="cuda"), random_state=0).fit(moons[0])
    cpu = FlowMatchingSampler(**SMALL, random_state=0).fit(moons[0])
    assert flow.score(moons[1]) == pytest.approx(cpu.score(moons[1]), abs=0.15)
    clone = pickle.loads(pickle.dumps(flow))
    clone._device = torch.device("cpu")  # as on a machine without CUDA
    X = moons[1][:20]
    np.testing.assert_allclose(clone.score_samples(X), flow.score_samples(X), atol=1e-6)


def test_log_density_matches_the_jacobian_of_the_sampling_map(moons_flow):
    # "Exact log-likelihood": log p(x) = log N(z) - log|det dx/dz| for x = inverse_transform(z),
    # with the Jacobian by central differences of the map itself (independent of the divergence).
    z = np.random.RandomState(1).normal(size=(20, 2))
    x = moons_flow.inverse_transform(z)
    h = 1e-5
    jac = np.stack(
        [
            (moons_flow.inverse_transform(z + h * e) - moons_flow.inverse_transform(z - h * e))
            / (2 * h)
            for e in np.eye(2)
        ],
        axis=-1,
    )
    expected = stats.multivariate_normal(np.zeros(2)).logpdf(z) - np.log(
        np.abs(np.linalg.det(jac))
    )
    np.testing.assert_allclose(moons_flow.score_samples(x), expected, atol=1e-3)
    # sample() is inverse_transform of seeded N(0, I) draws: transform() gets them back.
    s = moons_flow.sample(20, random_state=4)
    z_drawn = torch.randn((20, 2), generator=make_generator(4, CPU), dtype=torch.float64)
    np.testing.assert_allclose(moons_flow.transform(s), z_drawn.numpy(), atol=1e-4)


@pytest.mark.parametrize("scale", [1e-20, 1e-150, 1e150, 1e200])
def test_tiny_and_huge_magnitudes_are_standardised(scale):
    # Data in any units give the same flow: log p shifts by -d log(scale) (the
    # standard deviation is neither mistaken for 0 nor overflows to inf).
    X = np.random.RandomState(1).normal(size=(200, 2)) + [3.0, -1.0]
    params = dict(SMALL, max_iter=2)
    flow = FlowMatchingSampler(**params, random_state=0).fit(X)
    scaled = FlowMatchingSampler(**params, random_state=0).fit(scale * X)
    np.testing.assert_allclose(scaled.scale_, scale * X.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        scaled.score_samples(scale * X[:10]),
        flow.score_samples(X[:10]) - 2 * np.log(scale),
        rtol=1e-6,
    )
    np.testing.assert_allclose(scaled.sample(5) / scale, flow.sample(5), rtol=1e-6)


def test_constant_features_get_unit_scale():
    # A constant column (even one not exactly representable, as 0.1) has scale_ 1,
    # as in StandardScaler; a varying one keeps its standard deviation.
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=50), np.full(50, 0.1), np.full(50, -7e12)]
    flow = FlowMatchingSampler(**dict(SMALL, max_iter=1), random_state=0).fit(X)
    np.testing.assert_allclose(flow.scale_, [X[:, 0].std(), 1.0, 1.0])
    assert np.isfinite(flow.score_samples(X[:3])).all()


@pytest.mark.parametrize(
    "param, value",
    [("n_steps", -1), ("n_steps", 0), ("solver", "rk5"), ("divergence", "trace"),
     ("solver_tol", -1.0)],
)
def test_evaluation_parameters_are_validated_after_fit(moons_flow, param, value):
    # solver, n_steps, solver_tol and divergence are read at evaluation time: an invalid
    # value set after fit is refused as fit would refuse it (before: n_steps=-1 silently
    # returned the identity map, n_steps=0 a ZeroDivisionError, solver="rk5" a KeyError).
    flow = pickle.loads(pickle.dumps(moons_flow)).set_params(**{param: value})
    X = np.zeros((2, 2))
    for method in (flow.score_samples, flow.transform, flow.inverse_transform):
        with pytest.raises(ValueError, match=f"'{param}' parameter"):
            method(X)
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        flow.sample(2)


def test_block_size_follows_the_fitted_network(moons_flow):
    # Blocks are sized by the fitted vector field, not by a hidden_layer_sizes set afterwards.
    flow = pickle.loads(pickle.dumps(moons_flow))
    with config_context(working_memory=1):
        rows = flow._block_rows()
        flow.set_params(hidden_layer_sizes=(4096,) * 8)
        assert flow._block_rows() == rows
    flow.set_params(hidden_layer_sizes=())
    X = np.zeros((2, 2))
    np.testing.assert_array_equal(flow.score_samples(X), moons_flow.score_samples(X))


def test_dopri5_fails_fast_and_floors_the_tolerance():
    # A tolerance below float64 rounding is raised to 100 eps (as solve_ivp does) and
    # still integrates; a blow-up (x' = x^2, x = 1/(1-t)) stops at once with a clear
    # error (before: 10000 iterations of vanishing steps, 50 s on a fitted flow).
    calls = []

    def counted(f):
        def g(y, t):
            calls.append(1)
            return f(y, t)

        return g

    x = torch.randn(4, 3, generator=_gen(4), dtype=torch.float64)
    got = odeint(
        counted(_linear_field), x, 0.0, 1.5, method="dopri5", rtol=1e-300, atol=1e-300
    )
    np.testing.assert_allclose(got.numpy(), x.numpy() @ linalg.expm(_A * 1.5).T, rtol=1e-11)
    assert len(calls) < 7 * 1000  # 26859 evaluations before the floor, 1631 with it
    calls.clear()
    with pytest.raises(RuntimeError, match="step size fell below"):
        odeint(
            counted(lambda y, t: y.square()), torch.ones(2, 1, dtype=torch.float64),
            0.0, 1.5, method="dopri5",
        )
    assert len(calls) < 7 * 1000
    # A field that is NaN where a step overshoots (inf - inf in a stage) also fails
    # fast: before, the NaN error estimate left a NaN step, kept for 10000 iterations.
    calls.clear()
    with pytest.raises(RuntimeError, match="step size fell below"):
        odeint(
            counted(lambda y, t: torch.where(t[:, None] > 0.5, torch.nan, y)),
            torch.ones(2, 1, dtype=torch.float64), 0.0, 1.0, method="dopri5",
        )
    assert len(calls) < 7 * 200


@pytest.mark.filterwarnings("ignore:FlowMatchingSampler. maximum iterations")
def test_global_random_streams_are_left_alone_by_every_path(moons):
    # Paths the common test does not reach (early stopping split, OT pairing, Hutchinson
    # probes, sample with and without a seed) draw only from local generators.
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    flow = FlowMatchingSampler(
        **dict(SMALL, max_iter=2), early_stopping=True, divergence="hutchinson",
        random_state=0,
    ).fit(moons[0][:200])
    flow.score_samples(moons[1][:5])
    flow.sample(3)
    flow.sample(3, random_state=1)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(numpy_state, np.random.get_state()[1])


def test_hutchinson_log_density_is_the_same_for_zero_and_minus_zero():
    # The probe hashes the row's bits: -0.0 used to get another probe than 0.0
    # (0.44 nats apart on this model), although the points are equal.
    X = np.random.RandomState(0).normal(size=(100, 2))
    flow = FlowMatchingSampler(hidden_layer_sizes=(16, 16), max_iter=3, n_steps=4,
                               divergence="hutchinson", random_state=0, device="cpu").fit(X)
    a, b = flow.score_samples([[0.0, 0.5], [-0.0, 0.5]])
    assert a == b


def test_points_beyond_float64_once_standardised_have_minus_inf_log_density():
    # 1e306 on data of scale 1e-3 overflows the standardisation: -inf, as
    # KernelDensity and GaussianMixture give, not a NaN with a RuntimeWarning.
    X = 1e-3 * np.random.RandomState(0).normal(size=(200, 2))
    flow = FlowMatchingSampler(hidden_layer_sizes=(16, 16), max_iter=3, n_steps=4,
                               random_state=0, device="cpu").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = flow.score_samples([[1e306, 0.0], [0.0, 0.0]])
    assert scores[0] == -np.inf
    assert np.isfinite(scores[1])
    assert scores[1] == flow.score_samples([[0.0, 0.0]])[0]


@pytest.mark.parametrize("solver", ["rk4", "dopri5"])
def test_finite_points_where_the_flow_overflows_are_minus_inf_or_refused(solver):
    # 1e303 on data of scale 1e-5 is finite once standardised (~1e308), but
    # the network's Fourier projection overflows there (sin(inf) is NaN):
    # score_samples gives -inf (not NaN, nor dopri5's step-size error), and
    # transform / inverse_transform refuse such rows with a clear message.
    # Far points still inside the range keep a finite, very low score.
    X = 1e-5 * np.random.RandomState(0).normal(size=(200, 2))
    flow = FlowMatchingSampler(hidden_layer_sizes=(16,), max_iter=2, n_steps=4, solver=solver,
                               random_state=0, device="cpu").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = flow.score_samples([[1e303, 0.0], [1e95, 0.0], [0.0, 0.0]])
    assert scores[0] == -np.inf
    assert np.isfinite(scores[1]) and scores[1] < scores[2] - 1e10
    with pytest.raises(ValueError, match="1 row.*beyond"):
        flow.transform([[1e303, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="latent X has 1 row"):
        flow.inverse_transform([[1e200, 0.0]])


@pytest.mark.parametrize("params", [dict(tol=1e-2), dict(early_stopping=True)])
def test_max_iter_reached_with_a_stopping_rule_warns(params):
    # With tol or early_stopping set, running out of epochs first gives
    # sklearn's MLP ConvergenceWarning; the default tol=None (always
    # max_iter epochs) does not warn.
    X = np.random.RandomState(0).normal(size=(60, 2))
    kw = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu")
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        FlowMatchingSampler(**kw, **params).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlowMatchingSampler(**kw).fit(X)


def test_fit_does_not_depend_on_torchs_default_dtype():
    # The vector field's weights and buffers were created in torch's default
    # dtype: under torch.set_default_dtype(torch.float64) fit crashed (float
    # and double in one product). Now the same model either way.
    X = np.random.RandomState(0).normal(size=(60, 2))
    kw = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu")
    reference = FlowMatchingSampler(**kw).fit(X).score_samples(X)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        scores = FlowMatchingSampler(**kw).fit(X).score_samples(X)
    finally:
        torch.set_default_dtype(previous)
    np.testing.assert_array_equal(scores, reference)

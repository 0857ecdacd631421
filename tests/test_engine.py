import math
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import skmath._engine._core
from skmath._engine import (
    SGD,
    STOPPED_BY_CALLBACK,
    Adam,
    TorchEstimatorMixin,
    as_tensor,
    block_pool,
    column_mean_std,
    empty,
    linear,
    make_generator,
    map_blocks,
    minimize_lbfgs,
    minimize_owlqn,
    resolve_device,
    scratch,
    seed_from,
    take_rows,
    thread_budget,
    to_numpy,
    torch_dtype,
    torch_threads,
)


@pytest.mark.parametrize("cpu", ["cpu", torch.device("cpu"), torch.device("cpu", 0), "cpu:0"])
def test_every_spelling_of_the_cpu_is_the_cpu(cpu):
    # torch.device("cpu", 0) prints as "cpu:0"; it is the CPU too.
    assert resolve_device(cpu) == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu", 3, None, "CPU", "cpu:1", "cpu\n", "auto\n"])
def test_unknown_device_is_a_clear_value_error(bad):
    # Unknown device names raise ValueError naming the accepted values.
    with pytest.raises(ValueError, match="'auto', 'cpu', 'cuda'"):
        resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_cuda_without_gpu_is_a_clear_value_error():
    # Asking for CUDA on a CPU-only machine says so; "auto" falls back to CPU.
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_as_tensor_shares_memory_on_cpu_and_never_writes():
    # C-contiguous arrays of the right dtype are not copied; non-contiguous are.
    X = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = as_tensor(X, torch.device("cpu"))
    assert t.data_ptr() == X.__array_interface__["data"][0]
    t2 = as_tensor(X[:, ::2], torch.device("cpu"))
    assert t2.is_contiguous() and np.array_equal(to_numpy(t2), X[:, ::2])
    assert as_tensor(X, torch.device("cpu"), dtype=np.float32).dtype == torch.float32


def test_generator_is_local_and_reproducible():
    # Same random_state -> same stream; torch's global RNG is left untouched.
    state = torch.random.get_rng_state()
    a = torch.rand(5, generator=make_generator(42, torch.device("cpu")))
    b = torch.rand(5, generator=make_generator(42, torch.device("cpu")))
    c = torch.rand(5, generator=make_generator(43, torch.device("cpu")))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.random.get_rng_state())
    assert seed_from(np.random.RandomState(0)) == seed_from(0)


def test_thread_budget_follows_worker_environment(monkeypatch):
    # Inside a joblib/dask worker (OMP_NUM_THREADS=1) torch is held to one thread.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_budget() == 1
    before = torch.get_num_threads()
    with torch_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


class _Holder(TorchEstimatorMixin):
    pass


def test_pickle_moves_modules_to_cpu_without_touching_the_original():
    # __getstate__ copies torch state to the CPU; the live object is unchanged.
    holder = _Holder()
    holder.net_ = torch.nn.Linear(2, 1)
    holder.buf_ = torch.ones(3)
    loaded = pickle.loads(pickle.dumps(holder))
    assert torch.equal(loaded.net_.weight, holder.net_.weight)
    assert loaded.buf_.device.type == "cpu"
    assert loaded._predict_device().type == "cpu"


@pytest.mark.parametrize("fitted, n_gpus, expected", [
    ("cuda:1", 2, "cuda:1"), ("cuda:1", 1, "cpu"), ("cuda", 1, "cuda"), ("cuda:0", 0, "cpu"),
    ("cpu", 2, "cpu"),
])
def test_predictions_run_on_the_fitted_device_only_if_this_machine_has_it(
        fitted, n_gpus, expected, monkeypatch):
    # A model fitted on cuda:1 and loaded where there is one GPU (or none)
    # predicts on the CPU instead of failing with "invalid device ordinal".
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n_gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n_gpus)
    holder = _Holder()
    holder._device = torch.device(fitted)
    assert holder._predict_device() == torch.device(expected)


def _budget_in_worker(_):
    from skmath._engine import thread_budget

    return thread_budget()


def test_joblib_workers_get_their_share_of_threads():
    # Under GridSearchCV(n_jobs=2)-style loky workers torch stays within 1 thread each
    # on a 2-core machine (cpu_count // n_jobs), so nothing oversubscribes.
    import joblib

    budgets = joblib.Parallel(n_jobs=2)(joblib.delayed(_budget_in_worker)(i) for i in range(2))
    assert max(budgets) <= max(1, joblib.cpu_count() // 2)


def test_empty_gives_the_requested_tensor():
    # empty() returns a writable contiguous tensor of the asked shape and dtype.
    out = empty((3, 4), dtype=torch.float32, device=torch.device("cpu"))
    assert out.shape == (3, 4) and out.dtype == torch.float32 and out.is_contiguous()
    out.fill_(2.0)
    assert float(out.sum()) == 24.0


def test_scratch_is_reused_per_name_and_thread_and_released_with_the_pool():
    # One buffer per name and thread, grown when needed, dropped when the pool closes.
    cpu = torch.device("cpu")
    with block_pool(2) as pool:
        a = scratch("a", (4, 3), dtype=torch.float64, device=cpu)
        a.fill_(1.0)
        smaller = scratch("a", (2, 2), dtype=torch.float64, device=cpu)
        other = scratch("b", (4, 3), dtype=torch.float64, device=cpu)
        assert smaller.data_ptr() == a.data_ptr()  # reused, not reallocated
        assert other.data_ptr() != a.data_ptr()
        larger = scratch("a", (100,), dtype=torch.float64, device=cpu)
        assert larger.shape == (100,)

        def pointer(_):
            buffer = scratch("a", (1000,), dtype=torch.float64, device=cpu)
            buffer.fill_(threading.get_ident())  # each thread writes its own
            time.sleep(0.01)
            return threading.get_ident(), buffer.data_ptr(), float(buffer[0])

        results = map_blocks(pointer, list(range(8)), pool)
        for ident, _, value in results:
            assert value == ident  # no other thread wrote into this buffer
        by_thread = {ident: ptr for ident, ptr, _ in results}
        assert len(set(by_thread.values())) == len(by_thread)
    assert skmath._engine._core._WORKSPACE.__dict__.get("buffers") is None


def _trajectory(make, steps=5, resume_at=None, lr_change=0.5):
    """Parameters after ``steps`` steps; at ``resume_at`` the optimizer is replaced by a
    fresh one loaded from a pickled ``state_dict``; after step 2 the learning rate is
    multiplied by ``lr_change``."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    b = torch.nn.Parameter(torch.randn(3, dtype=torch.float64))
    X = torch.randn(10, 4, dtype=torch.float64)

    def groups():
        return [{"params": [w], "weight_decay": 0.01}, {"params": [b]}]

    optimizer = make(groups())
    for step in range(steps):
        if step == resume_at:
            saved = pickle.loads(pickle.dumps(optimizer.state_dict()))
            optimizer = make(groups())
            optimizer.load_state_dict(saved)
        optimizer.zero_grad(set_to_none=True)
        ((X @ w + b) ** 2).mean().backward()
        optimizer.step()
        if step == 2:  # the loop changes the learning rate between steps
            for group in optimizer.param_groups:
                group["lr"] *= lr_change
    return torch.cat([w.detach().ravel(), b.detach().ravel()])


@pytest.mark.parametrize(
    "ours, theirs, lr_change",
    [
        (lambda g: Adam(g, lr=0.1, betas=(0.8, 0.99)),
         lambda g: torch.optim.Adam(g, lr=0.1, betas=(0.8, 0.99)), 0.5),
        # With momentum, torch's SGD and ours (sklearn's velocity) agree while
        # lr is constant; a change of lr is tested against sklearn below.
        (lambda g: SGD(g, lr=0.1, momentum=0.9, nesterov=True),
         lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True), 1.0),
        (lambda g: SGD(g, lr=0.1, momentum=0.9),
         lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9), 1.0),
        (lambda g: SGD(g, lr=0.1), lambda g: torch.optim.SGD(g, lr=0.1), 0.5),
    ],
)
@pytest.mark.parametrize("fused", [True, False])
def test_engine_optimizers_follow_torch_optim(ours, theirs, lr_change, fused, monkeypatch):
    # Same updates as torch.optim's classes, groups, decay and lr changes included,
    # with torch's fused kernels (called directly) and with its multi-tensor ones.
    from skmath._engine import _optim

    if fused and not _optim._fused_supported(_optim.Adam, torch.float64, torch.device("cpu")):
        pytest.skip(f"torch {torch.__version__} has no fused Adam kernel on CPU (torch < 2.4)")
    if not fused:
        monkeypatch.setattr(_optim, "_fused_supported", lambda *args: False)
    mine = _trajectory(ours, lr_change=lr_change)
    reference = _trajectory(theirs, lr_change=lr_change)
    torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("resume", [False, True])
def test_engine_sgd_momentum_is_sklearns_when_the_learning_rate_changes(
    nesterov, fused, resume, monkeypatch
):
    # sklearn's SGD keeps a velocity v = mu v - lr g (p += v, or p += mu v - lr g
    # with Nesterov), so old steps keep their old rate when lr changes; the
    # engine's SGD rescales its buffer to match, through a state_dict round trip too.
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    from skmath._engine import _optim

    if not fused:
        monkeypatch.setattr(_optim, "_fused_supported", lambda *args: False)
    rng = np.random.RandomState(0)
    X, w0, b0 = rng.randn(10, 4), rng.randn(4, 3), rng.randn(3)
    rates = [0.1, 0.1, 0.05, 0.02, 0.02, 0.08, 0.01]

    def gradients(w, b):  # of mean((X w + b)^2)
        dr = 2 * (X @ w + b) / (10 * 3)
        return X.T @ dr, dr.sum(0)

    sk_params = [w0.copy(), b0.copy()]
    reference = SGDOptimizer(sk_params, 0.1, "constant", momentum=0.9, nesterov=nesterov)
    params = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    optimizer = SGD(params, lr=0.1, momentum=0.9, nesterov=nesterov)
    for step, lr in enumerate(rates):
        reference.learning_rate = lr
        reference.update_params(sk_params, list(gradients(*sk_params)))
        if resume and step == 3:
            saved = pickle.loads(pickle.dumps(optimizer.state_dict()))
            optimizer = SGD(params, lr=0.1, momentum=0.9, nesterov=nesterov)
            optimizer.load_state_dict(saved)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for p, g in zip(params, gradients(*(p.detach().numpy() for p in params))):
            p.grad = torch.from_numpy(g)
        optimizer.step()
    for p, expected in zip(params, sk_params):
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_engine_optimizer_state_dict_resumes_the_run():
    # Saving after 3 steps and loading into a fresh optimizer continues the same run.
    full = _trajectory(lambda g: Adam(g, lr=0.1), steps=6)
    resumed = _trajectory(lambda g: Adam(g, lr=0.1), steps=6, resume_at=3)
    torch.testing.assert_close(resumed, full)


def test_first_fit_does_not_import_torch_dynamo():
    # torch.optim.Optimizer's constructor imports torch._dynamo (~1.5 s); skmath avoids it.
    code = (
        "import sys, numpy as np, skmath\n"
        "X = np.random.RandomState(0).randn(60, 3); y = (X[:, 0] > 0).astype(int)\n"
        "skmath.LogisticRegression(device='cpu').fit(X, y)\n"
        "skmath.MLPClassifier((5,), max_iter=3, device='cpu').fit(X, y)\n"
        "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n"
    )
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True)


def test_minimize_lbfgs_solves_and_holds_numpy_blas_to_one_thread():
    # A least-squares objective reaches numpy's solution; NumPy's BLAS runs on one
    # thread while the optimizer drives torch (its idle threads would compete).
    from threadpoolctl import threadpool_info

    rng = np.random.RandomState(0)
    A, b = rng.randn(50, 4), rng.randn(50)
    blas_threads = []

    def value_and_grad(x):
        blas_threads.extend(
            pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
        )
        r = A @ x - b
        return float(r @ r), 2 * A.T @ r

    result = minimize_lbfgs(value_and_grad, np.zeros(4), gtol=1e-10)
    np.testing.assert_allclose(result.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-6)
    assert blas_threads and set(blas_threads) == {1}


def _weighted_quadratic(a, b):
    # f(x) = sum_j a_j (x_j - b_j)^2 / 2, whose L1-penalised minimiser
    # soft-thresholds b_j by l1_j / a_j.
    def fun(x):
        r = x - b
        return 0.5 * (a * r * r).sum(), a * r

    return fun


def test_minimize_owlqn_soft_thresholds_a_separable_quadratic():
    # The closed form: x_j = sign(b_j) max(|b_j| - l1_j / a_j, 0); entries
    # with l1_j = 0 (an intercept) are b_j. Curvatures from 0.1 to 10 and a
    # start on the wrong side of zero for half the entries. The run ends on
    # the relative decrease (float64's resolution of the objective): the
    # same accuracy as scipy's L-BFGS-B on the split W = P - M (8e-7).
    rng = np.random.RandomState(0)
    n = 200
    a = torch.from_numpy(10 ** rng.uniform(-1, 1, n))
    b = torch.from_numpy(rng.randn(n) * 3)
    l1 = torch.from_numpy(rng.uniform(0, 4, n) * a.numpy())
    l1[:10] = 0.0
    x0 = torch.from_numpy(-np.sign(rng.randn(n)) * rng.rand(n))
    x, result = minimize_owlqn(_weighted_quadratic(a, b), x0, l1, max_iter=1000,
                               tol=1e-8, ftol=0.0)
    expected = torch.sign(b) * torch.clamp(b.abs() - l1 / a, min=0.0)
    assert result.status == 0 and result.success
    np.testing.assert_allclose(x.numpy(), expected.numpy(), atol=2e-6)
    # The penalty removes entries exactly, not to rounding.
    assert torch.equal(x == 0, expected == 0) and int((x == 0).sum()) > 20
    objective = float(_weighted_quadratic(a, b)(x)[0] + (l1 * x.abs()).sum())
    assert result.fun == pytest.approx(objective, rel=1e-12)


def test_minimize_owlqn_reports_its_stops():
    # Each way out has its status: the iteration limit (1), a callback's stop
    # (STOPPED_BY_CALLBACK) and a line search that cannot lower the objective (2).
    a, b = torch.ones(5, dtype=torch.float64), torch.arange(5.0, dtype=torch.float64)
    fun = _weighted_quadratic(a * torch.logspace(0, 4, 5, dtype=torch.float64), b)
    x0 = torch.zeros(5, dtype=torch.float64)
    # Out of iterations.
    _, result = minimize_owlqn(fun, x0, 0.5, max_iter=2, tol=1e-12, ftol=0.0)
    assert (result.status, result.nit) == (1, 2) and not result.success
    # A callback's stop, after its first iterate.
    seen = []
    _, result = minimize_owlqn(fun, x0, 0.5, max_iter=100, tol=1e-12, ftol=0.0,
                               callback=lambda x: seen.append(x.clone()) or True)
    assert result.status == STOPPED_BY_CALLBACK and result.nit == 1 and len(seen) == 1

    # An objective that is infinite off the start: no trial point is
    # accepted, even along the pseudo-gradient from a fresh history.
    start = torch.ones(3, dtype=torch.float64)

    def walled(x):
        return 1.5 if torch.equal(x, start) else math.inf, x

    x, result = minimize_owlqn(walled, start, 0.1, max_iter=10, tol=1e-12, ftol=0.0)
    assert result.status == 2 and "LNSRCH" in result.message and torch.equal(x, start)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_take_rows_gathers_sparse_rows_like_scipy(dtype):
    # Rows of a CSR tensor, in any order, with repeats and empty rows, equal
    # SciPy's row indexing; dense tensors go through index_select.
    rng = np.random.RandomState(0)
    A = sp.random(50, 7, density=0.3, format="lil", random_state=rng, dtype=dtype)
    A[3] = 0
    A = A.tocsr()
    X = as_tensor(A, torch.device("cpu"))
    assert X.layout is torch.sparse_csr and X.dtype == torch_dtype(dtype)
    rows = np.array([3, 10, 0, 49, 10, 3, 27])
    gathered = take_rows(X, torch.from_numpy(rows))
    assert gathered.layout is torch.sparse_csr
    np.testing.assert_array_equal(gathered.to_dense().numpy(), A[rows].toarray())
    np.testing.assert_array_equal(
        take_rows(torch.from_numpy(A.toarray()), torch.from_numpy(rows)).numpy(),
        A[rows].toarray(),
    )


def test_csr_tensor_shares_scipys_32_bit_indices():
    # A CSR matrix becomes a tensor without copying its indices (they were
    # widened to int64: 4 more bytes per nonzero, on top of the estimators'
    # own temporaries), and holds the same matrix.
    A = sp.random(40, 9, density=0.3, format="csr", random_state=0, dtype=np.float32)
    assert A.indices.dtype == np.int32
    X = as_tensor(A, torch.device("cpu"))
    assert X.col_indices().dtype == torch.int32 and X.crow_indices().dtype == torch.int32
    assert X.col_indices().data_ptr() == A.indices.ctypes.data
    assert X.crow_indices().data_ptr() == A.indptr.ctypes.data
    np.testing.assert_array_equal(X.to_dense().numpy(), A.toarray())
    # 64-bit indices (SciPy's for large matrices) give the same matrix.
    B = A.copy()
    B.indices, B.indptr = B.indices.astype(np.int64), B.indptr.astype(np.int64)
    Y = as_tensor(B, torch.device("cpu"))
    np.testing.assert_array_equal(Y.to_dense().numpy(), A.toarray())


def test_csr_beta_warning_is_silenced_at_import():
    # torch's one-off "sparse CSR is beta" warning is triggered at import,
    # under a filter: not at the first construction inside a fit, where the
    # filter (catch_warnings, not thread-safe) could leak into the process.
    code = (
        "import warnings; warnings.simplefilter('error'); import numpy as np, scipy.sparse as sp, "
        "torch, skmath; from skmath._engine import as_tensor; "
        "before = list(warnings.filters); "
        "as_tensor(sp.random(5, 3, density=0.5, format='csr', random_state=0), "
        "torch.device('cpu')); assert warnings.filters == before; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _linear_cases(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 48, generator=g)
    weight = torch.randn(48, 32, generator=g).T  # a transposed view, as the MLPs pass
    bias = torch.randn(32, generator=g)
    full = torch.randn(64, 32, generator=g)
    return x, weight, bias, full


def test_linear_is_addmm_to_float32_rounding_on_every_route(linear_route):
    # Large enough float32 products take oneDNN where it is used; each variant
    # must equal beta * bias + x @ weight.T computed in float64.
    x, weight, bias, full = _linear_cases(0)
    xd, wd, bd, fd = (t.double() for t in (x, weight, bias, full))
    out = torch.empty(64, 32)
    cases = [
        (linear(x, weight), xd @ wd.T),
        (linear(x, weight, bias), xd @ wd.T + bd),
        (linear(x, weight, full, beta=0.25, out=out), 0.25 * fd + xd @ wd.T),
        (linear(x.T.contiguous().T, weight, bias), xd @ wd.T + bd),  # column-major x
        (linear(x[:8, :8], weight[:8, :8], bias[:8]), xd[:8, :8] @ wd[:8, :8].T + bd[:8]),
    ]
    for got, expected in cases:
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)
    assert cases[2][0] is out
    # NaN and inf propagate as through addmm (divergence is detected from them).
    x[3, 5], weight[7, 2] = math.nan, math.inf
    blas = torch.addmm(bias, x, weight.T)
    torch.testing.assert_close(linear(x, weight, bias), blas, equal_nan=True, rtol=1e-5,
                               atol=1e-4)


def test_linear_falls_back_to_addmm_bit_for_bit(linear_route):
    # float64, or oneDNN switched off: exactly torch.addmm (the same rounding
    # as before the oneDNN route existed).
    x, weight, bias, full = _linear_cases(1)
    for dtype in (torch.float64, torch.float32):
        xt, wt, bt, ft = (t.to(dtype) for t in (x, weight, bias, full))
        with torch.backends.mkldnn.flags(enabled=dtype is torch.float64):
            assert torch.equal(linear(xt, wt, bt), torch.addmm(bt, xt, wt.T))
            assert torch.equal(linear(xt, wt, ft, beta=0.5),
                               torch.addmm(ft, xt, wt.T, beta=0.5))


def test_linear_uses_onednn_where_measured_faster(monkeypatch):
    # On x86-64 with a oneDNN-enabled torch the probe must find the op (a
    # broken probe would silently lose the speed-up measured in benchmarks/),
    # and the route must be taken exactly on AVX-512 CPUs not made by Intel
    # (MKL runs AVX-512 kernels on Intel's only).
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the oneDNN route is used on x86-64 only")
    if not torch.backends.mkldnn.is_available():
        pytest.skip("torch built without oneDNN")
    core = skmath._engine._core
    op = core._onednn_op()
    assert op is not None
    if platform.system() == "Linux":
        assert core._cpu_vendor() in ("GenuineIntel", "AuthenticAMD", "HygonGenuine")
    expected = core._cpu_vendor() not in ("", "GenuineIntel") and (
        torch.backends.cpu.get_cpu_capability() == "AVX512")
    assert (core._onednn_linear() is op) == expected
    choose = core._onednn_linear.__wrapped__  # the uncached choice
    for vendor, capability, chosen in [
        ("AuthenticAMD", "AVX512", op), ("GenuineIntel", "AVX512", None),
        ("AuthenticAMD", "AVX2", None), ("", "AVX512", None),
    ]:
        monkeypatch.setattr(core, "_cpu_vendor", lambda vendor=vendor: vendor)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability",
                            lambda capability=capability: capability)
        assert choose() is chosen


def test_linear_gradients_are_addmms(linear_route):
    # Under autograd the oneDNN product has addmm's gradients (float64 reference).
    x, weight, bias, _ = _linear_cases(2)
    upstream = torch.randn(64, 32, generator=torch.Generator().manual_seed(3))
    grads = []
    for dtype in (torch.float32, torch.float64):
        leaves = [t.to(dtype).detach().requires_grad_(True) for t in (x, weight, bias)]
        out = linear(*leaves)
        out.backward(upstream.to(dtype))
        grads.append([out.detach()] + [t.grad for t in leaves])
    for got, expected in zip(*grads):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)
    # Only the inputs that require grad get one; second derivatives work.
    xg = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(linear(xg, weight).square().sum(), xg, create_graph=True)
    (hx,) = torch.autograd.grad(gx.sum(), xg)
    # d/dx sum(2 x W^T W) = 2 * 1 (W^T W)
    expected = 2 * torch.ones(64, 48, dtype=torch.float64) @ (weight.T @ weight).double()
    torch.testing.assert_close(hx.double(), expected, rtol=1e-5, atol=1e-4)


@pytest.fixture
def two_torch_threads(monkeypatch):
    """torch on 2 threads, with no thread-count variables set; restored after."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_small_work_runs_on_one_torch_thread(monkeypatch, two_torch_threads):
    # Small operations run single-threaded (their parallel regions cost
    # more than they gain, and stall when another process holds a core);
    # large ones keep the thread budget; the count is restored after.
    import skmath.neural_network._base as base
    from skmath._engine import PARALLEL_MIN_WORK

    with torch_threads(work=PARALLEL_MIN_WORK - 1):
        assert torch.get_num_threads() == 1
    with torch_threads(work=PARALLEL_MIN_WORK):
        assert torch.get_num_threads() == 2
    with torch_threads():
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2
    # An estimator's small fit: a default MLP on 150 rows trains on one
    # thread (its minibatch products are 150 x (4 x 100 + 100 x 3)).
    seen = []
    real = base.train

    def train(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(base, "train", train)
    X = np.random.RandomState(0).randn(150, 4)
    skmath.MLPClassifier(max_iter=2, device="cpu").fit(X, np.arange(150) % 3)
    assert seen == [1]


def test_block_pool_leaves_other_threads_torch_default(two_torch_threads):
    # The pool's workers and the caller run torch single-threaded; a thread
    # that starts using torch meanwhile (here, or in the user's code while a
    # KMeans fit runs in another thread) gets the process's count: it got 1,
    # for good, when the process default stayed 1 for the whole pool.
    from concurrent.futures import ThreadPoolExecutor

    from skmath._engine import block_pool, map_blocks

    with block_pool(2) as pool:
        assert torch.get_num_threads() == 1
        assert set(map_blocks(lambda _: torch.get_num_threads(), list(range(6)), pool)) == {1}
        with ThreadPoolExecutor(1) as fresh:
            assert fresh.submit(torch.get_num_threads).result() == 2
    assert torch.get_num_threads() == 2


def test_block_pool_without_threads_to_spare_fails_at_once(monkeypatch):
    # Under a process limit on threads the pool's second worker cannot
    # start: the first, waiting for it at the start-up barrier, is released
    # at once (the fit waited 60 s, then failed), and the error is Python's;
    # without a thread for restoring the process default, the pool still runs.
    code = (
        "import numpy as np, torch\n"
        "from concurrent.futures import thread\n"
        "from skmath._engine import block_pool, map_blocks\n"
        "adjust = thread.ThreadPoolExecutor._adjust_thread_count\n"
        "def failing(self):\n"
        "    self._n = getattr(self, '_n', 0) + 1\n"
        "    if self._n == 2: raise RuntimeError(\"can't start new thread\")\n"
        "    return adjust(self)\n"
        "thread.ThreadPoolExecutor._adjust_thread_count = failing\n"
        "before = torch.get_num_threads()\n"
        "try:\n"
        "    with block_pool(2) as pool: pass\n"
        "except RuntimeError as e: print('raised', e)\n"
        "print(torch.get_num_threads() == before)\n"
    )
    # (The barrier has no timeout now: without the release this would hang.)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["raised can't start new thread", "True"]

    from skmath._engine import block_pool, map_blocks

    real_start = threading.Thread.start

    def start(self):  # only the thread that restores the default cannot start
        if getattr(self, "_target", None) is torch.set_num_threads:
            raise RuntimeError("can't start new thread")
        return real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with block_pool(2) as pool:
        assert map_blocks(lambda b: b + 1, [1, 2, 3], pool) == [2, 3, 4]


def test_thread_limits_are_per_thread_and_nest(monkeypatch, two_torch_threads):
    # torch's intra-op thread count (OpenMP's) belongs to each Python thread.
    # A global registry let a worker's single_threaded_torch block, outlasting
    # the main thread's torch_threads block, leave the main thread at 1; a
    # save/restore per block let overlapping blocks restore each other's
    # values. Now: the main thread gets its count back, and nested blocks
    # re-apply the enclosing limit on exit.
    import threading

    from skmath._engine import single_threaded_torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    worker_in, main_out = threading.Event(), threading.Event()

    def worker():
        with single_threaded_torch():
            worker_in.set()
            main_out.wait()

    thread = threading.Thread(target=worker)
    with torch_threads():  # in the main thread, budget 1
        assert torch.get_num_threads() == 1
        thread.start()
        worker_in.wait()
    main_out.set()
    thread.join()
    assert torch.get_num_threads() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    with torch_threads():
        with single_threaded_torch():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_column_mean_std_is_numpys_at_any_magnitude(sparse, dtype):
    # numpy's float64 statistics on ordinary data; at 1e200 and 1e-200 (powers
    # of two: exact) the same statistics scaled, where numpy's squares
    # overflow or underflow; a constant float32 column has std 0 exactly.
    rng = np.random.RandomState(0)
    A = rng.randn(50, 3) * (rng.rand(50, 3) < 0.5)
    A[:, 2] = -1e8
    mean, std = column_mean_std((sp.csr_matrix(A) if sparse else A).astype(dtype))
    assert mean.dtype == std.dtype == dtype
    expected = A.astype(dtype).astype(np.float64)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(mean, expected.mean(axis=0), rtol=rtol)
    np.testing.assert_allclose(std, expected.std(axis=0), rtol=rtol)
    assert std[2] == 0
    if not sparse:  # dense columns are measured about their first entry: exact
        assert column_mean_std(np.full((12, 1), 1e300)) == (np.array([1e300]), np.array([0.0]))
    for c in (2.0 ** 660, 2.0 ** -660):
        scaled = A * c
        mean_c, std_c = column_mean_std(sp.csr_matrix(scaled) if sparse else scaled)
        np.testing.assert_allclose(mean_c / c, column_mean_std(A)[0], rtol=1e-14)
        np.testing.assert_allclose(std_c / c, column_mean_std(A)[1], rtol=1e-14)


def test_overlapping_single_threaded_blas_blocks_restore_the_callers_blas():
    # NumPy's BLAS limit is process-wide: fits in two threads whose blocks
    # overlap (A enters, B enters, A leaves, B leaves) share one limit. Each
    # block restored what it saw on entry, so B restored A's limit of 1 and
    # left the user's BLAS on one thread for good.
    from threadpoolctl import ThreadpoolController

    from skmath._engine._optim import single_threaded_blas

    controller = ThreadpoolController()
    blas = controller.select(user_api="blas")
    if not blas.lib_controllers:
        pytest.skip("no BLAS found by threadpoolctl")

    def threads():
        return {info["num_threads"] for info in ThreadpoolController().select(
            user_api="blas").info()}

    with controller.limit(limits=2, user_api="blas"):
        a, b = single_threaded_blas(), single_threaded_blas()
        a.__enter__()
        b.__enter__()
        assert threads() == {1}
        a.__exit__(None, None, None)
        assert threads() == {1}  # B still runs
        b.__exit__(None, None, None)
        assert threads() == {2}


def test_kmeans_predictions_release_their_scratch_buffers():
    # Outside a block pool, scratch buffers lasted as long as the thread:
    # each thread that predicted kept its distance blocks (~7 MB on 200,000 x
    # 32 rows). A workspace releases them when the call ends; nested ones
    # keep them until the outermost ends.
    from skmath import KMeans
    from skmath._engine import scratch, workspace
    from skmath._engine._core import _WORKSPACE

    X = np.random.RandomState(0).normal(size=(3000, 8))
    km = KMeans(4, n_init=1, random_state=0, device="cpu").fit(X)
    for method in ("predict", "transform", "score"):
        getattr(km, method)(X)
        assert not _WORKSPACE.__dict__.get("buffers"), method
    cpu = torch.device("cpu")
    with workspace():
        with workspace():
            a = scratch("a", (4,), dtype=torch.float64, device=cpu)
        assert scratch("a", (4,), dtype=torch.float64, device=cpu).data_ptr() == a.data_ptr()
    assert not _WORKSPACE.__dict__.get("buffers")


@pytest.mark.parametrize("name", ["FlowMatchingSampler", "MLPRegressor", "MLPClassifier"])
def test_training_that_blows_up_without_inf_warns(name):
    # learning_rate_init=1e3 throws the weights far off: the flow's loss went
    # from 0.14 to 2e31 and the fit ended (plateau rule) without a word. A
    # final loss over ten times the first epoch's is reported; a sound fit is not.
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    import skmath

    rng = np.random.RandomState(0)
    X = rng.randn(200, 2)
    args = (X,) if name == "FlowMatchingSampler" else (X, X.sum(1) > 0 if "Class" in name else X.sum(1))
    cls = getattr(skmath, name)
    with pytest.warns(ConvergenceWarning, match="training loss rose from"):
        bad = cls(learning_rate_init=1e3, max_iter=30, random_state=0, device="cpu").fit(*args)
    assert bad.loss_curve_[-1] > 10 * bad.loss_curve_[0]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "The training loss rose", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Stochastic Optimizer", ConvergenceWarning)
        cls(max_iter=30, random_state=0, device="cpu").fit(*args)

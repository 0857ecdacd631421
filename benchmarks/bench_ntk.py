"""NNGP + NTK kernels: skmath against neural-tangents' jitted ``kernel_fn``.

Both run in this one process, on the CPU, in float64, on the same inputs
(N = 4000 points, d = 100 features, depth 2, weight_std 1.5, bias_std 0.1):

- ``k(X)``: the train x train kernels (``kernel_fn(X, None, ("nngp", "ntk"))``),
- ``k(X, Y)``: a test x train pair of 4000 x 4000 (no symmetry to exploit).

neural-tangents is timed after a warm-up call (its first call, XLA
compilation included, is reported separately); each entry is the best of ``--repeat`` runs. JAX is not
a dependency of skmath: run this in a separate environment::

    python3 -m venv /tmp/ntvenv
    /tmp/ntvenv/bin/pip install neural-tangents==0.6.5 jax==0.4.30 \\
        jaxlib==0.4.30 tf2jax==0.3.6 "numpy<2" scipy torch==2.13.0 tqdm \\
        scikit-learn
    /tmp/ntvenv/bin/pip install -e . --no-deps
    /tmp/ntvenv/bin/python benchmarks/bench_ntk.py

Without neural-tangents the script times skmath alone.

``--datasets`` also reports accuracy against scikit-learn's kernel methods
(5-fold cross-validation, standardised X, in the main environment too):
NTKRegressor tuned by GridSearchCV over depth x alpha against KernelRidge(rbf)
tuned over gamma x alpha on diabetes (R^2), and SVC(kernel=NTKKernel())
against SVC(rbf) on breast_cancer (accuracy).
"""

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from skmath.ntk._kernels import nngp_ntk  # noqa: E402

try:
    import jax  # noqa: E402
    from neural_tangents import stax  # noqa: E402
except ImportError:  # pragma: no cover - benchmark environment only
    jax = stax = None


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def nt_kernel_fn(activation, depth, weight_std, bias_std):
    act = {"relu": stax.Relu, "erf": stax.Erf, "gelu": stax.Gelu}[activation]
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(512, W_std=weight_std, b_std=bias_std), act()]
    layers.append(stax.Dense(1, W_std=weight_std, b_std=bias_std))
    kernel_fn = jax.jit(stax.serial(*layers)[2], static_argnames="get")

    def run(X, Y):
        k = kernel_fn(X, Y, get=("nngp", "ntk"))
        k.ntk.block_until_ready()
        return np.asarray(k.nngp), np.asarray(k.ntk)

    return run


def datasets():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from skmath import NTKKernel, NTKRegressor

    X, y = load_diabetes(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    alphas = np.logspace(-2, 2, 9)
    candidates = {
        "NTKRegressor(ntk) depth x alpha": GridSearchCV(
            make_pipeline(StandardScaler(), NTKRegressor(device="cpu")),
            {"ntkregressor__depth": [1, 2, 3, 4, 5], "ntkregressor__alpha": alphas},
            cv=cv,
        ),
        "NTKRegressor(nngp) depth x alpha": GridSearchCV(
            make_pipeline(StandardScaler(), NTKRegressor(kernel="nngp", device="cpu")),
            {"ntkregressor__depth": [1, 2, 3, 4, 5], "ntkregressor__alpha": alphas},
            cv=cv,
        ),
        "KernelRidge(rbf) gamma x alpha": GridSearchCV(
            make_pipeline(StandardScaler(), KernelRidge(kernel="rbf")),
            {"kernelridge__gamma": np.logspace(-4, 0, 9), "kernelridge__alpha": np.logspace(-3, 2, 11)},
            cv=cv,
        ),
        "KernelRidge(rbf), centred y, gamma x alpha": GridSearchCV(
            TransformedTargetRegressor(
                make_pipeline(StandardScaler(), KernelRidge(kernel="rbf")),
                transformer=StandardScaler(),
            ),
            {
                "regressor__kernelridge__gamma": np.logspace(-4, 0, 9),
                "regressor__kernelridge__alpha": np.logspace(-3, 2, 11),
            },
            cv=cv,
        ),
    }
    print("\ndiabetes, 5-fold CV R^2 of the best grid point")
    for name, search in candidates.items():
        start = time.perf_counter()
        search.fit(X, y)
        best = {k.split("__")[-1]: round(float(v), 4) for k, v in search.best_params_.items()}
        print(f"  {name:<44} {search.best_score_:.4f}  {time.perf_counter() - start:6.1f} s  {best}")

    X, y = load_breast_cancer(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    print("\nbreast_cancer, 5-fold CV accuracy")
    models = {"SVC(rbf)": SVC()}
    for depth in (1, 2, 3):
        models[f"SVC(NTKKernel(depth={depth}))"] = SVC(kernel=NTKKernel(depth=depth, device="cpu"))
    for name, model in models.items():
        score = cross_val_score(make_pipeline(StandardScaler(), model), X, y, cv=cv).mean()
        print(f"  {name:<44} {score:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--activations", default="relu,erf,gelu")
    parser.add_argument("--datasets", action="store_true",
                        help="also compare accuracy with KernelRidge/SVC(rbf)")
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    X = rng.normal(size=(args.n, args.d))
    Y = rng.normal(size=(args.n, args.d))
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    arch = dict(depth=args.depth, weight_std=1.5, bias_std=0.1)
    print(
        f"N={args.n}, d={args.d}, depth={args.depth}, float64, CPU, "
        f"torch threads={torch.get_num_threads()}, load average={os.getloadavg()[0]:.1f}"
    )
    if jax is None:
        print("neural-tangents is not installed: timing skmath only.")
    header = f"{'activation':<10} {'case':<8} {'skmath s':>9} {'nt s':>8} {'nt 1st s':>9} {'ratio':>7} {'max rel diff':>13}"
    print(header)
    print("-" * len(header))
    for activation in args.activations.split(","):
        nt_run = None if jax is None else nt_kernel_fn(activation, **arch)
        for case, (A, B, At, Bt) in {
            "k(X)": (X, None, Xt, None),
            "k(X,Y)": (X, Y, Xt, Yt),
        }.items():
            t_sk, (nngp, ntk) = best_of(
                lambda: nngp_ntk(At, Bt, activation=activation, **arch), args.repeat
            )
            if nt_run is None:
                print(f"{activation:<10} {case:<8} {t_sk:>9.2f} {'-':>8} {'-':>9} {'-':>7} {'-':>13}")
                continue
            start = time.perf_counter()
            nt_run(A, B)
            t_first = time.perf_counter() - start
            t_nt, (nt_nngp, nt_ntk) = best_of(lambda: nt_run(A, B), args.repeat)
            diff = max(
                float(np.max(np.abs(nngp.numpy() - nt_nngp)) / np.max(np.abs(nt_nngp))),
                float(np.max(np.abs(ntk.numpy() - nt_ntk)) / np.max(np.abs(nt_ntk))),
            )
            print(
                f"{activation:<10} {case:<8} {t_sk:>9.2f} {t_nt:>8.2f} "
                f"{t_first:>9.2f} {t_sk / t_nt:>7.2f} {diff:>13.1e}"
            )
    print("ratio = skmath time / neural-tangents time (lower is better); "
          "'nt 1st s' = neural-tangents' first call, with its XLA compilation.")
    if args.datasets:
        datasets()


if __name__ == "__main__":
    main()

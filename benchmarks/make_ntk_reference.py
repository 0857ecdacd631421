"""Make ``tests/data/ntk_reference.npz``: neural-tangents' kernels and predictions.

The CI has no neural-tangents; ``tests/test_ntk.py`` compares skmath with the
numbers this script saved. It needs a separate virtual environment (JAX is
never a dependency of skmath)::

    python3 -m venv /tmp/ntvenv
    /tmp/ntvenv/bin/pip install neural-tangents==0.6.5 jax==0.4.30 \\
        jaxlib==0.4.30 tf2jax==0.3.6 "numpy<2" scipy
    JAX_ENABLE_X64=1 /tmp/ntvenv/bin/python benchmarks/make_ntk_reference.py

For every configuration (activation, depth, weight_std, bias_std) the file
holds, in float64, the NNGP and NTK of
``stax.serial(Dense(W_std, b_std), act(), ..., Dense(W_std, b_std))`` on
train x train and test x train, the test x test diagonals, and the t = inf
mean and covariance of ``predict.gradient_descent_mse_ensemble`` (NNGP and
NTK) with a relative ``diag_reg``, together with the absolute ``alpha`` that
skmath must use to get the same numbers: ``diag_reg * trace(K_train) / n``.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "ntk_reference.npz"

ACTIVATIONS = {"relu": stax.Relu, "erf": stax.Erf, "gelu": stax.Gelu}

# (activation, depth, weight_std, bias_std)
CONFIGS = [
    (act, depth, w_std, b_std)
    for act in ("relu", "erf", "gelu")
    for depth, w_std, b_std in ((1, 1.5, 0.1), (3, 1.2, 0.5))
] + [("relu", 0, 1.0, 0.3), ("relu", 2, 1.0, 0.0)]

DIAG_REG = 1e-2


def kernel_fn(activation, depth, weight_std, bias_std):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(512, W_std=weight_std, b_std=bias_std), ACTIVATIONS[activation]()]
    layers.append(stax.Dense(1, W_std=weight_std, b_std=bias_std))
    return stax.serial(*layers)[2]


def main():
    if not jax.config.jax_enable_x64:
        sys.exit("Run with JAX_ENABLE_X64=1: the references must be float64.")
    rng = np.random.RandomState(0)
    n_train, n_test, d = 24, 9, 5
    X_train = rng.normal(size=(n_train, d))
    X_train[1] = X_train[0] + 1e-3  # a near-duplicate pair (angle close to 0)
    X_train[2] = -X_train[3]  # an antipodal pair (angle pi)
    X_test = rng.normal(size=(n_test, d)) * 1.5
    y_train = np.stack([np.sin(X_train[:, 0]) + X_train[:, 1], X_train[:, 2] ** 2], axis=1)

    out = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "diag_reg": DIAG_REG}
    names = []
    for i, (act, depth, w_std, b_std) in enumerate(CONFIGS):
        kfn = kernel_fn(act, depth, w_std, b_std)
        k_dd = kfn(X_train, None, get=("nngp", "ntk"))
        k_td = kfn(X_test, X_train, get=("nngp", "ntk"))
        k_tt = kfn(X_test, None, get=("nngp", "ntk"))
        key = f"c{i}"
        out[f"{key}_nngp_train"] = np.asarray(k_dd.nngp)
        out[f"{key}_ntk_train"] = np.asarray(k_dd.ntk)
        out[f"{key}_nngp_test"] = np.asarray(k_td.nngp)
        out[f"{key}_ntk_test"] = np.asarray(k_td.ntk)
        out[f"{key}_nngp_diag"] = np.diag(np.asarray(k_tt.nngp))
        out[f"{key}_ntk_diag"] = np.diag(np.asarray(k_tt.ntk))
        predict_fn = nt.predict.gradient_descent_mse_ensemble(
            kfn, X_train, y_train, diag_reg=DIAG_REG
        )
        for get in ("nngp", "ntk"):
            mean, cov = predict_fn(x_test=X_test, get=get, compute_cov=True)
            out[f"{key}_{get}_mean"] = np.asarray(mean)
            out[f"{key}_{get}_cov"] = np.asarray(cov)
            k_train = np.asarray(getattr(k_dd, get))
            out[f"{key}_{get}_alpha"] = DIAG_REG * np.trace(k_train) / n_train
        names.append(dict(activation=act, depth=depth, weight_std=w_std, bias_std=b_std))
    out["configs"] = np.array(json.dumps(names))
    out["versions"] = np.array(
        json.dumps({"neural_tangents": nt.__version__, "jax": jax.__version__})
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({len(CONFIGS)} configurations)")


if __name__ == "__main__":
    main()

"""
==========================================================
Flow matching density estimation next to GMM and KDE
==========================================================

:class:`~skmath.FlowMatchingSampler` learns a continuous normalising flow
from a standard normal to the data by conditional flow matching. The flow
gives samples and an exact log-density, like
:class:`~sklearn.mixture.GaussianMixture` and
:class:`~sklearn.neighbors.KernelDensity`, so the three can be compared on the
same footing: held-out mean log-likelihood (``score``) and pictures of the
learned densities.

Two toy densities of FFJORD (Grathwohl et al. 2019): two moons and a
checkerboard. The settings are reduced so that the example runs in about a
minute on a laptop CPU; ``benchmarks/bench_flow.py`` runs the defaults on
10,000 points.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from skmath import FlowMatchingSampler


def two_moons(n, seed):
    X, _ = make_moons(n, noise=0.1, random_state=seed)
    return X * 2 + np.array([-1.0, -0.2])


def checkerboard(n, seed):
    rng = np.random.RandomState(seed)
    x1 = rng.rand(n) * 4 - 2
    x2 = rng.rand(n) - rng.randint(0, 2, n) * 2 + np.floor(x1) % 2
    return np.c_[x1, x2] * 2


datasets = {"two moons": two_moons, "checkerboard": checkerboard}

# %%
# Fit the three density estimators
# --------------------------------
# The flow uses a smaller network and fewer epochs than its defaults; the GMM
# and KDE keep the number of components and the bandwidth that score best on
# held-out data.
models = {}
for name, make in datasets.items():
    X_train, X_test = make(3000, 0), make(2000, 1)
    flow = FlowMatchingSampler(
        hidden_layer_sizes=(128, 128),
        max_iter=150,
        batch_size=256,
        n_steps=8,
        random_state=0,
        device="cpu",
    ).fit(X_train)
    gmm = max(
        (GaussianMixture(k, random_state=0).fit(X_train) for k in (4, 8, 16, 32, 64)),
        key=lambda m: m.score(X_test),
    )
    kde = max(
        (KernelDensity(bandwidth=bw).fit(X_train) for bw in (0.05, 0.1, 0.15, 0.2, 0.3)),
        key=lambda m: m.score(X_test),
    )
    models[name] = X_train, X_test, {"flow matching": flow, "GMM": gmm, "KDE": kde}
    print(
        f"{name:>12}: held-out log-likelihood "
        f"flow {flow.score(X_test):.3f}, "
        f"GMM (k={gmm.n_components}) {gmm.score(X_test):.3f}, "
        f"KDE (bandwidth={kde.bandwidth}) {kde.score(X_test) / len(X_test):.3f}"
    )

# %%
# Samples and densities
# ---------------------
# Left: training data and samples of the flow. Right: the three learned
# densities on a grid (the flow's is ``exp(score_samples)``, integrated along
# the ODE with the exact divergence).
fig, axes = plt.subplots(2, 5, figsize=(17, 7), constrained_layout=True)
for row, (name, (X_train, X_test, fitted)) in zip(axes, models.items()):
    lo, hi = X_train.min(axis=0) - 0.5, X_train.max(axis=0) + 0.5
    gx, gy = np.linspace(lo[0], hi[0], 80), np.linspace(lo[1], hi[1], 80)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)

    row[0].scatter(*X_train[:1500].T, s=2, alpha=0.5)
    row[0].set_title(f"{name}: training data")
    samples = fitted["flow matching"].sample(1500, random_state=1)
    row[1].scatter(*samples.T, s=2, alpha=0.5, color="C1")
    row[1].set_title("flow matching: samples")
    for ax, (model_name, model) in zip(row[2:], fitted.items()):
        density = np.exp(model.score_samples(grid)).reshape(len(gy), len(gx))
        ax.pcolormesh(gx, gy, density, cmap="magma", shading="auto")
        ax.set_title(f"{model_name}: density")
    for ax in row:
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
plt.show()

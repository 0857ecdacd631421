"""FlowMatchingSampler against GaussianMixture and KernelDensity on 2-D densities.

Three toy densities of FFJORD (Grathwohl et al. 2019, ``toy_data.py``): two
moons, a ring of 8 Gaussians and a checkerboard; 10,000 training points and
5,000 held-out points each. For each:

- the flow is fit with its default parameters (only ``random_state`` set);
- GaussianMixture's ``n_components`` and KernelDensity's ``bandwidth`` are
  chosen on the held-out data themselves (an optimistic baseline);
- held-out mean log-likelihood (nats) of each model;
- 2-Wasserstein distance (POT's exact ``ot.emd2``) between 2,000 samples of
  each model and 2,000 held-out points, with the distance between two
  independent draws of the true density as the noise floor;
- fit times (the GMM's is its best model's fit alone).

Run: ``python benchmarks/bench_flow.py`` (about 10 minutes on 2 CPU cores).
"""

import os
import time

import numpy as np
import ot
import torch
from sklearn.datasets import make_moons
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from skmath import FlowMatchingSampler

N_TRAIN, N_TEST, N_W2 = 10_000, 5_000, 2_000
GMM_COMPONENTS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160)
KDE_BANDWIDTHS = np.geomspace(0.03, 1.0, 12)


def two_moons(n, seed):
    X, _ = make_moons(n, noise=0.1, random_state=seed)
    return X * 2 + np.array([-1.0, -0.2])


def ring_of_gaussians(n, seed):
    rng = np.random.RandomState(seed)
    angles = np.arange(8) * np.pi / 4
    centers = 4 * np.c_[np.cos(angles), np.sin(angles)]
    return (0.5 * rng.randn(n, 2) + centers[rng.randint(8, size=n)]) / 1.414


def checkerboard(n, seed):
    rng = np.random.RandomState(seed)
    x1 = rng.rand(n) * 4 - 2
    x2 = rng.rand(n) - rng.randint(0, 2, n) * 2 + np.floor(x1) % 2
    return np.c_[x1, x2] * 2


DATASETS = {"moons": two_moons, "8 gaussians": ring_of_gaussians, "checkerboard": checkerboard}


def w2(A, B):
    """Exact 2-Wasserstein distance between two equal-size point clouds."""
    weights = np.full(len(A), 1.0 / len(A))
    return float(np.sqrt(ot.emd2(weights, weights, ot.dist(A, B), numItermax=10**7)))


def best_on_held_out(make, grid, X_train, X_test):
    best = None
    for value in grid:
        model = make(value)
        start = time.perf_counter()
        model.fit(X_train)
        fit_time = time.perf_counter() - start
        score = model.score(X_test) / (len(X_test) if isinstance(model, KernelDensity) else 1)
        if best is None or score > best[1]:
            best = (value, score, model, fit_time)
    return best


def main():
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs\n"
    )
    header = (
        f"{'dataset':<13} {'model':<22} {'log-lik':>8} {'- GMM':>7} "
        f"{'W2':>6} {'fit (s)':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, make_data in DATASETS.items():
        X_train, X_test = make_data(N_TRAIN, 0), make_data(N_TEST, 1)
        X_ref, X_floor = X_test[:N_W2], make_data(N_W2, 2)

        start = time.perf_counter()
        flow = FlowMatchingSampler(random_state=0).fit(X_train)
        flow_time = time.perf_counter() - start
        flow_ll = flow.score(X_test)
        flow_w2 = w2(flow.sample(N_W2, random_state=3), X_ref)

        k, gmm_ll, gmm, gmm_time = best_on_held_out(
            lambda k: GaussianMixture(k, random_state=0), GMM_COMPONENTS, X_train, X_test
        )
        gmm_w2 = w2(gmm.sample(N_W2)[0], X_ref)
        bw, kde_ll, kde, kde_time = best_on_held_out(
            lambda bw: KernelDensity(bandwidth=bw), KDE_BANDWIDTHS, X_train, X_test
        )
        kde_w2 = w2(kde.sample(N_W2, random_state=3), X_ref)

        rows = [
            ("FlowMatchingSampler", flow_ll, flow_w2, flow_time),
            (f"GMM (k={k})", gmm_ll, gmm_w2, gmm_time),
            (f"KDE (bw={bw:.3f})", kde_ll, kde_w2, kde_time),
        ]
        for model_name, ll, dist, fit_time in rows:
            print(
                f"{name:<13} {model_name:<22} {ll:8.3f} {ll - gmm_ll:+7.3f} "
                f"{dist:6.3f} {fit_time:8.1f}"
            )
        print(f"{name:<13} {'true density (floor)':<22} {'':>8} {'':>7} {w2(X_floor, X_ref):6.3f}")
        print(flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

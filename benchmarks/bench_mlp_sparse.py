"""MLPClassifier on sparse input: skmath vs scikit-learn fit time, in one process.

A bag-of-words shaped problem: 20,000 x 20,000 CSR matrix with 0.25% non-zero
entries (50 terms a row, tf-idf-like positive weights, rows scaled to unit
norm), 5 classes given by a random linear rule on the terms; network 20,000 ->
100 -> 5, ReLU, Adam, batch "auto" (200), 5 epochs, as sklearn's defaults.
Both libraries keep ``X`` sparse (sklearn: ``safe_sparse_dot``; skmath: a CSR
tensor, sparse minibatch rows, sparse-dense products in the first layer).
float64 is compared with float64; skmath's float32 fit is listed too.
Accuracy is on 5,000 held-out rows. Each library first fits a small warm-up
problem, and the rounds alternate libraries, so that a shared machine's
changes of speed hit both.

    python benchmarks/bench_mlp_sparse.py [--repeat 3] [--device cuda]
"""

import argparse
import platform
import time
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP

from skmath import MLPClassifier

N_TRAIN, N_TEST, N_TERMS, TERMS_PER_ROW, N_CLASSES = 20_000, 5_000, 20_000, 50, 5
PARAMS = {"hidden_layer_sizes": (100,), "max_iter": 5, "random_state": 0}


def make_bag_of_words(seed=0):
    """Unit-norm rows of ``TERMS_PER_ROW`` Zipf-distributed terms and linear-rule labels."""
    rng = np.random.RandomState(seed)
    n = N_TRAIN + N_TEST
    p = 1.0 / np.arange(1, N_TERMS + 1)
    cols = rng.choice(N_TERMS, size=(n, TERMS_PER_ROW), p=p / p.sum())
    values = rng.exponential(size=(n, TERMS_PER_ROW))
    X = sp.csr_matrix(
        (values.ravel(), (np.repeat(np.arange(n), TERMS_PER_ROW), cols.ravel())),
        shape=(n, N_TERMS),
    )
    X.sum_duplicates()
    X = sp.diags(1.0 / np.sqrt(X.multiply(X).sum(axis=1)).A.ravel()) @ X
    y = np.asarray(X @ rng.randn(N_TERMS, N_CLASSES)).argmax(axis=1)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def _fit(name, X, y, device):
    if name == "sklearn":
        return SkMLP(**PARAMS).fit(X, y)
    dtype = np.float32 if name.endswith("float32") else np.float64
    return MLPClassifier(**PARAMS, device=device).fit(X.astype(dtype), y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y, X_test, y_test = make_bag_of_words()
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}; "
          f"X {X.shape}, {X.nnz / X.shape[0]:.0f} non-zeros a row")
    names = ["sklearn", "skmath float64", "skmath float32"]
    for name in names:  # warm-up
        _fit(name, X[:500], y[:500], args.device)
    best, accuracy = {}, {}
    for round_ in range(args.repeat):
        for name in names:
            start = time.perf_counter()
            est = _fit(name, X, y, args.device)
            elapsed = time.perf_counter() - start
            best[name] = min(best.get(name, np.inf), elapsed)
            dtype = np.float32 if name.endswith("float32") else np.float64
            accuracy[name] = est.score(X_test.astype(dtype), y_test)
            print(f"  round {round_ + 1}: {name:15s} {elapsed:6.2f} s")
    print(f"\n{'library':15s} {'best fit':>9s} {'accuracy':>9s} {'/ sklearn':>10s}")
    for name in names:
        print(f"{name:15s} {best[name]:8.2f}s {accuracy[name]:9.4f} "
              f"{best[name] / best['sklearn']:9.2f}x")


if __name__ == "__main__":
    main()

"""skmath vs scikit-learn: LinearRegression 200k x 100, LogisticRegression 100k x 50, 5 classes
(L2 with lbfgs, newton-cholesky and newton-cg; L1 with saga); both on a sparse 20k x 2k bag
of words (CSR, 41 non-zeros a row); L1 LogisticRegression with liblinear on a wide sparse
10k x 50k bag of words (50 non-zeros a row).

Both libraries run in this one process on the same data; the table gives the median
fit time of each over ``--repeat`` runs, their ratio (skmath / sklearn; below 1 means
skmath is faster) and the quality of each fit, so speed is compared at equal quality.

    python benchmarks/bench_linear_model.py [--repeat 5] [--device cpu]
"""

import argparse
import os
import platform
import time

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import linear_model as sk
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import log_loss, r2_score

import skmath


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def bag_of_words(n_samples, n_features, nnz_per_row, seed=0):
    """CSR counts-like data: ``nnz_per_row`` random columns per row, unit-norm rows."""
    rng = np.random.RandomState(seed)
    rows = np.repeat(np.arange(n_samples), nnz_per_row)
    cols = rng.randint(0, n_features, n_samples * nnz_per_row)
    X = sp.csr_matrix((rng.rand(rows.size), (rows, cols)), shape=(n_samples, n_features))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    return sp.csr_matrix(sp.diags(1 / norms) @ X), rng


def l1_objective(est, X, y, C):
    """sklearn's L1 logistic objective, divided by C * n: mean log-loss + ||W||_1 / (C n)."""
    log_loss_sum = log_loss(y, est.predict_proba(X), normalize=False)
    return (C * log_loss_sum + np.abs(est.coef_).sum()) / (C * X.shape[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device={args.device}")
    rows = []

    def linear_row(name, X, y):
        t_sk, ref = median_time(lambda: sk.LinearRegression().fit(X, y), args.repeat)
        t_us, ours = median_time(
            lambda: skmath.LinearRegression(device=args.device).fit(X, y), args.repeat
        )
        rel = np.abs(ours.coef_ - ref.coef_).max() / np.abs(ref.coef_).max()
        rows.append((name, t_us, t_sk,
                     f"R2 {r2_score(y, ours.predict(X)):.6f} vs {r2_score(y, ref.predict(X)):.6f}; "
                     f"coef rel diff {rel:.1e}"))

    def logistic_row(name, X, y, quality=None, **kw):
        t_sk, ref = median_time(lambda: sk.LogisticRegression(**kw).fit(X, y), args.repeat)
        t_us, ours = median_time(
            lambda: skmath.LogisticRegression(device=args.device, **kw).fit(X, y), args.repeat
        )
        if quality is None:
            quality = (
                f"log-loss {log_loss(y, ours.predict_proba(X)):.6f} vs "
                f"{log_loss(y, ref.predict_proba(X)):.6f}; "
                f"n_iter {ours.n_iter_[0]} vs {ref.n_iter_[0]}"
            )
        else:
            quality = quality(ours, ref)
        rows.append((name, t_us, t_sk, quality))

    X, y = make_regression(200_000, 100, noise=1.0, random_state=0)
    linear_row("LinearRegression 200k x 100", X, y)

    X, y = make_classification(100_000, 50, n_informative=30, n_classes=5, random_state=0)
    logistic_row("LogisticRegression 100k x 50, 5 classes", X, y, C=1.0, max_iter=1000)
    for solver in ("newton-cholesky", "newton-cg"):
        logistic_row(f"LogisticRegression {solver}, same", X, y, solver=solver, C=1.0,
                     max_iter=1000)

    # L1 penalty: sklearn's saga against skmath's OWL-QN.
    C = 0.01

    def l1_quality(ours, ref):
        return (f"objective {l1_objective(ours, X, y, C):.8f} vs "
                f"{l1_objective(ref, X, y, C):.8f}; non-zeros "
                f"{np.count_nonzero(ours.coef_)} vs {np.count_nonzero(ref.coef_)}")

    logistic_row("LogisticRegression L1 (saga), C=0.01, same", X, y, quality=l1_quality,
                 solver="saga", C=C, l1_ratio=1.0, max_iter=1000)

    # Sparse input (sklearn: lsqr for LinearRegression, lbfgs on CSR for LogisticRegression).
    X, rng = bag_of_words(20_000, 2_000, 41)
    linear_row("LinearRegression sparse 20k x 2k", X,
               X @ rng.randn(2_000) + 0.01 * rng.randn(X.shape[0]))
    logistic_row("LogisticRegression sparse 20k x 2k, 5 classes", X,
                 np.argmax(X @ rng.randn(2_000, 5), axis=1), C=1.0, max_iter=1000)

    # Wide sparse L1 (feature selection on text): sklearn's liblinear (coordinate
    # descent) against skmath's OWL-QN, on liblinear's problem.
    X, rng = bag_of_words(10_000, 50_000, 50, seed=1)
    w = np.zeros(50_000)
    w[:200] = 3 * rng.randn(200)
    y = (X @ w + 0.05 * rng.randn(X.shape[0]) > 0).astype(int)

    C = 20.0

    def liblinear_quality(ours, ref):
        def objective(est):  # liblinear's: the intercept is a penalised weight
            loss = log_loss(y, est.predict_proba(X), normalize=False)
            return C * loss + (np.abs(est.coef_).sum() + np.abs(est.intercept_).sum())

        return (f"objective {objective(ours):.6f} vs {objective(ref):.6f}; non-zeros "
                f"{np.count_nonzero(ours.coef_)} vs {np.count_nonzero(ref.coef_)}")

    logistic_row("LogisticRegression L1 (liblinear) 10k x 50k, C=20", X, y,
                 quality=liblinear_quality, solver="liblinear", l1_ratio=1.0, C=C)

    print(f"| {'benchmark':42s} | skmath (s) | sklearn (s) | ratio | quality (skmath vs sklearn) |")
    print(f"|{'-' * 44}|-----------:|------------:|------:|---|")
    for name, t_us, t_sk, quality in rows:
        print(f"| {name:42s} | {t_us:10.3f} | {t_sk:11.3f} | {t_us / t_sk:5.2f} | {quality} |")


if __name__ == "__main__":
    main()

"""skmath vs scikit-learn: KMeans on 200k x 32, k=16, n_init=1, on sparse text-like data and on
an image's pixels (many clusters, 3 features).

Both libraries run in this one process on the same data. Each row gives the
median fit time over ``--repeat`` runs (run ``r`` uses ``random_state=r`` for
both), the ratio skmath / sklearn (below 1 means skmath is faster) and the mean
inertia and iteration count of each, so speed is compared at equal quality.

- "k-means++": each library's own seeding, then Lloyd (the default use).
- "same init": both start from the same explicit centers (rows drawn at
  random), so the Lloyd iterations alone are compared; the two runs then give
  the same inertia and number of iterations (on the bag of words they can
  part: a row sharing no word with two unit-norm centers is exactly as far
  from both, a tie skmath gives to the lower index and sklearn to whichever
  center's rounded norm is smaller).

Data: ``make_blobs(200_000, 32, centers=16)``, well separated (cluster_std=1)
and overlapping (cluster_std=5, where Lloyd needs tens of iterations); and a
CSR bag of words, 20k x 2k with 41 non-zeros a row and unit-norm rows
(``bench_linear_model.bag_of_words``), k=10, as in text clustering; and the
273k RGB pixels of sklearn's bundled ``china.jpg`` in [0, 1], k=64 and k=256, as
in sklearn's colour-quantisation example.

    python benchmarks/bench_kmeans.py [--repeat 5] [--device cpu]
"""

import argparse
import os
import platform
import time

import numpy as np
import torch
from sklearn import cluster as sk
from sklearn.datasets import load_sample_image, make_blobs

import skmath
from bench_linear_model import bag_of_words


def timed(fit, repeat):
    times, models = [], []
    for r in range(repeat):
        start = time.perf_counter()
        models.append(fit(r))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), models


def compare(label, X, k, args):
    """Rows for "k-means++" and "same init" fits of ``k`` clusters on ``X``."""
    inits = [
        X[np.random.RandomState(r).choice(X.shape[0], k, replace=False)]
        for r in range(args.repeat)
    ]
    inits = [init.toarray() if hasattr(init, "toarray") else init for init in inits]
    rows = []
    for name, params in [("k-means++", lambda r: dict(random_state=r)),
                         ("same init", lambda r: dict(init=inits[r]))]:
        t_sk, ref = timed(lambda r: sk.KMeans(k, n_init=1, **params(r)).fit(X), args.repeat)
        t_us, ours = timed(
            lambda r: skmath.KMeans(k, n_init=1, device=args.device, **params(r)).fit(X),
            args.repeat,
        )
        rows.append((
            f"{label}, {name}", t_us, t_sk,
            np.mean([m.inertia_ for m in ours]), np.mean([m.inertia_ for m in ref]),
            np.mean([m.n_iter_ for m in ours]), np.mean([m.n_iter_ for m in ref]),
        ))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), device={args.device}"
    )
    k = 16
    rows = []
    for std in (1.0, 5.0):
        X, _ = make_blobs(200_000, 32, centers=k, cluster_std=std, random_state=0)
        for dtype in (np.float64, np.float32):
            Xd = X.astype(dtype)
            inits = [
                Xd[np.random.RandomState(r).choice(len(Xd), k, replace=False)]
                for r in range(args.repeat)
            ]
            cases = [
                ("k-means++", lambda r: dict(random_state=r)),
                ("same init", lambda r: dict(init=inits[r])),
            ]
            for name, params in cases:
                t_sk, ref = timed(
                    lambda r: sk.KMeans(k, n_init=1, **params(r)).fit(Xd), args.repeat
                )
                t_us, ours = timed(
                    lambda r: skmath.KMeans(k, n_init=1, device=args.device, **params(r)).fit(Xd),
                    args.repeat,
                )
                rows.append((
                    f"std={std:g} {np.dtype(dtype).name} {name}",
                    t_us,
                    t_sk,
                    np.mean([m.inertia_ for m in ours]),
                    np.mean([m.inertia_ for m in ref]),
                    np.mean([m.n_iter_ for m in ours]),
                    np.mean([m.n_iter_ for m in ref]),
                ))
        km_ref = sk.KMeans(k, n_init=1, random_state=0).fit(X)
        km_us = skmath.KMeans(k, n_init=1, random_state=0, device=args.device).fit(X)
        t_sk, _ = timed(lambda r: km_ref.predict(X), args.repeat)
        t_us, _ = timed(lambda r: km_us.predict(X), args.repeat)
        rows.append((f"std={std:g} float64 predict", t_us, t_sk, np.nan, np.nan, np.nan, np.nan))

    X, _ = bag_of_words(20_000, 2_000, 41)
    rows += compare("sparse 20k x 2k, k=10", X, 10, args)
    # Colour quantisation (sklearn's example): the 273k pixels of a bundled
    # photo, in RGB, many clusters in 3 features.
    pixels = load_sample_image("china.jpg").reshape(-1, 3) / 255.0
    for k in (64, 256):
        rows += compare(f"china.jpg pixels 273k x 3, k={k}", pixels, k, args)

    print("| KMeans, n_init=1 | skmath (s) | sklearn (s) | ratio "
          "| inertia skmath | inertia sklearn | n_iter skmath | n_iter sklearn |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, t_us, t_sk, in_us, in_sk, it_us, it_sk in rows:
        print(f"| {name} | {t_us:.3f} | {t_sk:.3f} | {t_us / t_sk:.2f} | {in_us:.6e} | {in_sk:.6e} "
              f"| {it_us:.1f} | {it_sk:.1f} |")


if __name__ == "__main__":
    main()

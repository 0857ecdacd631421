"""MLPClassifier fit time: skmath vs scikit-learn vs skorch, in one process.

The same network for all three: 50 -> 256 -> 256 -> 3, ReLU, softmax
cross-entropy, Adam (lr 1e-3, betas 0.9/0.999), L2 alpha=1e-4 (skorch: the
equivalent weight decay alpha / batch_size), batch 256, shuffled, 10 epochs, on
50,000 x 50 samples of ``make_classification`` with 3 classes; accuracy on
10,000 held-out samples. skorch trains on all the data (``train_split=None``).

Each library first fits a small warm-up problem (one-off initialisation of
BLAS, oneDNN and the allocator is not counted). The table gives the wall-clock
time of ``fit``, the CPU time of the process during it, and the wall-clock
time of ``predict_proba`` on the 50,000 training rows; then, since a shared
machine's speed can change between rounds, the ratios within each round. On a
shared machine wall-clock times of multi-threaded runs are unreliable
(BLAS/OpenMP threads wait for descheduled siblings); ``--threads 1`` then
gives CPU times that measure the work done, nearly independent of the load.

    python benchmarks/bench_mlp.py [--n-samples 50000] [--epochs 10] [--repeat 3]
                                   [--threads N] [--device cuda]
"""

import argparse
import os
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP

from skmath import MLPClassifier

HIDDEN = (256, 256)
BATCH = 256
LR = 1e-3
ALPHA = 1e-4


def _skorch_net(n_features, n_classes, epochs, device):
    from skorch import NeuralNetClassifier

    class _MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [n_features, *HIDDEN]
            layers = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
            layers.append(torch.nn.Linear(sizes[-1], n_classes))
            self.net = torch.nn.Sequential(*layers)

        def forward(self, X):
            return self.net(X)

    return NeuralNetClassifier(
        _MLP,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=ALPHA / BATCH,
        lr=LR,
        batch_size=BATCH,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        device=device,
    )


def _make(name, epochs, n_features, n_classes, device):
    common = dict(
        hidden_layer_sizes=HIDDEN,
        batch_size=BATCH,
        learning_rate_init=LR,
        alpha=ALPHA,
        max_iter=epochs,
        random_state=0,
    )
    if name == "skmath":
        return MLPClassifier(device=device, **common)
    if name == "sklearn":
        return SkMLP(**common)
    torch.manual_seed(0)  # skorch initialises its module with torch's global RNG
    return _skorch_net(n_features, n_classes, epochs, device)


def _time_fit(name, X, y, X_test, y_test, epochs, device):
    est = _make(name, epochs, X.shape[1], len(np.unique(y)), device)
    start, cpu_start = time.perf_counter(), time.process_time()
    est.fit(X, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    est.predict_proba(X)
    predict = time.perf_counter() - start
    return seconds, cpu, float(np.mean(est.predict(X_test) == y_test)), predict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu",
                        help="device of skmath and skorch, e.g. cuda (sklearn runs on the CPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and NumPy's BLAS (default: all)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)

    X_all, y_all = make_classification(
        n_samples=args.n_samples + 10_000,
        n_features=50,
        n_informative=20,
        n_classes=3,
        random_state=0,
    )
    X64, X_test64 = X_all[: args.n_samples], X_all[args.n_samples :]
    y, y_test = y_all[: args.n_samples], y_all[args.n_samples :]
    X32, X_test32 = X64.astype(np.float32), X_test64.astype(np.float32)

    try:
        import skorch  # noqa: F401

        has_skorch = True
    except ImportError:
        has_skorch = False

    runs = [("skmath", "float32"), ("sklearn", "float32"), ("sklearn", "float64")]
    runs += [("skorch", "float32")] if has_skorch else []
    runs += [("skmath", "float64")]
    data = {"float32": (X32, X_test32), "float64": (X64, X_test64)}

    # Warm-up: one small fit per library.
    for name in {name for name, _ in runs}:
        _time_fit(name, X32[:2000], y[:2000], X_test32[:100], y_test[:100], 1, args.device)

    # Rounds interleave the libraries, so that a machine whose speed drifts
    # (shared VMs do) slows them alike; each keeps its fastest round.
    results = {}
    rounds = []  # each round's fit times, for ratios within a round
    for _ in range(args.repeat):
        rounds.append({})
        for name, dtype in runs:
            X, X_test = data[dtype]
            seconds, cpu, accuracy, predict = _time_fit(
                name, X, y, X_test, y_test, args.epochs, args.device
            )
            rounds[-1][name, dtype] = seconds
            best = results.get((name, dtype))
            results[name, dtype] = (
                min(seconds, best[0]) if best else seconds,
                min(cpu, best[1]) if best else cpu,
                accuracy,
                min(predict, best[3]) if best else predict,
            )

    print(
        f"MLPClassifier {HIDDEN}, batch {BATCH}, {args.epochs} epochs, "
        f"{args.n_samples} x 50, 3 classes, skmath and skorch on {args.device}"
    )
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    ours, ours_cpu, _, _ = results["skmath", "float32"]
    print(
        f"{'library':<10}{'input':<9}{'fit (s)':>9}{'cpu (s)':>9}{'accuracy':>10}"
        f"{'skmath f32 / this':>19}{'(cpu)':>7}{'predict_proba (ms)':>20}"
    )
    for (name, dtype), (seconds, cpu, accuracy, predict) in results.items():
        print(
            f"{name:<10}{dtype:<9}{seconds:>9.2f}{cpu:>9.2f}{accuracy:>10.4f}"
            f"{ours / seconds:>19.2f}{ours_cpu / cpu:>7.2f}{1000 * predict:>20.1f}"
        )
    # The machine's speed can change between rounds (a shared VM's cores), so
    # the ratio of two libraries' times from the same round is also shown.
    print("skmath float32 / this, round by round:")
    for name, dtype in runs[1:]:
        ratios = [r["skmath", "float32"] / r[name, dtype] for r in rounds]
        print(f"  {name:<8}{dtype:<9}" + " ".join(f"{ratio:.2f}" for ratio in ratios))


if __name__ == "__main__":
    main()

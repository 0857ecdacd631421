"""
=======================================================================
Can I swap sklearn's LinearRegression for skmath's, collinear data too?
=======================================================================

A drop-in replacement must give the *same* coefficients, including in the
awkward case where columns are collinear and the least-squares problem has
infinitely many solutions: scikit-learn then returns the minimum-norm one.
:class:`skmath.LinearRegression` forms the centred Gram matrix in one pass over
the data and falls back to a thin SVD with LAPACK's rank cutoff when it is
singular, so it should return that same solution, and do it faster on large
data.

First, coefficients on the diabetes data with the ``bmi`` column duplicated
(the minimum-norm solution splits the ``bmi`` effect evenly between the two
copies); then fit time against the number of samples.
"""

# %%
# Same coefficients on rank-deficient data
# ----------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes

from skmath import LinearRegression

diabetes = load_diabetes()
bmi = diabetes.feature_names.index("bmi")
X = np.column_stack([diabetes.data, diabetes.data[:, bmi]])  # rank 10, 11 columns
names = [*diabetes.feature_names, "bmi (copy)"]
y = diabetes.target

ours = LinearRegression(device="cpu").fit(X, y)
ref = sk.LinearRegression().fit(X, y)
print(f"rank of the centred X: skmath {ours.rank_}, sklearn {ref.rank_}")
rel = np.abs(ours.coef_ - ref.coef_).max() / np.abs(ref.coef_).max()
print(f"largest coefficient difference, relative: {rel:.1e}")
print(f"bmi coefficient split: {ours.coef_[bmi]:.2f} + {ours.coef_[-1]:.2f}")

fig, ax_coef = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
pos = np.arange(len(names))
ax_coef.barh(pos + 0.2, ref.coef_, height=0.4, label="scikit-learn", color="tab:gray")
ax_coef.barh(pos - 0.2, ours.coef_, height=0.4, label="skmath", color="tab:orange")
ax_coef.set_yticks(pos, names)
ax_coef.invert_yaxis()
ax_coef.axvline(0, color="k", lw=0.6)
ax_coef.set(xlabel="coefficient", title="diabetes, bmi duplicated: minimum-norm fit")
ax_coef.legend()

# %%
# Fit time against the number of samples
# --------------------------------------
# Random regression data with 100 features; the best of a few fits is kept for
# each size. Both libraries run in this process on the same arrays, so the
# ratio is what matters (the absolute times depend on the machine).
rng = np.random.RandomState(0)
sizes = [5_000, 25_000, 100_000, 200_000]
X_big = rng.standard_normal((sizes[-1], 100))
y_big = X_big @ rng.standard_normal(100) + rng.standard_normal(sizes[-1])


def best_time(make, X, y, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        make().fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times)


timings = {"scikit-learn": [], "skmath": []}
for n in sizes:
    repeat = 3 if n < 100_000 else 2
    Xn, yn = X_big[:n], y_big[:n]
    timings["scikit-learn"].append(best_time(sk.LinearRegression, Xn, yn, repeat))
    timings["skmath"].append(best_time(lambda: LinearRegression(device="cpu"), Xn, yn, repeat))
    print(
        f"n={n:>7}: sklearn {timings['scikit-learn'][-1]:.4f} s, "
        f"skmath {timings['skmath'][-1]:.4f} s, "
        f"ratio {timings['skmath'][-1] / timings['scikit-learn'][-1]:.2f}"
    )

fig, ax_time = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
for name, color in (("scikit-learn", "tab:gray"), ("skmath", "tab:orange")):
    ax_time.loglog(sizes, timings[name], "o-", color=color, label=name)
ax_time.set(xlabel="number of samples (100 features)", ylabel="fit time (s)",
            title="fit time, same process, same data")
ax_time.grid(True, which="both", alpha=0.3)
ax_time.legend()
plt.show()

"""
======================================================================
L1-penalised logistic regression: the same path as scikit-learn's saga
======================================================================

With ``l1_ratio=1`` (and ``solver="saga"``, as scikit-learn requires) the
penalty is ``||W||_1``: as ``C`` shrinks, coefficients become exactly zero one
after the other, which makes the model a feature selector. skmath reaches the
L1 minimiser with OWL-QN, a quasi-Newton method for L1 penalties (the
objective and the iterates are computed in PyTorch), not with scikit-learn's
stochastic average gradient, so the question is whether the two land on the
same coefficients, exact zeros included, all along the path.

Below ``C = 1 / max_j |x_j^T (mean(y) - y)|`` every coefficient is zero (the
gradient at zero cannot beat the penalty); we start just above it and walk up
2 decades, refitting skmath from the previous solution (``warm_start``).
"""

# %%
# Fit the path with both libraries
# --------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from skmath import LogisticRegression

data = load_breast_cancer()
X = StandardScaler().fit_transform(data.data)
y = data.target

critical = 1.0 / np.abs(X.T @ (y.mean() - y)).max()
Cs = critical * np.logspace(0.05, 2, 14)
params = dict(solver="saga", l1_ratio=1.0, tol=1e-8)

start = time.perf_counter()
ours = LogisticRegression(max_iter=2000, warm_start=True, device="cpu", **params)
path_ours = np.array([ours.set_params(C=C).fit(X, y).coef_.ravel().copy() for C in Cs])
time_ours = time.perf_counter() - start

start = time.perf_counter()
path_ref = np.array(
    [sk.LogisticRegression(C=C, max_iter=20000, **params).fit(X, y).coef_.ravel() for C in Cs]
)
time_ref = time.perf_counter() - start

print(f"critical C: {critical:.5f}")
print(f"whole path: skmath {time_ours:.2f} s, scikit-learn saga {time_ref:.2f} s")
print("non-zero coefficients along the path")
print("  skmath :", (path_ours != 0).sum(axis=1))
print("  sklearn:", (path_ref != 0).sum(axis=1))
print(f"largest coefficient difference: {np.abs(path_ours - path_ref).max():.1e}")

# %%
# The coefficient paths
# ---------------------
# Lines: skmath; dots: scikit-learn's saga. Each colour is one of the 30
# features; a feature enters the model where its line leaves zero.
fig, ax = plt.subplots(figsize=(8, 5))
colors = plt.cm.tab20(np.linspace(0, 1, X.shape[1]))
for j in range(X.shape[1]):
    ax.plot(Cs, path_ours[:, j], color=colors[j], lw=1.5)
    ax.plot(Cs, path_ref[:, j], "o", color=colors[j], ms=3)
ax.set_xscale("log")
ax.axhline(0.0, color="black", lw=0.5)
ax.set_xlabel("C (inverse penalty strength)")
ax.set_ylabel("coefficient")
ax.set_title("L1 path on breast cancer: skmath (lines) and scikit-learn's saga (dots)")
fig.tight_layout()
plt.show()

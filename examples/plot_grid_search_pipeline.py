"""
=====================================================
How much regularisation, and how many PCA components?
=====================================================

skmath estimators are ordinary scikit-learn estimators, so they sit inside a
:class:`~sklearn.pipeline.Pipeline` and a
:class:`~sklearn.model_selection.GridSearchCV` searches their parameters next
to those of scikit-learn's steps, with the ``step__parameter`` syntax.

Here the pipeline standardises the 8x8 digit images, projects them on their
first principal components and classifies them with
:class:`skmath.LogisticRegression`. The grid crosses the number of components
with the inverse regularisation strength ``C``; every candidate is scored by
5-fold cross-validated accuracy, and the scaler and PCA are refitted on each
training fold, so nothing leaks from the validation folds.
"""

# %%
# The search
# ----------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmath import LogisticRegression

X, y = load_digits(return_X_y=True)
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("pca", PCA(random_state=0)),
        ("logistic", LogisticRegression(max_iter=500, device="cpu")),
    ]
)
n_components = [4, 8, 16, 32, 48]
Cs = np.logspace(-3, 2, 6)
grid = {"pca__n_components": n_components, "logistic__C": Cs}
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
search = GridSearchCV(pipe, grid, cv=cv, scoring="accuracy").fit(X, y)

best = search.best_params_
print(f"best: {best['pca__n_components']} components, C={best['logistic__C']:g}, "
      f"CV accuracy {search.best_score_:.3f}")

# %%
# The cross-validated scores
# --------------------------
# ``cv_results_`` holds one entry per candidate: its parameters and the mean and
# standard deviation of its accuracy over the folds. Arrange them in a
# (C, components) table and draw it.
results = search.cv_results_
params = results["params"]
mean = np.empty((len(Cs), len(n_components)))
std = np.empty_like(mean)
for p, m, s in zip(params, results["mean_test_score"], results["std_test_score"]):
    i = int(np.argmin(np.abs(Cs - p["logistic__C"])))
    j = n_components.index(p["pca__n_components"])
    mean[i, j], std[i, j] = m, s

fig, ax_map = plt.subplots(figsize=(7.5, 4.8), constrained_layout=True)
image = ax_map.imshow(mean, origin="lower", cmap="viridis", aspect="auto", vmin=0.5)
for i in range(len(Cs)):
    for j in range(len(n_components)):
        ax_map.text(j, i, f"{mean[i, j]:.3f}", ha="center", va="center", fontsize=8,
                    color="w" if mean[i, j] < 0.8 else "k")
ib = int(np.argmin(np.abs(Cs - best["logistic__C"])))
jb = n_components.index(best["pca__n_components"])
ax_map.add_patch(plt.Rectangle((jb - 0.5, ib - 0.5), 1, 1, fill=False, ec="red", lw=2))
ax_map.set_xticks(range(len(n_components)), n_components)
ax_map.set_yticks(range(len(Cs)), [f"{c:g}" for c in Cs])
ax_map.set(xlabel="PCA components", ylabel="C (inverse regularisation)",
           title="mean 5-fold CV accuracy (best in red)")
fig.colorbar(image, ax=ax_map)

# %%
# Accuracy against C, one curve per number of components, with a band of one
# standard deviation across the folds: too small a C underfits whatever the
# number of components; past C = 1 the curves flatten.
fig, ax_curve = plt.subplots(figsize=(7.5, 4.8), constrained_layout=True)
colors = plt.cm.viridis(np.linspace(0, 0.9, len(n_components)))
for j, (k, color) in enumerate(zip(n_components, colors)):
    ax_curve.semilogx(Cs, mean[:, j], "o-", color=color, label=f"{k} components")
    ax_curve.fill_between(Cs, mean[:, j] - std[:, j], mean[:, j] + std[:, j], color=color,
                          alpha=0.15)
ax_curve.set(xlabel="C", ylabel="CV accuracy", title="accuracy ± 1 std over the folds",
             ylim=(0.5, 1.0))
ax_curve.legend(loc="lower right")
plt.show()

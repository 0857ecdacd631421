"""
=================================================================
Does skmath's LogisticRegression draw sklearn's decision regions?
=================================================================

:class:`skmath.LogisticRegression` minimises scikit-learn's objective
(``C * sum_i loss_i + ||W||^2 / 2``), computed in PyTorch, with SciPy's L-BFGS-B.
If it reaches the same optimum, the multinomial model on the iris flowers must
draw the same decision regions and give the same class probabilities
everywhere in the plane, not only on the training points.

We fit both models on two standardised petal features and compare their
probability maps, then plot how far apart the probabilities are.
"""

# %%
# Fit both models
# ---------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn import linear_model as sk
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmath import LogisticRegression

iris = load_iris()
X = iris.data[:, 2:]  # petal length and width (cm)
y = iris.target
feature_names = iris.feature_names[2:]

# A small C (strong penalty) makes the regions overlap, so the probability maps
# have gradients worth comparing; tol is tight so both solvers converge fully.
params = dict(C=0.5, tol=1e-10, max_iter=1000)
ours = make_pipeline(StandardScaler(), LogisticRegression(**params, device="cpu")).fit(X, y)
ref = make_pipeline(StandardScaler(), sk.LogisticRegression(**params)).fit(X, y)

print("coefficients, skmath :\n", ours[-1].coef_.round(4))
print("coefficients, sklearn:\n", ref[-1].coef_.round(4))
print(f"training accuracy: skmath {ours.score(X, y):.3f}, sklearn {ref.score(X, y):.3f}")

# %%
# Probability maps, and how far apart they are
# --------------------------------------------
# Left and middle: each pixel is coloured by the class probabilities (red,
# green, blue for the three species), so a pure colour is a confident
# prediction and a mixed one an uncertain prediction; the lines are the
# decision boundaries. Right: the largest absolute difference between the two
# models' probabilities at each pixel, on a log scale. Both solvers stop at a
# gradient of 1e-10, so the gap is at the level of their tolerance, far below
# anything visible.
xx, yy = np.meshgrid(
    np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 300),
    np.linspace(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5, 300),
)
grid = np.column_stack([xx.ravel(), yy.ravel()])
proba = {"skmath": ours.predict_proba(grid), "scikit-learn": ref.predict_proba(grid)}
gap = np.abs(proba["skmath"] - proba["scikit-learn"]).max(axis=1).reshape(xx.shape)
print(f"largest probability gap over the plane: {gap.max():.1e}")
colors = np.array([[0.85, 0.25, 0.2], [0.3, 0.7, 0.3], [0.25, 0.4, 0.85]])

fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
for ax, (name, p) in zip(axes[:2], proba.items()):
    image = (p @ colors).reshape(*xx.shape, 3)
    ax.imshow(
        image, origin="lower", aspect="auto", alpha=0.55,
        extent=(xx.min(), xx.max(), yy.min(), yy.max()),
    )
    ax.contour(xx, yy, p.argmax(axis=1).reshape(xx.shape), levels=[0.5, 1.5], colors="k",
               linewidths=1)
    for k, species in enumerate(iris.target_names):
        ax.scatter(*X[y == k].T, s=14, color=colors[k], edgecolor="k", linewidth=0.4,
                   label=species)
    ax.set(title=f"{name}: P(species | petal)", xlabel=feature_names[0],
           ylabel=feature_names[1])
axes[0].legend(loc="lower right", fontsize=8)

mesh = axes[2].pcolormesh(xx, yy, np.log10(np.maximum(gap, 1e-16)), cmap="viridis",
                          shading="auto")
fig.colorbar(mesh, ax=axes[2], label="log10 max |p_skmath - p_sklearn|")
axes[2].set(title="gap between the probability maps", xlabel=feature_names[0],
            ylabel=feature_names[1])
plt.show()

"""
=============================================
MLPClassifier: decision boundary on two moons
=============================================

:class:`skmath.MLPClassifier` is a drop-in for scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier`: the same parameters, loss and
stopping rule, with the arithmetic done by PyTorch (on a GPU when there is
one). Here both are fitted with the same hyperparameters on the two-moons
data; the panels show their predicted probability of class 1 (red) and
their training loss curves, which are on the same scale because the loss is
scikit-learn's, L2 term included.
"""

# %%
# Data and models
# ---------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from skmath import MLPClassifier

X, y = make_moons(n_samples=400, noise=0.25, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

params = dict(hidden_layer_sizes=(64, 64), learning_rate_init=0.01, max_iter=300, random_state=0)
models = {
    "skmath.MLPClassifier": MLPClassifier(**params).fit(X_train, y_train),
    "sklearn MLPClassifier": SklearnMLPClassifier(**params).fit(X_train, y_train),
}
for name, model in models.items():
    print(f"{name}: test accuracy {model.score(X_test, y_test):.3f}, {model.n_iter_} epochs")

# %%
# Decision boundaries and loss curves
# -----------------------------------
xx, yy = np.meshgrid(np.linspace(-2, 3, 250), np.linspace(-1.5, 2, 250))
grid = np.c_[xx.ravel(), yy.ravel()]

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, (name, model) in zip(axes, models.items()):
    proba = model.predict_proba(grid)[:, 1].reshape(xx.shape)
    ax.contourf(xx, yy, proba, levels=20, cmap="RdBu_r", alpha=0.8)
    ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="RdBu_r", edgecolors="k", s=15)
    ax.set_title(f"{name}\ntest accuracy {model.score(X_test, y_test):.3f}")
    ax.set_xticks([])
    ax.set_yticks([])
for name, model in models.items():
    axes[2].plot(model.loss_curve_, label=name)
axes[2].set_yscale("log")
axes[2].set_xlabel("epoch")
axes[2].set_ylabel("training loss (log-loss + L2)")
axes[2].set_title("loss_curve_")
axes[2].legend()
fig.tight_layout()
plt.show()

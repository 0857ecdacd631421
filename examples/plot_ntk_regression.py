"""
=====================================================================
Infinitely wide networks as regressors: NTK, NNGP and an RBF process
=====================================================================

:class:`skmath.NTKRegressor` predicts what an infinite ensemble of infinitely
wide ReLU networks would predict after being trained to convergence by
gradient descent on the squared error (``kernel="ntk"``, Lee et al. 2019),
or what the Bayesian posterior of such networks is (``kernel="nngp"``). Both
come with a predictive standard deviation, like
:class:`~sklearn.gaussian_process.GaussianProcessRegressor`.

On a noisy 1-D problem with a gap in the data, we compare them with a
Gaussian process with an RBF kernel whose length scale and noise level are
fitted by maximum likelihood. The network kernels are not stationary: away
from the data a ReLU network extrapolates (almost) linearly and its
uncertainty keeps growing, while the RBF process falls back to the mean.
"""

# %%
# Data: a noisy sine with a hole in the middle
# --------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmath import NTKRegressor

rng = np.random.RandomState(0)
X_train = np.concatenate([rng.uniform(-4, -0.8, 25), rng.uniform(1.2, 4, 25)])[:, None]
y_train = np.sin(1.5 * X_train[:, 0]) + 0.5 * X_train[:, 0] + 2.0 + 0.15 * rng.normal(size=50)
X_plot = np.linspace(-7, 7, 400)[:, None]

# %%
# Three models
# ------------
# The network kernels see the inputs through the dot products
# :math:`x \cdot x'`, so the inputs are standardised first (as for any
# network). For the NTK regressor the depth and ``alpha`` (the noise variance
# added to the kernel's diagonal, in units of the standardised targets) are
# chosen by cross-validation; the NNGP model reuses them. The targets have
# mean 2: ``normalize_y=True`` (the default) centres them, since an
# untrained network's output has mean 0.
search = GridSearchCV(
    make_pipeline(StandardScaler(), NTKRegressor(device="cpu")),
    {
        "ntkregressor__depth": [1, 2, 3, 4],
        "ntkregressor__alpha": [1e-3, 1e-2, 3e-2, 1e-1, 3e-1],
    },
    cv=5,
).fit(X_train, y_train)
ntk = search.best_estimator_
best = search.best_estimator_[-1]
nngp = make_pipeline(
    StandardScaler(), NTKRegressor(kernel="nngp", depth=best.depth, alpha=best.alpha, device="cpu")
).fit(X_train, y_train)
gpr = GaussianProcessRegressor(
    ConstantKernel() * RBF() + WhiteKernel(), normalize_y=True, random_state=0
).fit(X_train, y_train)
print("NTK regressor:", search.best_params_)
print("RBF process:", gpr.kernel_)

# %%
# Mean +- 2 standard deviations
# -----------------------------
models = [
    (f"NTKRegressor(kernel='ntk', depth={best.depth})\ntrained-ensemble mean and spread", ntk),
    (f"NTKRegressor(kernel='nngp', depth={best.depth})\nBayesian posterior", nngp),
    ("GaussianProcessRegressor(RBF + White)\nposterior", gpr),
]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
for ax, (title, model) in zip(axes, models):
    # A Pipeline passes return_std on to its last step.
    mean, std = model.predict(X_plot, return_std=True)
    ax.fill_between(X_plot[:, 0], mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=0.2,
                    label="mean $\\pm$ 2 std")
    ax.plot(X_plot[:, 0], mean, color="tab:blue", label="mean")
    ax.plot(X_plot[:, 0], np.sin(1.5 * X_plot[:, 0]) + 0.5 * X_plot[:, 0] + 2.0, "k:", lw=1,
            label="true function")
    ax.scatter(X_train[:, 0], y_train, s=12, color="k", zorder=3, label="training data")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x")
    ax.set_ylim(-4, 8)
axes[0].set_ylabel("y")
axes[0].legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The NTK model's band is the spread of the trained networks over their
# random initialisations; the NNGP band is a Bayesian posterior. Both are
# narrow on the data and grow with the distance from it, and both models
# extrapolate almost linearly, as ReLU networks do. They are smoother than
# the RBF process: the network kernels have no length scale to fit, only the
# depth. The RBF process follows the wiggles, but far from the data it
# returns to the mean with the prior's standard deviation.

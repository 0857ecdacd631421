"""
=======================================================
Monte Carlo dropout: an uncertainty band with a gap
=======================================================

:class:`~skmath.MCDropoutRegressor` keeps dropout switched on at prediction
and averages many stochastic passes, each one a network sampled from the
dropout distribution (Gal & Ghahramani, 2016). The spread of the passes is the
model's (epistemic) uncertainty; the observation noise, estimated from the
training data, is added to it for the predictive band.

The training data below have a gap between -1 and 1. Away from the data the
sampled networks disagree and the band widens. Inside the gap it widens far
less: dropout networks are known to under-estimate "in-between" uncertainty
(Foong et al., 2019), a limit worth knowing before trusting the band there.
"""

# %%
# Data: a noisy sine observed on two intervals
# ---------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from skmath import MCDropoutRegressor
from skmath.metrics import interval_coverage

rng = np.random.RandomState(0)
x = np.r_[rng.uniform(-4, -1, 60), rng.uniform(1, 4, 60)]
y = np.sin(x) + 0.1 * rng.randn(x.size)
X = x[:, None]

# %%
# Fit, then predict the mean and the standard deviation
# -----------------------------------------------------
# ``predict(X, return_std=True)`` returns the predictive standard deviation
# (spread of the passes and noise together); ``noise_std_`` is the noise part,
# chosen by cross-fitting (``cv=5``) so that held-out points are predicted with
# the right spread: it is the error that the passes' spread does not already
# explain: here less than the true noise, because this wide network with 20%
# dropout already spreads its passes by about 0.09 next to the data.
reg = MCDropoutRegressor(
    hidden_layer_sizes=(128, 128),
    dropout=0.2,
    learning_rate_init=0.01,
    max_iter=2000,
    n_iter_no_change=50,
    random_state=0,
).fit(X, y)

grid = np.linspace(-6, 6, 400)[:, None]
mean, std = reg.predict(grid, return_std=True)
epistemic = np.sqrt(np.maximum(std**2 - reg.noise_std_**2, 0))
draws = reg.sample_y(grid, n_samples=3, random_state=1)

x_test = rng.uniform(-4, 4, 500)
x_test = x_test[np.abs(x_test) > 1]
y_test = np.sin(x_test) + 0.1 * rng.randn(x_test.size)
mean_test, std_test = reg.predict(x_test[:, None], return_std=True)
print(f"noise_std_ = {reg.noise_std_:.3f}, predictive std on new data "
      f"{np.sqrt(np.mean(std_test**2)):.3f} (true noise 0.1)")
print(f"95% interval coverage on new data: {interval_coverage(y_test, mean_test, std_test):.2f}")

# %%
# The band
# --------
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.axvspan(-1, 1, color="0.93", label="gap in the data")
ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, color="C0", alpha=0.2,
                label="mean ± 2 std (predictive)")
ax.fill_between(grid[:, 0], mean - 2 * epistemic, mean + 2 * epistemic, color="C0", alpha=0.35,
                label="mean ± 2 std (epistemic)")
ax.plot(grid[:, 0], draws, color="C1", lw=0.6, alpha=0.5)
ax.plot([], [], color="C1", lw=0.8, label="sample_y draws")
ax.plot(grid[:, 0], mean, color="C0", lw=2, label="MC mean")
ax.plot(grid[:, 0], np.sin(grid[:, 0]), "k--", lw=1, label="true function")
ax.scatter(x, y, s=10, color="k", zorder=3, label="training data")
ax.set_ylim(-2.5, 2.5)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("MCDropoutRegressor: predictive band")
ax.legend(loc="lower left", fontsize=8, ncol=2)
fig.tight_layout()
plt.show()

# %%
# References
# ----------
# Gal, Y. and Ghahramani, Z. (2016). Dropout as a Bayesian approximation:
# representing model uncertainty in deep learning. ICML.
#
# Foong, A. Y. K., Li, Y., Hernández-Lobato, J. M. and Turner, R. E. (2019).
# 'In-between' uncertainty in Bayesian neural networks. ICML workshop on
# uncertainty and robustness in deep learning.
